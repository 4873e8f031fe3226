import numpy as np

from enliven.face import topology as topo
from enliven.face.eyelids import lash_line_landmarks


def _height(lm, pairs):
    return float(np.median([np.linalg.norm(lm[u, :2] - lm[lo, :2]) for u, lo in pairs]))


def test_lids_move_out_from_the_eye_by_at_least_a_share_of_its_height(astronaut, astronaut_landmarks):
    lm = astronaut_landmarks
    out = lash_line_landmarks(astronaut, lm)
    for pairs in (topo.RIGHT_EYE_PAIRS, topo.LEFT_EYE_PAIRS):
        before, after = _height(lm, pairs), _height(out, pairs)
        assert after >= before * 1.25  # about 0.15 of the height on each lid
        assert after <= before * 2.0  # and not into the brow
    moved = np.flatnonzero(np.abs(out - lm).max(axis=1) > 1e-4)
    lids = {i for pairs in (topo.RIGHT_EYE_PAIRS, topo.LEFT_EYE_PAIRS) for pair in pairs for i in pair}
    assert set(moved.tolist()) <= lids  # nothing else moves


def test_a_dark_lash_line_above_the_lid_points_is_found(astronaut_landmarks):
    centre = np.asarray(astronaut_landmarks, np.float64)[468, :2]
    lm = np.asarray(astronaut_landmarks, np.float64).copy()
    lm[:, :2] = 256 + (lm[:, :2] - centre) * 4.0  # a large eye in the middle
    image = np.full((512, 512, 3), 200, np.uint8)
    upper = np.array([u for u, _ in topo.RIGHT_EYE_PAIRS])
    height = _height(lm, topo.RIGHT_EYE_PAIRS)
    lift = 0.35 * height  # a painted lash line well above the mesh's upper lid
    for i in upper:
        x, y = lm[i, :2]
        image[int(round(y - lift)) - 1 : int(round(y - lift)) + 2, int(x) - 3 : int(x) + 4] = 20
    out = lash_line_landmarks(image, lm)
    rise = np.median(lm[upper, 1] - out[upper, 1])
    assert abs(rise - lift) < 0.2 * height


def test_a_shut_eye_is_left_alone(astronaut, astronaut_landmarks):
    lm = np.asarray(astronaut_landmarks, np.float64).copy()
    for u, lo in topo.RIGHT_EYE_PAIRS:
        lm[u, :2] = lm[lo, :2] = (lm[u, :2] + lm[lo, :2]) / 2
    out = lash_line_landmarks(astronaut, lm)
    for u, lo in topo.RIGHT_EYE_PAIRS:
        np.testing.assert_allclose(out[[u, lo], :2], lm[[u, lo], :2], atol=1e-4)
