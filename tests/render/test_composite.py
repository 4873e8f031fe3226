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


@pytest.mark.parametrize(("seed", "size_wh", "work_size"), [(0, (320, 240), 0), (1, (400, 300), 160), (2, (360, 270), 120)])
def test_banded_composite_equals_warping_and_blending_the_whole_box(seed, size_wh, work_size):
    # Sizes whose working grid is an exact fraction of the output (as at 512² and
    # 1080p): elsewhere cv2.resize upsamples identity maps with a slightly other
    # scale, and the whole-box reference moves still pixels by up to ~0.3 px.
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

