import cv2
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


def _big_eye(astronaut_landmarks):
    """The astronaut's landmarks scaled 4x about her right eye, in a 512 image,
    and that eye's outline points (as drawn in the image)."""
    centre = np.asarray(astronaut_landmarks, np.float64)[468, :2]
    lm = np.asarray(astronaut_landmarks, np.float64).copy()
    lm[:, :2] = 256 + (lm[:, :2] - centre) * 4.0
    return lm, lm[topo.eye_loop(topo.RIGHT_EYE_PAIRS, topo.RIGHT_EYE_CORNERS), :2]


def test_a_lower_lid_on_the_iris_finds_the_rim_past_the_white(astronaut_landmarks):
    # A cartoon eye: the mesh's lower lid runs along the foot of a dark-ringed
    # iris; below it a strip of white, then the lid's rim. Searching from the
    # iris, its dark ring is darker than the rim is against the iris: the lid
    # line is the rim, past the white.
    lm, outline = _big_eye(astronaut_landmarks)
    lower = np.array([lo for _, lo in topo.RIGHT_EYE_PAIRS])
    height = _height(lm, topo.RIGHT_EYE_PAIRS)
    drop = 0.4 * height  # the rim, this far below the mesh's lower lid
    image = np.full((512, 512, 3), (200, 150, 120), np.uint8)  # skin
    rim = outline.copy()
    rim[len(topo.RIGHT_EYE_PAIRS) + 2 :, 1] += drop  # the lower half of the loop, moved down
    cv2.fillPoly(image, [np.round(rim).astype(np.int32)], (235, 235, 235))
    cv2.polylines(image, [np.round(rim).astype(np.int32)], True, (40, 40, 40), 2)
    middle = lower[2:5]  # the lid's middle points lie on the iris, just above its dark edge
    upper = np.array([u for u, _ in topo.RIGHT_EYE_PAIRS])[2:5]
    edge = lm[middle, :2] + [0.0, 1.5]
    iris = np.vstack([lm[upper, :2], edge[::-1]])
    cv2.fillPoly(image, [np.round(iris).astype(np.int32)], (70, 70, 110))
    cv2.polylines(image, [np.round(edge).astype(np.int32)], False, (20, 20, 30), 2)
    out = lash_line_landmarks(image, lm)
    np.testing.assert_allclose(out[middle, 1] - lm[middle, 1], drop, atol=0.15 * height)


def test_a_white_running_past_the_corner_takes_the_corner_out(astronaut_landmarks):
    # The drawn eye runs on past the mesh's outer corner (33, on the image's
    # left), white up to its dark outline: the corner moves out to it.
    lm, outline = _big_eye(astronaut_landmarks)
    outer, inner = topo.RIGHT_EYE_CORNERS
    width = float(np.linalg.norm(lm[outer, :2] - lm[inner, :2]))
    along = (lm[outer, :2] - lm[inner, :2]) / width
    past = 0.15 * width
    drawn = outline + np.clip((outline - lm[inner, :2]) @ along / width, 0.0, 1.0)[:, None] * past * along
    image = np.full((512, 512, 3), (200, 150, 120), np.uint8)
    cv2.fillPoly(image, [np.round(drawn).astype(np.int32)], (235, 235, 235))
    cv2.polylines(image, [np.round(drawn).astype(np.int32)], True, (40, 40, 40), 1)
    out = lash_line_landmarks(image, lm)
    moved = float((out[outer, :2] - lm[outer, :2]) @ along)
    # Into the wedge: where its two lid lines close in on the white (blurred by a pixel).
    assert 0.5 * past < moved <= past + 1.0
    assert np.linalg.norm(out[inner, :2] - lm[inner, :2]) < 0.02 * width  # the other corner stays
    # Skin past the corner (no white) leaves it where it is.
    plain = np.full((512, 512, 3), (200, 150, 120), np.uint8)
    cv2.fillPoly(plain, [np.round(outline).astype(np.int32)], (235, 235, 235))
    assert np.linalg.norm(lash_line_landmarks(plain, lm)[outer, :2] - lm[outer, :2]) < 0.5
