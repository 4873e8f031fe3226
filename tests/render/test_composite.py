import cv2
import numpy as np
import pytest

from enliven.render.composite import BAND, _runs, composite
from enliven.render.sampling import WorkGrid


def _scene(seed: int, size_wh: tuple[int, int], work_size: int):
    """A portrait, a plate and working maps: a moving blob with a soft-alpha rim."""
    rng = np.random.default_rng(seed)
    width, height = size_wh
    portrait = rng.integers(0, 256, (height, width, 3), np.uint8)
    plate = rng.integers(0, 256, (height, width, 3), np.uint8)
    grid = WorkGrid.make(size_wh, work_size)
    ww, wh = grid.work_wh
    yy, xx = np.mgrid[0:wh, 0:ww].astype(np.float32)
    cx, cy, r = ww * rng.uniform(0.3, 0.7), wh * rng.uniform(0.3, 0.7), min(ww, wh) * 0.25
    dist = np.hypot(xx - cx, yy - cy)
    push = np.clip(1.0 - dist / (1.6 * r), 0.0, None) * 4.0  # px of motion, 0 outside
    map_x = grid.grid_x + push * 0.7
    map_y = grid.grid_y - push * 0.4
    alpha = np.clip((1.3 * r - dist) / (0.3 * r), 0.0, 1.0).astype(np.float32)
    still = grid.snap_still(map_x, map_y)
    alpha[still] = 1.0
    return portrait, plate, grid, map_x, map_y, alpha, still


@pytest.mark.parametrize(
    ("seed", "size_wh", "work_size"),
    [(0, (320, 240), 0), (1, (400, 300), 160), (2, (360, 270), 120), (3, (413, 287), 150), (4, (301, 457), 97)],
)
def test_banded_composite_equals_warping_and_blending_the_whole_box(seed, size_wh, work_size):
    portrait, plate, grid, map_x, map_y, alpha, still = _scene(seed, size_wh, work_size)
    box = grid.moving_box(~still)
    assert box is not None and box[0].stop - box[0].start > BAND  # several bands
    box_x, box_y, box_alpha = grid.upsample(box, map_x, map_y, alpha)
    expected = portrait.copy()
    warped = cv2.remap(portrait, box_x, box_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    expected[box] = cv2.blendLinear(warped, plate[box], box_alpha, 1.0 - box_alpha)

    out = portrait.copy()
    composite(out, portrait, plate, grid, box, (box_x, box_y, box_alpha), ~still, alpha < 1.0)

    diff = np.abs(out.astype(int) - expected.astype(int))
    assert diff.max() <= 1  # identity maps upsampled in float can round a level
    assert (diff == 0).mean() > 0.999
    assert not np.array_equal(out, portrait)  # something moved and was blended

    # Told where alpha is 0, it copies the plate there instead: the same pixels.
    clear = alpha <= 0.0
    assert (clear & ~still).any()  # moving pure background exists in the scene
    fast = portrait.copy()
    composite(fast, portrait, plate, grid, box, (box_x, box_y, box_alpha), ~still, alpha < 1.0, clear)
    assert np.array_equal(fast, out)


@pytest.mark.parametrize(("size_wh", "work_size"), [((1600, 768), 384), ((413, 287), 150), ((301, 457), 97), ((512, 512), 384)])
def test_unmoved_maps_upsample_to_the_exact_identity(size_wh, work_size):
    # Working sizes are whole pixels: 768 * 0.24 is 184.32, so the grid is 184
    # rows and resize upsamples by 184 / 768, not 0.24. And within half a working
    # pixel of the edge resize repeats the edge's value.
    grid = WorkGrid.make(size_wh, work_size)
    width, height = size_wh
    whole = (slice(0, height), slice(0, width))
    box_x, box_y = grid.upsample(whole, grid.grid_x.copy(), grid.grid_y.copy())
    xs, ys = np.meshgrid(np.arange(width), np.arange(height))
    assert np.abs(box_x - xs).max() < 2e-3
    assert np.abs(box_y - ys).max() < 2e-3
    # A constant shift stays a constant shift, to the edge, in a box too.
    part = (slice(0, height // 2), slice(width // 3, width))
    shifted = grid.upsample(part, grid.grid_x + 1.5, grid.grid_y - 0.5)
    assert np.abs(shifted[0] - (xs[part] + 1.5)).max() < 2e-3
    assert np.abs(shifted[1] - (ys[part] - 0.5)).max() < 2e-3
    # Working coordinates agree with the grid.
    centres = np.column_stack([grid.grid_x[0, [0, -1]], grid.grid_y[[0, -1], 0]])
    assert np.allclose(grid.to_work(centres), [[0, 0], [grid.work_wh[0] - 1, grid.work_wh[1] - 1]], atol=1e-3)


def test_runs_join_across_small_gaps():
    flags = np.zeros(40, bool)
    flags[2:5] = flags[7:9] = flags[30:33] = True
    assert _runs(flags) == [(2, 5), (7, 9), (30, 33)]
    assert _runs(flags, gap=3) == [(2, 9), (30, 33)]
    assert _runs(np.zeros(5, bool), gap=3) == []
    # Only across gaps that are all `within` (plate-only columns, not still ones).
    within = np.zeros(40, bool)
    within[5:7] = True
    assert _runs(flags, gap=3, within=within) == [(2, 9), (30, 33)]
    within[6] = False
    assert _runs(flags, gap=3, within=within) == [(2, 5), (7, 9), (30, 33)]

