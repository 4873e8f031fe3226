"""Occlusion edges drawn without the line from between the layers.

Where one part of the face mesh passes over another (the nose over the far
cheek in a big turn, the face's edge over the hair beside it, an upper lip
thrown over the skin above it), neighbouring working pixels show parts of the
mesh that do not touch, and their source positions jump. Bilinearly upsampled,
the maps there sample the portrait *between* the two layers, so a thin line of
whatever lies between them in the portrait (the side of the nose, a lip's
edge) ran along the edge: a dark line down the nose's outline at a 40° turn
of ``head_turn_big_01``, gone when the maps are made at full resolution.

Here the output pixels around such an edge are drawn again: each takes the
colours of the four working pixels round it, each sampled at its own map
carried on to the pixel along its own side's slope, mixed by the bilinear
weights. Nothing from between the layers shows, and the edge is blended over
one working pixel instead of stepping. The eyes and the mouth opening (their
own layers) are left alone. Both passes are compiled with numba.
"""

from __future__ import annotations

import math

import cv2
import numba
import numpy as np
from numpy.typing import NDArray

from enliven.render.mesh import signed_areas
from enliven.render.sampling import WorkGrid

MIN_JUMP = 2.0  # source px: a smaller jump between neighbours shows no line
_SLOPE_LIMIT = 3.0  # source px per output px: a slope carried across an edge is capped
_NEAR = np.ones((3, 3), np.uint8)  # the openings' footprint is grown by a working pixel


def openings(source: NDArray[np.float64], triangles: NDArray[np.int32], allowed: NDArray[np.bool_], grid: WorkGrid) -> NDArray[np.bool_]:
    """The eyes' and the mouth's openings (the triangles not ``allowed``) in the
    portrait, on the working grid, grown by a working pixel. A jump over one is
    a squeeze (a shut eye, closing lips), not a fold: what the upsampled maps
    show there (a lash line, the line between the lips) is the opening
    squeezed thin, and stays. The same for every frame (a frame's source
    moves only the mouth strip's middle line, inside the opening)."""
    h, w = grid.work_wh[1], grid.work_wh[0]
    mask = np.zeros((h, w), np.uint8)
    polygons = np.round(grid.to_work(source[triangles[~allowed], :2].reshape(-1, 2)) * 4).astype(np.int32).reshape(-1, 3, 2)
    cv2.fillPoly(mask, list(polygons), 1, lineType=cv2.LINE_8, shift=2)
    return cv2.dilate(mask, _NEAR).view(np.bool_)


def find(
    maps: tuple[NDArray[np.float32], NDArray[np.float32]],
    tri_id: NDArray[np.int32],
    verts: NDArray[np.float64],
    source: NDArray[np.float64],
    triangles: NDArray[np.int32],
    allowed: NDArray[np.bool_],
    opening: NDArray[np.bool_],
    grid: WorkGrid,
) -> tuple[NDArray[np.bool_], tuple[int, int, int, int]] | None:
    """Working pixels on an occlusion edge: a mask and the working box
    (r0, c0, r1, c1) that holds them all, or None.

    Only a fold can put one part of the mesh over another, so only the box
    round the triangles that turned over (``verts`` against ``source``, both
    (V, 2+) pixels) is searched, and a frame with none costs a few
    microseconds. There a pixel is on an edge when a neighbour (across or
    down) shows a triangle that shares no vertex with its own and samples the
    source more than ``MIN_JUMP`` pixels (and 1.5 working pixels) away, and
    the source half-way between the two samples is not in an ``opening``
    (:func:`openings`). ``allowed`` says per triangle which may take part:
    False for the eyes' and the mouth's openings, which have layers of their
    own and whose squeezed picture (a shut eye's lash line) belongs where the
    lids meet.
    """
    map_x, map_y = maps
    corners = verts[triangles, :2]
    turned = (signed_areas(corners) * signed_areas(source[triangles, :2]) < 0.0) & allowed
    if not turned.any():
        return None
    h, w = map_x.shape
    used = grid.to_work(corners[turned].reshape(-1, 2))
    (c0, r0), (c1, r1) = np.floor(used.min(axis=0)).astype(int) - 2, np.ceil(used.max(axis=0)).astype(int) + 3
    c0, r0, c1, r1 = max(c0, 0), max(r0, 0), min(c1, w), min(r1, h)
    if c1 - c0 < 2 or r1 - r0 < 2:
        return None
    torn = np.zeros((h, w), np.bool_)
    least = max(MIN_JUMP, 1.5 / min(grid.scale_xy)) ** 2
    sx, sy = grid.scale_xy
    box = _find(map_x, map_y, tri_id, triangles, allowed, r0, c0, r1, c1, least, opening, sx, sy, torn)
    if box[0] < 0:
        return None
    return torn, (int(box[0]), int(box[1]), int(box[2]), int(box[3]))


@numba.njit(cache=True, nogil=True)
def _find(map_x, map_y, tri_id, triangles, allowed, r0, c0, r1, c1, least, openings, sx, sy, torn):  # pragma: no cover - compiled
    """Mark ``torn`` in [r0, r1) x [c0, c1); return the marked pixels' box
    (r0, c0, r1, c1), r0 = -1 when none."""
    h, w = openings.shape
    lo_r, lo_c, hi_r, hi_c = -1, 0, 0, 0
    for y in range(r0, r1):
        for x in range(c0, c1):
            ta = tri_id[y, x]
            if ta < 0 or not allowed[ta]:
                continue
            for d in range(2):
                yy, xx = y + d, x + 1 - d
                if yy >= r1 or xx >= c1:
                    continue
                tb = tri_id[yy, xx]
                if tb == ta or tb < 0 or not allowed[tb]:
                    continue
                dx = map_x[yy, xx] - map_x[y, x]
                dy = map_y[yy, xx] - map_y[y, x]
                if dx * dx + dy * dy <= least:
                    continue
                shared = False
                for p in range(3):
                    for q in range(3):
                        if triangles[ta, p] == triangles[tb, q]:
                            shared = True
                if shared:
                    continue
                # The source half-way between the two samples, on the working grid.
                mx = min(max(int(((map_x[y, x] + map_x[yy, xx]) * 0.5 + 0.5) * sx), 0), w - 1)
                my = min(max(int(((map_y[y, x] + map_y[yy, xx]) * 0.5 + 0.5) * sy), 0), h - 1)
                if openings[my, mx]:
                    continue
                torn[y, x] = True
                torn[yy, xx] = True
                if lo_r < 0:
                    lo_r, lo_c, hi_r, hi_c = y, x, yy + 1, xx + 1
                else:
                    lo_r, lo_c = min(lo_r, y), min(lo_c, x)
                    hi_r, hi_c = max(hi_r, yy + 1), max(hi_c, xx + 1)
    return lo_r, lo_c, hi_r, hi_c


def redraw(
    out: NDArray[np.uint8],
    source: NDArray[np.uint8],
    plate: NDArray[np.uint8],
    grid: WorkGrid,
    box: tuple[slice, slice],
    maps: tuple[NDArray[np.float32], NDArray[np.float32]],
    alpha: NDArray[np.float32],
    found: tuple[NDArray[np.bool_], tuple[int, int, int, int]],
    skip: list[tuple[int, int, int, int]] | None = None,
) -> int:
    """Draw again, in place, the output pixels of ``box`` whose bilinear
    footprint holds a torn working pixel (``found``, from :func:`find`), from
    the four working pixels' own samples.

    maps : working-resolution map_x, map_y; alpha : the box's upsampled person
    alpha (output resolution); skip : output boxes (x0, y0, x1, y1) left alone.
    Returns how many pixels were drawn.
    """
    torn, (r0, c0, r1, c1) = found
    sx, sy = grid.scale_xy
    ys, xs = box
    # Output pixels whose footprint (working pixels at and after their index) can touch the box.
    oy0, oy1 = max(int(math.floor((r0 - 1 + 0.5) / sy - 0.5)), ys.start), min(int(math.ceil((r1 + 0.5) / sy - 0.5)) + 1, ys.stop)
    ox0, ox1 = max(int(math.floor((c0 - 1 + 0.5) / sx - 0.5)), xs.start), min(int(math.ceil((c1 + 0.5) / sx - 0.5)) + 1, xs.stop)
    if oy1 <= oy0 or ox1 <= ox0:
        return 0
    skips = np.asarray(skip or [], np.int64).reshape(-1, 4)
    limit = _SLOPE_LIMIT / min(sx, sy)  # source px per working px
    return int(_redraw(out, source, plate, maps[0], maps[1], alpha, ys.start, xs.start, torn, (r0, c0, r1, c1),
                       oy0, oy1, ox0, ox1, sx, sy, limit, skips))  # fmt: skip


@numba.njit(cache=True, nogil=True)
def _side(map_x, map_y, j, i, axis, limit):  # pragma: no cover - compiled
    """The maps' change per working pixel at (j, i) along ``axis`` (1: x,
    0: y), toward whichever neighbour changes them less (the pixel's own side
    of an edge), its length capped at ``limit``."""
    h, w = map_x.shape
    if axis == 1:
        jb, ib, ja, ia = j, max(i - 1, 0), j, min(i + 1, w - 1)
        first, last = i == 0, i == w - 1
    else:
        jb, ib, ja, ia = max(j - 1, 0), i, min(j + 1, h - 1), i
        first, last = j == 0, j == h - 1
    bx, by = map_x[j, i] - map_x[jb, ib], map_y[j, i] - map_y[jb, ib]
    ax, ay = map_x[ja, ia] - map_x[j, i], map_y[ja, ia] - map_y[j, i]
    nb, na = math.hypot(bx, by), math.hypot(ax, ay)
    if last or (not first and nb <= na):
        dx, dy, n = bx, by, nb
    else:
        dx, dy, n = ax, ay, na
    if n > limit:
        dx, dy = dx * limit / n, dy * limit / n
    return dx, dy


@numba.njit(cache=True, nogil=True)
def _redraw(out, source, plate, map_x, map_y, alpha, ay0, ax0, torn, within, oy0, oy1, ox0, ox1, sx, sy, limit, skips):  # pragma: no cover - compiled
    h, w = map_x.shape
    # The slopes of the working pixels read (the torn box grown by one), each
    # worked out once, when first needed (slopes[..., 4] = 1 once it is).
    r0, c0 = max(within[0] - 1, 0), max(within[1] - 1, 0)
    r1, c1 = min(within[2] + 1, h), min(within[3] + 1, w)
    slopes = np.zeros((r1 - r0, c1 - c0, 5), np.float32)
    # Visit the output pixels round each torn working pixel: those whose
    # footprint (working pixels at and after their index) holds it.
    done = np.zeros((oy1 - oy0, ox1 - ox0), np.bool_)
    drawn = 0
    for j in range(within[0], within[2]):
        for i in range(within[1], within[3]):
            if not torn[j, i]:
                continue
            ya, yb = max(int((j - 1 + 0.5) / sy - 0.5) - 1, oy0), min(int((j + 1 + 0.5) / sy - 0.5) + 2, oy1)
            xa, xb = max(int((i - 1 + 0.5) / sx - 0.5) - 1, ox0), min(int((i + 1 + 0.5) / sx - 0.5) + 2, ox1)
            for oy in range(ya, yb):
                v = (oy + 0.5) * sy - 0.5
                j0 = min(max(int(math.floor(v)), 0), h - 1)
                if j0 != j and j0 != j - 1:
                    continue
                for ox in range(xa, xb):
                    u = (ox + 0.5) * sx - 0.5
                    i0 = min(max(int(math.floor(u)), 0), w - 1)
                    if (i0 != i and i0 != i - 1) or done[oy - oy0, ox - ox0]:
                        continue
                    done[oy - oy0, ox - ox0] = True
                    skipped = False
                    for k in range(skips.shape[0]):
                        if skips[k, 0] <= ox < skips[k, 2] and skips[k, 1] <= oy < skips[k, 3]:
                            skipped = True
                    if skipped:
                        continue
                    _pixel(out, source, plate, map_x, map_y, alpha, ay0, ax0, slopes, r0, c0, limit, oy, ox, u, v, j0, i0)
                    drawn += 1
    return drawn


@numba.njit(cache=True, nogil=True)
def _pixel(out, source, plate, map_x, map_y, alpha, ay0, ax0, slopes, r0, c0, limit, oy, ox, u, v, j0, i0):  # pragma: no cover - compiled
    """One output pixel from its four working pixels' own samples."""
    h, w = map_x.shape
    sh, sw = source.shape[0], source.shape[1]
    j1, i1 = min(j0 + 1, h - 1), min(i0 + 1, w - 1)
    fu = min(max(u - i0, 0.0), 1.0)
    fv = min(max(v - j0, 0.0), 1.0)
    red = 0.0
    green = 0.0
    blue = 0.0
    for corner in range(4):
        jj = j0 if corner < 2 else j1
        ii = i0 if corner % 2 == 0 else i1
        wgt = (fu if corner % 2 else 1.0 - fu) * (fv if corner >= 2 else 1.0 - fv)
        if wgt <= 0.0:
            continue
        du, dv = u - ii, v - jj
        k, m = jj - r0, ii - c0
        if slopes[k, m, 4] == 0.0:
            slopes[k, m, 0], slopes[k, m, 1] = _side(map_x, map_y, jj, ii, 1, limit)
            slopes[k, m, 2], slopes[k, m, 3] = _side(map_x, map_y, jj, ii, 0, limit)
            slopes[k, m, 4] = 1.0
        px = min(max(map_x[jj, ii] + slopes[k, m, 0] * du + slopes[k, m, 2] * dv, 0.0), sw - 1.0)
        py = min(max(map_y[jj, ii] + slopes[k, m, 1] * du + slopes[k, m, 3] * dv, 0.0), sh - 1.0)
        x0 = min(int(px), sw - 2) if sw > 1 else 0
        y0 = min(int(py), sh - 2) if sh > 1 else 0
        tx, ty = px - x0, py - y0
        x1, y1 = min(x0 + 1, sw - 1), min(y0 + 1, sh - 1)
        for c in range(3):
            top = source[y0, x0, c] * (1.0 - tx) + source[y0, x1, c] * tx
            bottom = source[y1, x0, c] * (1.0 - tx) + source[y1, x1, c] * tx
            value = wgt * (top * (1.0 - ty) + bottom * ty)
            if c == 0:
                red += value
            elif c == 1:
                green += value
            else:
                blue += value
    a = alpha[oy - ay0, ox - ax0]
    out[oy, ox, 0] = min(max(int(red * a + plate[oy, ox, 0] * (1.0 - a) + 0.5), 0), 255)
    out[oy, ox, 1] = min(max(int(green * a + plate[oy, ox, 1] * (1.0 - a) + 0.5), 0), 255)
    out[oy, ox, 2] = min(max(int(blue * a + plate[oy, ox, 2] * (1.0 - a) + 0.5), 0), 255)
