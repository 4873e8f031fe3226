"""Shut eyes (enliven.render.lids): lid pixels never show the inside of the eye."""

import dataclasses

import numpy as np

from enliven.face import topology as topo
from enliven.motion.controls import Controls, apply_controls
from enliven.render import lids
from enliven.render.renderer import Renderer, RenderConfig
from tests.conftest import settled_target
from tests.render.test_tears import _strangers


def _eye(upper_y: float, lower_y: float) -> np.ndarray:
    """Landmarks with one eye from x 10 to 90 whose lids run level at ``upper_y`` and ``lower_y``."""
    lm = np.zeros((topo.N_LANDMARKS, 3))
    lm[topo.RIGHT_EYE_CORNERS[0], :2] = (10, 50)
    lm[topo.RIGHT_EYE_CORNERS[1], :2] = (90, 50)
    for k, (up, low) in enumerate(topo.RIGHT_EYE_PAIRS):
        x = 20 + 10 * k
        lm[up, :2] = (x, upper_y)
        lm[low, :2] = (x, lower_y)
    return lm


def _maps(sample_y: float) -> tuple[np.ndarray, np.ndarray]:
    """Maps of a 100² box that sample each pixel's own column at ``sample_y``."""
    xs, _ = np.meshgrid(np.arange(100, dtype=np.float32), np.arange(100, dtype=np.float32))
    return xs.copy(), np.full((100, 100), sample_y, np.float32)


def test_a_shut_eyes_line_samples_the_lids_edges_not_the_eye():
    eye = lids.outline(_eye(40, 60), topo.RIGHT_EYE_PAIRS, topo.RIGHT_EYE_CORNERS)
    shut = _eye(50, 50)
    for sample_y, edge in ((45.0, 39.5), (55.0, 60.5)):  # nearer the upper lid, then the lower
        map_x, map_y = _maps(sample_y)
        moved = lids.close_gaps(map_x, map_y, (0, 0), shut, eye, reach=4)
        assert moved > 0
        columns = (map_x >= 20) & (map_x <= 80)
        near_line = np.zeros_like(columns)
        near_line[46:55] = True  # the rows round the shut line
        assert np.all(map_y[columns & near_line] == edge)
        # Pixels far from the eye are not the lids': left alone.
        assert np.all(map_y[:40] == sample_y) and np.all(map_y[62:] == sample_y)


def test_an_open_eye_keeps_its_samples():
    outline = _eye(40, 60)
    eye = lids.outline(outline, topo.RIGHT_EYE_PAIRS, topo.RIGHT_EYE_CORNERS)
    xs, ys = np.meshgrid(np.arange(100, dtype=np.float32), np.arange(100, dtype=np.float32))
    map_x, map_y = xs.copy(), ys.copy()  # the portrait as it is
    assert lids.close_gaps(map_x, map_y, (0, 0), outline, eye) == 0
    assert np.array_equal(map_y, ys)


def test_a_blink_draws_no_bits_of_the_eye_along_its_line(astronaut, astronaut_landmarks):
    """Upsampled maps interpolate across a shut eye's line between samples of
    the two lids' edges, and pixels there sampled the white and the iris in
    between; full-resolution maps with the pass show where they belong."""
    lm = astronaut_landmarks
    target = settled_target(lm, apply_controls(lm, Controls(blink_right=1.0, blink_left=1.0)))
    config = RenderConfig(background=False, lid_line=True)
    on = Renderer(astronaut, lm, config).render(target)
    off = Renderer(astronaut, lm, dataclasses.replace(config, lid_line=False)).render(target)
    full = Renderer(astronaut, lm, dataclasses.replace(config, work_size=0)).render(target)
    assert not RenderConfig().lid_line  # off unless asked for (RenderConfig)
    assert _strangers(off, full).sum() >= 5  # the defect is there without the pass
    assert _strangers(on, full).sum() <= 1
    # Open, nothing changes.
    rest = settled_target(lm, lm)
    assert np.array_equal(
        Renderer(astronaut, lm, config).render(rest), Renderer(astronaut, lm, dataclasses.replace(config, lid_line=False)).render(rest)
    )
