import numpy as np

from enliven.face import topology as topo
from enliven.face.lowerface import untangled_lower_face


def _projections(lm, column):
    xy = lm[list(column[3:]), :2]
    chord = xy[-1] - xy[0]
    return (xy - xy[0]) @ (chord / np.linalg.norm(chord))


def test_a_face_in_order_is_left_as_it_is(astronaut_landmarks):
    np.testing.assert_allclose(untangled_lower_face(astronaut_landmarks), astronaut_landmarks, atol=1e-4)


def test_rings_folded_over_the_lower_lip_are_spread_below_it(astronaut_landmarks):
    """photo_woman_surprised_01, shouting: the mesh put her ring under the lip 13 px
    above the lip's edge and her chin ring 5 px above it (middle column), and
    the lip was drawn again below itself as it closed."""
    lm = np.asarray(astronaut_landmarks, np.float64).copy()
    middle = topo.LOWER_LIP_COLUMNS[4]  # (14, 15, 16, 17, 18, 200, 199, 175, 152)
    assert middle[3] == 17
    lip = lm[17].copy()
    lm[18, :2] = lip[:2] + (0.0, -13.0)
    lm[200, :2] = lip[:2] + (0.0, -5.0)
    assert (np.diff(_projections(lm, middle)) <= 0).any()
    out = untangled_lower_face(lm)
    assert (np.diff(_projections(out, middle)) > 0).all()
    # Spread evenly between the lip's edge and the first ring in order below it.
    np.testing.assert_allclose(out[18], lip + (lm[199] - lip) / 3, atol=1e-3)
    np.testing.assert_allclose(out[200], lip + 2 * (lm[199] - lip) / 3, atol=1e-3)
    # Nothing else moves.
    moved = np.flatnonzero(np.abs(out - lm.astype(np.float32)).max(axis=1) > 1e-4)
    assert set(moved) == {18, 200}
