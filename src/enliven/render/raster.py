"""Depth-tested triangle rasteriser producing backward maps (compiled with numba).

For every output pixel it finds the nearest triangle covering it and writes the
source position of that pixel (barycentric interpolation of the triangle's source
vertices), the triangle's id and the barycentric weights. No Python loop runs per
pixel.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray


@numba.njit(cache=True, nogil=True)
def _raster(
    target: np.ndarray,  # (V, 3) float32: x, y in working pixels, z (smaller = nearer)
    source: np.ndarray,  # (V, 2) float32: x, y in source pixels
    triangles: np.ndarray,  # (T, 3) int32
    bias: np.ndarray,  # (T,) float32 added to z (pushes holes behind the skin)
    map_x: np.ndarray,
    map_y: np.ndarray,
    tri_id: np.ndarray,
    bary: np.ndarray,  # (H, W, 3) float32
    zbuf: np.ndarray,
    extra: np.ndarray,  # (V, 2) float32 second per-vertex coordinates, or (0, 2)
    extra_x: np.ndarray,  # (H, W) float32 outputs for them (unused when extra is empty)
    extra_y: np.ndarray,
) -> None:
    with_extra = extra.shape[0] > 0
    with_bary = bary.shape[0] == tri_id.shape[0]
    height, width = tri_id.shape
    for t in range(triangles.shape[0]):
        i0, i1, i2 = triangles[t, 0], triangles[t, 1], triangles[t, 2]
        x0, y0, z0 = target[i0, 0], target[i0, 1], target[i0, 2]
        x1, y1, z1 = target[i1, 0], target[i1, 1], target[i1, 2]
        x2, y2, z2 = target[i2, 0], target[i2, 1], target[i2, 2]
        det = (y1 - y2) * (x0 - x2) + (x2 - x1) * (y0 - y2)
        if abs(det) < 1e-9:
            continue
        inv = 1.0 / det
        xmin = max(int(np.floor(min(x0, min(x1, x2)))), 0)
        xmax = min(int(np.ceil(max(x0, max(x1, x2)))), width - 1)
        ymin = max(int(np.floor(min(y0, min(y1, y2)))), 0)
        ymax = min(int(np.ceil(max(y0, max(y1, y2)))), height - 1)
        zb = bias[t]
        # Along a row each weight is linear in x: a0 * x + b0 and so on. The
        # pixels that can pass the test below lie in one span; visit only that
        # span (one pixel wider each side against rounding), not the whole box.
        a0 = (y1 - y2) * inv
        a1 = (y2 - y0) * inv
        a2 = -(a0 + a1)
        for y in range(ymin, ymax + 1):
            b0 = (x2 - x1) * (y - y2) * inv - a0 * x2
            b1 = (x0 - x2) * (y - y2) * inv - a1 * x2
            b2 = 1.0 - b0 - b1
            lo = float(xmin)
            hi = float(xmax)
            for a, b in ((a0, b0), (a1, b1), (a2, b2)):
                if a > 1e-12:
                    lo = max(lo, (-1e-5 - b) / a)
                elif a < -1e-12:
                    hi = min(hi, (-1e-5 - b) / a)
            if lo > hi + 1.0:
                continue
            xs = max(xmin, int(np.floor(lo)) - 1)
            xe = min(xmax, int(np.ceil(hi)) + 1)
            for x in range(xs, xe + 1):
                w0 = a0 * x + b0
                w1 = a1 * x + b1
                w2 = 1.0 - w0 - w1
                if w0 < -1e-5 or w1 < -1e-5 or w2 < -1e-5:
                    continue
                z = w0 * z0 + w1 * z1 + w2 * z2 + zb
                if z >= zbuf[y, x]:
                    continue
                zbuf[y, x] = z
                tri_id[y, x] = t
                if with_bary:
                    bary[y, x, 0] = w0
                    bary[y, x, 1] = w1
                    bary[y, x, 2] = w2
                map_x[y, x] = w0 * source[i0, 0] + w1 * source[i1, 0] + w2 * source[i2, 0]
                map_y[y, x] = w0 * source[i0, 1] + w1 * source[i1, 1] + w2 * source[i2, 1]
                if with_extra:
                    extra_x[y, x] = w0 * extra[i0, 0] + w1 * extra[i1, 0] + w2 * extra[i2, 0]
                    extra_y[y, x] = w0 * extra[i0, 1] + w1 * extra[i1, 1] + w2 * extra[i2, 1]


def rasterize(
    target: NDArray[np.floating],
    source: NDArray[np.floating],
    triangles: NDArray[np.int32],
    bias: NDArray[np.floating],
    size_wh: tuple[int, int],
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.int32], NDArray[np.float32]]:
    """Backward maps for a triangle mesh drawn at ``target`` positions.

    Parameters
    ----------
    target : (V, 3) vertex positions in the output grid (x, y pixels, z depth).
    source : (V, 2) vertex positions in the image to sample.
    triangles : (T, 3) vertex indices.
    bias : (T,) depth added per triangle.
    size_wh : output grid size.

    Returns
    -------
    map_x, map_y : (H, W) float32 source coordinates (-1 where nothing is drawn).
    tri_id : (H, W) int32, the triangle drawn at each pixel, -1 where none.
    bary : (H, W, 3) float32 barycentric weights of that triangle's vertices.
    """
    map_x, map_y, tri_id, bary, _, _ = _run(target, source, None, triangles, bias, size_wh, bary=True)
    return map_x, map_y, tri_id, bary


def rasterize_maps(
    target: NDArray[np.floating],
    source: NDArray[np.floating],
    triangles: NDArray[np.int32],
    bias: NDArray[np.floating],
    size_wh: tuple[int, int],
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.int32]]:
    """:func:`rasterize` without the barycentric weights (cheaper): map_x,
    map_y, tri_id."""
    map_x, map_y, tri_id, _, _, _ = _run(target, source, None, triangles, bias, size_wh, bary=False)
    return map_x, map_y, tri_id


def rasterize_with(
    target: NDArray[np.floating],
    source: NDArray[np.floating],
    extra: NDArray[np.floating],
    triangles: NDArray[np.int32],
    bias: NDArray[np.floating],
    size_wh: tuple[int, int],
) -> tuple[NDArray[np.float32], ...]:
    """:func:`rasterize_maps`, also interpolating a second (V, 2) set of vertex
    coordinates ``extra`` in the same pass: returns map_x, map_y, tri_id,
    extra_x, extra_y (extra maps 0 where nothing is drawn)."""
    map_x, map_y, tri_id, _, extra_x, extra_y = _run(target, source, extra, triangles, bias, size_wh, bary=False)
    return map_x, map_y, tri_id, extra_x, extra_y


def _run(
    target: NDArray[np.floating],
    source: NDArray[np.floating],
    extra: NDArray[np.floating] | None,
    triangles: NDArray[np.int32],
    bias: NDArray[np.floating],
    size_wh: tuple[int, int],
    *,
    bary: bool,
) -> tuple[NDArray[np.float32], ...]:
    width, height = size_wh
    map_x = np.full((height, width), -1.0, np.float32)
    map_y = np.full((height, width), -1.0, np.float32)
    tri_id = np.full((height, width), -1, np.int32)
    weights = np.zeros((height, width, 3) if bary else (1, 1, 3), np.float32)
    zbuf = np.full((height, width), np.inf, np.float32)
    if extra is None:
        extra_in = np.zeros((0, 2), np.float32)
        extra_x = extra_y = np.zeros((1, 1), np.float32)
    else:
        extra_in = np.ascontiguousarray(np.asarray(extra)[:, :2], np.float32)
        extra_x = np.zeros((height, width), np.float32)
        extra_y = np.zeros((height, width), np.float32)
    _raster(
        np.ascontiguousarray(target, np.float32),
        np.ascontiguousarray(np.asarray(source)[:, :2], np.float32),
        np.ascontiguousarray(triangles, np.int32),
        np.ascontiguousarray(bias, np.float32),
        map_x,
        map_y,
        tri_id,
        weights,
        zbuf,
        extra_in,
        extra_x,
        extra_y,
    )
    return map_x, map_y, tri_id, weights, extra_x, extra_y
