"""Occlusion edges (enliven.render.tears): no line from between the layers."""

import dataclasses

import cv2
import numpy as np
import pytest

from enliven.motion.controls import Controls, apply_controls
from enliven.render import tears
from enliven.render.renderer import Renderer, RenderConfig
from enliven.render.sampling import WorkGrid
from tests.conftest import settled_target


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _strangers(out: np.ndarray, truth: np.ndarray, margin: int = 10) -> np.ndarray:
    """Pixels whose grey is outside the range of ``truth`` round them (5x5)
    by more than ``margin``: colours from nowhere near, like a line sampled
    from between two layers."""
    g, t = _grey(out).astype(int), _grey(truth)
    k = np.ones((5, 5), np.uint8)
    return (g < cv2.erode(t, k).astype(int) - margin) | (g > cv2.dilate(t, k).astype(int) + margin)


@pytest.mark.parametrize("yaw", [40, -40])
def test_a_big_turn_draws_the_noses_outline_without_a_line_from_between(astronaut, astronaut_landmarks, yaw):
    """At 40° the nose passes over the far cheek. With maps made at working
    resolution and upsampled, pixels along its outline sampled the portrait
    between the two layers; the full-resolution maps show where they should
    be (the maps are piecewise affine: 47-50 dB apart elsewhere)."""
    lm = astronaut_landmarks
    target = settled_target(lm, apply_controls(lm, Controls(yaw=yaw)))
    config = RenderConfig(background=False)
    on = Renderer(astronaut, lm, config).render(target)
    off = Renderer(astronaut, lm, dataclasses.replace(config, occlusion_edges=False)).render(target)
    full = Renderer(astronaut, lm, dataclasses.replace(config, work_size=0)).render(target)
    assert _strangers(off, full).sum() >= 10  # the defect is there without the pass
    assert _strangers(on, full).sum() <= 3
    changed = np.abs(on.astype(int) - off.astype(int)).max(axis=2) > 0
    assert 0 < changed.sum() < 0.01 * changed.size  # only the pixels round the edges


@pytest.mark.parametrize(
    "controls", [Controls(), Controls(jaw=0.8), Controls(pitch=15), Controls(pitch=-20), Controls(yaw=10, smile=0.5)]
)
def test_smaller_folds_change_few_pixels_and_add_no_stranger(astronaut, astronaut_landmarks, controls):
    """At rest nothing turns over and the frame is bit-identical; a wide
    mouth, a nod or a small turn folds a few triangles (the nose over the
    lip, a cheek over a smile line) and only pixels round them change."""
    lm = astronaut_landmarks
    target = settled_target(lm, apply_controls(lm, controls))
    config = RenderConfig(background=False)
    on = Renderer(astronaut, lm, config).render(target)
    off = Renderer(astronaut, lm, dataclasses.replace(config, occlusion_edges=False)).render(target)
    changed = np.abs(on.astype(int) - off.astype(int)).max(axis=2) > 0
    if controls == Controls():
        assert not changed.any()
        return
    full = Renderer(astronaut, lm, dataclasses.replace(config, work_size=0)).render(target)
    assert _strangers(on, full).sum() <= _strangers(off, full).sum()
    assert changed.sum() < 0.005 * changed.size


def _two_triangles(shared: bool):
    """Working maps (48 px) of a 64 px output whose right half samples 30 px
    further right than its left (over what lies between), as two triangles."""
    grid = WorkGrid.make((64, 64), 48)
    map_x = grid.grid_x.copy()
    map_y = grid.grid_y.copy()
    right = grid.grid_x > 31.5
    map_x[right] += 30.0
    tri_id = np.where(right, 1, 0).astype(np.int32)
    triangles = np.array([[0, 1, 2], [2, 3, 4] if shared else [3, 4, 5]], np.int32)
    # Triangle 1 turned over in the frame (its corners in the other order),
    # over the part of the portrait the jump passes over: a fold.
    source = np.array([[0, 0], [40, 0], [0, 64], [30, -10], [200, -10], [30, 200]], np.float64)
    verts = source.copy()
    verts[[3, 4]] = verts[[4, 3]]
    return grid, (map_x, map_y), tri_id, triangles, verts, source


def _find(maps, tri_id, verts, source, triangles, allowed, grid):
    return tears.find(maps, tri_id, verts, source, triangles, allowed, tears.openings(source, triangles, allowed, grid), grid)


def test_the_pass_samples_each_side_and_never_the_stripe_between():
    grid, maps, tri_id, triangles, verts, source = _two_triangles(shared=False)
    picture = np.full((64, 110, 3), 200, np.uint8)
    # What lies between the two layers, out of reach of either side's own
    # samples (one working pixel, 1.33 px, past its edge).
    picture[:, 34:59] = 0
    found = _find(maps, tri_id, verts, source, triangles, np.ones(2, bool), grid)
    assert found is not None
    box = (slice(0, 64), slice(0, 64))
    up = grid.upsample(box, *maps)
    out = cv2.remap(picture, up[0], up[1], cv2.INTER_LINEAR)
    assert out.min() < 120  # upsampled maps cross the stripe
    drawn = tears.redraw(out, picture, picture, grid, box, maps, np.ones((64, 64), np.float32), found)
    assert drawn > 0
    assert out.min() >= 195


def test_only_a_jump_over_a_fold_makes_an_edge():
    """A jump between triangles that share a corner is a squeeze, not an
    occlusion; so is one over an eye's or the mouth's opening (a shut eye's
    lash line, the line between closing lips: the upsampled maps rightly
    show the opening squeezed thin); and with nothing turned over there is
    no fold."""
    grid, maps, tri_id, triangles, verts, source = _two_triangles(shared=True)
    assert _find(maps, tri_id, verts, source, triangles, np.ones(2, bool), grid) is None
    grid, maps, tri_id, triangles, verts, source = _two_triangles(shared=False)
    # An opening (an eye's or the mouth's strip, not drawn by this pass) over
    # the picture the jump passes over, squeezed out of sight in the frame.
    opening = np.array([[31, -10], [64, -10], [31, 200]], np.float64)
    source, verts = np.vstack([source, opening]), np.vstack([verts, opening * (0.0, 1.0) + (31.5, 0.0)])
    triangles = np.vstack([triangles, [6, 7, 8]]).astype(np.int32)
    assert _find(maps, tri_id, verts, source, triangles, np.array([True, True, False]), grid) is None
    grid, maps, tri_id, triangles, verts, source = _two_triangles(shared=False)
    assert _find(maps, tri_id, source, source, triangles, np.ones(2, bool), grid) is None
    assert _find(maps, tri_id, verts, source, triangles, np.array([True, False]), grid) is None
