"""Contact sheets and single PNGs of ``bench_quality.py``: face close-ups, small files.

They are made from ../shared/media, whose terms forbid publishing outputs: they
go to a folder that git ignores, marked as synthetic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

METHODS = ("enliven", "point-warp", "static")
SHEET_BYTES = 300_000  # a contact sheet larger than this is quantised


def face_thumb(
    rgb: NDArray[np.uint8],
    landmarks: NDArray[np.floating] | None,
    box=None,
    side: int = 128,
) -> NDArray[np.uint8]:
    """A square face close-up, 1.5x the face box (grey where it leaves the frame)."""
    import cv2

    if box is None:
        if landmarks is None:
            return cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA)
        x0, y0 = landmarks[:, :2].min(axis=0)
        x1, y1 = landmarks[:, :2].max(axis=0)
        box = (float(x0), float(y0), float(x1 - x0), float(y1 - y0))
    x, y, w, h = box
    half = max(w, h) * 0.75
    cx, cy = x + w / 2, y + h / 2
    x0, y0, x1, y1 = (round(v) for v in (cx - half, cy - half, cx + half, cy + half))
    height, width = rgb.shape[:2]
    pad = max(0, -x0, -y0, x1 - width, y1 - height)
    padded = cv2.copyMakeBorder(
        rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128,) * 3
    )
    crop = padded[y0 + pad : y1 + pad, x0 + pad : x1 + pad]
    return cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)


def save_image(folder: Path, name: str, rgb: NDArray[np.uint8]) -> None:
    """A small PNG in the sheets folder, marked as synthetic (visible text, tEXt).

    These local sheets carry the visible "SYNTHETIC" label and the PNG comment,
    not the invisible mark: its noise doubles the PNG size. A sheet still over
    ``SHEET_BYTES`` is quantised to 256 colours.
    """
    import io

    from PIL import Image, PngImagePlugin

    from enliven.provenance.metadata import SYNTHETIC_NOTICE

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SYNTHETIC_NOTICE)
    image = Image.fromarray(rgb)
    data = io.BytesIO()
    image.save(data, "PNG", optimize=True, pnginfo=info)
    if data.tell() > SHEET_BYTES:
        data = io.BytesIO()
        image.quantize(256, Image.Quantize.MEDIANCUT, kmeans=2).save(
            data, "PNG", optimize=True, pnginfo=info
        )
    (folder / f"{name}.png").write_bytes(data.getvalue())


def label(rgb: NDArray[np.uint8], text: str, scale: float = 0.45) -> NDArray[np.uint8]:
    """``rgb`` with white-on-black text at its top left."""
    import cv2

    out = rgb.copy()
    for colour, thick in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(
            out,
            text,
            (5, 16),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            colour,
            thick,
            cv2.LINE_AA,
        )
    return out


def save_sheet(folder: Path, name: str, title: str, driver, outputs: dict) -> None:
    """Rows driver | enliven | point-warp | static: face close-ups, sampled frames."""
    gap = 3
    indices = sorted(driver.thumbs)
    rows = [("driver", [driver.thumbs[k] for k in indices])]
    rows += [
        (
            m,
            [
                outputs[m].thumbs.get(k, np.zeros_like(driver.thumbs[k]))
                for k in indices
            ],
        )
        for m in METHODS
    ]
    lines = []
    for row_name, thumbs in rows:
        cells = [label(thumbs[0], row_name), *thumbs[1:]]
        spaced = [
            c for t in cells for c in (t, np.full((t.shape[0], gap, 3), 255, np.uint8))
        ][:-1]
        lines += [
            np.hstack(spaced),
            np.full((gap, sum(s.shape[1] for s in spaced), 3), 255, np.uint8),
        ]
    grid = np.vstack(lines[:-1])
    head = np.zeros((22, grid.shape[1], 3), np.uint8)
    head = label(
        head,
        f"{title} - frames {', '.join(map(str, indices))} - SYNTHETIC (Enliven)",
        0.4,
    )
    save_image(folder, name, np.vstack([head, grid]))


def save_tongue(
    folder: Path, portrait: str, driver, enliven_mp4: Path, face_box
) -> None:
    """Driver | Enliven output at the driver's widest mouth opening (tongue out)."""
    from quality_metrics import signals

    from enliven.io.video import read_frames

    mouth = signals(driver.landmarks)["mouth_open"]
    if np.isnan(mouth).all():
        return
    index = int(np.nanargmax(mouth))

    def frame_at(path: Path, **window) -> NDArray[np.uint8]:
        return next(iter(read_frames(path, select=lambda k: k == index, **window))).rgb

    drv = frame_at(driver.path, end_s=driver.end_s, fps=driver.fps)
    out = frame_at(enliven_mp4)
    pair = [
        label(
            face_thumb(drv, driver.landmarks[index], side=320), f"driver frame {index}"
        ),
        label(face_thumb(out, None, face_box, side=320), "enliven (SYNTHETIC)"),
    ]
    save_image(
        folder,
        f"tongue__{portrait}",
        np.hstack([pair[0], np.full((320, 4, 3), 255, np.uint8), pair[1]]),
    )
