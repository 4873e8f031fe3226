"""The face-tracking stage: its Protocol, config and face selection."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from enliven.errors import ConfigError, EnlivenWarning, NoFaceError
from enliven.types import FaceObservation


@dataclass(frozen=True)
class TrackConfig:
    """How faces are found and tracked."""

    min_detection_confidence: float = 0.5  # 0..1, face detector threshold
    min_tracking_confidence: float = 0.5  # 0..1, below it the mesh re-detects
    crop_scale: float = 2.2  # crop side / face box side when tracking on a crop

    def __post_init__(self) -> None:
        for name in ("min_detection_confidence", "min_tracking_confidence"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ConfigError(f"{name} must be in (0, 1), got {value}")
        if not 1.2 <= self.crop_scale <= 6.0:
            raise ConfigError(f"crop_scale must be in [1.2, 6], got {self.crop_scale}")


class FaceTracker(Protocol):
    """Finds the 478-point face mesh in images and video frames."""

    def detect(self, rgb: NDArray[np.uint8]) -> list[tuple[float, float, float, float]]:
        """Boxes (x, y, w, h) in pixels of every face in a still image."""
        ...

    def landmarks_in_box(
        self, rgb: NDArray[np.uint8], box_xywh: tuple[float, float, float, float]
    ) -> FaceObservation | None:
        """The face mesh of the face in a box of a still image, or None."""
        ...

    def track(self, rgb: NDArray[np.uint8]) -> FaceObservation | None:
        """The face mesh in the next frame of a video, or None if it is lost."""
        ...

    def reset(self) -> None:
        """Forget the video state (the next ``track`` starts a new clip)."""
        ...

    def close(self) -> None: ...


def choose_face(
    boxes: list[tuple[float, float, float, float]], face_index: int | None, name: str
) -> tuple[float, float, float, float]:
    """Pick the face to animate: ``face_index`` (0 = largest), else the largest.

    Faces are numbered from the largest to the smallest. Several faces without an
    index give an :class:`EnlivenWarning` naming how to choose.
    """
    if not boxes:
        raise NoFaceError(
            f"no face found in {name}; use a clear, roughly frontal portrait "
            "(face at least 40 px tall)"
        )
    ordered = sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)
    if face_index is None:
        if len(ordered) > 1:
            warnings.warn(
                f"{len(ordered)} faces found in {name}; animating the largest "
                "(choose another with --face N, 0 = largest)",
                EnlivenWarning,
                stacklevel=2,
            )
        return ordered[0]
    if not 0 <= face_index < len(ordered):
        raise NoFaceError(
            f"--face {face_index} asked for, but {name} has {len(ordered)} "
            f"face(s); use 0..{len(ordered) - 1}"
        )
    return ordered[face_index]
