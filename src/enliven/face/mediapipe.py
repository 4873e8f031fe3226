"""MediaPipe 0.10.21 face tracker: full-range detection, then the face mesh on a crop.

The mesh's own detector is short-range (faces under ~13% of the frame width are
never found), so faces are first found with the full-range detector and the mesh
runs on a square crop around the face.
"""

from __future__ import annotations

import logging
import os
import sys
import types

import numpy as np
from numpy.typing import NDArray

from enliven.face.models import verify_installed_model
from enliven.face.tracker import TrackConfig
from enliven.types import FaceObservation

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]


def import_mediapipe():  # -> module
    """Import mediapipe without its drawing helpers' matplotlib (~0.35 s).

    mediapipe's package ``__init__`` imports ``solutions.drawing_utils``, which
    imports matplotlib.pyplot at module level; Enliven never draws with it. While
    mediapipe imports, placeholders stand in for matplotlib, then they are removed
    so a later real ``import matplotlib`` works as usual.
    """
    os.environ.setdefault("GLOG_minloglevel", "2")  # quiet mediapipe's C++ logs
    if "mediapipe" in sys.modules or "matplotlib" in sys.modules:
        import mediapipe

        return mediapipe
    placeholders = {name: types.ModuleType(name) for name in ("matplotlib", "matplotlib.pyplot")}
    placeholders["matplotlib"].pyplot = placeholders["matplotlib.pyplot"]  # type: ignore[attr-defined]
    sys.modules.update(placeholders)
    try:
        import mediapipe
    finally:
        for name, module in placeholders.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
    return mediapipe


def _crop_window(box: Box, scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    """A square window around a face box: x0, y0, x1, y1 (may leave the image).

    The mesh model assumes square crops; parts outside the image are padded.
    The side is at most the image's longer side.
    """
    x, y, w, h = box
    side = int(np.ceil(min(max(w, h) * scale, max(width, height))))
    cx, cy = x + w / 2, y + h / 2
    x0 = int(np.floor(cx - side / 2))
    y0 = int(np.floor(cy - side / 2))
    # Keep as much of the image inside the window as possible.
    x0 = min(max(x0, min(0, width - side)), max(0, width - side))
    y0 = min(max(y0, min(0, height - side)), max(0, height - side))
    return x0, y0, x0 + side, y0 + side


def _landmarks_box(landmarks: NDArray[np.float32]) -> Box:
    x0, y0 = landmarks[:, :2].min(axis=0)
    x1, y1 = landmarks[:, :2].max(axis=0)
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


class MediaPipeTracker:
    """:class:`~enliven.face.tracker.FaceTracker` backed by mediapipe's solutions."""

    def __init__(self, config: TrackConfig | None = None) -> None:
        mp = import_mediapipe()

        self.config = config or TrackConfig()
        for name in (
            "face_detection/face_detection_full_range_sparse.tflite",
            "face_detection/face_detection_short_range.tflite",
            "face_landmark/face_landmark_with_attention.tflite",
        ):
            verify_installed_model(name)
        self._mp = mp
        self._detector = mp.solutions.face_detection.FaceDetection(
            model_selection=1,
            min_detection_confidence=self.config.min_detection_confidence,
        )
        # Short range (faces filling most of a frame, within ~2 m): asked only
        # when tracking and the full-range model finds nothing. On a close-up it scores 0.95
        # where full range scores 0.6-0.8 (pout_kiss_01, frame 0).
        self._near_detector = mp.solutions.face_detection.FaceDetection(
            model_selection=0,
            min_detection_confidence=self.config.min_detection_confidence,
        )
        # The still-image mesh is made when a still is first asked for and freed
        # when a clip starts (reset): it is not used while tracking, and at
        # 1080p its ~20 MB sat on top of the whole run's peak.
        self._still_mesh = None
        self._video_mesh = None
        self._window: tuple[int, int, int, int] | None = None

    # -- still images -------------------------------------------------------------
    def detect(self, rgb: NDArray[np.uint8]) -> list[Box]:
        """Boxes (x, y, w, h) in pixels of every face the full-range detector finds."""
        return self._boxes(self._detector, rgb)

    def _boxes(self, detector, rgb: NDArray[np.uint8]) -> list[Box]:  # detector: a mediapipe FaceDetection
        height, width = rgb.shape[:2]
        result = detector.process(np.ascontiguousarray(rgb))
        boxes: list[Box] = []
        for det in result.detections or []:
            rel = det.location_data.relative_bounding_box
            boxes.append(
                (rel.xmin * width, rel.ymin * height, rel.width * width, rel.height * height)
            )
        return boxes

    def landmarks_in_box(self, rgb: NDArray[np.uint8], box_xywh: Box) -> FaceObservation | None:
        """The face mesh of the face in ``box_xywh`` of a still image, or None."""
        height, width = rgb.shape[:2]
        window = _crop_window(box_xywh, self.config.crop_scale, width, height)
        if self._still_mesh is None:
            self._still_mesh = self._face_mesh(still=True)
        landmarks = self._mesh_on_window(self._still_mesh, rgb, window)
        if landmarks is None:
            return None
        return FaceObservation(landmarks, _landmarks_box(landmarks))

    # -- video --------------------------------------------------------------------
    def track(self, rgb: NDArray[np.uint8]) -> FaceObservation | None:
        """The face mesh in the next video frame (tracking mode), or None if lost."""
        height, width = rgb.shape[:2]
        if self._video_mesh is None:
            self._video_mesh = self._face_mesh(still=False)
        if self._window is None:
            # A driving frame that full range misses may be a close-up: ask the
            # short-range model too (portraits have a retry ladder of their own).
            boxes = self.detect(rgb) or self._boxes(self._near_detector, rgb)
            if not boxes:
                return None
            box = max(boxes, key=lambda b: b[2] * b[3])
            self._window = _crop_window(box, self.config.crop_scale, width, height)
        landmarks = self._mesh_on_window(self._video_mesh, rgb, self._window)
        if landmarks is None:
            self._window = None
            return None
        box = _landmarks_box(landmarks)
        self._maybe_move_window(box, width, height)
        return FaceObservation(landmarks, box)

    def _maybe_move_window(self, box: Box, width: int, height: int) -> None:
        """Re-centre the crop only when the face drifts, so mesh tracking stays valid."""
        assert self._window is not None
        x0, y0, x1, y1 = self._window
        want = _crop_window(box, self.config.crop_scale, width, height)
        side = max(x1 - x0, y1 - y0)
        moved = max(abs(a - b) for a, b in zip(want, self._window))
        if moved > 0.12 * side:
            self._window = want

    def reset(self) -> None:
        """Start a new clip: forget the crop and the mesh's tracking state, and
        free the still-image mesh (made again if a still is asked for)."""
        for mesh in (self._video_mesh, self._still_mesh):
            if mesh is not None:
                mesh.close()
        self._video_mesh = self._still_mesh = None
        self._window = None

    # -- shared -------------------------------------------------------------------
    def _face_mesh(self, *, still: bool):  # -> a mediapipe FaceMesh
        """One face with iris landmarks; ``still``: each image on its own, else
        tracking from frame to frame (mediapipe ignores the tracking confidence
        for stills)."""
        return self._mp.solutions.face_mesh.FaceMesh(
            static_image_mode=still,
            max_num_faces=1,
            refine_landmarks=True,
            min_detection_confidence=self.config.min_detection_confidence,
            min_tracking_confidence=self.config.min_tracking_confidence,
        )

    @staticmethod
    def _mesh_on_window(
        mesh: object, rgb: NDArray[np.uint8], window: tuple[int, int, int, int]
    ) -> NDArray[np.float32] | None:
        x0, y0, x1, y1 = window
        height, width = rgb.shape[:2]
        side = x1 - x0
        if side < 16:
            return None
        crop = np.zeros((side, side, 3), dtype=np.uint8)
        sx0, sy0 = max(x0, 0), max(y0, 0)
        sx1, sy1 = min(x1, width), min(y1, height)
        crop[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
        result = mesh.process(crop)  # type: ignore[attr-defined]
        if not result.multi_face_landmarks:
            return None
        h = w = side
        pts = np.array(
            [(p.x, p.y, p.z) for p in result.multi_face_landmarks[0].landmark],
            dtype=np.float32,
        )
        out = np.empty_like(pts)
        out[:, 0] = pts[:, 0] * w + x0
        out[:, 1] = pts[:, 1] * h + y0
        out[:, 2] = pts[:, 2] * w
        return out

    def close(self) -> None:
        """Free the mediapipe graphs."""
        self.reset()
        self._detector.close()
        self._near_detector.close()

    def __enter__(self) -> MediaPipeTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
