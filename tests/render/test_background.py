from __future__ import annotations

import cv2
import numpy as np

from enliven.render.background import add_strands

SIZE = 256
IOD = 60.0
CENTRE = (128, 140)
RADIUS = 70


def _head(background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A dark disc (the head) on ``background``, a mask of exactly the disc, and
    a few thin dark strands sticking out of its top."""
    rgb = background.copy()
    cv2.circle(rgb, CENTRE, RADIUS, (60, 40, 30), -1)
    for dx in (-30, 0, 25):
        x0 = CENTRE[0] + dx
        cv2.line(rgb, (x0, CENTRE[1] - RADIUS + 2), (x0 + 4, CENTRE[1] - RADIUS - 9), (60, 40, 30), 1)
    mask = np.zeros((SIZE, SIZE), np.float32)
    cv2.circle(mask, CENTRE, RADIUS, 1.0, -1)
    return rgb, mask


def _strand_pixels() -> np.ndarray:
    """Where the strands are drawn, outside the disc."""
    plain, mask = _head(np.full((SIZE, SIZE, 3), 200, np.uint8))
    bare, _ = _head(np.full((SIZE, SIZE, 3), 200, np.uint8))
    bare[:] = 200
    cv2.circle(bare, CENTRE, RADIUS, (60, 40, 30), -1)
    return (np.abs(plain.astype(int) - bare).max(axis=2) > 0) & (mask < 0.5)


def test_strands_on_a_plain_wall_join_the_person() -> None:
    rgb, mask = _head(np.full((SIZE, SIZE, 3), 200, np.uint8))
    out = add_strands(rgb, mask, IOD, below_y=CENTRE[1] + RADIUS)
    strands = _strand_pixels()
    assert strands.sum() > 10
    assert float(np.median(out[strands])) > 0.9  # the strands now move with the head
    wall = (mask < 0.5) & ~cv2.dilate(strands.view(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert float(out[wall].max()) < 0.05  # the wall around them stays background
    assert np.array_equal(out[mask > 0.5], mask[mask > 0.5])


def test_strands_below_the_chin_are_not_looked_for() -> None:
    rgb, mask = _head(np.full((SIZE, SIZE, 3), 200, np.uint8))
    out = add_strands(rgb, mask, IOD, below_y=0.0)  # everything is "below the chin"
    assert np.array_equal(out, mask)


def test_textured_backdrop_is_left_alone() -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (SIZE // 8, SIZE // 8, 3), dtype=np.uint8)
    foliage = cv2.resize(noise, (SIZE, SIZE), interpolation=cv2.INTER_NEAREST)
    rgb, mask = _head(foliage)
    out = add_strands(rgb, mask, IOD, below_y=CENTRE[1] + RADIUS)
    assert np.array_equal(out, mask)
