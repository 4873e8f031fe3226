"""Full-resolution compositing of the warped portrait over its background plate.

The moving box of a frame is mostly pixels that move and are fully person
(alpha 1): they need the warp but no blend. Pixels that do not move already hold
the portrait, and only a thin band along the person's outline is both moving and
partly background. So the box is cut into bands of rows; in each band only the
columns that move are remapped (straight into the output), and only runs of
columns where alpha < 1 are blended with the plate. The result is the same as
remapping and blending the whole box (tested), at a fraction of the cost.
Columns of a band where the person's alpha is 0 throughout (the moving background
of a wide frame) show the plate alone: they are copied from it, neither remapped
nor blended.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from enliven.render.sampling import WorkGrid

BAND = 64  # output rows per band
_GAP = 64  # remap runs fewer columns apart than this as one
_CROSS = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))


def _runs(
    flags: NDArray[np.bool_], gap: int = 0, within: NDArray[np.bool_] | None = None
) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in a 1-D array; runs fewer than ``gap``
    columns apart are joined where ``within`` is True all across the gap."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], flags.view(np.int8), [0]))))
    runs = list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))
    if gap <= 0 or len(runs) < 2:
        return runs
    joined = [runs[0]]
    for start, stop in runs[1:]:
        end = joined[-1][1]
        if start - end < gap and (within is None or within[end:start].all()):
            joined[-1] = (joined[-1][0], stop)
        else:
            joined.append((start, stop))
    return joined


def composite(
    out: NDArray[np.uint8],
    portrait: NDArray[np.uint8],
    plate: NDArray[np.uint8],
    grid: WorkGrid,
    box: tuple[slice, slice],
    maps: tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]],
    moving: NDArray[np.bool_],
    soft: NDArray[np.bool_],
    clear: NDArray[np.bool_] | None = None,
) -> None:
    """Warp ``portrait`` into ``out`` over ``plate``, in place, inside ``box``.

    maps : map_x, map_y and alpha for the pixels of ``box`` (output resolution).
    moving, soft : working-resolution masks of pixels whose map moves and whose
        alpha is below 1; ``out`` must already hold the portrait elsewhere.
    clear : working-resolution mask of pixels whose alpha is 0 (plate only), or
        None (every pixel may show the person).
    """
    map_x, map_y, alpha = maps
    # Output pixels interpolate from the two nearest working pixels: dilate by one.
    moving = cv2.dilate(moving.view(np.uint8), _CROSS).view(bool)
    soft = cv2.dilate(soft.view(np.uint8), _CROSS).view(bool)
    solid = None if clear is None else cv2.dilate((~clear).view(np.uint8), _CROSS).view(bool)
    wh = moving.shape[0]
    ys, xs = box
    cols = grid.work_index(xs.start, xs.stop, 0)
    for y0 in range(ys.start, ys.stop, BAND):
        y1 = min(y0 + BAND, ys.stop)
        r0, r1 = grid.work_index(y0, y1, 1)[[0, -1]]
        r1 = min(r1 + 1, wh - 1)
        band_moving = moving[r0 : r1 + 1].any(axis=0)[cols]
        if not band_moving.any():
            continue
        b0, b1 = y0 - ys.start, y1 - ys.start
        clear_cols = None
        if solid is not None:
            band_solid = solid[r0 : r1 + 1].any(axis=0)[cols]
            clear_cols = band_moving & ~band_solid
            band_moving = band_moving & band_solid
        band_soft = soft[r0 : r1 + 1].any(axis=0)[cols] & band_moving
        # A remap call costs more than its pixels when it is narrow: runs a few
        # plate-only columns apart are remapped as one (the plate goes over the
        # gap after); still columns are never remapped.
        for c0, c1 in _runs(band_moving, gap=_GAP, within=clear_cols):
            x0, x1 = xs.start + c0, xs.start + c1
            target = out[y0:y1, x0:x1]
            cv2.remap(portrait, map_x[b0:b1, c0:c1], map_y[b0:b1, c0:c1], cv2.INTER_LINEAR,
                      dst=target, borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        if clear_cols is not None:
            for c0, c1 in _runs(clear_cols):
                x0, x1 = xs.start + c0, xs.start + c1
                out[y0:y1, x0:x1] = plate[y0:y1, x0:x1]
        for c0, c1 in _runs(band_soft):
            x0, x1 = xs.start + c0, xs.start + c1
            target = out[y0:y1, x0:x1]
            a = alpha[b0:b1, c0:c1]
            cv2.blendLinear(target, plate[y0:y1, x0:x1], a, 1.0 - a, dst=target)
