import dataclasses

import cv2
import numpy as np
import pytest

from enliven.errors import ConfigError
from enliven.motion.detail import CANON, DetailTracker, canonical_points
from enliven.render.renderer import RenderConfig, Renderer

from ..conftest import psnr, settled_target


def _crease(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """A dark 2-px line across the right cheek (a made-up smile line)."""
    out = rgb.copy()
    a, b = landmarks[117, :2], landmarks[205, :2]  # upper cheek -> lower cheek
    cv2.line(out, tuple(int(v) for v in a), tuple(int(v) for v in b), (60, 40, 40), 2, cv2.LINE_AA)
    return out


def test_canonical_points_fill_the_canonical_square(astronaut_landmarks):
    pts = canonical_points(astronaut_landmarks)
    assert pts.shape == (478, 2)
    assert pts.min() > 0 and pts.max() < CANON
    assert pts.max(axis=0).max() - pts.min(axis=0).min() > 0.8 * CANON


def test_the_reference_frame_itself_has_no_detail(astronaut, astronaut_landmarks):
    field = DetailTracker(astronaut_landmarks, astronaut).measure(astronaut_landmarks, astronaut)
    assert field is not None
    assert np.abs(field.flow).max() < 0.05
    assert np.abs(field.ratio - 1.0).max() < 0.01


def test_a_new_crease_darkens_the_ratio_along_it_and_nowhere_else(astronaut, astronaut_landmarks):
    tracker = DetailTracker(astronaut_landmarks, astronaut)
    field = tracker.measure(astronaut_landmarks, _crease(astronaut, astronaut_landmarks))
    assert field is not None
    pts = field.canon_pts
    mid = np.round((pts[117] + pts[205]) / 2).astype(int)
    assert field.ratio[mid[1], mid[0]] < 0.97  # darker along the line
    far = np.round(pts[425]).astype(int)  # the other cheek
    assert abs(field.ratio[far[1], far[0]] - 1.0) < 0.01


def test_detail_zero_is_off_and_out_of_range_is_refused(astronaut, astronaut_landmarks):
    assert DetailTracker(astronaut_landmarks, astronaut, 0.0).measure(astronaut_landmarks, astronaut) is None
    with pytest.raises(ConfigError, match="detail"):
        DetailTracker(astronaut_landmarks, astronaut, 1.5)


def test_the_renderer_draws_the_crease_onto_the_portrait(astronaut, astronaut_landmarks):
    tracker = DetailTracker(astronaut_landmarks, astronaut)
    field = tracker.measure(astronaut_landmarks, _crease(astronaut, astronaut_landmarks))
    renderer = Renderer(astronaut, astronaut_landmarks, RenderConfig(background=False))
    plain = settled_target(astronaut_landmarks, astronaut_landmarks, frames=1)
    still = renderer.render(plain)
    creased = renderer.render(dataclasses.replace(plain, detail=field))
    assert psnr(still, astronaut) > 40
    a, b = astronaut_landmarks[117, :2], astronaut_landmarks[205, :2]
    x, y = np.round((a + b) / 2).astype(int)
    darker = still[y - 1 : y + 2, x - 1 : x + 2].astype(float).mean() - creased[y - 1 : y + 2, x - 1 : x + 2].astype(float).mean()
    assert darker > 2.0  # the crease shows
    assert psnr(creased, astronaut) > 30  # and nothing else moved much


def _tongue_over_chin(rgb: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """A tongue-red blob over the chin below the lower lip, and its centre."""
    out = rgb.copy()
    lip, chin = landmarks[17, :2], landmarks[152, :2]  # lower lip's middle, chin tip
    centre = tuple(int(v) for v in (lip + 0.45 * (chin - lip)))
    axes = (int(0.25 * np.linalg.norm(landmarks[61, :2] - landmarks[291, :2])), int(0.2 * np.linalg.norm(chin - lip)))
    cv2.ellipse(out, centre, axes, 0, 0, 360, (190, 70, 85), -1, cv2.LINE_AA)
    return out, centre


def test_a_tongue_over_the_chin_is_not_read_as_creases_or_flow(astronaut, astronaut_landmarks):
    """Tongue or lip over skin is not skin detail: no darkening, no flow there."""
    tracker = DetailTracker(astronaut_landmarks, astronaut)
    covered, _ = _tongue_over_chin(astronaut, astronaut_landmarks)
    field = tracker.measure(astronaut_landmarks, covered)
    assert field is not None
    pts = field.canon_pts
    lip, chin = pts[17], pts[152]
    for f in (0.25, 0.45, 0.65):  # down the blob, its edges included
        x, y = np.round(lip + f * (chin - lip)).astype(int)
        assert abs(field.ratio[y, x] - 1.0) < 0.01
        assert np.abs(field.flow[y, x]).max() < 0.1
    # A grey crease elsewhere in the same frame still comes through.
    creased = _crease(covered, astronaut_landmarks)
    field = DetailTracker(astronaut_landmarks, astronaut).measure(astronaut_landmarks, creased)
    mid = np.round((pts[117] + pts[205]) / 2).astype(int)
    assert field.ratio[mid[1], mid[0]] < 0.97


def _rim(rgb: np.ndarray, landmarks: np.ndarray, shadow: bool) -> tuple[np.ndarray, np.ndarray]:
    """A soft dark glasses rim under the right eye (as a webcam sees one), with
    or without a soft shadow below it (as when the head tips and the frame's
    shadow falls on the cheek); and the shadow's middle in the image."""
    width = float(np.linalg.norm(landmarks[33, :2] - landmarks[133, :2]))
    rim = [landmarks[i, :2] + (0.0, 0.45 * width) for i in (33, 145, 133)]
    below = [p + (0.0, 0.4 * width) for p in rim]
    dark = np.zeros(rgb.shape[:2], np.float32)
    cv2.polylines(dark, [np.round(rim).astype(np.int32)], False, 0.7, 7, cv2.LINE_AA)
    dark = cv2.GaussianBlur(dark, (0, 0), 3.5)
    if shadow:
        band = np.zeros(rgb.shape[:2], np.float32)
        cv2.polylines(band, [np.round(below).astype(np.int32)], False, 0.3, 4, cv2.LINE_AA)
        dark = np.maximum(dark, cv2.GaussianBlur(band, (0, 0), 1.5))
    return np.clip(rgb * (1.0 - dark[..., None]), 0, 255).astype(np.uint8), below[1]


def test_shading_beside_a_glasses_rim_is_not_a_crease(astronaut, astronaut_landmarks):
    """The shadow a rim casts as the head tips read as an arc of crease under the eye."""
    reference, _ = _rim(astronaut, astronaut_landmarks, shadow=False)
    current, at = _rim(astronaut, astronaut_landmarks, shadow=True)
    field = DetailTracker(astronaut_landmarks, reference).measure(astronaut_landmarks, current)
    assert field is not None
    # The shadow's middle, in canonical px (the same affine map as the landmarks).
    pts, lm = field.canon_pts, astronaut_landmarks[:, :2]
    scale = np.linalg.norm(pts[33] - pts[133]) / np.linalg.norm(lm[33] - lm[133])
    x, y = np.round(pts[145] + (at - lm[145]) * scale).astype(int)
    assert field.ratio[y - 2 : y + 3, x - 4 : x + 5].min() > 0.97
    # The same soft band on plain cheek, far from any dark line, still reads as a crease.
    cheek = astronaut.copy()
    band = np.zeros(astronaut.shape[:2], np.float32)
    a, b = astronaut_landmarks[117, :2], astronaut_landmarks[205, :2]
    cv2.line(band, tuple(int(v) for v in a), tuple(int(v) for v in b), 1.0, 4, cv2.LINE_AA)
    band = cv2.GaussianBlur(band, (0, 0), 1.5)
    cheek = np.clip(cheek * (1.0 - 0.3 * band[..., None]), 0, 255).astype(np.uint8)
    field = DetailTracker(astronaut_landmarks, astronaut).measure(astronaut_landmarks, cheek)
    mid = np.round((pts[117] + pts[205]) / 2).astype(int)
    assert field.ratio[mid[1], mid[0]] < 0.97
