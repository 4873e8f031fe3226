from __future__ import annotations

import cv2
import numpy as np

from enliven.render.background import PLATE_TEXTURE_REACH, add_strands, background_plate, mirror_index, smooth_plate

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


def test_mirror_index_reflects_about_the_nearer_end_and_never_repeats() -> None:
    # source: x 0..3 and x 9; fill: x 4..8
    source = np.array([[1, 1, 1, 1, 0, 0, 0, 0, 0, 1]], bool)
    fill = np.array([[0, 0, 0, 0, 1, 1, 1, 1, 1, 0]], bool)
    index, weight, dist = mirror_index(fill, source)
    # x 4, 5, 6 are nearer the left run (n = 4): they copy x 3, 2, 1
    assert index[0, 4:7].tolist() == [3, 2, 1]
    assert dist[0, 4:7].tolist() == [1, 2, 3]
    # the right run (x 9) is one pixel long: x 8 (d = 1) cannot copy from it
    # (d < n fails), and x 7, 8 are 4 and 5 past the left run (d >= n): nothing
    assert weight[0, 7] == 0 and weight[0, 8] == 0
    assert index[0, 7:9].tolist() == [7, 8]
    # weight is 1 up to half the run, then fades
    assert weight[0, 4] == 1.0 and weight[0, 5] == 1.0 and 0.0 < weight[0, 6] < 1.0
    assert (weight[~fill] == 0).all()


def test_mirror_index_stops_at_its_reach() -> None:
    source = np.zeros((1, 40), bool)
    source[0, :20] = True
    fill = ~source
    index, weight, _ = mirror_index(fill, source, reach=6)
    assert index[0, 20:25].tolist() == [19, 18, 17, 16, 15]  # d = 1..5 copy
    assert (weight[0, 26:] == 0).all() and index[0, 26:].tolist() == list(range(26, 40))
    assert weight[0, 20] == 1.0 and weight[0, 24] < 1.0  # fades over the second half of the reach


def test_plate_keeps_the_backdrop_texture_near_the_person() -> None:
    rng = np.random.default_rng(1)
    noise = rng.normal(128, 40, (SIZE // 4, SIZE // 4, 3)).clip(0, 255).astype(np.uint8)
    foliage = cv2.resize(noise, (SIZE, SIZE), interpolation=cv2.INTER_NEAREST)
    rgb, mask = _head(foliage)
    ring = (cv2.circle(np.zeros((SIZE, SIZE), np.uint8), CENTRE, RADIUS - 2, 1, -1) > 0) & ~(
        cv2.circle(np.zeros((SIZE, SIZE), np.uint8), CENTRE, RADIUS - 14, 1, -1) > 0
    )
    backdrop_std = float(foliage[mask < 0.5].std())
    reach = PLATE_TEXTURE_REACH * IOD
    textured = float(background_plate(rgb, mask, reach)[ring].std())
    smooth = float(smooth_plate(rgb, mask)[ring].std())
    # the head's dark colour is gone from the band just inside its outline...
    assert abs(float(background_plate(rgb, mask, reach)[ring].mean()) - float(foliage[mask < 0.5].mean())) < 20
    # ...and the band has the backdrop's texture, where the smooth inpainting has little
    assert textured > 0.5 * backdrop_std
    assert textured > 1.5 * smooth


def test_plate_on_a_plain_wall_stays_plain() -> None:
    wall = np.full((SIZE, SIZE, 3), 200, np.uint8)
    wall[:, :, 2] = 170
    rgb = wall.copy()
    cv2.circle(rgb, CENTRE, RADIUS, (60, 40, 30), -1)
    rgb = cv2.GaussianBlur(rgb, (0, 0), 1.5)  # an anti-aliased outline
    mask = np.zeros((SIZE, SIZE), np.float32)
    cv2.circle(mask, CENTRE, RADIUS, 1.0, -1)
    soft = cv2.GaussianBlur(mask, (0, 0), 3)  # a soft-edged mask, as segmentation gives
    plate = background_plate(rgb, soft, PLATE_TEXTURE_REACH * IOD)
    inside = mask > 0.5
    # no dark ghost of the outline, no mirrored edge, anywhere the head was:
    # no further from the wall than the smooth inpainting (7 levels here)
    error = np.abs(plate[inside].astype(int) - wall[inside]).max()
    assert error <= 8
    assert error <= np.abs(smooth_plate(rgb, soft)[inside].astype(int) - wall[inside]).max() + 1


def test_plate_memory_stays_near_the_smooth_plates() -> None:
    """At 1920x1080 with a person as wide as the frame, the textured plate once
    held 230 MB of temporaries (the smooth one 42 MB), which lifted the peak RSS
    of a 1080p run over its 600 MB budget."""
    import tracemalloc

    h, w = 1080, 1920
    rng = np.random.default_rng(2)
    rgb = cv2.resize(rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8), (w, h))
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (w // 2, h // 2), (260, 340), 0, 0, 360, 1.0, -1)
    mask[h // 2 + 250 :, :] = 1.0  # shoulders across the whole frame
    tracemalloc.start()
    try:
        smooth_plate(rgb, mask)
        smooth = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        background_plate(rgb, mask, 90.0)
        textured = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert textured < 3.0 * smooth
