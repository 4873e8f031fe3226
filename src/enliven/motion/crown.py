"""Where the top of the driver's head really went: image evidence for the hair rings.

The head rings (hair, ears, neck) move rigidly with the face mesh. At the top of
the head that is often wrong, in two ways the landmarks cannot show:

- The face mesh moves the whole upper face with an expression: in a wink or a
  frown MediaPipe drops the forehead's top by 10-18 px while the hair above it
  does not move at all.
- The crown lies far behind the face, so when the head nods it travels much
  less than the forehead does (a driver looking down moved her forehead's top
  landmark 45-63 px and the top of her hair 1-3 px), yet the rings sit at the
  face's depth.

So the crown is *measured*: a patch of the driver's reference frame just above
the forehead (the hair) is matched (normalised cross-correlation) in each frame
along the segment from "did not move" to "moved with the forehead" (a little
beyond, and a little to either side). Where the crown is found less where the
forehead's top landmark went is the correction, kept only where the match is
clearly better than the landmarks' own prediction, only along the face's up
direction (sideways, hair in front of the face, a fringe or a quiff, goes with
the forehead, and the rings cannot tell it from the crown behind), and at most
``LIMIT`` eye distances (more folds the hair band). The renderer gives it to
the head's outline, not to the hairline (:mod:`enliven.render.mesh`). Flat
patches (a bald head on a plain wall) and poor matches (a head rolled far from
the reference) give no correction, which leaves the rings as they were.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from enliven.face import topology as topo
from enliven.motion.measures import eye_distance

WORK_IOD = 40.0  # the patch is matched at this many pixels between the eyes
PATCH_WH = (1.4, 0.8)  # patch size, in eye distances (width, height)
_GAP = 0.05  # eye distances between the forehead's top landmark and the patch
_BEYOND = 1.25  # the crown may move this many times the forehead's move
_FAR = 1.5  # eye distances: a forehead moved further is not searched for
_SLACK = 0.12  # eye distances: how far off that segment the crown may be found
_MIN_TEXTURE = 4.0  # grey levels (std of the patch): below, nothing to match
_MIN_INSIDE = 0.6  # share of the patch that must lie inside the reference frame
_GOOD = (0.4, 0.6)  # match score from which a correction starts / is trusted fully
_CLEAR = 0.1  # score gain over the landmarks' prediction for full trust
LIMIT = 0.15  # eye distances: the largest correction (more folds the hair band)
_SMOOTH = 0.5  # weight of the new frame in the temporal average
_DECAY = 0.8  # per lost frame


class CrownTracker:
    """Measures, per driving frame, how far the crown moved unlike the forehead.

    Parameters
    ----------
    reference_landmarks : (478, 2 or 3) the driver's reference-frame landmarks.
    reference_rgb : that frame, (H, W, 3) uint8.
    to_portrait : (2, 2) linear map from driver-reference pixels to portrait
        pixels (rotation and scale between the two faces, times the head gain).
    """

    def __init__(
        self,
        reference_landmarks: NDArray[np.floating],
        reference_rgb: NDArray[np.uint8],
        to_portrait: NDArray[np.floating],
    ) -> None:
        lm = np.asarray(reference_landmarks, np.float64)
        self.to_portrait = np.asarray(to_portrait, np.float64)
        self.scale = WORK_IOD / max(eye_distance(lm), 1e-6)  # working px per driver px
        self.top = lm[topo.FOREHEAD, :2].copy()
        # The patch sits above the forehead along the face's own up direction.
        eyes = lm[list(topo.LEFT_EYE_CORNERS), :2].mean(axis=0) - lm[list(topo.RIGHT_EYE_CORNERS), :2].mean(axis=0)
        across = eyes / max(float(np.linalg.norm(eyes)), 1e-9)
        self.up = up = np.array([across[1], -across[0]])  # image y points down
        w, h = (round(WORK_IOD * f) for f in PATCH_WH)
        self.size = (int(w), int(h))
        centre = self.top + up * (_GAP + PATCH_WH[1] / 2) * WORK_IOD / self.scale
        self.centre = centre  # driver px
        self.template, inside = self._patch(reference_rgb, centre, self.size)
        self.usable = inside >= _MIN_INSIDE and float(self.template.std()) >= _MIN_TEXTURE
        self._last = np.zeros(2)

    def _patch(self, rgb: NDArray[np.uint8], centre: NDArray[np.float64], size: tuple[int, int]) -> tuple[NDArray[np.float32], float]:
        """A grey working-scale patch of ``size`` centred at ``centre`` (driver px),
        and the share of it inside the frame (the rest repeats the border)."""
        height, width = rgb.shape[:2]
        half = np.array(size, np.float64) / (2 * self.scale)
        x0, y0 = np.floor(centre - half).astype(int) - 2
        x1, y1 = np.ceil(centre + half).astype(int) + 2
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if cx1 - cx0 < 2 or cy1 - cy0 < 2:
            return np.zeros(size[::-1], np.float32), 0.0
        # The green channel stands for grey; halved (Gaussian pyramid) while the
        # working scale is half or less, then resized: cheaper than an area average.
        small = np.ascontiguousarray(rgb[cy0:cy1, cx0:cx1, 1])
        at = np.array([centre[0] - cx0, centre[1] - cy0])  # in ``small``'s pixels
        factor = self.scale
        while factor <= 0.5 and min(small.shape) >= 4:
            small = cv2.pyrDown(small)
            at /= 2.0
            factor *= 2.0
        height_in, width_in = small.shape
        small = cv2.resize(small, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
        at = ((at[0] + 0.5) * small.shape[1] / width_in - 0.5, (at[1] + 0.5) * small.shape[0] / height_in - 0.5)
        patch = cv2.getRectSubPix(small, size, at, patchType=cv2.CV_32F)
        inside = ((min(x1, width) - max(x0, 0)) * (min(y1, height) - max(y0, 0))) / max((x1 - x0) * (y1 - y0), 1)
        return patch, float(np.clip(inside, 0.0, 1.0))

    def measure(self, landmarks: NDArray[np.floating] | None, rgb: NDArray[np.uint8] | None) -> NDArray[np.float64]:
        """The rings' correction at the crown for one frame, portrait pixels (2,).

        Zero when the crown cannot be measured; a lost face fades the last one.
        """
        if landmarks is None or rgb is None:
            self._last = self._last * _DECAY
            return self.to_portrait @ self._last
        raw = self._measure(np.asarray(landmarks, np.float64), rgb) if self.usable else np.zeros(2)
        self._last = _SMOOTH * raw + (1 - _SMOOTH) * self._last
        return self.to_portrait @ self._last

    def _measure(self, landmarks: NDArray[np.float64], rgb: NDArray[np.uint8]) -> NDArray[np.float64]:
        """Crown move minus forehead move, driver px, scaled by the confidence."""
        moved = (landmarks[topo.FOREHEAD, :2] - self.top) * self.scale  # working px
        if float(np.linalg.norm(moved)) > _FAR * WORK_IOD:
            return np.zeros(2)  # the head is elsewhere: the reference patch says little
        slack = _SLACK * WORK_IOD
        lo = np.minimum(0.0, moved * _BEYOND) - slack - 1.0
        hi = np.maximum(0.0, moved * _BEYOND) + slack + 1.0
        w, h = self.size
        region_wh = (int(np.ceil(hi[0] - lo[0])) + w, int(np.ceil(hi[1] - lo[1])) + h)
        offset = (lo + hi) / 2  # region centre from the patch's, working px
        region, _ = self._patch(rgb, self.centre + offset / self.scale, region_wh)
        score = cv2.matchTemplate(region, self.template, cv2.TM_CCOEFF_NORMED)
        # Shift of each score cell from the reference position, working px.
        ox = np.arange(score.shape[1]) - (region_wh[0] - w) / 2 + offset[0]
        oy = np.arange(score.shape[0]) - (region_wh[1] - h) / 2 + offset[1]
        gx, gy = np.meshgrid(ox, oy)
        length2 = float(moved @ moved)
        t = np.clip((gx * moved[0] + gy * moved[1]) / length2, 0.0, _BEYOND) if length2 > 1e-9 else np.zeros_like(gx)
        off_line = np.hypot(gx - t * moved[0], gy - t * moved[1])
        allowed = np.where(off_line <= slack, score, -2.0)
        j, i = np.unravel_index(int(np.argmax(allowed)), allowed.shape)
        best = float(allowed[j, i])
        predicted = float(score[int(np.argmin(np.abs(oy - moved[1]))), int(np.argmin(np.abs(ox - moved[0])))])
        trust = float(np.clip((best - predicted) / _CLEAR, 0.0, 1.0))
        trust *= float(np.clip((best - _GOOD[0]) / (_GOOD[1] - _GOOD[0]), 0.0, 1.0))
        if trust <= 0.0:
            return np.zeros(2)
        found = np.array([ox[i] + _vertex(score[j, i - 1 : i + 2]), oy[j] + _vertex(score[j - 1 : j + 2, i])])
        # Only along the face's up direction: across it, the hair in front (a
        # fringe, a quiff) goes with the forehead, and the rings cannot tell it
        # from the crown behind.
        along = float((found - moved) @ self.up)
        along = float(np.clip(along, -LIMIT * WORK_IOD, LIMIT * WORK_IOD))
        return self.up * along / self.scale * trust


def _vertex(values: NDArray[np.float32]) -> float:
    """Sub-pixel offset of a peak from its three samples (0 at an edge)."""
    if len(values) != 3:
        return 0.0
    a, b, c = (float(v) for v in values)
    den = a - 2 * b + c
    return float(np.clip(0.5 * (a - c) / den, -0.5, 0.5)) if den < 0 else 0.0
