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
    """Median RGB of small patches at skin landmarks, shape (3,) float32."""
    h, w = rgb.shape[:2]
    samples = []
    for i in SKIN_POINTS:
        x, y = int(round(landmarks[i, 0])), int(round(landmarks[i, 1]))
        if 1 <= x < w - 1 and 1 <= y < h - 1:
            samples.append(rgb[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3))
    if not samples:
        return np.array([180, 140, 120], np.float32)
    return np.median(np.concatenate(samples), axis=0).astype(np.float32)


def lower_weight(
    bary: NDArray[np.float32], tri_vertices: NDArray[np.int32], middle: NDArray[np.intp] | tuple[int, ...] = ()
) -> NDArray[np.float32]:
    """0 at the upper inner lip, 1 at the lower inner lip, for mouth-strip pixels.

    bary : (N, 3) barycentric weights; tri_vertices : (N, 3) their vertex ids;
    middle : ids of vertices on the strip's middle line (weight 0.5).
    """
    lower = np.isin(tri_vertices, [lo for _, lo in topo.INNER_LIP_PAIRS])
    half = np.isin(tri_vertices, topo.MOUTH_CORNERS_INNER) | np.isin(tri_vertices, middle)
    return (bary * lower).sum(axis=1) + 0.5 * (bary * half).sum(axis=1)


def palette(skin: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """The drawn interior's teeth, cavity and tongue colours for a portrait's skin."""
    teeth = np.array([232, 228, 218], np.float32) * (0.75 + 0.25 * skin.mean() / 200.0)
    cavity = np.array([52, 18, 22], np.float32)
    tongue = np.array([150, 62, 70], np.float32) * np.clip(skin / skin.max(), 0.6, 1.0)
    return teeth, cavity, tongue


def stylised_interior(v: NDArray[np.float32], skin: NDArray[np.float32], opening_px: float) -> NDArray[np.float32]:
    """Colours (N, 3) of a drawn interior at lower-weights ``v``.

    Upper teeth take the top of the opening (about a fifth of the eye distance
    high), then a dark cavity, and the tongue shows at the bottom.
    """
    v = v[:, None]
    teeth, cavity, tongue = palette(skin)
    teeth_share = np.clip(12.0 / max(opening_px, 1.0), 0.12, 0.45)
    t_teeth = np.clip((teeth_share - v) / 0.06, 0.0, 1.0)
    t_tongue = np.clip((v - 0.7) / 0.2, 0.0, 1.0)
    base = cavity * (1 - t_tongue) + tongue * t_tongue
    shade = 0.8 + 0.2 * np.clip(1 - np.abs(v - 0.5) * 2, 0, 1)
    return teeth * t_teeth + base * (1 - t_teeth) * shade


_CHROMA_SHARE = 0.5  # of the skin's a*, b* difference that the interior takes
_LIGHT_RANGE = (0.7, 1.4)  # the interior's lightness gain is clamped to this


def match_interior(
    colours: NDArray[np.float32], portrait_skin: NDArray[np.float32], driver_skin: NDArray[np.float32]
) -> NDArray[np.float32]:
    """The driver's interior colours (N, 3) RGB, moved to the portrait's lighting.

    In CIE Lab: lightness scales by the skins' lightness ratio; a* and b* shift by
    half the skins' difference (less in dark pixels). A per-channel RGB gain (the skins' ratio) turned a
    warm driver's off-white teeth orange on a pale portrait; a shift in Lab keeps
    teeth near-neutral and the cavity dark.
    """
    def lab(rgb: NDArray[np.float32]) -> NDArray[np.float32]:
        return cv2.cvtColor(np.clip(rgb, 0, 255).reshape(-1, 1, 3).astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab).reshape(-1, 3)

    skins = lab(np.stack([portrait_skin, driver_skin]))
    light = float(np.clip(skins[0, 0] / max(float(skins[1, 0]), 1.0), *_LIGHT_RANGE))
    out = lab(colours)
    out[:, 0] = np.clip(out[:, 0] * light, 0.0, 100.0)
    # Dark pixels (the cavity) carry little colour: shift them less, or they tint.
    lit = np.clip(out[:, :1] / 60.0, 0.0, 1.0)
    out[:, 1:] += _CHROMA_SHARE * lit * (skins[0, 1:] - skins[1, 1:])
    rgb = cv2.cvtColor(out.reshape(-1, 1, 3), cv2.COLOR_Lab2RGB).reshape(-1, 3)
    return np.clip(rgb * 255.0, 0.0, 255.0)


def interior_parts(rgb: NDArray[np.float32]) -> NDArray[np.float32]:
    """How much each of the driver's interior pixels (N, 3) RGB is teeth, cavity
    and tongue: (N, 3) weights summing to 1.

    In CIE Lab: teeth are light and nearly grey (their weight rises from L* 50 to
    65 and falls from chroma 25 to 40), the cavity is dark (from L* 32 down to
    17), and the rest (lips, tongue, gums) is tongue-coloured.
    """
    lab = cv2.cvtColor(np.clip(rgb, 0, 255).reshape(-1, 1, 3).astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab).reshape(-1, 3)
    light, chroma = lab[:, 0], np.hypot(lab[:, 1], lab[:, 2])
    teeth = np.clip((light - 50.0) / 15.0, 0.0, 1.0) * np.clip((40.0 - chroma) / 15.0, 0.0, 1.0)
    dark = np.clip((32.0 - light) / 15.0, 0.0, 1.0) * (1.0 - teeth)
    return np.stack([teeth, dark, np.clip(1.0 - teeth - dark, 0.0, 1.0)], axis=1)


SHADE_SHARE = 0.5  # of the driver's light and shade (about its median) kept on the drawn parts


def drawn_from_driver(
    weights: NDArray[np.float32],
    skin: NDArray[np.float32],
    light: NDArray[np.float32] | None = None,
    sharpness: float = 4.0,
) -> NDArray[np.float32]:
    """Drawn interior colours (N, 3) from part weights (N, 3) (teeth, cavity,
    tongue): each pixel takes its strongest part's colour in the drawn palette,
    the weights raised to ``sharpness`` so edges stay narrow but not jagged.

    light : (N,) the driver's smoothed brightness (mean of R, G, B over 255), or None. Half of its
        variation about the median shades the flat colours, so a tongue or a
        row of teeth keeps some roundness (a 3-D cartoon is shaded, not flat).
    """
    w = np.power(np.clip(weights, 1e-6, 1.0), sharpness)
    w /= w.sum(axis=1, keepdims=True)
    out = w @ np.stack(palette(skin))
    if light is not None and len(light):
        shade = 1.0 + SHADE_SHARE * (light - float(np.median(light))) / max(float(np.median(light)), 0.1)
        out *= np.clip(shade, 0.6, 1.3)[:, None]
    return out
