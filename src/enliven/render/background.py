"""Person/background separation and the background plate, made once per portrait.

Background pixels never move. Where a moving head uncovers what was behind it, the
plate shows an inpainted guess of the background.
"""

from __future__ import annotations

import logging
from typing import Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)


class Segmenter(Protocol):
    """Estimates how much each pixel belongs to the person (0..1)."""

    def person_mask(self, rgb: NDArray[np.uint8]) -> NDArray[np.float32]: ...

    def close(self) -> None: ...


class MediaPipeSegmenter:
    """Selfie segmentation from mediapipe 0.10.21 (general model, 256x256)."""

    def __init__(self) -> None:
        from enliven.face.mediapipe import import_mediapipe
        from enliven.face.models import verify_installed_model

        mp = import_mediapipe()

        verify_installed_model("selfie_segmentation/selfie_segmentation.tflite")
        self._seg = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)

    def person_mask(self, rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
        """(H, W) float32 in 0..1."""
        result = self._seg.process(np.ascontiguousarray(rgb))
        mask = np.asarray(result.segmentation_mask, np.float32)
        return np.clip(mask, 0.0, 1.0)

    def close(self) -> None:
        self._seg.close()


def refine_mask(mask: NDArray[np.float32], face_polygon: NDArray[np.floating], face_size: float) -> NDArray[np.float32]:
    """Make a person mask usable for compositing.

    The face region is always person (segmentation misses painted faces), and
    a mask that misses most of the face is replaced by all-person (then the whole
    picture warps smoothly, which is right for paintings with no clear backdrop).
    """
    h, w = mask.shape
    face = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(face, np.round(face_polygon[:, :2]).astype(np.int32), 1)
    inside = mask[face > 0]
    if inside.size and float(inside.mean()) < 0.5:
        log.info("segmentation misses the face (%.2f); warping the whole picture", inside.mean())
        return np.ones_like(mask)
    k = max(3, int(face_size * 0.15) | 1)
    face_soft = cv2.GaussianBlur(cv2.dilate(face.astype(np.float32), np.ones((k, k), np.uint8)), (k, k), 0)
    out = np.maximum(mask, face_soft)
    return np.clip(cv2.GaussianBlur(out, (5, 5), 0), 0.0, 1.0).astype(np.float32)


def background_plate(rgb: NDArray[np.uint8], mask: NDArray[np.float32], work_side: int = 320) -> NDArray[np.uint8]:
    """The portrait with person pixels replaced by inpainted background.

    Everything the mask marks as person (> 0.5, grown by about 1% of the image)
    is replaced, so no ghost of the person's outline stays behind when it moves.
    """
    h, w = mask.shape
    grow = max(3, (max(h, w) // 100) | 1)
    solid = cv2.dilate((mask > 0.5).astype(np.uint8), np.ones((grow, grow), np.uint8)) > 0
    if not solid.any():
        return rgb.copy()
    if solid.mean() > 0.97:  # no background to learn from
        return rgb.copy()
    scale = min(1.0, work_side / max(h, w))
    small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    hole = cv2.resize(solid.astype(np.uint8), small.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    hole = cv2.dilate(hole, np.ones((5, 5), np.uint8))
    filled = cv2.inpaint(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), hole, 5, cv2.INPAINT_TELEA)
    filled = cv2.cvtColor(filled, cv2.COLOR_BGR2RGB)
    filled = cv2.GaussianBlur(filled, (0, 0), 2.0)
    up = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    # Fade from the inpainted plate into the real background over a band outside
    # the person, so the plate's edge never shows as a seam.
    band = cv2.dilate(solid.astype(np.uint8), np.ones((grow, grow), np.uint8)).astype(np.float32)
    weight = np.maximum(cv2.GaussianBlur(band, (0, 0), grow / 2), solid.astype(np.float32))
    return cv2.blendLinear(up, rgb, weight, 1.0 - weight)


STRAND_BAND = 0.2  # how far outside the person mask loose hair is looked for, in eye distances
STRAND_LEVELS = (10.0, 40.0)  # colour difference from the plate read as no hair / all hair
TEXTURE_ON, TEXTURE_OFF = 8.0, 12.0  # backdrop texture (levels) up to which strands are added, and from which not


def add_strands(
    rgb: NDArray[np.uint8], mask: NDArray[np.float32], iod: float, below_y: float
) -> NDArray[np.float32]:
    """The person mask grown over loose hair just outside it.

    Segmentation stops at the hair's outline and leaves the strands beyond it in
    the background, where they stay behind as ghosts when the head moves. In a band
    just outside the mask (above ``below_y``, the chin), a pixel whose colour differs
    from the inpainted background by more than ``STRAND_LEVELS[0]`` levels is taken
    as hair, fully so at ``STRAND_LEVELS[1]`` (a difference matte against the plate).
    """
    solid = (mask > 0.5).astype(np.uint8)
    if not solid.any() or solid.mean() > 0.97:
        return mask
    k = max(3, int(STRAND_BAND * iod) | 1)
    band = cv2.dilate(solid, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))) > 0
    band &= solid == 0
    band[max(0, int(below_y)) :] = False
    if not band.any():
        return mask
    guess = background_plate(rgb, np.maximum(mask, band.astype(np.float32)))
    diff = np.abs(rgb.astype(np.int16) - guess.astype(np.int16)).max(axis=2).astype(np.float32)
    # Against a textured backdrop (foliage, brush strokes) the inpainted guess
    # differs everywhere, and the matte would carry the backdrop with the head;
    # there the strands are left alone. The band's median difference is 2-4 levels
    # on plain walls and 11-17 on textured backdrops (measured on the shared media).
    texture = float(np.median(diff[band]))
    gate = float(np.clip((TEXTURE_OFF - texture) / (TEXTURE_OFF - TEXTURE_ON), 0.0, 1.0))
    if gate <= 0.0:
        return mask
    lo, hi = STRAND_LEVELS
    matte = np.clip((diff - lo) / (hi - lo), 0.0, 1.0) * band * gate
    return np.maximum(mask, matte.astype(np.float32))
