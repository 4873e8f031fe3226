"""Put the portrait's lid landmarks on (or just past) its lid lines.

On large stylised eyes (3-D cartoons, anime) the face mesh often puts the upper
lid a little inside the eye, on the iris or the white below the dark lash line.
A blink then closes the landmarks but leaves a squashed band of lashes, white
and iris above them (and white below). Each lid point moves away from the eye
to the darkest point just past it (the lash or lid line) when that is clearly
darker, and at least a fixed share of the eye's height, so that the lids'
first band of skin belongs to the eye's strip: a shut eye then shows lid skin
and lashes, never eye. The eye's
look while open is unchanged (the strip maps onto itself). User-given
landmarks are left alone.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from enliven.face import topology as topo

_SEARCH = 0.45  # of the eye's opening height: how far above the landmark to look
_CONTRAST = 25.0  # grey levels the lash line must be darker than the landmark's spot
_STEPS = 24  # samples along each search line
_MARGIN = 0.15  # of the eye's opening height: the least a lid point moves out


def _push_lid(grey: NDArray[np.float32], lm: NDArray[np.float64], lid: NDArray[np.intp], out: NDArray[np.float64], height: float) -> None:
    """Move the ``lid`` points along ``out`` (unit, away from the eye) to the lid line."""
    t = np.linspace(0.0, _SEARCH * height, _STEPS)
    shifts = np.zeros(len(lid))
    for k, i in enumerate(lid):
        line = lm[i, :2][None, :] + t[:, None] * out[None, :]
        profile = cv2.remap(grey, line[:, 0:1].astype(np.float32), line[:, 1:2].astype(np.float32),
                            cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).ravel()  # fmt: skip
        j = int(np.argmin(profile))
        if profile[0] - profile[j] >= _CONTRAST:
            shifts[k] = t[j]
    # One stray point (a dark brow hair, a shadow) must not bend the lid.
    shifts = np.minimum(shifts, np.median(shifts) + 0.1 * height)
    shifts = np.maximum(shifts, _MARGIN * height)
    lm[lid, :2] += shifts[:, None] * out[None, :]


def _refine_eye(grey: NDArray[np.float32], lm: NDArray[np.float64], corners: tuple[int, int], pairs: tuple[tuple[int, int], ...]) -> None:
    a, b = lm[corners[0], :2], lm[corners[1], :2]
    across = (b - a) / max(float(np.linalg.norm(b - a)), 1e-9)
    up = np.array([across[1], -across[0]])
    uppers = np.array([u for u, _ in pairs])
    lowers = np.array([lo for _, lo in pairs])
    if float(((lm[uppers, :2] - lm[lowers, :2]) @ up).mean()) < 0:
        up = -up  # make "up" point from the lower lid to the upper one
    height = float(np.median(np.linalg.norm(lm[uppers, :2] - lm[lowers, :2], axis=1)))
    if height < 3.0:  # a shut or tiny eye: nothing to find, nothing to hide
        return
    _push_lid(grey, lm, uppers, up, height)
    _push_lid(grey, lm, lowers, -up, height)


def lash_line_landmarks(rgb: NDArray[np.uint8], landmarks: NDArray[np.floating]) -> NDArray[np.float32]:
    """A copy of ``landmarks`` with each eye's lids moved out to their lid lines."""
    grey = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 1.0)
    lm = np.asarray(landmarks, np.float64).copy()
    _refine_eye(grey, lm, topo.RIGHT_EYE_CORNERS, topo.RIGHT_EYE_PAIRS)
    _refine_eye(grey, lm, topo.LEFT_EYE_CORNERS, topo.LEFT_EYE_PAIRS)
    return lm.astype(np.float32)
