"""Rendering: a portrait and a target shape in, one output frame out.

The extended mesh is rasterised with a depth test at working resolution into a
backward map (a big turn's stretch first spread over the side of the face,
``render.relax``), the map is upsampled, and the full-resolution portrait is sampled
once with ``cv2.remap``. The person is composited over a still background plate,
the pixels round an occlusion edge (the nose over the far cheek) are drawn from
each side's own samples (``render.tears``), skin the warp stretches into
streaks is blurred across them (``render.stretch``),
the irises are moved as their own layer clipped by the lids, and a new mouth
interior is blended in where the mouth opens wider than the portrait's.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import cv2
import numpy as np
from numpy.typing import NDArray

from enliven.errors import ConfigError
from enliven.face import topology as topo
from enliven.motion.detail import DetailField
from enliven.motion.measures import eye_distance, mouth_opening
from enliven.motion.retarget import TargetShape
from enliven.render import lids
from enliven.render import mouth as mouth_layer
from enliven.render.background import PLATE_TEXTURE_REACH, Segmenter, add_strands, background_plate, refine_mask
from enliven.render.eyefill import DISC, drawn_iris_radius, fill_white, with_atlas
from enliven.render.composite import composite
from enliven.render.mesh import EYE, FACE, FRAME, HEAD, MOUTH, build_mesh
from enliven.render.raster import rasterize, rasterize_maps, rasterize_with
from enliven.render.relax import StretchRelaxer
from enliven.render import seam as lip_seam
from enliven.render.sampling import WorkGrid
from enliven.render.stretch import soften, stretch_blur
from enliven.render import tears

log = logging.getLogger(__name__)

ALPHA_LOW, ALPHA_HIGH = 0.05, 0.5  # person-mask values mapped to alpha 0 and 1
# Source pixels between the two halves of the mouth strip above which the lip
# line is drawn again at full resolution (:meth:`Renderer._redraw_lip_line`).
LIP_JUMP_PX = 1.0
_LIP_SUPERSAMPLE = 2  # samples per pixel side of that redraw
# A portrait's lip gap (over eye distance) from which its own interior shows
# above a drawn one (closed: 0.001-0.005 on the shared portraits; parted lips
# 0.06-0.09; the astronaut's smile 0.115).
_OWN_INTERIOR = 0.03


MOUTH_STYLES = ("driver", "drawn")
_INNER = np.asarray(topo.INNER_LIP_PAIRS)  # (upper, lower) inner-lip landmarks


@dataclass(frozen=True)
class RenderConfig:
    """How output frames are drawn."""

    # Long side (px) at which warp maps are computed (0 = full). The maps are
    # piecewise affine, so bilinear upsampling loses little: at 384 against full
    # resolution, 47-50 dB PSNR at 512² and 1080p (talk_expressive_01, median
    # 50 / 49 dB), render 9.2 -> 7.4 ms at 512² and 21.3 -> 18.3 ms at 1080p.
    work_size: int = 384
    background: bool = True  # keep the background still (selfie segmentation)
    mouth_interior: bool = True  # draw a new mouth interior where the mouth opens
    # How that interior looks: "driver" (the driver's own teeth, tongue and cavity,
    # colour-matched: right for photos) or "drawn" (the same teeth, cavity and
    # tongue, where the driver shows them, in flat colours in the portrait's
    # tones: for cartoon and anime portraits, where a photo's teeth look pasted in).
    mouth_style: str = "driver"
    irises: bool = True  # move the irises as their own layer (gaze)
    soften_stretch: bool = True  # blur skin a frame stretches into streaks (render.stretch)
    relax_stretch: bool = True  # spread a big turn's stretch over the side of the face (render.relax)
    lip_seam: bool = True  # draw the driver's seam where an open portrait mouth closes (render.seam)
    # Draw the pixels round an occlusion edge (a nose over the far cheek) from
    # each side's own samples, not from upsampled maps that jump (render.tears).
    occlusion_edges: bool = True
    # Where an eye's lids meet, output pixels never sample inside the
    # portrait's eye (bits of white and iris along a shut eye's line;
    # render.lids). Off by default, as RetargetConfig.unfold_lids.
    lid_line: bool = False

    def __post_init__(self) -> None:
        if self.work_size != 0 and not 64 <= self.work_size <= 8192:
            raise ConfigError(f"work_size must be 0 or in [64, 8192], got {self.work_size}")
        if self.mouth_style not in MOUTH_STYLES:
            raise ConfigError(f"mouth_style must be one of {', '.join(MOUTH_STYLES)}, got {self.mouth_style!r}")


@dataclass(frozen=True)
class _Iris:
    centre: NDArray[np.float64]  # source px
    radius: float
    tris: NDArray[np.intp]  # indices into mesh.triangles of this eye's strip
    sclera_xy: tuple[float, float]  # a source pixel showing the white of the eye
    x_range: tuple[float, float] = (0.0, 0.0)  # source x of the eye's white, corner to corner
    box: tuple[int, int, int, int] = (0, 0, 0, 0)  # the eye's source box x0, y0, x1, y1 (inclusive)
    white: NDArray[np.uint8] | None = None  # that box with the iris replaced by white (eyefill)
    white_at: tuple[int, int] | None = None  # where the renderer's source image holds it


@dataclass(frozen=True)
class _Plan:
    """One frame's maps, between :meth:`Renderer.plan` and :meth:`Renderer.draw`."""

    target: TargetShape
    verts: NDArray[np.float64]
    box: tuple[slice, slice] | None = None  # None: nothing moves
    # map_x, map_y, alpha at working resolution (draw() upsamples them into
    # buffers of its own, so plans own their arrays and may overlap draws).
    maps: tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]] | None = None
    tri_id: NDArray[np.int32] | None = None
    moving: NDArray[np.bool_] | None = None
    soft: NDArray[np.bool_] | None = None
    shading: tuple[NDArray[np.float32], tuple[int, int, int, int]] | None = None
    clear: NDArray[np.bool_] | None = None  # alpha 0: the plate alone
    source: NDArray[np.float64] | None = None  # the frame's source vertices (the mouth's middle line moves)
    blur: tuple[NDArray[np.float32], int, int] | None = None  # the blur stretched skin wants (Renderer._stretch_blur)


class Renderer:
    """Draws output frames of one portrait.

    Parameters
    ----------
    portrait : (H, W, 3) uint8 RGB, at output resolution.
    landmarks : (478, 3) portrait landmarks.
    segmenter : person segmenter; None treats the whole picture as the person.
    """

    def __init__(
        self,
        portrait: NDArray[np.uint8],
        landmarks: NDArray[np.floating],
        config: RenderConfig | None = None,
        segmenter: Segmenter | None = None,
    ) -> None:
        self.config = config or RenderConfig()
        self.portrait = np.ascontiguousarray(portrait)
        self.landmarks = np.asarray(landmarks, np.float64)
        height, width = portrait.shape[:2]
        self.size_wh = (width, height)
        self.mesh = build_mesh(self.landmarks, self.size_wh)
        self._relax = StretchRelaxer(self.mesh) if self.config.relax_stretch else None
        self.grid = WorkGrid.make(self.size_wh, self.config.work_size)
        self.scale = self.grid.scale
        self.iod = eye_distance(self.landmarks)
        self.skin = mouth_layer.skin_colour(self.portrait, self.landmarks)
        self.lips = mouth_layer.lip_colour(self.portrait, self.landmarks)
        self.palette = mouth_layer.palette(self.skin, self.lips)  # of a drawn interior
        # Whether the portrait's own opening shows (parted lips, a smile's
        # teeth): each half of the mouth strip keeps it next to its lip.
        self._own_interior = mouth_opening(self.landmarks) > _OWN_INTERIOR
        if self.config.background and segmenter is not None:
            raw = segmenter.person_mask(self.portrait)
            oval = self.landmarks[list(topo.FACE_OVAL)]
            self.mask = refine_mask(raw, oval, self.iod * 2.5)
            self.mask = add_strands(self.portrait, self.mask, self.iod, float(self.landmarks[topo.CHIN, 1]))
        else:
            self.mask = np.ones((height, width), np.float32)
        self.plate = background_plate(self.portrait, self.mask, reach=PLATE_TEXTURE_REACH * self.iod)
        # Working pixels near which the plate is not the portrait. Elsewhere a
        # still pixel keeps its person alpha (0 in the far background), so that
        # upsampled alpha does not ramp from a still 1 to a moving 0 there and
        # blend the moved portrait into an unmoved background.
        differs = (self.plate != self.portrait).any(axis=2).astype(np.uint8) * 255
        differs = cv2.resize(differs, self.grid.work_wh, interpolation=cv2.INTER_AREA) > 0
        self._plate_differs = cv2.dilate(differs.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
        self._eye_of_tri = np.full(len(self.mesh.triangles), -1, np.int8)
        self._n_face = len(topo.mesh_triangles())  # the mesh's first triangles are the face's
        # The lip line: the mouth strip and the face triangles on the inner lips.
        kinds = self.mesh.kinds
        inner = np.unique([*np.asarray(topo.INNER_LIP_PAIRS).ravel(), *topo.MOUTH_CORNERS_INNER])
        on_lips = np.isin(self.mesh.triangles, inner).any(axis=1) & (np.arange(len(kinds)) < self._n_face)
        face_like = np.flatnonzero((kinds == FACE) | (kinds == EYE) | (kinds == MOUTH))
        self._face_tris = self.mesh.triangles[face_like]
        self._face_bias = self.mesh.bias[face_like]
        self._lip_ids = np.flatnonzero(np.isin(face_like, np.flatnonzero(on_lips | (kinds == MOUTH))))
        self._lip_tris = face_like[self._lip_ids]
        # The mouth strip, and which of its triangles are its middle band (between its two halves).
        self._mouth_tris = self.mesh.triangles[kinds == MOUTH]
        self._in_band = np.isin(self._mouth_tris, self.mesh.mid_up).any(axis=1) & np.isin(self._mouth_tris, self.mesh.mid_low).any(axis=1)
        self._jac_key: int | None = None
        # Reused every frame by grid.upsample in draw() (24 MB of full-frame maps
        # at 1080p are not allocated anew each frame); only draw() touches them,
        # and plans hold working-resolution maps of their own, so plan(n + 1)
        # may run while frame n is drawn. (Upsampling in plan() instead, with a
        # set of buffers per plan in flight, cost 80-150 MB at 1080p, measured.)
        self._map_buffers = [np.empty((height, width), np.float32) for _ in range(3)] if self.grid.scale < 1.0 else None
        self._jac = np.eye(2)
        self._irises = [self._iris(0, topo.RIGHT_IRIS), self._iris(1, topo.LEFT_IRIS)]
        self._right_loop = topo.eye_loop(topo.RIGHT_EYE_PAIRS, topo.RIGHT_EYE_CORNERS)
        self._left_loop = topo.eye_loop(topo.LEFT_EYE_PAIRS, topo.LEFT_EYE_CORNERS)
        self._eye_outlines = [
            lids.outline(self.landmarks, topo.RIGHT_EYE_PAIRS, topo.RIGHT_EYE_CORNERS),
            lids.outline(self.landmarks, topo.LEFT_EYE_PAIRS, topo.LEFT_EYE_CORNERS),
        ]
        eyes = np.array([i.box for i in self._irises])
        self._eye_box = (
            slice(int(eyes[:, 1].min()), min(int(eyes[:, 3].max()) + 2, height)),
            slice(int(eyes[:, 0].min()), min(int(eyes[:, 2].max()) + 2, width)),
        )
        # The image every frame samples: the portrait, then the eyes' whites
        # below it (eyefill's atlas); self.portrait is a view of its top.
        patches = [iris.white if self.config.irises else None for iris in self._irises]
        self._source, places = with_atlas(self.portrait, patches)
        self.portrait = self._source[:height]
        self._irises = [replace(iris, white_at=at) for iris, at in zip(self._irises, places, strict=True)]
        # Skin and head, which a frame may stretch into streaks (render.stretch).
        self._skin_ids = np.flatnonzero((kinds == FACE) | (kinds == HEAD))
        self._skin_tris = self.mesh.triangles[self._skin_ids]
        # Triangles whose occlusion edges render.tears draws (not the eyes' or
        # the mouth's: their openings have layers of their own).
        self._tear_ok = np.isin(kinds, (FACE, HEAD, FRAME))
        self._openings = tears.openings(self.mesh.vertices, self.mesh.triangles, self._tear_ok, self.grid)

    def _iris(self, which: int, iris: tuple[int, ...]) -> _Iris:
        eye_tris = np.flatnonzero(self.mesh.kinds == EYE)
        half = len(eye_tris) // 2
        tris = eye_tris[:half] if which == 0 else eye_tris[half:]
        self._eye_of_tri[tris] = which
        centre = self.landmarks[iris[0], :2]
        radius = float(np.linalg.norm(self.landmarks[list(iris[1:]), :2] - centre, axis=1).mean())
        # A white-of-the-eye pixel: inside the eye, outside the iris, brightest.
        poly = self.landmarks[
            topo.eye_loop(*(
                (topo.RIGHT_EYE_PAIRS, topo.RIGHT_EYE_CORNERS)
                if which == 0
                else (topo.LEFT_EYE_PAIRS, topo.LEFT_EYE_CORNERS)
            )), :2
        ]  # fmt: skip
        x0, y0 = np.floor(poly.min(axis=0)).astype(int)
        x1, y1 = np.ceil(poly.max(axis=0)).astype(int)
        h, w = self.portrait.shape[:2]
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w - 1), min(y1, h - 1)
        sclera = (float(centre[0]), float(centre[1]))
        if x1 > x0 and y1 > y0:
            ys, xs = np.mgrid[y0 : y1 + 1, x0 : x1 + 1]
            pts = np.column_stack([xs.ravel(), ys.ravel()]).astype(np.float32)
            contour = poly.astype(np.float32).reshape(-1, 1, 2)
            inside = np.array([cv2.pointPolygonTest(contour, (float(px), float(py)), False) > 0 for px, py in pts])
            eye = inside.reshape(y1 - y0 + 1, x1 - x0 + 1)
            patch = self.portrait[y0 : y1 + 1, x0 : x1 + 1]
            local = (float(centre[0]) - x0, float(centre[1]) - y0)
            radius = drawn_iris_radius(patch, eye, local, radius)
            outside_iris = np.linalg.norm(pts - centre, axis=1) > radius * 1.2
            good = inside & outside_iris
            if good.any():
                cand = pts[good]
                lum = self.portrait[cand[:, 1].astype(int), cand[:, 0].astype(int)].astype(np.float32).sum(axis=1)
                best = cand[int(np.argmax(lum))]
                sclera = (float(best[0]), float(best[1]))
        corners_x = sorted(float(self.landmarks[i, 0]) for i in (topo.RIGHT_EYE_CORNERS if which == 0 else topo.LEFT_EYE_CORNERS))
        inset = 0.15 * (corners_x[1] - corners_x[0])  # keep off the corners' lids
        white = None
        if x1 > x0 and y1 > y0:
            white = fill_white(patch, eye, local, radius)
        x_range = (corners_x[0] + inset, corners_x[1] - inset)
        return _Iris(centre, radius, tris, sclera, x_range, (int(x0), int(y0), int(x1), int(y1)), white)

    # ------------------------------------------------------------------------------
    def render(self, target: TargetShape) -> NDArray[np.uint8]:
        """The output frame (H, W, 3) uint8 for one target shape.

        Maps are computed at working resolution. Pixels that move less than
        ``sampling.STILL_PX`` are snapped to the identity, so they show the portrait
        exactly; full-resolution work (remap, compositing) runs only in the box
        of pixels that move. ``draw(plan(target))``: a stream can run the two
        halves in two threads.
        """
        return self.draw(self.plan(target))

    def plan(self, target: TargetShape) -> _Plan:
        """The first half of :meth:`render`: the maps of one frame."""
        verts = self.mesh.target_vertices(target)
        if self._relax is not None:
            verts = self._relax(verts, target.head)
        grid = self.grid
        work = verts.copy()
        work[:, :2] = grid.to_work(verts[:, :2])
        source = self.mesh.source_vertices(verts, target.head.scale)
        shading = None
        if target.detail is None:
            map_x, map_y, tri_id = rasterize_maps(work, source, self.mesh.triangles, self.mesh.bias, grid.work_wh)
        else:
            # The canonical-face position of every pixel comes out of the same pass.
            canon = np.zeros((self.mesh.n_vertices, 2))
            canon[: len(target.detail.canon_pts)] = target.detail.canon_pts
            map_x, map_y, tri_id, ux, uy = rasterize_with(work, source, canon, self.mesh.triangles, self.mesh.bias, grid.work_wh)
            shading = self._apply_detail(target.detail, map_x, map_y, tri_id, ux, uy)
        still = grid.snap_still(map_x, map_y)
        box = grid.moving_box(~still)
        if self.config.irises:
            # Irises move by the gaze even where nothing else does: keep the
            # eyes in the box (they are a few hundred pixels).
            box = _union(box, self._eye_box)
        if box is None:
            return _Plan(target, verts)
        # Person alpha where things move; 1 where they do not (exact portrait).
        alpha = cv2.remap(self.mask, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        # Edge pixels already hold their own share of background: a firm alpha
        # keeps the plate from adding a second share (a halo).
        alpha = np.clip((alpha - ALPHA_LOW) * (1.0 / (ALPHA_HIGH - ALPHA_LOW)), 0.0, 1.0)
        alpha[still & self._plate_differs] = 1.0
        blur = self._stretch_blur(verts, source, tri_id, target.head.scale) if self.config.soften_stretch else None
        return _Plan(target, verts, box, (map_x, map_y, alpha), tri_id, ~still, alpha < 1.0, shading, alpha <= 0.0, source, blur)

    def draw(self, plan: _Plan) -> NDArray[np.uint8]:
        """The second half of :meth:`render`: the frame from its maps."""
        out = self.portrait.copy()
        if plan.box is None:
            return out
        assert plan.maps is not None and plan.moving is not None and plan.tri_id is not None
        grid, box = self.grid, plan.box
        box_x, box_y, box_alpha = grid.upsample(box, *plan.maps, buffers=self._map_buffers)
        moving = plan.moving
        if self.config.lid_line:
            reach = math.ceil(1.0 / self.scale) + 1
            for eye in self._eye_outlines:
                lids.close_gaps(box_x, box_y, (box[1].start, box[0].start), plan.verts, eye, reach)
        edited: list[tuple[int, int, int, int]] = []
        if self.config.irises:
            edited = self._move_irises(plan.verts, box_x, box_y, plan.tri_id, (box[1].start, box[0].start))
            if edited:
                moving = moving.copy()
            for x0, y0, x1, y1 in edited:
                (c0, r0), (c1, r1) = np.floor(grid.to_work(np.array([[x0, y0], [x1, y1]]))).astype(int)
                moving[max(r0, 0) : r1 + 2, max(c0, 0) : c1 + 2] = True
        composite(out, self._source, self.plate, grid, box, (box_x, box_y, box_alpha), moving, plan.soft, plan.clear)
        if self.config.occlusion_edges and grid.scale < 1.0 and plan.source is not None:
            torn = tears.find(plan.maps[:2], plan.tri_id, plan.verts, plan.source, self.mesh.triangles, self._tear_ok, self._openings, grid)
            if torn is not None:
                tears.redraw(out, self._source, self.plate, grid, box, plan.maps[:2], box_alpha, torn, edited)
        if plan.blur is not None:
            self._soften(out, *plan.blur)
        hidden = None if plan.source is None else self._hidden(plan.source)
        if hidden is not None and hidden.max() > LIP_JUMP_PX:
            self._redraw_lip_line(out, plan.verts, plan.source)
            if self.config.lip_seam:
                self._draw_seam(out, plan.verts, hidden, plan.target)
        if plan.shading is not None:
            self._shade(out, *plan.shading)
        if self.config.mouth_interior and plan.target.mouth_new > 0.02:
            self._draw_mouth(out, plan.verts, plan.target)
        return out

    def _apply_detail(
        self,
        detail: DetailField,
        map_x: NDArray[np.float32],
        map_y: NDArray[np.float32],
        tri_id: NDArray[np.int32],
        ux: NDArray[np.float32],
        uy: NDArray[np.float32],
    ) -> tuple[NDArray[np.float32], tuple[int, int, int, int]] | None:
        """Add the residual flow to the maps of face pixels (in place).

        ``ux``, ``uy``: each working pixel's position in the canonical face.
        Returns the shading ratio over the face pixels' working box and that box
        (x0, y0, x1, y1, working pixels), or None when no face pixel is drawn.
        """
        face = (tri_id >= 0) & (tri_id < self._n_face)
        rows = np.flatnonzero(face.any(axis=1))
        cols = np.flatnonzero(face.any(axis=0))
        if not len(rows):
            return None
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        inside = face[y0:y1, x0:x1]
        bx, by = ux[y0:y1, x0:x1], uy[y0:y1, x0:x1]
        flow = cv2.remap(detail.flow, bx, by, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        jac = self._canon_to_portrait(detail.canon_pts).astype(np.float32)
        fx, fy = flow[..., 0], flow[..., 1]
        weight = inside.astype(np.float32)
        map_x[y0:y1, x0:x1] += (jac[0, 0] * fx + jac[0, 1] * fy) * weight
        map_y[y0:y1, x0:x1] += (jac[1, 0] * fx + jac[1, 1] * fy) * weight
        ratio = cv2.remap(detail.ratio, bx, by, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=1.0)
        ratio[~inside] = 1.0
        return ratio, (int(x0), int(y0), int(x1), int(y1))

    def _stretch_blur(
        self, verts: NDArray[np.float64], source: NDArray[np.float64], tri_id: NDArray[np.int32], scale: float
    ) -> tuple[NDArray[np.float32], int, int] | None:
        """The blur (output px) that skin stretched into streaks wants
        (:mod:`enliven.render.stretch`), per working pixel of a box round the
        triangles that want some, and the box's corner (x, y; working px); None
        where none does."""
        skin = self._skin_tris
        wanted = stretch_blur(verts[:, :2], source[:, :2], skin, scale)
        some = np.flatnonzero(wanted)
        if not len(some):
            return None
        corners = self.grid.to_work(verts[skin[some].ravel(), :2])
        wh, ww = tri_id.shape
        x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int) - 3, 0, (ww, wh))
        x1, y1 = np.clip(np.ceil(corners.max(axis=0)).astype(int) + 4, 0, (ww, wh))
        if x1 <= x0 or y1 <= y0:
            return None
        per_tri = np.zeros(len(self.mesh.triangles) + 1, np.float32)  # the last for pixels of no triangle
        per_tri[self._skin_ids[some]] = wanted[some]
        blur = per_tri[tri_id[y0:y1, x0:x1]]  # tri_id -1 takes the last
        return cv2.GaussianBlur(blur, (0, 0), 1.0), int(x0), int(y0)  # no seams along triangle edges

    def _soften(self, out: NDArray[np.uint8], blur: NDArray[np.float32], bx: int, by: int) -> None:
        """Blur the output where ``blur`` (working px, from corner ``bx``, ``by``)
        asks, in place; each patch of pixels that asks in a box of its own."""
        n, _, stats, _ = cv2.connectedComponentsWithStats((blur > 0.05).view(np.uint8), connectivity=8)
        h, w = out.shape[:2]
        sx, sy = self.grid.scale_xy
        for x, y, bw, bh, _area in stats[1:n]:
            pad = int(math.ceil(3 * float(blur[y : y + bh, x : x + bw].max())))  # the Gaussians' reach
            ox0, oy0 = max(int((bx + x) / sx) - pad, 0), max(int((by + y) / sy) - pad, 0)
            ox1 = min(int(math.ceil((bx + x + bw) / sx)) + pad, w)
            oy1 = min(int(math.ceil((by + y + bh) / sy)) + pad, h)
            # The working map under the box, resampled at its output pixels.
            map_x = ((np.arange(ox0, ox1) + 0.5) * sx - 0.5 - bx).astype(np.float32)
            map_y = ((np.arange(oy0, oy1) + 0.5) * sy - 0.5 - by).astype(np.float32)
            grid_x, grid_y = np.meshgrid(map_x, map_y)
            sigma = cv2.remap(blur, grid_x, grid_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
            soften(out[oy0:oy1, ox0:ox1], sigma)

    def _canon_to_portrait(self, canon_pts: NDArray[np.float64]) -> NDArray[np.float64]:
        """2x2 linear part of the similarity from canonical to portrait pixels."""
        key = id(canon_pts)
        if self._jac_key != key:
            affine, _ = cv2.estimateAffinePartial2D(canon_pts[: topo.N_MESH].astype(np.float32), self.landmarks[: topo.N_MESH, :2].astype(np.float32))
            self._jac = np.asarray(affine, np.float64)[:, :2]
            self._jac_key = key
        return self._jac

    def _shade(self, out: NDArray[np.uint8], ratio: NDArray[np.float32], work_box: tuple[int, int, int, int]) -> None:
        """Multiply the face's output pixels by the shading ratio (in place)."""
        if float(np.abs(ratio - 1.0).max()) < 1e-3:
            return
        h, w = out.shape[:2]
        x0, y0, x1, y1 = work_box
        inv_x, inv_y = (1.0 / s for s in self.grid.scale_xy)
        ox0, oy0 = max(int(x0 * inv_x), 0), max(int(y0 * inv_y), 0)
        ox1, oy1 = min(int(np.ceil(x1 * inv_x)), w), min(int(np.ceil(y1 * inv_y)), h)
        if ox1 <= ox0 or oy1 <= oy0:
            return
        big = cv2.resize(ratio, (ox1 - ox0, oy1 - oy0), interpolation=cv2.INTER_LINEAR)
        region = out[oy0:oy1, ox0:ox1]
        cv2.multiply(region, cv2.merge([big, big, big]), dst=region, dtype=cv2.CV_8U)

    def _work_ids(self, tri_id: NDArray[np.int32], x0: int, y0: int, x1: int, y1: int) -> NDArray[np.int32]:
        """Triangle ids for a box of output pixels, from the working-resolution buffer."""
        sx, sy = self.grid.scale_xy
        wh, ww = tri_id.shape
        ys = np.minimum(((np.arange(y0, y1) + 0.5) * sy).astype(int), wh - 1)
        xs = np.minimum(((np.arange(x0, x1) + 0.5) * sx).astype(int), ww - 1)
        return tri_id[np.ix_(ys, xs)]

    def _trace_lids(
        self, sel: NDArray[np.bool_], verts: NDArray[np.float64], which: int, origin_xy: tuple[int, int]
    ) -> NDArray[np.bool_]:
        """The eye opening of a box, its lids traced at output resolution.

        ``sel`` (from the working-resolution triangle buffer) is blocky where the
        working grid is coarser than the output, which shows as a staircase where
        a moved iris meets a lid. The opening's polygon is exact; ``sel`` grown by
        one working pixel still decides what the z-buffer hides (a nose in front).
        """
        loop = (self._right_loop, self._left_loop)[which]
        poly = np.round((verts[loop, :2] - origin_xy) * 16.0).astype(np.int32)
        lids = np.zeros(sel.shape, np.uint8)
        cv2.fillPoly(lids, [poly], 1, lineType=cv2.LINE_8, shift=4)
        k = 2 * math.ceil(1.0 / self.scale) + 1
        near = cv2.dilate(sel.view(np.uint8), np.ones((k, k), np.uint8))
        return (lids & near).view(bool)

    def _move_irises(
        self,
        verts: NDArray[np.float64],
        map_x: NDArray[np.float32],
        map_y: NDArray[np.float32],
        tri_id: NDArray[np.int32],
        origin_xy: tuple[int, int],
    ) -> list[tuple[int, int, int, int]]:
        """Move the irises by editing the maps (of a box at ``origin_xy``) in place.

        Returns the output-pixel boxes (x0, y0, x1, y1) whose maps were edited.
        """
        edited: list[tuple[int, int, int, int]] = []
        ox, oy = origin_xy
        src = self.mesh.vertices
        tris = self.mesh.triangles
        for which, iris in enumerate(self._irises):
            idx = (topo.RIGHT_IRIS, topo.LEFT_IRIS)[which][0]
            q = _locate(verts[idx, :2], verts, src, tris[iris.tris])
            if q is None:
                continue
            shift = q - iris.centre
            limit = iris.radius * 0.9
            norm = float(np.linalg.norm(shift))
            if norm < 0.05:
                continue
            if norm > limit:
                shift *= limit / norm
            # Work only in the eye's box: the eye is a few hundred pixels of the frame.
            corners = np.unique(tris[iris.tris])
            h, w = map_x.shape
            x0, y0 = np.floor(verts[corners, :2].min(axis=0)).astype(int) - 1
            x1, y1 = np.ceil(verts[corners, :2].max(axis=0)).astype(int) + 2
            x0, y0 = max(x0, ox), max(y0, oy)
            x1, y1 = min(x1, ox + w), min(y1, oy + h)
            if x1 <= x0 or y1 <= y0:
                continue
            box_x = map_x[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
            box_y = map_y[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
            box_id = self._work_ids(tri_id, x0, y0, x1, y1)
            sel = box_id >= 0
            sel[sel] = self._eye_of_tri[box_id[sel]] == which
            if not sel.any():
                continue
            if self.scale < 1.0:
                sel = self._trace_lids(sel, verts, which, (x0, y0))
            px, py = box_x[sel], box_y[sel]
            nx, ny = px - shift[0], py - shift[1]
            # With a white fill, all of the disc it replaced (the iris and its
            # dark rim) is uncovered, or the rim would stay behind as an arc.
            reach = iris.radius * (DISC if iris.white_at is not None else 1.0)
            in_new = (nx - iris.centre[0]) ** 2 + (ny - iris.centre[1]) ** 2 < iris.radius**2
            in_old = (px - iris.centre[0]) ** 2 + (py - iris.centre[1]) ** 2 < reach**2
            reveal = in_old & ~in_new
            # What the iris uncovers is white of the eye.
            if iris.white_at is not None:
                # The same point of the eye with the iris replaced by white.
                bx0, by0, bx1, by1 = iris.box
                white_x = np.clip(px, bx0, bx1) - bx0 + iris.white_at[0]
                white_y = np.clip(py, by0, by1) - by0 + iris.white_at[1]
            else:
                # No fill (no white beside the iris, or no room for the atlas):
                # mirror each pixel across the iris rim, along the row, into the
                # white beside it; past the corners, fall back to one white point.
                dx = px - iris.centre[0]
                side = np.where(dx >= 0, 1.0, -1.0)
                mirror_x = iris.centre[0] + side * (2.3 * iris.radius - np.abs(dx))
                inside = (mirror_x >= iris.x_range[0]) & (mirror_x <= iris.x_range[1])
                white_x = np.where(inside, mirror_x, iris.sclera_xy[0])
                white_y = np.where(inside, py, iris.sclera_xy[1])
            px = np.where(in_new, nx, np.where(reveal, white_x, px))
            py = np.where(in_new, ny, np.where(reveal, white_y, py))
            box_x[sel], box_y[sel] = px, py
            edited.append((int(x0), int(y0), int(x1), int(y1)))
        return edited

    def _hidden(self, source: NDArray[np.float64]) -> NDArray[np.float64]:
        """How far apart (source pixels) the two halves of the mouth strip sample
        where they meet, per inner-lip pair: the part of the portrait's opening
        a closing mouth hides."""
        return np.linalg.norm(source[self.mesh.mid_low, :2] - source[self.mesh.mid_up, :2], axis=1)

    def _redraw_lip_line(self, out: NDArray[np.uint8], verts: NDArray[np.float64], source: NDArray[np.float64]) -> None:
        """Sample the mouth strip and the lips' inner triangles again from maps
        made at full resolution, in place.

        Where a portrait's mouth is open wider than the target's, the two
        halves of the strip meet with a jump in the source between them (the
        hidden middle of the opening). Upsampled from working resolution, the
        maps interpolate across it, so a closing mouth sampled the cavity
        between the lips: a dark, stair-stepped line along the lips
        (photo_woman_surprised_01, shouting, closing with pout_kiss_01; steps
        of 2 px at 720², 5 px at 1080p). These pixels go without the detail
        flow, which fades out toward the mouth's opening anyway (no seam seen
        at 4×).
        """
        boxed = _boxed(verts, self.mesh.triangles[self._lip_tris], out.shape, before=1)
        if boxed is None:
            return
        (x0, y0, x1, y1), local = boxed
        # Every face triangle competes for depth (a nose over the mouth stays
        # in front); only the lip line's pixels are written.
        # At twice the resolution, each output pixel the mean of its four: the
        # halves meet with a jump in the source, and sampled once per pixel
        # that edge (a shout's teeth over her tongue) was a staircase of
        # 1-2 px steps.
        n = _LIP_SUPERSAMPLE
        fine = local.copy()
        fine[:, :2] = (local[:, :2] + 0.5) * n - 0.5
        map_x, map_y, tid = rasterize_maps(fine, source[:, :2], self._face_tris, self._face_bias, ((x1 - x0) * n, (y1 - y0) * n))
        keep = np.isin(tid, self._lip_ids)
        if not keep.any():
            return
        # A pixel the lip line touches takes the mean of all its samples on the
        # face (those off the lip line too: the upsampled frame under it can
        # hold the hidden cavity).
        face = (tid >= 0).astype(np.float32)
        sample = cv2.remap(self._source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        sample *= face[..., None]
        size = (x1 - x0, y1 - y0)
        touched = cv2.resize(keep.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.0
        cover = cv2.resize(face, size, interpolation=cv2.INTER_AREA)
        # And the pixels beside it: the upsampled maps interpolate across the
        # jump there too, and left dark single-pixel flecks along a closed
        # shout's lips (photo_woman_surprised_01, pout_kiss_01 frame 0).
        touched = cv2.dilate(touched.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool) & (cover > 0.0)
        colour = cv2.resize(sample, size, interpolation=cv2.INTER_AREA) / np.maximum(cover, 1e-6)[..., None]
        region = out[y0:y1, x0:x1]
        a = cover[touched][:, None]
        region[touched] = np.clip(region[touched] * (1.0 - a) + colour[touched] * a + 0.5, 0, 255).astype(np.uint8)

    def _draw_seam(self, out: NDArray[np.uint8], verts: NDArray[np.float64], hidden: NDArray[np.float64], target: TargetShape) -> None:
        """Draw the driver's lip seam (:mod:`enliven.render.seam`) where the
        strip's halves meet over the portrait's ``hidden`` opening (per pair,
        :meth:`_hidden`) and the target's lips touch."""
        lips = verts[: topo.N_LANDMARKS]
        gap = np.linalg.norm(lips[_INNER[:, 1], :2] - lips[_INNER[:, 0], :2], axis=1)
        unit = lip_seam.UNIT * self.iod * target.head.scale
        weight = np.clip((hidden - LIP_JUMP_PX) / LIP_JUMP_PX, 0.0, 1.0) * np.clip(1.0 - gap / unit, 0.0, 1.0)
        obs = target.driver
        ratios = lip_seam.DEFAULT_RATIO
        if obs is not None and target.driver_rgb is not None:
            ratios = lip_seam.driver_ratios(target.driver_rgb, obs.landmarks)
        lip_seam.draw(out, lips, ratios, np.r_[weight[0], weight, weight[-1]])

    def _draw_mouth(self, out: NDArray[np.uint8], verts: NDArray[np.float64], target: TargetShape) -> None:
        tri = self._mouth_tris
        boxed = _boxed(verts, tri, out.shape, before=2)
        if boxed is None:
            return
        (x0, y0, x1, y1), local = boxed
        # Rasterise the mouth strip alone, at full resolution, in its box.
        _, _, tid, bary = rasterize(local, self.mesh.vertices, tri, np.zeros(len(tri), np.float32), (x1 - x0, y1 - y0))
        inside = tid >= 0
        if not inside.any():
            return
        ys, xs = np.nonzero(inside)
        tv = tri[tid[inside]]
        b = bary[inside]
        opening = float(np.linalg.norm(verts[13, :2] - verts[14, :2]))
        # Each pixel's share of the way from the upper lip to the lower: the
        # driver's opening is laid over the whole strip evenly by it.
        shares = self.mesh.mouth_shares(verts, target.head.scale)
        colours = None
        obs = target.driver
        if obs is not None and target.driver_rgb is not None:
            drv = self.mesh.extend(obs.landmarks, shares)
            dx = (b * drv[tv, 0]).sum(axis=1).astype(np.float32)
            dy = (b * drv[tv, 1]).sum(axis=1).astype(np.float32)
            sample = cv2.remap(target.driver_rgb, dx.reshape(-1, 1), dy.reshape(-1, 1), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            sample = sample.reshape(-1, 3).astype(np.float32)
            if self.config.mouth_style == "drawn":
                # The driver's teeth, cavity and tongue where they are, in flat
                # colours; the parts are smoothed a little first, so compression
                # noise does not speckle them.
                parts = np.zeros((y1 - y0, x1 - x0, 4), np.float32)
                parts[ys, xs, :3] = mouth_layer.interior_parts(sample)
                parts[ys, xs, 3] = sample.mean(axis=1) / 255.0
                sigma = max(0.7, opening * 0.03)
                cover = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), sigma)
                smooth = cv2.GaussianBlur(parts, (0, 0), sigma)[ys, xs] / np.maximum(cover[ys, xs], 1e-3)[:, None]
                colours = mouth_layer.drawn_from_driver(smooth[:, :3], self.palette, smooth[:, 3])
            else:
                driver_skin = mouth_layer.skin_colour(target.driver_rgb, obs.landmarks)
                driver_lips = mouth_layer.lip_colour(target.driver_rgb, obs.landmarks)
                colours = mouth_layer.match_interior(sample, self.skin, driver_skin, self.lips, driver_lips)
        if colours is None:
            v = (b * shares[tv]).sum(axis=1)
            colours = mouth_layer.stylised_interior(v.astype(np.float32), self.palette, opening, teeth=not self._own_interior)
        # The new interior covers the band that opens between the strip's two
        # halves, which keep the portrait's own interior (its teeth) at its own
        # scale next to each lip: none of it over the halves, fading in over a
        # few pixels away from them (blurred across the edge, it had greyed
        # the ends of a smile's teeth).
        sigma = max(0.8, opening * 0.04)
        mask = inside.astype(np.float32)
        feather = cv2.GaussianBlur(mask, (0, 0), sigma) * mask
        if self._own_interior:  # a closed mouth's halves are slivers along the lips: no ramp
            away = np.ones(mask.shape, np.uint8)
            own = ~self._in_band[tid[inside]]
            away[ys[own], xs[own]] = 0
            feather *= np.clip(cv2.distanceTransform(away, cv2.DIST_L2, 3) / (2.0 * sigma), 0.0, 1.0)
        a = feather[inside][:, None]
        region = out[y0:y1, x0:x1]
        current = region[ys, xs].astype(np.float32)
        region[ys, xs] = np.clip(current * (1 - a) + colours * a, 0, 255).astype(np.uint8)


def _boxed(
    verts: NDArray[np.float64], tri: NDArray[np.int32], shape: tuple[int, ...], before: int
) -> tuple[tuple[int, int, int, int], NDArray[np.float64]] | None:
    """The pixel box (x0, y0, x1, y1) around triangles ``tri`` of ``verts``, grown
    by ``before`` pixels up and left and 2 down and right and clipped to an image
    of ``shape``, and the vertices shifted into it; None when under 2 px a side."""
    used = np.unique(tri)
    h, w = shape[:2]
    x0, y0 = np.floor(verts[used, :2].min(axis=0)).astype(int) - before
    x1, y1 = np.ceil(verts[used, :2].max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    local = verts.copy()
    local[:, 0] -= x0
    local[:, 1] -= y0
    return (int(x0), int(y0), int(x1), int(y1)), local


def _union(a: tuple[slice, slice] | None, b: tuple[slice, slice]) -> tuple[slice, slice]:
    """The smallest box holding both (``a`` may be None)."""
    if a is None:
        return b
    return (slice(min(a[0].start, b[0].start), max(a[0].stop, b[0].stop)), slice(min(a[1].start, b[1].start), max(a[1].stop, b[1].stop)))


def _locate(point: NDArray[np.float64], target: NDArray[np.float64], source: NDArray[np.float64], tris: NDArray[np.int32]) -> NDArray[np.float64] | None:
    """Source position of a target point through the triangle that holds it."""
    for t in tris:
        a, b, c = target[t, :2]
        det = (b[1] - c[1]) * (a[0] - c[0]) + (c[0] - b[0]) * (a[1] - c[1])
        if abs(det) < 1e-9:
            continue
        w0 = ((b[1] - c[1]) * (point[0] - c[0]) + (c[0] - b[0]) * (point[1] - c[1])) / det
        w1 = ((c[1] - a[1]) * (point[0] - c[0]) + (a[0] - c[0]) * (point[1] - c[1])) / det
        w2 = 1 - w0 - w1
        if min(w0, w1, w2) >= -1e-6:
            return w0 * source[t[0], :2] + w1 * source[t[1], :2] + w2 * source[t[2], :2]
    return None
