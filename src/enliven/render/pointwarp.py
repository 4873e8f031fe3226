"""The 2D point-warp baseline: a Delaunay piecewise-affine warp by the landmarks.

"The older technology that tracked points", kept honest so quality claims can be
measured against it (DESIGN.md, "Baselines"). It consumes the same
:class:`~enliven.motion.retarget.TargetShape` as :class:`~enliven.render.renderer.Renderer`
and has the same call shape, so a benchmark can swap one for the other. Unlike the
real renderer it has:

- no depth: every triangle is drawn, where two overlap the first drawn wins;
- no openings or interior: the Delaunay triangulation of the 478 landmarks simply
  covers the eyes and the mouth, so an opening mouth shows stretched lips;
- no head rings, background plate, iris layer or mouth interior: the face
  landmarks move, a fixed frame of points on the image border keeps the
  background in place, and everything between is stretched linearly.

The backward maps are computed at working resolution and upsampled, and the
portrait is sampled once with ``cv2.remap``, as in the real renderer, so the speed
comparison is fair.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.spatial import Delaunay

from enliven.errors import ConfigError, InputError
from enliven.face import topology as topo
from enliven.motion.retarget import TargetShape
from enliven.render.raster import rasterize_maps
from enliven.render.sampling import WorkGrid

BORDER_POINTS_PER_SIDE = 5  # fixed points on each side of the frame, between the corners


class PointWarpRenderer:
    """Draws output frames of one portrait by the 2D point-warp baseline.

    Parameters
    ----------
    portrait : (H, W, 3) uint8 RGB, at output resolution.
    landmarks : (478, 2 or 3) portrait landmarks, x, y in pixels (z is ignored).
    work_size : long side (px) at which the warp maps are computed; 0 = full.

    Raises
    ------
    ConfigError
        If ``work_size`` is not 0 or in [64, 8192].
    InputError
        If ``landmarks`` is not (478, 2 or 3).
    """

    def __init__(self, portrait: NDArray[np.uint8], landmarks: NDArray[np.floating], work_size: int = 640) -> None:
        if work_size != 0 and not 64 <= work_size <= 8192:
            raise ConfigError(f"work_size must be 0 or in [64, 8192], got {work_size}")
        lm = np.asarray(landmarks, np.float64)
        if lm.ndim != 2 or lm.shape[0] != topo.N_LANDMARKS or lm.shape[1] < 2:
            raise InputError(f"landmarks must have shape ({topo.N_LANDMARKS}, 2 or 3), got {lm.shape}")
        self.portrait = np.ascontiguousarray(portrait)
        height, width = portrait.shape[:2]
        self.size_wh = (width, height)
        self.grid = WorkGrid.make(self.size_wh, work_size)
        border = _frame_points(lm[:, :2], self.size_wh)
        # Source positions: the landmarks, then the fixed frame.
        self.vertices = np.vstack([lm[:, :2], border])
        self.n_border = len(border)
        self.triangles = Delaunay(self.vertices).simplices.astype(np.int32)
        self._bias = np.zeros(len(self.triangles), np.float32)

    def render(self, target: TargetShape) -> NDArray[np.uint8]:
        """The output frame (H, W, 3) uint8 for one target shape."""
        grid = self.grid
        work = np.zeros((len(self.vertices), 3))  # z = 0 everywhere: no depth test
        work[: topo.N_LANDMARKS, :2] = target.landmarks[:, :2]
        work[topo.N_LANDMARKS :, :2] = self.vertices[topo.N_LANDMARKS :]
        work[:, :2] = grid.to_work(work[:, :2])
        map_x, map_y, tri_id = rasterize_maps(work, self.vertices, self.triangles, self._bias, grid.work_wh)
        # The fixed frame encloses the image, so only a degenerate fold can leave a
        # hole; show the portrait there rather than the remap border.
        hole = tri_id < 0
        if hole.any():
            map_x[hole] = grid.grid_x[hole]
            map_y[hole] = grid.grid_y[hole]
        # The same sampling as Renderer.render, so timings compare the methods.
        still = grid.snap_still(map_x, map_y)
        out = self.portrait.copy()
        box = grid.moving_box(~still)
        if box is None:
            return out
        box_x, box_y = grid.upsample(box, map_x, map_y)
        out[box] = cv2.remap(self.portrait, box_x, box_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return out


def _frame_points(landmarks_xy: NDArray[np.float64], size_wh: tuple[int, int]) -> NDArray[np.float64]:
    """Fixed points on a rectangle just outside the image (and any landmark beyond it)."""
    width, height = size_wh
    # Pixel centres span [0, W-1]; the frame lies half a pixel beyond the image edge,
    # pushed further out where landmarks fall outside the picture.
    span = max(float(np.ptp(landmarks_xy[:, 0])), float(np.ptp(landmarks_xy[:, 1])), 1.0)
    lo = np.minimum([-1.0, -1.0], landmarks_xy.min(axis=0) - 0.1 * span)
    hi = np.maximum([width, height], landmarks_xy.max(axis=0) + 0.1 * span)
    t = np.linspace(0.0, 1.0, BORDER_POINTS_PER_SIDE + 2)
    xs = lo[0] + t * (hi[0] - lo[0])
    ys = lo[1] + t * (hi[1] - lo[1])
    top = np.column_stack([xs, np.full_like(xs, lo[1])])
    bottom = np.column_stack([xs, np.full_like(xs, hi[1])])
    left = np.column_stack([np.full_like(ys[1:-1], lo[0]), ys[1:-1]])
    right = np.column_stack([np.full_like(ys[1:-1], hi[0]), ys[1:-1]])
    return np.vstack([top, bottom, left, right])
