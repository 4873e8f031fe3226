"""Make ``docs/shut-eyes.png``: the astronaut's eyes (scikit-image's public-domain
NASA portrait) open, shut by default and shut with the lids unfolded.

By default the lids' lash bands are stretched over the whole lid and the
upsampled maps may sample the eye across a shut eye's line; with
``RetargetConfig(unfold_lids=True)`` and ``RenderConfig(lid_line=True)`` a
shut eye is smooth lid over a lash line.

    python benchmarks/sheet_shut_eyes.py [--out docs/shut-eyes.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data

from enliven.face.mediapipe import MediaPipeTracker
from enliven.face.portrait import find_face
from enliven.motion.controls import Controls, apply_controls
from enliven.motion.retarget import RetargetConfig, Retargeter
from enliven.render.renderer import Renderer, RenderConfig
from enliven.types import FaceObservation

ZOOM = 4


def shut(portrait: np.ndarray, landmarks: np.ndarray, new: bool) -> np.ndarray:
    """The portrait with both eyes shut by a still driver, after its smoothing settles."""
    driver = apply_controls(landmarks, Controls(blink_right=1.0, blink_left=1.0)).astype(np.float32)
    retargeter = Retargeter(landmarks, landmarks, RetargetConfig(unfold_lids=new))
    target = None
    for k in range(30):
        target = retargeter.step(FaceObservation(driver, (0, 0, 1, 1)), k / 30)
    assert target is not None
    return Renderer(portrait, landmarks, RenderConfig(background=False, lid_line=new)).render(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "shut-eyes.png")
    args = parser.parse_args()
    portrait = data.astronaut()
    with MediaPipeTracker() as tracker:
        lm = find_face(portrait, tracker, name="the astronaut").observation.landmarks.astype(np.float64)
    xs = lm[[33, 263], 0]
    cy = int(lm[[159, 386], 1].mean())
    x0, x1 = int(xs.min() - 15), int(xs.max() + 15)
    rows = []
    for label, rgb in (
        ("portrait (skimage astronaut)", portrait),
        ("blink, default: the lashes stretched", shut(portrait, lm, new=False)),
        ("blink, unfold_lids + lid_line", shut(portrait, lm, new=True)),
    ):
        crop = rgb[cy - 18 : cy + 18, x0:x1]
        row = cv2.resize(crop, (crop.shape[1] * ZOOM, crop.shape[0] * ZOOM), interpolation=cv2.INTER_CUBIC)
        for colour, width in (((0, 0, 0), 3), ((255, 255, 255), 1)):
            cv2.putText(row, label, (4, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, colour, width, cv2.LINE_AA)
        rows.append(row)
    gap = np.full((4, rows[0].shape[1], 3), 255, np.uint8)
    sheet = np.vstack([rows[0], gap, rows[1], gap, rows[2]])
    Image.fromarray(sheet).quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(args.out, optimize=True)
    print(args.out)


if __name__ == "__main__":
    main()
