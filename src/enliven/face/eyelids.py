"""Put the portrait's lid landmarks on (or just past) its lid lines.

On large stylised eyes (3-D cartoons, anime) the face mesh often puts the upper
lid a little inside the eye, on the iris or the white below the dark lash line,
the lower lid on the iris's foot above a strip of white, and the outer corner
on the white short of the drawn corner. A blink then closes the landmarks but
leaves a squashed band of lashes, white and iris above them (and white below
and beyond). So:

- each corner moves out to where the eye's white ends at a drawn line, if it
  runs on past the corner (the lids and the skin round it go along);
- each lid point moves away from the eye, along the lid's normal (near the
  corners it leans out along the eye), to the darkest line past a stretch of
  the eye's white when that line is clearly darker; and at least a fixed share
  of the eye's height (straight up or down where no line is found), so that
  the lids' first band of skin belongs to the eye's strip: a shut eye then
  shows lid skin and lashes, never eye.

The white is told from skin by colour, not brightness alone (pale skin is as
bright as a white). On the shared set's photos and paintings no corner moves
and no lid point lands more than 0.9 px from where a search straight up or
down put it (but the Vermeer's far eye, in pale cracked paint: 7.4 px; its
blink looks the same). The eye's look while open is unchanged (the strip maps onto itself).
User-given landmarks are left alone.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from enliven.face import topology as topo

_SEARCH = 0.45  # of the eye's opening height: how far above the landmark to look
_CONTRAST = 25.0  # grey levels the lid line must be darker than the white before it
_STEPS = 24  # samples along each search line
_MARGIN = 0.15  # of the eye's opening height: the least a lid point moves out
_CORNER_SEARCH = 0.4  # of the eye's width: how far past a corner to look for the eye's end
_CORNER_MAX = 0.25  # of the eye's width: the most a corner moves out
_CORNER_FAN = 20.0  # degrees off the eye's axis a corner's white is looked for
_CORNER_WHITE = 15.0  # Lab distance within which a pixel past a corner is the white (lit, not shaded)
_WHITE_PERCENTILE = 90  # of the lightness inside the eye: its white's pixels
_WHITE_CHROMA = 20.0  # Lab chroma above which an eye's lightest pixels are no white
_WHITE_HUE = 12.0  # Lab (a, b) distance within which a pixel has the eye's white's colour ...
_WHITE_SHADE = 30.0  # ... and Lab lightness below the white's it may be (a white in shadow)
_LINE_DROP = 25.0  # Lab lightness below the white's of the line where the white ends


def _push_lid(
    grey: NDArray[np.float32],
    lab: NDArray[np.float32],
    white: NDArray[np.float32] | None,
    lm: NDArray[np.float64],
    lid: NDArray[np.intp],
    out: NDArray[np.float64],
    away: NDArray[np.float64],
    height: float,
) -> None:
    """Move the ``lid`` points along ``out`` ((n, 2) unit vectors, away from
    the eye) to the lid line: a dark line past a stretch of the eye's
    ``white`` (Lab; None: any bright stretch). Points that find none move
    the least share along ``away``, the lid's one direction."""
    t = np.linspace(0.0, _SEARCH * height, _STEPS)
    shifts = np.zeros(len(lid))
    for k, i in enumerate(lid):
        line = lm[i, :2][None, :] + t[:, None] * out[k][None, :]
        profile = cv2.remap(grey, line[:, 0:1].astype(np.float32), line[:, 1:2].astype(np.float32),
                            cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).ravel()  # fmt: skip
        # The lid line: the darkest point against the brightest before it (a
        # landmark on a dark iris finds the rim past the white below it), and
        # about as dark as where the search starts or darker (a landmark
        # already on the lashes does not climb to a crease's shadow past
        # bright lid skin).
        drop = np.maximum.accumulate(profile) - profile
        j = int(np.argmax(drop))
        if drop[j] < _CONTRAST or profile[j] > profile[0] + _CONTRAST / 2:
            continue
        if white is not None:  # the bright stretch before it is the eye's white, not skin
            b = line[int(np.argmax(profile[: j + 1]))].astype(np.float32)
            colour = cv2.remap(lab, b[None, None, 0:1], b[None, None, 1:2], cv2.INTER_LINEAR).reshape(1, 3)
            if not _whitish(colour, white)[0]:
                continue
        shifts[k] = t[j]
    found = shifts > 0.0
    # One stray point (a dark brow hair, a shadow) must not bend the lid.
    shifts = np.minimum(shifts, np.median(shifts) + 0.1 * height)
    shifts = np.maximum(shifts, _MARGIN * height)
    lm[lid, :2] += shifts[:, None] * np.where(found[:, None], out, away[None, :])


def _eye_white(lab: NDArray[np.float32], lm: NDArray[np.float64], corners: tuple[int, int], pairs: tuple[tuple[int, int], ...]) -> NDArray[np.float32] | None:
    """The Lab colour of the eye's white (its lightest pixels), or None when
    those are no white (a dark or tinted eye, an eye too small to tell)."""
    loop = lm[topo.eye_loop(pairs, corners), :2]
    x0, y0 = np.floor(loop.min(axis=0)).astype(int)
    x1, y1 = np.ceil(loop.max(axis=0)).astype(int) + 1
    h, w = lab.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(inside, [np.round(loop - [x0, y0]).astype(np.int32)], 1)
    pixels = lab[y0:y1, x0:x1][inside > 0]
    if len(pixels) < 10:
        return None
    white = np.median(pixels[pixels[:, 0] >= np.percentile(pixels[:, 0], _WHITE_PERCENTILE)], axis=0)
    return None if np.hypot(white[1], white[2]) > _WHITE_CHROMA else white.astype(np.float32)


def _whitish(colours: NDArray[np.float32], white: NDArray[np.float32]) -> NDArray[np.bool_]:
    """(n,) whether each Lab colour is the eye's ``white``, lit or shaded."""
    hue = np.hypot(colours[:, 1] - white[1], colours[:, 2] - white[2])
    return (hue < _WHITE_HUE) & (colours[:, 0] > white[0] - _WHITE_SHADE) & (colours[:, 0] < white[0] + _WHITE_SHADE)


def _widen_corners(lab: NDArray[np.float32], white: NDArray[np.float32], lm: NDArray[np.float64], corners: tuple[int, int], pairs: tuple[tuple[int, int], ...]) -> None:
    """Move each corner of the eye out to where the eye's ``white`` (Lab) ends,
    if it runs on past the corner, in place; the lids and the skin round the
    corner go with it, less the further they are.

    On a large cartoon eye the mesh's outer corner can sit on the white, a
    sixth of the eye short of the drawn corner: a blink then closed the mesh's
    eye and left a white wedge beyond it. The white is told from skin by
    colour (light and grey, as the brightest pixels inside the eye), not by
    brightness alone: pale skin is as bright as a white.
    """
    eye = np.unique(np.concatenate([np.asarray(pairs).ravel(), corners]))
    not_iris = np.ones(len(lm), bool)
    not_iris[topo.N_MESH :] = False
    moves = np.zeros((len(lm), 2))
    for corner, other in ((corners[0], corners[1]), (corners[1], corners[0])):
        span = lm[corner, :2] - lm[other, :2]
        width = float(np.linalg.norm(span))
        if width < 3.0:
            return
        along = span / width
        move = _corner_move(lab, white, lm[corner, :2], along, width)
        if move is None:
            continue
        # The eye's points by their place along it (0 at the other corner); the
        # skin round the corner fading with distance, slowly enough not to fold.
        shift = float(np.linalg.norm(move))
        sigma = max(0.35 * width, 1.5 * shift)
        weight = np.exp(-0.5 * (np.linalg.norm(lm[:, :2] - lm[corner, :2], axis=1) / sigma) ** 2) * not_iris
        weight[eye] = np.clip((lm[eye, :2] - lm[other, :2]) @ along / width, 0.0, 1.0)
        moves += weight[:, None] * move[None, :]
    lm[:, :2] += moves


def _corner_move(
    lab: NDArray[np.float32], white: NDArray[np.float32], corner: NDArray[np.float64], along: NDArray[np.float64], width: float
) -> NDArray[np.float64] | None:
    """How far (x, y) the eye's white runs on past ``corner`` to a drawn line,
    outward along ``along`` or up to _CORNER_FAN degrees off it (a drawn
    corner may lie above or below the mesh's), the farthest out; None if it
    does not."""
    t = np.linspace(0.0, _CORNER_SEARCH * width, _STEPS * 2)
    best, reach = None, 1.0
    for angle in np.radians(np.linspace(-_CORNER_FAN, _CORNER_FAN, 7)):
        c, s = np.cos(angle), np.sin(angle)
        direction = np.array([c * along[0] - s * along[1], s * along[0] + c * along[1]])
        line = (corner[None, :] + t[:, None] * direction[None, :]).astype(np.float32)
        samples = cv2.remap(lab, line[:, 0:1], line[:, 1:2], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(-1, 3)
        is_white = np.linalg.norm(samples - white, axis=1) < _CORNER_WHITE
        first = int(np.argmax(is_white))  # the white starts at the corner ...
        if not is_white[first] or first > 3:
            continue
        ends = np.flatnonzero(~is_white[first:])  # ... and ends before the search does ...
        if not len(ends):
            continue
        end = first + int(ends[0])
        if samples[end : end + 4, 0].min() > white[0] - _LINE_DROP:  # ... at a drawn line, not pale skin
            continue
        move = t[end] * direction
        if float(move @ along) > reach:
            best, reach = move, float(move @ along)
    if best is None:
        return None
    return best * min(1.0, _CORNER_MAX * width / float(np.linalg.norm(best)))


def _refine_eye(grey: NDArray[np.float32], lab: NDArray[np.float32], lm: NDArray[np.float64], corners: tuple[int, int], pairs: tuple[tuple[int, int], ...]) -> None:
    a, b = lm[corners[0], :2], lm[corners[1], :2]
    across = (b - a) / max(float(np.linalg.norm(b - a)), 1e-9)
    up = np.array([across[1], -across[0]])
    uppers = np.array([u for u, _ in pairs])
    lowers = np.array([lo for _, lo in pairs])
    if float(((lm[uppers, :2] - lm[lowers, :2]) @ up).mean()) < 0:
        up = -up  # make "up" point from the lower lid to the upper one
    height = float(np.median(np.linalg.norm(lm[uppers, :2] - lm[lowers, :2], axis=1)))
    if height < 3.0:  # a shut or tiny eye: nothing to find, nothing to hide
        return
    white = _eye_white(lab, lm, corners, pairs)
    if white is not None:
        _widen_corners(lab, white, lm, corners, pairs)
    _push_lid(grey, lab, white, lm, uppers, _outward(lm, pairs, corners, 0, up), up, height)
    _push_lid(grey, lab, white, lm, lowers, _outward(lm, pairs, corners, 1, -up), -up, height)


def _outward(lm: NDArray[np.float64], pairs: tuple[tuple[int, int], ...], corners: tuple[int, int], side: int, away: NDArray[np.float64]) -> NDArray[np.float64]:
    """(n, 2) unit normals of one lid (``side`` 0: upper, 1: lower) at its
    points, on the side of ``away``: near the corners they lean out along the
    eye, where a large drawn eye's lid line runs on past the mesh's."""
    row = [corners[0], *(pair[side] for pair in pairs), corners[1]]
    pts = lm[row, :2]
    tangent = pts[2:] - pts[:-2]
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
    normal *= np.where(normal @ away < 0.0, -1.0, 1.0)[:, None]
    return normal


def lash_line_landmarks(rgb: NDArray[np.uint8], landmarks: NDArray[np.floating]) -> NDArray[np.float32]:
    """A copy of ``landmarks`` with each eye's lids moved out to their lid lines."""
    lm = np.asarray(landmarks, np.float64).copy()
    # Only the eyes' part of the picture is looked at: a box round both, as far
    # out as any search reaches (half an eye width past it, and more).
    eyes = lm[[*topo.eye_loop(topo.RIGHT_EYE_PAIRS, topo.RIGHT_EYE_CORNERS), *topo.eye_loop(topo.LEFT_EYE_PAIRS, topo.LEFT_EYE_CORNERS)], :2]
    reach = 0.5 * max(
        float(np.linalg.norm(lm[topo.RIGHT_EYE_CORNERS[0], :2] - lm[topo.RIGHT_EYE_CORNERS[1], :2])),
        float(np.linalg.norm(lm[topo.LEFT_EYE_CORNERS[0], :2] - lm[topo.LEFT_EYE_CORNERS[1], :2])),
    ) + 8.0
    h, w = rgb.shape[:2]
    x0, y0 = np.clip(np.floor(eyes.min(axis=0) - reach).astype(int), 0, (w, h))
    x1, y1 = np.clip(np.ceil(eyes.max(axis=0) + reach).astype(int) + 1, 0, (w, h))
    if x1 - x0 < 3 or y1 - y0 < 3:
        return lm.astype(np.float32)
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    grey = cv2.GaussianBlur(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 1.0)
    lab = cv2.cvtColor(cv2.GaussianBlur(crop, (0, 0), 1.0).astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    origin = np.array([x0, y0], np.float64)
    lm[:, :2] -= origin
    _refine_eye(grey, lab, lm, topo.RIGHT_EYE_CORNERS, topo.RIGHT_EYE_PAIRS)
    _refine_eye(grey, lab, lm, topo.LEFT_EYE_CORNERS, topo.LEFT_EYE_PAIRS)
    lm[:, :2] += origin
    return lm.astype(np.float32)
