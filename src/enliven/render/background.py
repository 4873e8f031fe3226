"""Person/background separation and the background plate, made once per portrait.

Background pixels never move. Where a moving head uncovers what was behind it, the
plate shows a guess of the background: a smooth inpainting, with the backdrop's
own texture mirrored in near the person's outline.
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


def background_plate(
    rgb: NDArray[np.uint8], mask: NDArray[np.float32], reach: float | None = None, work_side: int = 320
) -> NDArray[np.uint8]:
    """The portrait with person pixels replaced by a guess of the background.

    Everything the mask marks as person (> 0.5, grown by about 1% of the image)
    is replaced, so no ghost of the person's outline stays behind when it moves.
    Near the person's outline, where a moving head uncovers most, the guess is
    the backdrop's own texture mirrored in (:func:`mirror_index`), up to
    ``reach`` pixels deep (None: no texture); deeper in, a smooth inpainting
    (:func:`smooth_plate`).
    """
    plate = smooth_plate(rgb, mask, work_side)
    solid = _person(mask)
    if reach is None or reach < 2 or not solid.any() or solid.mean() > 0.97:
        return plate
    # Copy only from clear backdrop: segmentation stops short of the hair's
    # fringe and soft edges, which mirrored in would repeat as ghost outlines.
    grow = _grow(mask.shape)
    edge = np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)
    clear = cv2.dilate((mask > CLEAR_BELOW).astype(np.uint8), edge) == 0
    # Only the person's box changes (the weights are 0 outside the person).
    # Arrays are cut to it, worked in place and dropped as soon as they are
    # used: at 1920x1080 a person as wide as the frame otherwise held 230 MB.
    ys, xs = np.nonzero(solid.any(axis=1))[0], np.nonzero(solid.any(axis=0))[0]
    box = (slice(int(ys[0]), int(ys[-1]) + 1), slice(int(xs[0]), int(xs[-1]) + 1))
    grid_y, grid_x = np.mgrid[box].astype(np.float32)
    src, row_weight, row_near = (a[box].astype(np.float32) for a in mirror_index(solid, clear, reach))
    rows = cv2.remap(rgb, src, grid_y, cv2.INTER_NEAREST)
    del src, grid_y
    src, col_weight, col_near = (a[box[::-1]].T.astype(np.float32) for a in mirror_index(solid.T, clear.T, reach))
    cols = cv2.remap(rgb, grid_x, src, cv2.INTER_NEAREST)
    del src, grid_x
    # Each pixel takes the direction whose backdrop is nearer (inverse-square
    # weights, so the seam between the two is short and soft).
    for weight, near in ((row_weight, row_near), (col_weight, col_near)):
        np.maximum(near, 1.0, out=near)
        np.square(near, out=near)
        np.divide(weight, near, out=near)  # now the direction's pull
    pull = row_near + col_near
    covered = pull > 0
    share = np.divide(row_near, pull, out=np.zeros_like(pull), where=covered)
    del row_near, col_near, pull
    mirrored = cv2.blendLinear(rows, cols, share, 1.0 - share)
    del rows, cols, share
    # Fade out where the mirrored backdrop runs out: the weights' local mean
    # over the person's pixels only (a normalised blur, so the cover stays full
    # up to the outline).
    person = solid[box]
    reach_weight = np.maximum(row_weight, col_weight, out=row_weight)
    del col_weight
    cover = _masked_blur(reach_weight, person, grow)
    del reach_weight
    cover *= covered
    # Only the mirror's texture is kept, on the smooth plate's colours: a
    # mirrored patch of lighter or darker backdrop would otherwise show as a
    # halo where it meets the unmoved soft edge around the person.
    texture = mirrored.astype(np.float32)
    del mirrored
    texture[~covered] = 0.0
    texture -= _masked_blur(texture, covered, DETAIL_SIGMA * grow)
    texture *= cover[..., None]
    del cover
    texture += plate[box]
    texture += 0.5
    plate[box] = np.clip(texture, 0, 255, out=texture).astype(np.uint8)
    return plate


DETAIL_SIGMA = 2.0  # the mirrored texture's scale, in multiples of the plate's grow (about 1% of the image)
CLEAR_BELOW = 0.05  # person-mask value under which a pixel is clear backdrop to copy from
# How deep the mirrored texture reaches into the plate, in eye distances. A head's
# usual travel uncovers about this much; deeper, a mirror starts to copy whole
# objects of the backdrop (a lamp, a flag's stripes) rather than its texture.
PLATE_TEXTURE_REACH = 0.5


def mirror_index(
    fill: NDArray[np.bool_], source: NDArray[np.bool_], reach: float | None = None
) -> tuple[NDArray[np.int32], NDArray[np.float32], NDArray[np.float32]]:
    """Where each ``fill`` pixel copies from: a ``source`` pixel of its row, mirrored about the nearer end.

    A pixel ``d`` columns past the last source pixel of a run of ``n`` copies
    the pixel ``d - 1`` columns back into the run, as long as ``d < n`` (a
    mirror never repeats) and ``d < reach``. Returns the column to copy (its
    own column where nothing is copied), a weight (1 up to half of ``min(n,
    reach)``, fading to 0 at it; 0 where nothing is copied) and ``d``. For
    columns, pass the transposed masks.
    """
    h, w = fill.shape
    index = np.broadcast_to(np.arange(w, dtype=np.int32), (h, w)).copy()
    weight = np.zeros((h, w), np.float32)
    dist = np.zeros((h, w), np.float32)
    rows = np.flatnonzero(fill.any(axis=1))
    # In blocks of rows, so a large portrait's temporaries stay small.
    for start in range(0, len(rows), MIRROR_BLOCK):
        block = rows[start : start + MIRROR_BLOCK]
        index[block], weight[block], dist[block] = _mirror_rows(fill[block], source[block], reach)
    return index, weight, dist


MIRROR_BLOCK = 128  # rows per block in mirror_index


def _mirror_rows(
    fill: NDArray[np.bool_], source: NDArray[np.bool_], reach: float | None
) -> tuple[NDArray[np.int32], NDArray[np.float32], NDArray[np.float32]]:
    """:func:`mirror_index` on a block of rows."""
    h, w = fill.shape
    xs = np.arange(w, dtype=np.int32)
    left = np.maximum.accumulate(np.where(source, xs, -1), axis=1)  # last source x at or before x
    right = np.minimum.accumulate(np.where(source, xs, w)[:, ::-1], axis=1)[:, ::-1]  # first at or after
    starts = source.copy()
    starts[:, 1:] &= ~source[:, :-1]
    ends = source.copy()
    ends[:, :-1] &= ~source[:, 1:]
    run_start = np.maximum.accumulate(np.where(starts, xs, -1), axis=1)
    run_end = np.minimum.accumulate(np.where(ends, xs, w)[:, ::-1], axis=1)[:, ::-1]
    has_left, has_right = left >= 0, right < w
    # A run's length, seen from its end pixel.
    n_left = np.where(has_left, left - np.take_along_axis(run_start, np.maximum(left, 0), axis=1) + 1, 0)
    n_right = np.where(has_right, np.take_along_axis(run_end, np.minimum(right, w - 1), axis=1) - right + 1, 0)
    d_left, d_right = xs - left, right - xs
    limit = w if reach is None else reach
    ok_left = fill & has_left & (d_left < n_left) & (d_left < limit)
    ok_right = fill & has_right & (d_right < n_right) & (d_right < limit)
    use_left = ok_left & (~ok_right | (d_left <= d_right))
    ok = ok_left | ok_right
    index = np.where(ok, np.where(use_left, left - d_left + 1, right + d_right - 1), xs).astype(np.int32)
    dist = np.where(use_left, d_left, d_right).astype(np.float32)
    run = np.where(use_left, n_left, n_right).astype(np.float32)
    if reach is not None:
        run = np.minimum(run, np.float32(reach))
    weight = np.where(ok, np.clip(2.0 * (1.0 - dist / np.maximum(run, 1.0)), 0.0, 1.0), 0.0).astype(np.float32)
    return index, weight, dist


def _masked_blur(values: NDArray[np.float32], inside: NDArray[np.bool_], sigma: float) -> NDArray[np.float32]:
    """Gaussian mean of ``values`` (H, W) or (H, W, C) over the ``inside`` pixels,
    computed at about a quarter of ``sigma`` per pixel. ``values`` must be 0
    outside ``inside``; the mean there is left as it falls (callers ignore it)."""
    h, w = inside.shape
    f = max(1, int(sigma) // 4)
    small = (max(1, w // f), max(1, h // f))
    weight = cv2.resize(inside.astype(np.float32), small, interpolation=cv2.INTER_AREA)
    total = cv2.resize(values, small, interpolation=cv2.INTER_AREA)
    weight = cv2.GaussianBlur(weight, (0, 0), sigma / f, borderType=cv2.BORDER_CONSTANT)
    total = cv2.GaussianBlur(total, (0, 0), sigma / f, borderType=cv2.BORDER_CONSTANT)
    if total.ndim == 3:
        weight = weight[..., None]
    mean = np.divide(total, weight, out=np.zeros_like(total), where=weight > 1e-3)
    return cv2.resize(mean, (w, h), interpolation=cv2.INTER_LINEAR)


def _grow(shape: tuple[int, ...]) -> int:
    """About 1% of the image, odd, at least 3 pixels."""
    return max(3, (max(shape[:2]) // 100) | 1)


def _person(mask: NDArray[np.float32]) -> NDArray[np.bool_]:
    """The pixels a plate replaces: the mask's person (> 0.5), grown by :func:`_grow`."""
    grow = _grow(mask.shape)
    return cv2.dilate((mask > 0.5).astype(np.uint8), np.ones((grow, grow), np.uint8)) > 0


def smooth_plate(rgb: NDArray[np.uint8], mask: NDArray[np.float32], work_side: int = 320) -> NDArray[np.uint8]:
    """The portrait with person pixels replaced by a smooth inpainting (Telea, at
    ``work_side`` pixels and blurred), faded into the real background at its edge."""
    h, w = mask.shape
    grow = _grow(mask.shape)
    solid = _person(mask)
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
    guess = smooth_plate(rgb, np.maximum(mask, band.astype(np.float32)))
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
