"""Scalar expression measures of a face mesh, in units of the eye distance.

These are what retargeting transfers as ratios and what the benchmarks and tests
correlate between driver and output: eye and mouth opening, mouth width, brow
raise and gaze.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from enliven.face import topology as topo

_CENTRAL = slice(2, 5)  # the three middle lid pairs of each eye


def eye_distance(landmarks: NDArray[np.floating]) -> float:
    """Distance between the outer eye corners, in the landmarks' units."""
    a, b = topo.RIGHT_EYE_CORNERS[0], topo.LEFT_EYE_CORNERS[0]
    return float(np.linalg.norm(landmarks[a, :2] - landmarks[b, :2]))


def _pair_gaps(landmarks: NDArray[np.floating], pairs: tuple[tuple[int, int], ...]) -> NDArray[np.float64]:
    idx = np.asarray(pairs)
    return np.linalg.norm(landmarks[idx[:, 0], :2] - landmarks[idx[:, 1], :2], axis=1)


def eye_opening(landmarks: NDArray[np.floating], side: str) -> float:
    """Lid gap over eye width of the subject's ``"right"`` or ``"left"`` eye."""
    pairs, corners = (
        (topo.RIGHT_EYE_PAIRS, topo.RIGHT_EYE_CORNERS)
        if side == "right"
        else (topo.LEFT_EYE_PAIRS, topo.LEFT_EYE_CORNERS)
    )
    width = np.linalg.norm(landmarks[corners[0], :2] - landmarks[corners[1], :2])
    return float(_pair_gaps(landmarks, pairs)[_CENTRAL].mean() / max(width, 1e-6))


def mouth_opening(landmarks: NDArray[np.floating]) -> float:
    """Inner-lip gap over the eye distance."""
    gaps = _pair_gaps(landmarks, topo.INNER_LIP_PAIRS)[3:6]
    return float(gaps.mean() / max(eye_distance(landmarks), 1e-6))


def mouth_width(landmarks: NDArray[np.floating]) -> float:
    """Distance between the mouth corners over the eye distance."""
    a, b = topo.MOUTH_CORNERS_OUTER
    dist = np.linalg.norm(landmarks[a, :2] - landmarks[b, :2])
    return float(dist / max(eye_distance(landmarks), 1e-6))


def brow_raise(landmarks: NDArray[np.floating]) -> float:
    """Mean height of the brows above the eye corners, over the eye distance.

    Measured along the face's own vertical (perpendicular to the eye line), so a
    rolled head does not change it.
    """
    right, left = landmarks[topo.RIGHT_EYE_CORNERS[0], :2], landmarks[topo.LEFT_EYE_CORNERS[0], :2]
    axis = left - right
    iod = max(float(np.linalg.norm(axis)), 1e-6)
    up = np.array([axis[1], -axis[0]]) / iod  # perpendicular, pointing up the face
    eye_mid = (landmarks[list(topo.RIGHT_EYE_CORNERS + topo.LEFT_EYE_CORNERS), :2]).mean(axis=0)
    brows = landmarks[list(topo.RIGHT_BROW + topo.LEFT_BROW), :2]
    return float(((brows - eye_mid) @ up).mean() / iod)


def gaze(landmarks: NDArray[np.floating]) -> tuple[float, float]:
    """Iris position within the eyes, averaged over both: (x, y), each about -0.5..0.5.

    x is along the eye-corner line (positive to the image's right), y across it
    (positive down), both over the eye width and relative to the eye's centre.
    """
    x, y = np.mean(eye_gazes(landmarks), axis=0)
    return float(x), float(y)


def eye_gazes(landmarks: NDArray[np.floating]) -> NDArray[np.float64]:
    """Each iris's position within its eye, as in :func:`gaze`: rows right eye, left eye; columns x, y.

    Crossed eyes average to a straight gaze; apart, they do not.
    """
    out = []
    for iris, pairs, corners in (
        (topo.RIGHT_IRIS, topo.RIGHT_EYE_PAIRS, topo.RIGHT_EYE_CORNERS),
        (topo.LEFT_IRIS, topo.LEFT_EYE_PAIRS, topo.LEFT_EYE_CORNERS),
    ):
        a, b = landmarks[corners[0], :2], landmarks[corners[1], :2]
        if a[0] > b[0]:
            a, b = b, a
        axis = b - a
        width = max(float(np.linalg.norm(axis)), 1e-6)
        ux = axis / width
        uy = np.array([-ux[1], ux[0]])
        centre = landmarks[np.asarray(pairs).ravel(), :2].mean(axis=0)
        rel = landmarks[iris[0], :2] - centre
        out.append((rel @ ux / width, rel @ uy / width))
    return np.asarray(out, np.float64)


@dataclass(frozen=True)
class Expression:
    """The scalar measures of one face."""

    eye_right: float
    eye_left: float
    mouth_open: float
    mouth_width: float
    brow: float
    gaze_x: float
    gaze_y: float

    @classmethod
    def of(cls, landmarks: NDArray[np.floating]) -> Expression:
        """Measure a (478, 3) face mesh."""
        gx, gy = gaze(landmarks)
        return cls(
            eye_opening(landmarks, "right"),
            eye_opening(landmarks, "left"),
            mouth_opening(landmarks),
            mouth_width(landmarks),
            brow_raise(landmarks),
            gx,
            gy,
        )
