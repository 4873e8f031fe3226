"""Small value types shared by the stages (dataclasses of NumPy arrays)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame on the output time grid.

    index : 0-based frame number at the output frame rate.
    time_s : presentation time in seconds from the start of the (trimmed) clip.
    rgb : ndarray of shape (H, W, 3), uint8, upright (rotation metadata applied).
    """

    index: int
    time_s: float
    rgb: NDArray[np.uint8]


@dataclass(frozen=True)
class FaceObservation:
    """One face found in one image.

    landmarks : ndarray of shape (478, 3), float32. x, y in pixels of the image the
        face was found in; z in the same pixel units, smaller is nearer the camera
        (MediaPipe's convention, scaled by the image width).
    box_xywh : face box in pixels (x, y, width, height).
    score : detector confidence in 0..1.
    """

    landmarks: NDArray[np.float32]
    box_xywh: tuple[float, float, float, float]
    score: float = 1.0
