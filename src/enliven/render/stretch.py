"""Softening skin that a frame stretches far more one way than the other.

Turned 40 degrees, a frontal portrait's near cheek is seen square on, but the
portrait holds it foreshortened at the face's edge: the warp pulls each of its
pixels out into a streak many pixels long one way and one pixel wide the other
(``cartoon3d_boy_01`` x ``head_turn_big_01`` frame 190: wood grain down the near
cheek and temple). A chin raised 40 degrees does the same to the neck. The warp
already blurs such skin along the stretch; :func:`soften` blurs it across as
well, in the output, so it comes out smooth instead of grained. It cannot bring
back what the portrait never showed: where hair hangs over the face's edge, the
streaks become a soft smudge of hair. :mod:`enliven.render.relax` first spreads
a turn's stretch over the side of the face, so less of it is left to soften.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

# A triangle's stretch is the longer axis of its warp (output px per portrait px,
# over the head's scale); its grain that axis over the shorter one. Past the
# stretch ramp a triangle is blurred by GRAIN_BLUR output px per unit of grain
# above GRAIN_FROM, up to the last of LEVELS.
STRETCH_RAMP = (1.8, 3.0)
GRAIN_FROM = 1.8
GRAIN_BLUR = 0.5
LEVELS = (1.5, 4.0)  # output px: the Gaussians mixed in, by the blur a pixel wants
MIN_BLUR = 0.5  # output px: a triangle that wants less is left alone (it would not show)
# Triangles drawn smaller than this (output px) are left alone: a sliver's streak
# does not show, and most frames hold a few along the face's outline.
MIN_AREA_PX = 24.0


def _ramp(x: NDArray[np.float64], lo: float, hi: float) -> NDArray[np.float64]:
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def stretch_blur(
    target_xy: NDArray[np.floating],
    source_xy: NDArray[np.floating],
    triangles: NDArray[np.integer],
    scale: float = 1.0,
) -> NDArray[np.float64]:
    """(T,) the blur (Gaussian sigma, output px; 0: none) each triangle wants.

    ``target_xy`` and ``source_xy`` are (V, 2) vertex positions in output and
    portrait pixels; ``scale`` the head's (output px per portrait px). Triangles
    turned over, degenerate or smaller than ``MIN_AREA_PX`` want none.
    """
    t = np.asarray(target_xy, np.float64)[triangles]
    s = np.asarray(source_xy, np.float64)[triangles]
    # The affine map of each triangle, portrait -> output: J = T S^-1, with the
    # edge vectors as the columns of T and S.
    t1, t2 = t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]
    s1, s2 = s[:, 1] - s[:, 0], s[:, 2] - s[:, 0]
    det_src = s1[:, 0] * s2[:, 1] - s1[:, 1] * s2[:, 0]
    det_tgt = t1[:, 0] * t2[:, 1] - t1[:, 1] * t2[:, 0]
    ok = (np.abs(det_src) > 1e-6) & (det_src * det_tgt > 0.0) & (np.abs(det_tgt) >= 2.0 * MIN_AREA_PX)
    d = np.where(ok, det_src, 1.0)
    j00 = (t1[:, 0] * s2[:, 1] - t2[:, 0] * s1[:, 1]) / d
    j01 = (t2[:, 0] * s1[:, 0] - t1[:, 0] * s2[:, 0]) / d
    j10 = (t1[:, 1] * s2[:, 1] - t2[:, 1] * s1[:, 1]) / d
    j11 = (t2[:, 1] * s1[:, 0] - t1[:, 1] * s2[:, 0]) / d
    # Its singular values, in closed form: the warp's longest and shortest axes.
    frob = j00**2 + j01**2 + j10**2 + j11**2
    det = np.abs(j00 * j11 - j01 * j10)
    root = np.sqrt(np.maximum(frob**2 - 4.0 * det**2, 0.0))
    longest = np.sqrt((frob + root) / 2.0)
    shortest = det / np.maximum(longest, 1e-12)
    grain = longest / np.maximum(shortest, 1e-9)
    sigma = _ramp(longest / max(scale, 1e-9), *STRETCH_RAMP) * GRAIN_BLUR * np.maximum(grain - GRAIN_FROM, 0.0)
    return np.where(ok & (sigma >= MIN_BLUR), np.minimum(sigma, LEVELS[-1]), 0.0)


def soften(region: NDArray[np.uint8], sigma: NDArray[np.float32]) -> None:
    """Blur each pixel of ``region`` (H, W, 3) by about its ``sigma`` (H, W),
    in place: mixed, piecewise linearly in sigma, between the region and
    Gaussian blurs of it at ``LEVELS``."""
    below_sigma = 0.0
    for level in LEVELS:
        takes = sigma > below_sigma
        rows, cols = np.flatnonzero(takes.any(axis=1)), np.flatnonzero(takes.any(axis=0))
        if not len(rows):
            break
        # Only the box of pixels that take this level, and the Gaussian's reach round it.
        reach = int(math.ceil(3 * level))
        y0, y1 = max(rows[0] - reach, 0), min(rows[-1] + 1 + reach, sigma.shape[0])
        x0, x1 = max(cols[0] - reach, 0), min(cols[-1] + 1 + reach, sigma.shape[1])
        part = region[y0:y1, x0:x1]
        share = np.clip((sigma[y0:y1, x0:x1] - below_sigma) * (1.0 / (level - below_sigma)), 0.0, 1.0)
        blurred = cv2.GaussianBlur(part, (0, 0), level)
        cv2.blendLinear(blurred, part, share, 1.0 - share, dst=part)
        below_sigma = level
