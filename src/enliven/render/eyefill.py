"""The white of the eye behind the iris, for the iris layer to uncover.

When the iris moves, the pixels it leaves show what was behind it: the white of
the eye. A portrait has none there, so it is made once per portrait: in the eye's
box, each row of the iris disc is filled by blending, across it, the white just
left and right of it on that row (the nearer side alone where the other is lid
or corner), then smoothed a little down the rows. Filled boxes are kept in an
*atlas*: rows appended below the portrait in the image the renderer samples, so
an uncovered pixel samples the fill with the same remap as everything else.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

PAD_ROWS = 32  # copies of the portrait's last row between it and the atlas
DISC = 1.2  # of the iris radius: the disc replaced (the iris and its dark rim)


MAX_DRAWN = 2.0  # the largest drawn iris looked for, over the tracker's iris radius
WHITE_SHARE = 0.67  # of the way from the iris's whiteness to the white's: the rim


def drawn_iris_radius(
    patch: NDArray[np.uint8], eye: NDArray[np.bool_], centre: tuple[float, float], radius: float
) -> float:
    """The radius of the iris as drawn, where it is larger than the tracker's.

    The face mesh sizes the iris for a human eye; cartoons and anime draw it up
    to twice as large, and a layer cut at the tracker's radius leaves the rest of
    the drawn iris behind as a ring when the gaze moves. Along the rows beside
    the iris (above and below, the lids cover it), the first radius from
    0.8 ``radius`` outwards at which the pixels turn as white as the white of
    the eye (their brightness less their chroma past ``WHITE_SHARE`` of the way
    from the iris's to the white's; a light blue band is still iris) is the
    drawn rim. Returns ``radius`` when no such rim is found, when it is
    smaller, or when the eye shows no white that stands out from the iris.
    """
    ys, xs = np.mgrid[0 : eye.shape[0], 0 : eye.shape[1]]
    dx, dy = xs - centre[0], ys - centre[1]
    dist = np.hypot(dx, dy)
    side = eye & (np.abs(dy) <= 0.5 * np.abs(dx))  # rows beside the iris, within 27 degrees
    lo = patch.min(axis=2).astype(np.float32)
    whiteness = lo - (patch.max(axis=2) - lo)  # bright and grey: the white of the eye
    inner = eye & (dist < 0.7 * radius)
    if inner.sum() < 5 or (side & (dist > 1.2 * radius)).sum() < 5:
        return radius  # too little iris, or no white beside it
    w_in = float(np.median(whiteness[inner]))
    w_out = float(np.percentile(whiteness[side & (dist > radius)], 90))
    if w_out - w_in < 40.0:
        return radius
    mid = w_in + WHITE_SHARE * (w_out - w_in)
    step = max(radius * 0.05, 0.5)
    r = 0.8 * radius
    while r <= MAX_DRAWN * radius:
        ring = side & (dist >= r) & (dist < r + step)
        if ring.sum() >= 2 and float(np.median(whiteness[ring])) > mid:
            return max(radius, r)
        r += step
    return radius


def fill_white(
    patch: NDArray[np.uint8], eye: NDArray[np.bool_], centre: tuple[float, float], radius: float
) -> NDArray[np.uint8] | None:
    """``patch`` (an eye's box) with the iris disc replaced by the white beside it.

    eye : the pixels of the box inside the eye opening.
    centre : the iris centre in box pixels; radius : the iris radius.
    Returns None when no white of the eye shows beside the iris.
    """
    h, w = eye.shape
    ys, xs = np.mgrid[0:h, 0:w]
    disc = np.hypot(xs - centre[0], ys - centre[1]) <= DISC * radius
    hole = disc & eye
    known = eye & ~disc
    if not hole.any() or not known.any():
        return None
    out = patch.astype(np.float32)
    filled = np.zeros(h, bool)
    for r in np.flatnonzero(hole.any(axis=1)):
        cols = np.flatnonzero(hole[r])
        left = np.flatnonzero(known[r, : cols[0]])
        right = np.flatnonzero(known[r, cols[-1] + 1 :]) + cols[-1] + 1
        if not len(left) and not len(right):
            continue
        # Average a few pixels of white next to the hole (one can be noisy).
        lc = out[r, left[-3:]].mean(axis=0) if len(left) else None
        rc = out[r, right[:3]].mean(axis=0) if len(right) else None
        if lc is None:
            lc = rc
        if rc is None:
            rc = lc
        t = ((cols - cols[0] + 0.5) / (cols[-1] - cols[0] + 1.0))[:, None]
        out[r, cols] = lc * (1 - t) + rc * t
        filled[r] = True
    rows = np.flatnonzero(filled)
    if not len(rows):
        return None
    for r in np.flatnonzero(hole.any(axis=1) & ~filled):  # rows with no white beside: the nearest row's
        src = rows[np.abs(rows - r).argmin()]
        cols = np.flatnonzero(hole[r])
        out[r, cols] = out[src, np.clip(cols, 0, w - 1)]
    smooth = cv2.GaussianBlur(out, (0, 0), sigmaX=0.6, sigmaY=max(1.0, radius * 0.15))
    out[hole] = smooth[hole]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def with_atlas(
    portrait: NDArray[np.uint8], patches: list[NDArray[np.uint8] | None]
) -> tuple[NDArray[np.uint8], list[tuple[int, int] | None]]:
    """The image to sample: ``portrait``, ``PAD_ROWS`` copies of its last row
    (what BORDER_REPLICATE would give just below it), then ``patches`` side by
    side. Returns it and each patch's top-left (x, y) in it (None: not placed)."""
    h, w = portrait.shape[:2]
    places: list[tuple[int, int] | None] = []
    x = 0
    for patch in patches:
        if patch is None or x + patch.shape[1] > w:
            places.append(None)
            continue
        places.append((x, h + PAD_ROWS))
        x += patch.shape[1]
    height = max((p.shape[0] for p, at in zip(patches, places, strict=True) if at is not None), default=0)
    if height == 0:
        return portrait, places
    source = np.empty((h + PAD_ROWS + height, w, 3), np.uint8)
    source[:h] = portrait
    source[h:] = portrait[-1]  # the pad rows, and the atlas around the patches
    for patch, at in zip(patches, places, strict=True):
        if at is not None:
            source[at[1] : at[1] + patch.shape[0], at[0] : at[0] + patch.shape[1]] = patch
    return source, places

