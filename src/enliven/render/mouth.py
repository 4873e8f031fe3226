"""The mouth interior: what shows when the target mouth opens wider than the portrait's.

With a driving frame, its mouth interior (teeth, tongue, cavity) is warped into the
target lip contour and colour-matched to the portrait. Without one (procedural
performances), a stylised interior is drawn: upper teeth under the upper lip, a dark
cavity and the tongue below.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from enliven.face import topology as topo

# Skin sample points: cheeks, forehead, nose bridge.
SKIN_POINTS = (50, 280, 101, 330, 36, 266, 205, 425, 151, 9, 108, 337, 6, 197, 117, 346)


def skin_colour(rgb: NDArray[np.uint8], landmarks: NDArray[np.floating]) -> NDArray[np.float32]:
    """The skin's RGB, shape (3,) float32: the median of the lighter half of small
    patches at skin landmarks.

    Hair over the forehead, a beard on the cheeks or glasses on the nose bridge
    cover some of the points, and they are darker than the skin they hide (a
    curly fringe read as skin made a portrait's skin L* 29 instead of 60).
    """
    h, w = rgb.shape[:2]
    xy = np.rint(np.asarray(landmarks)[list(SKIN_POINTS), :2]).astype(int)
    xy = xy[(xy[:, 0] >= 1) & (xy[:, 0] < w - 1) & (xy[:, 1] >= 1) & (xy[:, 1] < h - 1)]
    if not len(xy):
        return np.array([180, 140, 120], np.float32)
    d = np.arange(-1, 2)
    ys = (xy[:, 1, None, None] + d[None, :, None]).repeat(3, axis=2)
    xs = (xy[:, 0, None, None] + d[None, None, :]).repeat(3, axis=1)
    patches = np.median(rgb[ys, xs].reshape(len(xy), 9, 3).astype(np.float32), axis=1)  # (n, 3)
    luma = patches @ np.array([0.299, 0.587, 0.114], np.float32)
    lighter = np.argsort(luma)[len(luma) // 2 :]
    return np.median(patches[lighter], axis=0).astype(np.float32)


# Both lips' outer and inner contour points, corners left out, paired up.
_LIP_OUTER = [pair[side] for side in (0, 1) for pair in topo.OUTER_LIP_PAIRS[1:-1]]
_LIP_INNER = [pair[side] for side in (0, 1) for pair in topo.INNER_LIP_PAIRS[1:-1]]


def lip_colour(rgb: NDArray[np.uint8], landmarks: NDArray[np.floating]) -> NDArray[np.float32]:
    """Median RGB (3,) float32 of both lips, away from the corners.

    Sampled a third, a half and two thirds of the way from the outer to the
    inner lip contour, at the middle seven lip pairs: single pixels, so the thin
    lips of a small face are not mixed with skin. Both lips, because the upper
    one is often in shadow or under a moustache: measured on the 12 shared
    clips, the upper lip's lightness swings up to twice as much from frame to
    frame (p95 5.8 vs 2.3-3.3 L* on ``talk_fast_01`` and ``tongue_01``). A
    tongue over the lower lip is about the lips' colour.
    """
    h, w = rgb.shape[:2]
    outer, inner = landmarks[_LIP_OUTER, :2], landmarks[_LIP_INNER, :2]
    xy = np.rint(np.concatenate([outer + f * (inner - outer) for f in (1 / 3, 0.5, 2 / 3)])).astype(int)
    ok = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    if not ok.any():
        return np.array([170, 90, 90], np.float32)
    return np.median(rgb[xy[ok, 1], xy[ok, 0]].astype(np.float32), axis=0)


def _lab(rgb: NDArray[np.float32]) -> NDArray[np.float32]:
    return cv2.cvtColor(np.clip(rgb, 0, 255).reshape(-1, 1, 3).astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab).reshape(-1, 3)


def _rgb(lab: NDArray[np.float32]) -> NDArray[np.float32]:
    return np.clip(cv2.cvtColor(lab.reshape(-1, 1, 3).astype(np.float32), cv2.COLOR_Lab2RGB).reshape(-1, 3) * 255.0, 0.0, 255.0)


_TOOTH_CAST = 0.25  # of the skin's a*, b* the drawn teeth take (a varnished painting's yellow)
_TONGUE_HUE = (0.0, 40.0)  # degrees in the a*, b* plane the drawn tongue's hue is kept to


Palette = tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]  # teeth, cavity, tongue (RGB)


def palette(skin: NDArray[np.float32], lips: NDArray[np.float32]) -> Palette:
    """The drawn interior's teeth, cavity and tongue colours for a portrait's skin
    and lips (RGB, 3 floats each).

    The tongue is a little darker than the lips, in their hue (kept between
    crimson and red-orange) and about their chroma, and the cavity is a dark
    shade of that hue: a muted painting gets a muted interior and a bright
    cartoon a bright one. The teeth take a quarter of the skin's colour cast.
    """
    skin_lab, lip_lab = _lab(np.stack([skin, lips]))
    teeth = np.array([92.0, 0.0, 4.0], np.float32)
    teeth[0] *= 0.8 + 0.2 * min(float(skin_lab[0]) / 70.0, 1.0)
    teeth[1:] += _TOOTH_CAST * skin_lab[1:]
    chroma = float(np.hypot(*lip_lab[1:]))
    # A tongue is red whatever the lips: their hue is kept between crimson and
    # red-orange (a varnished painting's lips read brown, a tongue that colour mud).
    angle = np.radians(np.clip(np.degrees(np.arctan2(lip_lab[2], lip_lab[1])), *_TONGUE_HUE))
    hue = np.array([np.cos(angle), np.sin(angle)], np.float32)
    tongue = np.array([np.clip(lip_lab[0] * 0.85, 30.0, 60.0), *(hue * np.clip(chroma, 25.0, 55.0))], np.float32)
    cavity = np.array([12.0, *(hue * 14.0)], np.float32)
    teeth, cavity, tongue = _rgb(np.stack([teeth, cavity, tongue]))
    return teeth, cavity, tongue


def stylised_interior(
    v: NDArray[np.float32], colours: Palette, opening_px: float, teeth: bool = True
) -> NDArray[np.float32]:
    """Colours (N, 3) of a drawn interior at lower-weights ``v``, in the
    ``palette`` ``colours``.

    Upper teeth take the top of the opening (about a fifth of the eye distance
    high), then a dark cavity, and the tongue shows at the bottom. ``teeth``
    False leaves the teeth out: for a portrait whose own teeth already show
    above the new interior (drawn ones below them looked like a second row).
    """
    v = v[:, None]
    teeth_colour, cavity, tongue = colours
    teeth_share = np.clip(12.0 / max(opening_px, 1.0), 0.12, 0.45) if teeth else -1.0
    t_teeth = np.clip((teeth_share - v) / 0.06, 0.0, 1.0)
    t_tongue = np.clip((v - 0.7) / 0.2, 0.0, 1.0)
    base = cavity * (1 - t_tongue) + tongue * t_tongue
    shade = 0.8 + 0.2 * np.clip(1 - np.abs(v - 0.5) * 2, 0, 1)
    return teeth_colour * t_teeth + base * (1 - t_teeth) * shade


_CHROMA_SHARE = 0.5  # of the lips' a*, b* difference the tongue, gums and cavity take
_LIGHT_RANGE = (0.7, 1.4)  # the interior's lightness gain is clamped to this
# The teeth take this power of the skins' lightness gain. Between two people the
# skins differ mostly in pigment, which teeth do not share: the full gain took a
# dark-skinned driver's teeth (L* 70) on a pale portrait (skin L* 89 against 58)
# to L* 98, blown-out white blocks.
_TEETH_GAIN_POWER = 0.5
# The teeth keep this share of their own a*, b* and take a quarter of the
# portrait skin's (``_TOOTH_CAST``, as drawn teeth do). Shifted by the skins'
# a*, b* difference, as before, they took the driver's pigment away: a
# dark-skinned driver's teeth on a pale portrait turned green and blue in spots.
_TEETH_TINT_KEPT = 0.5


def _gained(light: NDArray[np.float32], gain: float) -> NDArray[np.float32]:
    """Lightness (L*) under a ``gain``. Darker: L* scaled. Lighter: L* scaled where
    dark, rolling off towards white, ``g L / (1 + (g - 1) L / 100)``, so a dark
    cavity lightens by the gain while light teeth keep their shading and never
    clip (a tooth at L* 70 under a gain of 1.4 went to 98, all its shading gone)."""
    if gain <= 1.0:
        return light * gain
    return gain * light / (1.0 + (gain - 1.0) * light / 100.0)


def match_interior(
    colours: NDArray[np.float32],
    portrait_skin: NDArray[np.float32],
    driver_skin: NDArray[np.float32],
    portrait_lips: NDArray[np.float32] | None = None,
    driver_lips: NDArray[np.float32] | None = None,
) -> NDArray[np.float32]:
    """The driver's interior colours (N, 3) RGB, moved to the portrait's colours.

    In CIE Lab. Teeth follow the skins' lightness by the square root of its
    ratio (skin tone is mostly pigment; teeth are white on everyone), lightening
    towards white without clipping; they keep half their own tint and take a
    quarter of the portrait skin's (a varnished painting's yellow). Tongue, gums
    and cavity follow the lips when both lips are given (the skins otherwise):
    lightness by their ratio (rolling off towards white), a*, b* by half their
    difference. They are the same kind of tissue, so a pale portrait's tongue is
    not washed out to its skin's paleness, and a painting's takes its lips'
    tint. Dark pixels (the cavity) shift less, or they tint. A per-channel RGB
    gain turned a warm driver's off-white teeth orange on a pale portrait; Lab
    keeps teeth near-neutral and the cavity dark.
    """
    if portrait_lips is None or driver_lips is None:
        portrait_lips, driver_lips = portrait_skin, driver_skin
    p_skin, d_skin, p_lips, d_lips = _lab(np.stack([portrait_skin, driver_skin, portrait_lips, driver_lips]))
    out = _lab(colours)
    light = out[:, 0]
    teeth = _teeth(out)
    rest = 1.0 - teeth
    gain_skin = float(np.clip(p_skin[0] / max(float(d_skin[0]), 1.0), *_LIGHT_RANGE))
    gain_lips = float(np.clip(p_lips[0] / max(float(d_lips[0]), 1.0), *_LIGHT_RANGE))
    lit = teeth * _gained(light, gain_skin**_TEETH_GAIN_POWER) + rest * _gained(light, gain_lips)
    np.clip(lit, 0.0, 100.0, out=light)
    share = _CHROMA_SHARE * np.clip(light / 60.0, 0.0, 1.0)
    rest_ab = out[:, 1:] + share[:, None] * (p_lips[1:] - d_lips[1:])
    teeth_ab = _TEETH_TINT_KEPT * out[:, 1:] + _TOOTH_CAST * p_skin[1:]
    out[:, 1:] = teeth[:, None] * teeth_ab + rest[:, None] * rest_ab
    return _rgb(out)


def _teeth(lab: NDArray[np.float32]) -> NDArray[np.float32]:
    """How much each Lab colour (N, 3) is teeth (see ``interior_parts``), (N,)."""
    return np.clip((lab[:, 0] - 50.0) / 15.0, 0.0, 1.0) * np.clip((40.0 - np.hypot(lab[:, 1], lab[:, 2])) / 15.0, 0.0, 1.0)


def interior_parts(rgb: NDArray[np.float32]) -> NDArray[np.float32]:
    """How much each of the driver's interior pixels (N, 3) RGB is teeth, cavity
    and tongue: (N, 3) weights summing to 1.

    In CIE Lab: teeth are light and nearly grey (their weight rises from L* 50 to
    65 and falls from chroma 25 to 40), the cavity is dark (from L* 32 down to
    17), and the rest (lips, tongue, gums) is tongue-coloured.
    """
    lab = _lab(rgb)
    teeth = _teeth(lab)
    dark = np.clip((32.0 - lab[:, 0]) / 15.0, 0.0, 1.0) * (1.0 - teeth)
    return np.stack([teeth, dark, np.clip(1.0 - teeth - dark, 0.0, 1.0)], axis=1)


SHADE_SHARE = 0.5  # of the driver's light and shade (about its median) kept on the drawn parts


def drawn_from_driver(
    weights: NDArray[np.float32],
    colours: Palette,
    light: NDArray[np.float32] | None = None,
    sharpness: float = 4.0,
) -> NDArray[np.float32]:
    """Drawn interior colours (N, 3) from part weights (N, 3) (teeth, cavity,
    tongue): each pixel takes its strongest part's colour in the drawn palette
    ``colours`` (from :func:`palette`), the weights raised to ``sharpness`` so edges stay
    narrow but not jagged.

    light : (N,) the driver's smoothed brightness (mean of R, G, B over 255), or None. Half of its
        variation about the median shades the flat colours, so a tongue or a
        row of teeth keeps some roundness (a 3-D cartoon is shaded, not flat).
    """
    w = np.power(np.clip(weights, 1e-6, 1.0), sharpness)
    w /= w.sum(axis=1, keepdims=True)
    out = w @ np.stack(colours)
    if light is not None and len(light):
        shade = 1.0 + SHADE_SHARE * (light - float(np.median(light))) / max(float(np.median(light)), 0.1)
        out *= np.clip(shade, 0.6, 1.3)[:, None]
    return out
