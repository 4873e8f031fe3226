import dataclasses

import cv2
import numpy as np
import pytest

from enliven.face import topology as topo
from enliven.motion.crown import LIMIT, CrownTracker
from enliven.motion.measures import eye_distance
from enliven.render.mesh import RING_FOLLOW, build_mesh

from ..conftest import settled_target

SIZE = 512


def _hair(landmarks: np.ndarray, shift=(0, 0), texture: bool = True) -> np.ndarray:
    """A plain grey frame with a textured block of "hair" above the forehead,
    moved by ``shift`` (whole pixels)."""
    rng = np.random.default_rng(7)
    iod = eye_distance(landmarks)
    frame = np.full((SIZE, SIZE, 3), 150, np.uint8)
    x, y = landmarks[topo.FOREHEAD, :2]
    x0, x1 = int(x - 0.9 * iod) + shift[0], int(x + 0.9 * iod) + shift[0]
    y0, y1 = int(y - 1.1 * iod) + shift[1], int(y) + shift[1]
    noise = rng.normal(0, 1, (y1 - y0, x1 - x0)).astype(np.float32)
    strands = cv2.GaussianBlur(noise, (0, 0), 2.0)
    strands = 60 + (200 * strands if texture else 0 * strands)
    frame[y0:y1, x0:x1] = np.clip(strands, 0, 255).astype(np.uint8)[..., None]
    return frame


def _settle(tracker: CrownTracker, landmarks: np.ndarray, frame: np.ndarray, steps: int = 10) -> np.ndarray:
    out = np.zeros(2)
    for _ in range(steps):  # the measure is averaged over frames
        out = tracker.measure(landmarks, frame)
    return out


@pytest.mark.parametrize(
    ("forehead", "crown"),
    [
        ((0, 8), (0, 0)),  # a wink drops the forehead's landmarks, not the hair
        ((0, 8), (0, 8)),  # the head moved: the hair went along
        ((-12, 9), (-6, 2)),  # a nod and a turn: the crown moves less than the forehead
    ],
)
def test_the_correction_is_where_the_crown_went_less_where_the_forehead_went(astronaut_landmarks, forehead, crown):
    lm = astronaut_landmarks
    tracker = CrownTracker(lm, _hair(lm), np.eye(2))
    assert tracker.usable
    moved = lm.copy()
    moved[:, :2] += forehead
    got = _settle(tracker, moved, _hair(lm, crown))
    # Along the face's up direction only (sideways, front hair goes with the face).
    expected = tracker.up * float((np.subtract(crown, forehead)) @ tracker.up)
    np.testing.assert_allclose(got, expected, atol=1.0)


def test_the_correction_is_limited(astronaut_landmarks):
    lm = astronaut_landmarks
    tracker = CrownTracker(lm, _hair(lm), np.eye(2))
    moved = lm.copy()
    moved[:, 1] += 30  # the forehead drops half an eye distance, the hair stays
    got = _settle(tracker, moved, _hair(lm), steps=20)
    assert np.linalg.norm(got) == pytest.approx(LIMIT * eye_distance(lm), rel=0.05)


def test_the_reference_frame_itself_needs_no_correction(astronaut_landmarks):
    lm = astronaut_landmarks
    frame = _hair(lm)
    assert np.abs(_settle(CrownTracker(lm, frame, np.eye(2)), lm, frame)).max() < 0.2


def test_the_correction_is_mapped_into_the_portrait(astronaut_landmarks):
    lm = astronaut_landmarks
    to_portrait = np.array([[0.0, -2.0], [2.0, 0.0]])  # twice as big, turned 90 degrees
    tracker = CrownTracker(lm, _hair(lm), to_portrait)
    moved = lm.copy()
    moved[:, 1] += 8
    np.testing.assert_allclose(_settle(tracker, moved, _hair(lm)), (16, 0), atol=2.0)


def test_a_plain_crown_gives_no_correction(astronaut_landmarks):
    lm = astronaut_landmarks
    tracker = CrownTracker(lm, _hair(lm, texture=False), np.eye(2))
    assert not tracker.usable
    moved = lm.copy()
    moved[:, 1] += 8
    assert np.abs(_settle(tracker, moved, _hair(lm, texture=False))).max() == 0.0


def test_hair_that_no_longer_matches_gives_no_correction(astronaut_landmarks):
    """A crown the search cannot find (here: other hair) leaves the rings alone."""
    lm = astronaut_landmarks
    tracker = CrownTracker(lm, _hair(lm), np.eye(2))
    moved = lm.copy()
    moved[:, 1] += 8
    other = cv2.flip(_hair(lm), 1)  # the same kind of texture, mirrored: no match
    assert np.abs(_settle(tracker, moved, other)).max() < 1.0


def test_a_lost_face_fades_the_last_correction(astronaut_landmarks):
    lm = astronaut_landmarks
    tracker = CrownTracker(lm, _hair(lm), np.eye(2))
    moved = lm.copy()
    moved[:, 1] += 8
    before = _settle(tracker, moved, _hair(lm))
    after = tracker.measure(None, None)
    assert 0.5 * abs(before[1]) < abs(after[1]) < abs(before[1])


def test_the_crown_move_shifts_the_head_outline_above_the_face_only(astronaut_landmarks):
    lm = astronaut_landmarks
    mesh = build_mesh(lm, (SIZE, SIZE))
    target = settled_target(lm, lm)
    plain = mesh.target_vertices(target)
    lifted = mesh.target_vertices(dataclasses.replace(target, crown=np.array([0.0, -10.0])))
    moved = np.abs(lifted - plain).max(axis=1)
    n, n_oval = topo.N_LANDMARKS, len(topo.FACE_OVAL)
    assert moved[:n].max() == 0.0  # the face is the landmarks' business
    # The first ring is the hairline: hair in front of the forehead goes with it.
    assert moved[n : n + n_oval].max() == 0.0
    outline = slice(n + n_oval, n + 3 * n_oval)
    centre_y = lm[list(topo.FACE_OVAL), 1].mean()
    upper = mesh.vertices[outline, 1] < centre_y - 0.5 * eye_distance(lm)
    lower = mesh.vertices[outline, 1] > centre_y
    assert moved[outline][upper].min() > 0.5 and moved[outline][lower].max() == 0.0
    top = n + n_oval + int(np.argmin(mesh.vertices[n + n_oval : n + 2 * n_oval, 1]))
    assert moved[top] == pytest.approx(10.0 * RING_FOLLOW[1][0], abs=0.5)  # as much as it follows the head
    assert moved[n + 3 * n_oval :].max() == 0.0  # the fixed frame stays


def test_a_head_far_from_the_reference_is_not_searched(astronaut_landmarks):
    lm = astronaut_landmarks
    tracker = CrownTracker(lm, _hair(lm), np.eye(2))
    moved = lm.copy()
    moved[:, 1] += 2 * eye_distance(lm)  # the hair stays: unguarded, this would be corrected
    assert np.abs(_settle(tracker, moved, _hair(lm))).max() == 0.0
