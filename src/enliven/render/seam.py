"""The dark line where closed lips meet, taken from the driver.

A portrait caught with its mouth open has no closed-lip seam anywhere in its
pixels. When the target closes that mouth, the two halves of the mouth strip
meet over the hidden opening and show lip beside lip: in the middle the
redrawn lip edges read as a line, but toward the corners the lips are thin and
the meeting looked like skin, so the closed mouth looked and read narrower
than the target (``photo_woman_surprised_01`` under ``pout_kiss_01``, frames
0-30 at 720²: the tracker put its corners 39 px closer than the target's
130, against 28 px on the point-warp baseline; 31 px with the seam).

The driver's own closed lips show how dark their seam is against the lips
beside it, point by point along the mouth (darkest at the corners). That ratio
is laid along the target's line where the portrait's opening is hidden and the
target is closed: the output's seam is darkened to the same share of its own
lips' lightness, never lightened.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from enliven.face import topology as topo
from enliven.motion.measures import eye_distance

_PAIRS = np.asarray(topo.INNER_LIP_PAIRS)
_CORNERS = topo.MOUTH_CORNERS_INNER
SAMPLES = 33  # points along the mouth, corner to corner
UNIT = 0.02  # the profile's unit: this share of the eye distance
# Where the line and the lips beside it are read, in units: a driver's seam is
# about one unit wide (3 px at an eye distance of 150 px) and the lips around
# it are two units thick or more near the middle.
LINE_REACH = 0.75
LIPS_AT = (1.5, 2.5)
SIGMA = 0.6  # the drawn line's Gaussian sigma, units (about the driver seam's width at half depth)
# A seam darker than this share of its lips is a gap (cavity), not a seam.
MIN_RATIO = 0.45
# With no driver picture (a procedural performance): the median seam over
# 210 closed-mouth frames of the 12 shared drivers (0.61; per clip 0.45-0.75).
DEFAULT_RATIO = 0.6


def midline(landmarks: NDArray[np.floating]) -> NDArray[np.float64]:
    """The mouth's inner line, corner to corner: (2 + pairs, 2) points, the
    middle of each inner-lip pair between the two inner corners."""
    lm = np.asarray(landmarks, np.float64)
    mid = (lm[_PAIRS[:, 0], :2] + lm[_PAIRS[:, 1], :2]) / 2.0
    return np.vstack([lm[_CORNERS[0], :2], mid, lm[_CORNERS[1], :2]])


def _unit_rows(v: NDArray[np.float64]) -> NDArray[np.float64]:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)


def _resample(line: NDArray[np.float64], n: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``n`` points evenly spaced along a polyline, and their unit normals."""
    seg = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(line, axis=0), axis=1))]
    s = np.linspace(0.0, seg[-1], n)
    pts = np.c_[np.interp(s, seg, line[:, 0]), np.interp(s, seg, line[:, 1])]
    tangent = _unit_rows(np.gradient(pts, axis=0))
    return pts, np.c_[-tangent[:, 1], tangent[:, 0]]


@dataclass(frozen=True)
class _Probe:
    """Where one face's mouth line and the lips beside it are read."""

    pts: NDArray[np.float64]  # (SAMPLES, 2) points along the line, image px
    unit: float  # px
    box: tuple[int, int, int, int]  # x0, y0, x1, y1: the image box read
    near: NDArray[np.float32]  # (SAMPLES, 7, 2) box px across the line
    far: NDArray[np.float32]  # (SAMPLES, 6, 2) box px on the lips, above then below


def _probe(landmarks: NDArray[np.floating], shape: tuple[int, ...]) -> _Probe:
    lm = np.asarray(landmarks, np.float64)
    unit = UNIT * eye_distance(lm)
    pts, normals = _resample(midline(lm), SAMPLES)
    near = np.linspace(-LINE_REACH, LINE_REACH, 7) * unit
    far = np.r_[-np.linspace(*LIPS_AT, 3), np.linspace(*LIPS_AT, 3)] * unit
    h, w = shape[:2]
    pad = LIPS_AT[1] * unit + 2.0
    x0, y0 = np.clip(np.floor(pts.min(axis=0) - pad).astype(int), 0, [w - 1, h - 1])
    x1, y1 = np.clip(np.ceil(pts.max(axis=0) + pad).astype(int) + 1, [x0 + 1, y0 + 1], [w, h])
    local = pts - (x0, y0)

    def at(offsets: NDArray[np.float64]) -> NDArray[np.float32]:
        return (local[:, None, :] + normals[:, None, :] * offsets[None, :, None]).astype(np.float32)

    return _Probe(pts, unit, (int(x0), int(y0), int(x1), int(y1)), at(near), at(far))


def _read(rgb: NDArray[np.uint8], probe: _Probe) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Along the mouth: the line's darkest grey level, and the lips' beside it
    (the mean of both sides' medians)."""
    x0, y0, x1, y1 = probe.box
    luma = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    line = cv2.remap(luma, probe.near, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).min(axis=1)
    beside = cv2.remap(luma, probe.far, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return line, (np.median(beside[:, :3], axis=1) + np.median(beside[:, 3:], axis=1)) / 2.0


def line_share(rgb: NDArray[np.uint8], landmarks: NDArray[np.floating]) -> NDArray[np.float32]:
    """The line's grey level over the lips' beside it, at each of ``SAMPLES``
    points from corner to corner (1: no seam)."""
    line, lips = _read(rgb, _probe(landmarks, rgb.shape))
    return line / np.maximum(lips, 1.0)


def driver_ratios(rgb: NDArray[np.uint8], landmarks: NDArray[np.floating]) -> NDArray[np.float32]:
    """How dark the driver's seam is against its lips, at each of ``SAMPLES``
    points from corner to corner: 1 is no seam. Where the lips part (a gap
    darker than ``MIN_RATIO`` of them) the share is capped there, since the
    output draws its own interior where the target opens."""
    ratio = np.clip(line_share(rgb, landmarks), MIN_RATIO, 1.0)
    return np.convolve(np.pad(ratio, 1, mode="edge"), np.ones(3) / 3.0, mode="valid").astype(np.float32)


PASSES = 2  # a thin line read on pixels reaches ~85% of its darkening in one pass


def draw(out: NDArray[np.uint8], landmarks: NDArray[np.floating], ratios: NDArray[np.float32] | float, weights: NDArray[np.float64]) -> None:
    """Darken ``out`` (in place) along the target's mouth line so that the line
    is at most ``ratios`` of the lips beside it (per sample point from corner
    to corner, or one for all), by ``weights`` (0..1 at each point of
    :func:`midline`)."""
    if not np.any(np.asarray(weights) > 0):
        return
    knots = midline(landmarks)
    arc = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(knots, axis=0), axis=1))]
    weights = np.interp(np.linspace(0.0, arc[-1], SAMPLES), arc, np.asarray(weights, np.float64))
    probe = _probe(landmarks, out.shape)
    pts = probe.pts
    sigma = max(SIGMA * probe.unit, 0.6)
    reach = 4.0 * sigma
    h, w = out.shape[:2]
    x0, y0 = np.maximum(np.floor(pts.min(axis=0) - reach).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(pts.max(axis=0) + reach).astype(int) + 1, [w, h])
    if x1 <= x0 or y1 <= y0:
        return
    # The line's profile: drawn anti-aliased (1/16 px precision), blurred to
    # the seam's width and scaled to a peak of 1; and each pixel's place along
    # the mouth, from its projection on the corner-to-corner chord.
    # The line runs on by one sigma past each corner, so the blur leaves the
    # corners their full depth (the seam goes on into the outer corners).
    ends = pts[[0, -1]] + sigma * _unit_rows(pts[[0, -1]] - pts[[1, -2]])
    line_px = np.vstack([ends[0], pts, ends[1]]) - (x0, y0)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.polylines(mask, [np.round(line_px * 16).astype(np.int32)], False, 255, 1, cv2.LINE_AA, shift=4)
    size = 2 * int(np.ceil(3.0 * sigma)) + 1
    peak = float(cv2.getGaussianKernel(size, sigma, cv2.CV_32F)[size // 2, 0])
    profile = np.minimum(cv2.GaussianBlur(mask.astype(np.float32) * (1.0 / 255.0), (size, size), sigma) * (1.0 / peak), 1.0)
    chord = pts[-1] - pts[0]
    chord /= max(float(chord @ chord), 1e-9)
    ys, xs = np.mgrid[y0:y1, x0:x1]
    place = (xs - pts[0, 0]) * chord[0] + (ys - pts[0, 1]) * chord[1]
    knots_at = np.maximum.accumulate((pts - pts[0]) @ chord)
    for _ in range(PASSES):
        line, lips = _read(out, probe)
        # How much each point's line must darken: never lighter than it is.
        strength = weights * (1.0 - np.minimum(1.0, ratios * lips / np.maximum(line, 1.0)))
        if not np.any(strength > 1e-3):
            return
        dark = np.interp(place, knots_at, strength).astype(np.float32) * profile
        region = out[y0:y1, x0:x1].astype(np.float32)
        out[y0:y1, x0:x1] = np.clip(region * (1.0 - dark[..., None]) + 0.5, 0, 255).astype(np.uint8)
