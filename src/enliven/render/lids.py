"""Lid pixels never show the inside of the eye.

The warp maps are made at working resolution and upsampled bilinearly. Where
the lids meet, one working pixel samples the upper lid's edge and the next the
lower lid's, on either side of the portrait's eye, and an output pixel between
them sampled the eye in between: bits of white and iris along a shut eye's line
(most on the 3-D cartoon's big eyes). So where the frame's lids meet (closer
than ``_SHUT_PX``), an output pixel outside the opening whose sample lands
inside the portrait's opening takes its sample from the nearer lid's edge
instead: a shut eye's line is its lash line over its lower lid's rim. An open
eye, and the open part of a half-shut one, keep their samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# Only where the frame's lids are closer than this (px) do they count as met:
# along an open eye's lids the pass had moved a few samples every frame, and
# re-tracked, the Mona Lisa's open left eye followed the driver less well.
_SHUT_PX = 1.0


@dataclass(frozen=True)
class EyeOutline:
    """One of the portrait's eye openings: its lids' edges, in portrait pixels."""

    upper_ids: NDArray[np.intp]  # the upper lid's landmarks, corner to corner
    lower_ids: NDArray[np.intp]  # the lower lid's, corner to corner
    upper: tuple[NDArray[np.float64], NDArray[np.float64]]  # the upper lid's edge: x (rising), y
    lower: tuple[NDArray[np.float64], NDArray[np.float64]]  # the lower lid's edge: x (rising), y


def _edge(points: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    order = np.argsort(points[:, 0], kind="stable")
    return points[order, 0], points[order, 1]


def _between(
    x: NDArray[np.float64], y: NDArray[np.float64], upper: tuple[NDArray[np.float64], NDArray[np.float64]], lower: tuple[NDArray[np.float64], NDArray[np.float64]]
) -> NDArray[np.bool_]:
    """Whether points (x, y) lie strictly between two lids' edges (each as
    :func:`_edge` gives it). The edges are taken as functions of x: eyes are
    wider than tall, and stay so on a head rolled far. Past the corners the
    edges meet, so nothing is between them there."""
    top = np.interp(x, *upper)
    bottom = np.interp(x, *lower)
    return (y > np.minimum(top, bottom)) & (y < np.maximum(top, bottom))


def outline(landmarks: NDArray[np.floating], pairs: tuple[tuple[int, int], ...], corners: tuple[int, int]) -> EyeOutline:
    """The opening of the eye whose lids are ``pairs`` (upper, lower) between ``corners``."""
    lm = np.asarray(landmarks, np.float64)[:, :2]
    idx = np.asarray(pairs, np.intp)
    upper_ids = np.r_[corners[0], idx[:, 0], corners[1]]
    lower_ids = np.r_[corners[0], idx[:, 1], corners[1]]
    return EyeOutline(upper_ids, lower_ids, _edge(lm[upper_ids]), _edge(lm[lower_ids]))


def close_gaps(
    map_x: NDArray[np.float32],
    map_y: NDArray[np.float32],
    origin: tuple[int, int],
    verts: NDArray[np.float64],
    eye: EyeOutline,
    reach: int = 2,
) -> int:
    """Move the samples of output pixels outside the frame's opening of ``eye``
    (``verts``: the frame's vertices, output pixels) that land inside the
    portrait's opening onto the nearer lid's edge, in place. "Inside" is
    strictly between the lids (a shut eye has no pixel inside). ``map_x`` and
    ``map_y`` are full-resolution maps of the output box whose top-left pixel
    is ``origin`` (x, y); ``reach`` is how far (px) from the lids to look (the
    upsampled maps interpolate over a working pixel). Returns how many samples
    moved."""
    ox, oy = origin
    both = np.vstack([verts[eye.upper_ids, :2], verts[eye.lower_ids, :2]])
    up_t, low_t = _edge(verts[eye.upper_ids, :2]), _edge(verts[eye.lower_ids, :2])
    h, w = map_x.shape
    c0, r0 = np.floor(both.min(axis=0) - (ox, oy)).astype(int) - reach
    c1, r1 = np.ceil(both.max(axis=0) - (ox, oy)).astype(int) + reach + 1
    c0, r0, c1, r1 = max(int(c0), 0), max(int(r0), 0), min(int(c1), w), min(int(r1), h)
    if c1 <= c0 or r1 <= r0:
        return 0
    sx, sy = map_x[r0:r1, c0:c1], map_y[r0:r1, c0:c1]
    lands = _between(sx, sy, eye.upper, eye.lower)
    if not lands.any():
        return 0
    columns = np.arange(c0, c1, dtype=np.float64) + ox
    shut = np.abs(np.interp(columns, *low_t) - np.interp(columns, *up_t)) < _SHUT_PX
    if not shut.any():
        return 0
    px, py = np.meshgrid(columns, np.arange(r0, r1, dtype=np.float64) + oy)
    bad = lands & shut[None, :] & ~_between(px, py, up_t, low_t)
    if not bad.any():
        return 0
    x, y = sx[bad], sy[bad]
    up = np.interp(x, *eye.upper)
    low = np.interp(x, *eye.lower)
    sy[bad] = np.where(y - up < low - y, up - 0.5, low + 0.5)
    return int(bad.sum())
