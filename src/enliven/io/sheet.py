"""Contact sheets: driver | output pairs side by side, for looking at results."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray


def _fit_height(rgb: NDArray[np.uint8], height: int) -> NDArray[np.uint8]:
    h, w = rgb.shape[:2]
    width = max(1, round(w * height / h))
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA if h > height else cv2.INTER_LINEAR)


def contact_sheet(
    rows: list[tuple[NDArray[np.uint8], NDArray[np.uint8]]], height: int = 256, labels: tuple[str, str] = ("driver", "output")
) -> NDArray[np.uint8]:
    """Stack (left, right) image pairs into columns, one pair per column.

    Every image is scaled to ``height``; the left images form the top row and the
    right images the bottom row, with a small label on the first column.
    """
    if not rows:
        raise ValueError("contact_sheet needs at least one pair")
    tops = [_fit_height(a, height) for a, _ in rows]
    bottoms = [_fit_height(b, height) for _, b in rows]
    gap = 4
    cols = []
    for top, bottom in zip(tops, bottoms):
        width = max(top.shape[1], bottom.shape[1])
        col = np.full((2 * height + gap, width, 3), 255, np.uint8)
        col[:height, : top.shape[1]] = top
        col[height + gap :, : bottom.shape[1]] = bottom
        cols.append(col)
    sep = np.full((2 * height + gap, gap, 3), 255, np.uint8)
    sheet = cols[0]
    for col in cols[1:]:
        sheet = np.hstack([sheet, sep, col])
    for y, text in ((18, labels[0]), (height + gap + 18, labels[1])):
        cv2.putText(sheet, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(sheet, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return sheet


def face_crop(
    rgb: NDArray[np.uint8], box_xywh: tuple[float, float, float, float], scale: float = 1.9
) -> NDArray[np.uint8]:
    """A square crop around a face box (``scale`` times its larger side), clipped."""
    h, w = rgb.shape[:2]
    x, y, bw, bh = box_xywh
    side = max(bw, bh) * scale
    cx, cy = x + bw / 2, y + bh / 2
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return rgb
    return rgb[y0:y1, x0:x1]


def sample_indices(total: int, count: int) -> list[int]:
    """``count`` frame indices spread evenly over ``total`` frames."""
    if total <= 0:
        return []
    count = min(count, total)
    return sorted({int(round(i)) for i in np.linspace(0, total - 1, count)})


def draw_landmarks(size_wh: tuple[int, int], landmarks: NDArray[np.floating]) -> NDArray[np.uint8]:
    """A grey picture of a face mesh's points (for performances with no video)."""
    w, h = size_wh
    img = np.full((h, w, 3), 40, np.uint8)
    for x, y in np.round(landmarks[:, :2]).astype(int):
        if 0 <= x < w and 0 <= y < h:
            cv2.circle(img, (int(x), int(y)), max(1, w // 400), (200, 230, 255), -1, cv2.LINE_AA)
    return img
