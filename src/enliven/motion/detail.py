"""Facial detail beyond the landmarks: residual flow and shading, in a canonical frame.

Landmarks miss cheek bulges, lip rolls, brow furrows and smile lines. Each
driving frame is warped, piecewise-affinely by its face mesh, onto a *canonical
frame*: the driver's reference-frame landmarks, normalised to a ``CANON``-pixel
square. What is left between the canonical image of the reference frame and
that of the current frame is what the landmarks did not explain:

- a dense optical flow (OpenCV DIS), such that ``current(u) ~ reference(u + flow(u))``,
- an expression ratio image (Liu, Shan and Zhang, "Expressive expression mapping
  with ratio images", 2001): the current frame's local shading over the
  reference's at the same skin point, which carries creases and wrinkles.

Both are masked to the skin (eyes and the mouth opening have layers of their
own) and to where that skin still shows: where the current frame is redder
than the reference at the same point, lip or tongue has slid over it (a tongue
stuck out over the chin, a lip past the mesh's outline), and its colour and
shadow there are not creases. They are clamped, faded out as the head turns
away from the reference pose (the canonical warp stops being faithful there),
smoothed in time, and scaled by ``strength`` (``--detail``). The renderer
applies them to the portrait in the same canonical frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from enliven.errors import ConfigError
from enliven.face import topology as topo
from enliven.motion.pose import fit_stable, rotation_angle_deg
from enliven.render.raster import rasterize_maps

CANON = 128  # side of the canonical face image, pixels
_MARGIN = 0.06  # of CANON around the face oval's bounding box
_FLOW_LIMIT = 1.5  # canonical px: larger residual flow is tracking error, not detail
_RATIO_RANGE = (0.85, 1.03)  # the ratio image is clamped to this: creases darken;
# a brightening is mostly where an edge of the reference (a glasses rim) slid away
_RATIO_DEADZONE = 0.025  # smaller shading changes are noise (shrunk to 0)
_SHADE_SIGMA = 1.2  # canonical px: blur before the ratio (keeps creases, drops noise)
_LIGHT_SIGMA = 6.0  # canonical px: broader shading change is lighting, not creases
_EDGE_LEVEL = 12.0  # reference gradient (grey levels/px) at which the ratio halves
_MOVED_EDGE = 30.0  # current-frame gradient at which the ratio halves (creases are fainter)
_NEAR = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
_STRONG_EDGE = 20.0  # grey levels/px: glasses rims, hair strands
_DENSITY_BOX = 9  # canonical px over which strong edges are counted
_DENSE = 0.12  # share of strong-edge pixels above which a region is clutter
_WIDE = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (11, 11))
_LINE_WIDTH = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))  # dark lines up to this wide
_DARK_LINE = 15.0  # grey levels below their surroundings at which the ratio halves
_BESIDE = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (13, 13))  # how far beside them
_FLOW_SIGMA = 3.0  # canonical px: the flow is smoothed over this
_FADE_DEG = (12.0, 30.0)  # detail fades from full to none between these head turns
_SMOOTH = 0.5  # weight of the new frame in the temporal average
# Lab a* rise (8-bit units, after the frame's median rise is taken off) over
# which skin is taken as covered, ramped between these. On the shared clips lip
# and tongue over the chin read 6-15, and on the median frame 96-99.7% of the
# skin stays under 3; the lid's fold under a lowered brow, a beard's edge and
# hair at the face's edge cross 4 too, and lose their detail with it.
_COVERED_RISE = (3.0, 6.0)
_COVERED_GROW = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))


@dataclass(frozen=True)
class DetailField:
    """Residual detail of one driving frame, in the canonical frame.

    flow : (CANON, CANON, 2) float32, canonical px, already scaled by strength.
    ratio : (CANON, CANON) float32 shading ratio around 1, already scaled.
    canon_pts : (478, 2) float64 the canonical landmark positions.
    """

    flow: NDArray[np.float32]
    ratio: NDArray[np.float32]
    canon_pts: NDArray[np.float64]


def canonical_points(landmarks: NDArray[np.floating]) -> NDArray[np.float64]:
    """Landmarks moved and scaled so the face oval fills a CANON square."""
    pts = np.asarray(landmarks, np.float64)[:, :2]
    oval = pts[list(topo.FACE_OVAL)]
    lo, hi = oval.min(axis=0), oval.max(axis=0)
    scale = CANON * (1 - 2 * _MARGIN) / float(max(hi - lo))
    centre = (lo + hi) / 2
    return (pts - centre) * scale + CANON / 2


def _skin_mask(canon_pts: NDArray[np.float64], triangles: NDArray[np.int32]) -> NDArray[np.float32]:
    """Feathered mask of the face mesh without the eyes, brows' hair edge and mouth."""
    mask = np.zeros((CANON, CANON), np.uint8)
    for tri in triangles:
        cv2.fillConvexPoly(mask, np.round(canon_pts[tri] * 4).astype(np.int32), 255, cv2.LINE_8, 2)
    holes = np.zeros_like(mask)
    loops = (
        topo.eye_loop(topo.RIGHT_EYE_PAIRS, topo.RIGHT_EYE_CORNERS),
        topo.eye_loop(topo.LEFT_EYE_PAIRS, topo.LEFT_EYE_CORNERS),
        topo.inner_lip_loop(),
    )
    for loop in loops:
        cv2.fillPoly(holes, [np.round(canon_pts[loop] * 4).astype(np.int32)], 255, cv2.LINE_8, 2)
    holes = cv2.dilate(holes, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
    mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    mask[holes > 0] = 0
    return cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 2.0) * (mask > 0)


def _gradient(image: NDArray[np.float32]) -> NDArray[np.float32]:
    """Gradient magnitude, grey levels per pixel."""
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    return cv2.magnitude(gx, gy)


class DetailTracker:
    """Measures a :class:`DetailField` per driving frame against a reference frame.

    Parameters
    ----------
    reference_landmarks : (478, 3) the driver's reference-frame landmarks.
    reference_rgb : that frame, (H, W, 3) uint8.
    strength : 0..1 gain on flow and shading (0 turns detail off).
    """

    def __init__(
        self,
        reference_landmarks: NDArray[np.floating],
        reference_rgb: NDArray[np.uint8],
        strength: float = 1.0,
    ) -> None:
        if not 0.0 <= strength <= 1.0:
            raise ConfigError(f"detail must be in [0, 1], got {strength}")
        self.strength = float(strength)
        self.reference = np.asarray(reference_landmarks, np.float64)
        self.canon_pts = canonical_points(self.reference)
        self._triangles = topo.mesh_triangles()
        self._target = np.column_stack([self.canon_pts, np.zeros(len(self.canon_pts))])
        self._mask = _skin_mask(self.canon_pts, self._triangles)
        self._skin = self._mask > 0.5
        # The mask's own blur, which normalises the broad light below: the same every frame.
        self._mask_light = np.maximum(cv2.GaussianBlur(self._mask, (0, 0), _LIGHT_SIGMA), 1e-3)
        self._ref, ref_red = self._canonical(reference_rgb, self.reference)
        self._ref_shade = cv2.GaussianBlur(self._ref, (0, 0), _SHADE_SIGMA)
        # Shade and redness side by side: one remap samples both through the flow.
        self._ref_layers = np.dstack([self._ref_shade, cv2.GaussianBlur(ref_red, (0, 0), _SHADE_SIGMA)])
        # Edges of the reference (glasses rims, brow and lip lines) misregister
        # by a pixel now and then, which a ratio reads as a crease: trust the
        # ratio on smooth skin, where creases appear.
        # Dilated, since a rim misregisters by a pixel or two around where it was.
        gradient = _gradient(self._ref_shade)
        edges = cv2.dilate(gradient, _NEAR)
        self._smooth_skin = 1.0 / (1.0 + (edges / _EDGE_LEVEL) ** 2)
        # Where strong edges are dense (the rims of glasses, not a crease), the
        # face mesh does not carry them: they slide over the canonical skin as
        # the head turns, further than any dilation covers. No ratio there.
        density = cv2.blur((gradient > _STRONG_EDGE).astype(np.float32), (_DENSITY_BOX, _DENSITY_BOX))
        clutter = cv2.dilate((density > _DENSE).astype(np.uint8), _WIDE)
        self._smooth_skin[clutter > 0] = 0.0
        # Thin dark lines of the reference (a glasses rim, brows, lid and lip
        # lines) are dark between their edges too, and a rim's shadow lies
        # beside it: as a rim slides, the ratio read an arc of "crease" under
        # the eyes. No ratio on or beside them.
        lines = cv2.morphologyEx(self._ref_shade, cv2.MORPH_BLACKHAT, _LINE_WIDTH)
        self._smooth_skin /= 1.0 + (cv2.dilate(lines, _BESIDE) / _DARK_LINE) ** 2
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._grid = np.mgrid[0:CANON, 0:CANON].astype(np.float32)  # (y, x) of each pixel
        self._last: DetailField | None = None

    def _canonical(
        self, rgb: NDArray[np.uint8], landmarks: NDArray[np.floating]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Canonical grey and Lab a* (redness) of a frame: its face mesh warped onto canon_pts."""
        pts = np.asarray(landmarks, np.float64)[:, :2]
        map_x, map_y, _ = rasterize_maps(self._target, pts, self._triangles, np.zeros(len(self._triangles), np.float32), (CANON, CANON))
        canon = cv2.remap(np.ascontiguousarray(rgb), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        grey = cv2.cvtColor(canon, cv2.COLOR_RGB2GRAY).astype(np.float32)
        red = cv2.cvtColor(canon, cv2.COLOR_RGB2LAB)[..., 1].astype(np.float32)
        return grey, red

    @staticmethod
    def _covered(red: NDArray[np.float32], ref_red: NDArray[np.float32], skin: NDArray[np.bool_]) -> NDArray[np.float32]:
        """0..1 where the reference's skin (redness ``ref_red``, sampled through
        the flow) is covered now (lip or tongue over it)."""
        rise = cv2.GaussianBlur(red, (0, 0), _SHADE_SIGMA) - ref_red
        rise -= np.median(rise[skin])  # white balance and exposure drift
        lo, hi = _COVERED_RISE
        covered = np.clip((rise - lo) / (hi - lo), 0.0, 1.0)
        # Grown and feathered: the shadow and the flow's smoothing reach past it.
        return cv2.GaussianBlur(cv2.dilate(covered, _COVERED_GROW), (0, 0), 2.0)

    def _fade(self, landmarks: NDArray[np.floating]) -> float:
        angle = rotation_angle_deg(fit_stable(self.reference, np.asarray(landmarks, np.float64)).rotation)
        lo, hi = _FADE_DEG
        return float(np.clip((hi - angle) / (hi - lo), 0.0, 1.0))

    def measure(self, landmarks: NDArray[np.floating] | None, rgb: NDArray[np.uint8] | None) -> DetailField | None:
        """The detail of one frame (None when off); a lost face fades the last one."""
        if self.strength == 0.0:
            return None
        if landmarks is None or rgb is None:
            if self._last is None:
                return None
            field = DetailField(self._last.flow * 0.8, 1.0 + (self._last.ratio - 1.0) * 0.8, self.canon_pts)
            self._last = field
            return field
        current, red = self._canonical(rgb, landmarks)
        flow = self._dis.calc(current.astype(np.uint8), self._ref.astype(np.uint8), None)
        flow = cv2.GaussianBlur(flow, (0, 0), _FLOW_SIGMA)
        skin = self._skin
        flow -= np.median(flow[skin], axis=0)  # a common shift is landmark jitter
        norm = np.sqrt((flow * flow).sum(axis=2, keepdims=True))
        flow *= np.minimum(1.0, _FLOW_LIMIT / np.maximum(norm, 1e-6))
        # Shading and redness at the same skin point: the reference sampled through the flow.
        gy, gx = self._grid
        at = cv2.remap(self._ref_layers, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        ref_here, ref_red = at[..., 0], at[..., 1]
        shade = cv2.GaussianBlur(current, (0, 0), _SHADE_SIGMA)
        ratio = (shade + 8.0) / (ref_here + 8.0)
        # Keep local shading change (creases); broad change is light or exposure.
        light = cv2.GaussianBlur(ratio * self._mask, (0, 0), _LIGHT_SIGMA)
        light /= self._mask_light
        change = ratio / np.maximum(light, 1e-3) - 1.0
        change = np.sign(change) * np.maximum(np.abs(change) - _RATIO_DEADZONE, 0.0)
        # Strong edges of the current frame are things that moved (a rim, a
        # strand of hair), not creases, which are faint.
        smooth = self._smooth_skin / (1.0 + (_gradient(shade) / _MOVED_EDGE) ** 2)
        ratio = np.clip(1.0 + change * smooth, *_RATIO_RANGE)
        gain = self.strength * self._fade(landmarks)
        weight = self._mask * gain * (1.0 - self._covered(red, ref_red, skin))
        flow *= weight[..., None]
        ratio = 1.0 + (ratio - 1.0) * weight
        if self._last is not None:
            flow = _SMOOTH * flow + (1 - _SMOOTH) * self._last.flow
            ratio = _SMOOTH * ratio + (1 - _SMOOTH) * self._last.ratio
        self._last = DetailField(flow.astype(np.float32), ratio.astype(np.float32), self.canon_pts)
        return self._last
