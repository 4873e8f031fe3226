"""The portrait face ladder: plain path first, then retries, first human face kept."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from enliven.errors import NoFaceError
from enliven.face.portrait import (
    ROTATIONS_DEG,
    UPSCALE_BELOW,
    candidates,
    find_face,
    map_points,
    rotate_image,
)
from enliven.types import FaceObservation


def _plain(rgb, tracker) -> FaceObservation | None:
    rung, obs = next(candidates(rgb, tracker))
    assert rung == "plain"
    return obs


def _eye_distance(landmarks: np.ndarray) -> float:
    return float(np.linalg.norm(landmarks[33, :2] - landmarks[263, :2]))


def _mean_error(found: np.ndarray, expected: np.ndarray) -> float:
    """Mean 2-D landmark error over the eye distance."""
    err = np.linalg.norm(found[:, :2] - expected[:, :2], axis=1).mean()
    return float(err / _eye_distance(expected))


def test_rotate_image_and_map_points_round_trip():
    rgb = np.zeros((100, 160, 3), np.uint8)
    turned, affine = rotate_image(rgb, 30.0)
    assert turned.shape[:2] == (167, 189)  # the canvas holds the whole turned image
    points = np.array([[0, 0, 1], [160, 100, -2], [160, 50, 3]], np.float32)
    moved = map_points(points, affine)
    # Counter-clockwise on screen: a point right of the centre moves up.
    assert moved[2, 1] < 167 / 2 - 30
    back = map_points(moved, cv2.invertAffineTransform(affine))
    np.testing.assert_allclose(back, points, atol=1e-3)
    scaled = map_points(points, np.array([[2.0, 0, 5], [0, 2.0, 0]]))
    np.testing.assert_allclose(scaled[:, 2], points[:, 2] * 2)


def test_plain_path_keeps_the_usual_face(astronaut, tracker, astronaut_landmarks):
    found = find_face(astronaut, tracker)
    assert found.rung == "plain" and found.verdict.human
    assert _mean_error(found.observation.landmarks, astronaut_landmarks) < 1e-6


def test_contrast_step_finds_a_faint_portrait(astronaut, tracker, astronaut_landmarks):
    faint = (astronaut.astype(np.float32) * 0.05 + 128).astype(np.uint8)
    assert _plain(faint, tracker) is None
    found = find_face(faint, tracker, name="faint.png")
    assert found.rung == "contrast"
    assert _mean_error(found.observation.landmarks, astronaut_landmarks) < 0.06


def test_upscale_step_finds_a_tiny_portrait(astronaut, tracker, astronaut_landmarks):
    tiny = cv2.resize(astronaut, (64, 64), interpolation=cv2.INTER_AREA)
    assert max(tiny.shape) < UPSCALE_BELOW
    assert _plain(tiny, tracker) is None
    found = find_face(tiny, tracker)
    assert found.rung == "upscaled"
    # Landmarks come back in pixels of the tiny image.
    assert _mean_error(found.observation.landmarks * 8, astronaut_landmarks) < 0.1


def test_rotation_step_finds_a_tilted_portrait(astronaut, tracker, astronaut_landmarks):
    tilted, affine = rotate_image(astronaut, 110.0)
    assert _plain(tilted, tracker) is None
    found = find_face(tilted, tracker)
    assert found.rung.startswith("rotated")
    assert float(found.rung.removeprefix("rotated")) in ROTATIONS_DEG
    # The landmarks are turned back onto the tilted face.
    expected = map_points(astronaut_landmarks, affine)
    assert _mean_error(found.observation.landmarks, expected) < 0.06


def test_nothing_found_is_a_clear_error(tracker):
    with pytest.raises(NoFaceError, match=r"no face found in wall\.png.*--landmarks"):
        find_face(np.full((300, 300, 3), 180, np.uint8), tracker, name="wall.png")


class _ScriptedTracker:
    """Finds a face only in images of the given sizes, with canned landmarks."""

    def __init__(self, faces: dict[tuple[int, int], np.ndarray]) -> None:
        self.faces = faces  # (height, width) -> landmarks in that image's pixels
        self.calls: list[tuple[int, int]] = []

    def detect(self, rgb):
        self.calls.append(rgb.shape[:2])
        return [(10.0, 10.0, 50.0, 50.0)] if rgb.shape[:2] in self.faces else []

    def landmarks_in_box(self, rgb, box):
        points = self.faces.get(rgb.shape[:2])
        return None if points is None else FaceObservation(points, box)


def _big_irises(landmarks: np.ndarray) -> np.ndarray:
    """An animal-like mesh: the irises grown to fill the eyes."""
    out = landmarks.copy()
    for centre, rim in ((468, slice(469, 473)), (473, slice(474, 478))):
        out[rim, :2] = out[centre, :2] + 1.6 * (out[rim, :2] - out[centre, :2])
    return out.astype(np.float32)


def test_a_face_that_is_not_human_falls_through_to_the_next_step(astronaut_landmarks):
    human = astronaut_landmarks.astype(np.float32)
    small = np.zeros((256, 256, 3), np.uint8)
    # The plain step finds an animal-like mesh, the upscaled step a human one.
    fake = _ScriptedTracker({(256, 256): _big_irises(human), (512, 512): human * 2})
    found = find_face(small, fake)
    assert found.rung == "upscaled" and found.verdict.human


def test_only_faces_that_are_not_human_is_a_clear_error(astronaut_landmarks):
    fake = _ScriptedTracker({(600, 600): _big_irises(astronaut_landmarks)})
    rgb = np.zeros((600, 600, 3), np.uint8)
    with pytest.raises(NoFaceError) as info:
        find_face(rgb, fake, name="dog.png")
    message = str(info.value)
    assert "the face found in dog.png does not look like a human face" in message
    assert "irises" in message and "--landmarks" in message and "\n" not in message
    # Kept anyway when asked to (enliven landmarks), with the reason.
    found = find_face(rgb, fake, human_only=False)
    assert found.rung == "plain" and not found.verdict.human


def test_upscaled_landmarks_map_back_to_the_small_image(astronaut_landmarks):
    small = np.zeros((128, 256, 3), np.uint8)
    scale = UPSCALE_BELOW / 256
    fake = _ScriptedTracker({(256, 512): astronaut_landmarks.astype(np.float32)})
    found = find_face(small, fake)
    assert found.rung == "upscaled"
    np.testing.assert_allclose(
        found.observation.landmarks, astronaut_landmarks / scale, rtol=1e-5, atol=1e-3
    )
    assert fake.calls[:2] == [(128, 256), (256, 512)]  # plain first, then upscaled
