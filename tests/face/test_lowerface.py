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


def test_rings_drawn_over_the_lip_beside_their_column_are_moved_off_it(astronaut_landmarks):
    """Round a shout's lower lip, running up the sides of the opening, the mesh
    put rings under the lip up to 4 px inside the lip's outline, beside their
    columns rather than back along them: the old check let them be, and the
    skin's bands drew the lip's edge again under the lip."""
    import cv2

    from enliven.face.lowerface import _in_order

    lm = np.asarray(astronaut_landmarks, np.float64).copy()
    column = topo.LOWER_LIP_COLUMNS[1]  # (88, 89, 90, 91, 106, 194, 32, 140, 176)
    assert column[4] == 106
    loop = lm[topo.outer_lip_loop(), :2].astype(np.float32)
    # Onto the lip, just past its own column's outer edge, towards the mouth's middle.
    lm[106, :2] = lm[91, :2] + (6.0, 2.0)
    assert cv2.pointPolygonTest(loop, tuple(map(float, lm[106, :2])), True) > 1.0
    xy = lm[list(column[3:]), :2]
    chord = xy[-1] - xy[0]
    assert _in_order((xy - xy[0]) @ (chord / np.linalg.norm(chord)), 0.0).all()  # not folded along the column
    out = untangled_lower_face(lm)
    assert cv2.pointPolygonTest(loop, tuple(map(float, out[106, :2])), True) <= 0.25
    np.testing.assert_allclose(out[106], (lm[91] + lm[194]) / 2, atol=1e-3)  # between its neighbours
    moved = np.flatnonzero(np.abs(out - lm.astype(np.float32)).max(axis=1) > 1e-4)
    assert set(moved) == {106}
