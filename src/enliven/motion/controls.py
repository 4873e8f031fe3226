"""Expression controls: a face mesh posed and expressed by a few numbers.

They power the built-in procedural performance of ``enliven demo`` (no media
needed): head turns and nods, speech, smiles, blinks and raised brows applied to
the portrait's own landmarks, which then drive it like a video would.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from enliven.face import topology as topo
from enliven.motion.measures import eye_distance
from enliven.motion.pose import STABLE_INDEX, rotation_from_euler

_CHIN_JAW = (152, 148, 176, 149, 150, 136, 172, 58, 377, 400, 378, 379, 365, 397, 288, 175, 171, 396, 199, 200, 428, 208, 32, 262, 140, 369, 170, 395, 169, 394, 18, 83, 313, 201, 421, 194, 418, 106, 335, 182, 406)  # fmt: skip


@dataclass(frozen=True)
class Controls:
    """One pose and expression. Angles in degrees; the rest 0..1 (brow -1..1)."""

    yaw: float = 0.0
    pitch: float = 0.0  # positive looks down
    roll: float = 0.0
    jaw: float = 0.0  # mouth opening, 1 = wide open
    smile: float = 0.0
    blink_right: float = 0.0  # 1 = closed
    blink_left: float = 0.0
    brow: float = 0.0  # 1 = raised, -1 = frown


def apply_controls(landmarks: NDArray[np.floating], c: Controls) -> NDArray[np.float64]:
    """The landmarks with the controls applied (a new (478, 3) array)."""
    lm = np.asarray(landmarks, np.float64).copy()
    iod = eye_distance(lm)
    eye_line = lm[list(topo.RIGHT_EYE_CORNERS + topo.LEFT_EYE_CORNERS), :2].mean(axis=0)
    mouth_centre = lm[[13, 14], :2].mean(axis=0)
    down = mouth_centre - eye_line
    down /= max(float(np.linalg.norm(down)), 1e-9)
    side = np.array([-down[1], down[0]])  # towards the image's left? sign by corners
    if (lm[topo.MOUTH_CORNERS_OUTER[1], :2] - mouth_centre) @ side < 0:
        side = -side  # side points from the mouth centre to corner 291
    # Jaw: the lower lip and chin drop, more the lower and more central they are.
    jaw_px = c.jaw * 0.32 * iod
    lower = [lo for _, lo in topo.INNER_LIP_PAIRS + topo.OUTER_LIP_PAIRS]
    for i in set(lower) | set(_CHIN_JAW):
        rel = lm[i, :2] - mouth_centre
        w = 1.0 if i in lower else float(np.clip(0.6 + (rel @ down) / iod, 0.3, 1.0))
        lm[i, :2] += down * jaw_px * w
    for i in topo.MOUTH_CORNERS_INNER + topo.MOUTH_CORNERS_OUTER:
        lm[i, :2] += down * jaw_px * 0.45
    # Smile: corners out and up.
    for corner_pair, sign in ((topo.MOUTH_CORNERS_OUTER, 1), (topo.MOUTH_CORNERS_INNER, 1)):
        for k, i in enumerate(corner_pair):
            out = side if k == 1 else -side
            lm[i, :2] += (out * 0.09 - down * 0.08) * iod * c.smile * sign
    # Blinks: lids meet on the line between the corners' pairs' midpoints.
    for pairs, amount in ((topo.RIGHT_EYE_PAIRS, c.blink_right), (topo.LEFT_EYE_PAIRS, c.blink_left)):
        a = float(np.clip(amount, 0.0, 1.0))
        for up_i, lo_i in pairs:
            mid = lm[up_i] * 0.65 + lm[lo_i] * 0.35  # upper lid travels further
            lm[up_i] += (mid - lm[up_i]) * a
            lm[lo_i] += (mid - lm[lo_i]) * a
    # Brows.
    for i in topo.RIGHT_BROW + topo.LEFT_BROW:
        lm[i, :2] -= down * c.brow * 0.12 * iod
    # Head pose about the centre of the rigid points.
    centre = lm[STABLE_INDEX].mean(axis=0)
    rot = rotation_from_euler(c.yaw, c.pitch, c.roll)
    return (lm - centre) @ rot.T + centre


def demo_performance(fps: float = 25.0, duration_s: float = 8.0) -> Iterator[tuple[float, Controls]]:
    """The built-in performance: nod, turn left and right by 25°, talk, smile,
    blink and raise the brows. Yields (time_s, controls) on a ``fps`` grid."""
    n = int(round(duration_s * fps))

    def bump(t: float, start: float, end: float) -> float:
        if t <= start or t >= end:
            return 0.0
        return math.sin(math.pi * (t - start) / (end - start)) ** 2

    for k in range(n):
        t = k / fps
        yaw = 25.0 * math.sin(2 * math.pi * (t - 2.0) / 3.0) * bump(t, 2.0, 5.0) ** 0.3
        pitch = 10.0 * math.sin(2 * math.pi * t / 1.0) * bump(t, 0.2, 2.0)
        roll = 6.0 * math.sin(2 * math.pi * t / 4.0) * bump(t, 4.5, 8.0)
        talk = bump(t, 5.0, 7.6) * (0.5 + 0.5 * math.sin(2 * math.pi * 3.2 * t)) ** 1.5
        jaw = 0.75 * talk + 0.5 * bump(t, 1.0, 1.8)
        smile = 0.9 * bump(t, 3.0, 5.2)
        blink = max(bump(t, 0.9, 1.12), bump(t, 3.6, 3.82), bump(t, 6.3, 6.52))
        wink = bump(t, 7.4, 7.8)
        brow = 0.9 * bump(t, 4.6, 5.6) - 0.5 * bump(t, 6.6, 7.3)
        yield t, Controls(yaw, pitch, roll, jaw, smile, blink, max(blink, wink), brow)
