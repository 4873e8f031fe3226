import numpy as np
import pytest

from enliven.motion.controls import Controls, apply_controls
from enliven.render import stretch
from enliven.render.renderer import RenderConfig, Renderer
from enliven.render.stretch import soften, stretch_blur

from ..conftest import settled_target

_TRI = np.array([[0, 1, 2]])
_SRC = np.array([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]])


def _blur_of(target_xy, scale=1.0, source=_SRC):
    return float(stretch_blur(np.asarray(target_xy, np.float64), source, _TRI, scale)[0])


def test_only_a_one_way_stretch_asks_for_blur():
    assert _blur_of(_SRC + 5.0) == 0.0  # moved
    assert _blur_of(_SRC * 4.0) == 0.0  # zoomed: blurred both ways already
    assert _blur_of(_SRC * [1.0, 0.25]) == 0.0  # squashed: nothing spread out
    # Stretched 4x one way: the grain of 4 asks for GRAIN_BLUR per unit over GRAIN_FROM.
    assert _blur_of(_SRC * [4.0, 1.0]) == pytest.approx(stretch.GRAIN_BLUR * (4.0 - stretch.GRAIN_FROM))
    # The same in a head shown at 4x its size is a squash across, not a stretch along.
    assert _blur_of(_SRC * [4.0, 1.0], scale=4.0) == 0.0
    assert _blur_of(_SRC * [40.0, 1.0]) == stretch.LEVELS[-1]  # at most the widest level
    assert _blur_of(_SRC[[0, 2, 1]] * [4.0, 1.0]) == 0.0  # turned over (hidden)
    small = _SRC / 10.0  # drawn 8 x 2 px, under MIN_AREA_PX: its streak does not show
    assert _blur_of(small * [4.0, 1.0], source=small) == 0.0


def test_soften_blurs_where_asked_and_leaves_the_rest_exactly():
    rng = np.random.default_rng(0)
    region = rng.integers(0, 256, (60, 120, 3), np.uint8)
    original = region.copy()
    sigma = np.zeros((60, 120), np.float32)
    sigma[:, 80:] = 3.0
    soften(region, sigma)
    np.testing.assert_array_equal(region[:, :80], original[:, :80])
    assert region[:, 85:].std() < 0.3 * original[:, 85:].std()


def test_a_big_turn_smooths_the_grain_of_the_stretched_near_cheek(astronaut, astronaut_landmarks):
    # Vertical fine texture on the whole picture: stretched sideways by a turn it
    # becomes grain (rows that differ sharply from the next), which softening
    # blurs away; skin that is not stretched keeps its texture exactly.
    rng = np.random.default_rng(1)
    noisy = np.clip(astronaut.astype(np.int16) + rng.integers(-40, 41, astronaut.shape[:2])[..., None], 0, 255).astype(np.uint8)
    lm = astronaut_landmarks
    target = settled_target(lm, apply_controls(lm, Controls(yaw=45)))
    outs = {}
    for on in (False, True):
        r = Renderer(noisy, lm, RenderConfig(background=False, soften_stretch=on))
        outs[on] = r.render(target).astype(np.float32)
    plan = Renderer(noisy, lm, RenderConfig(background=False)).plan(target)
    assert plan.blur is not None, "a 45-degree turn should stretch some skin"
    changed = np.abs(outs[True] - outs[False]).max(axis=2) > 0
    assert changed.sum() > 200
    ys, xs = np.nonzero(changed)
    box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    def grain(img):  # row-to-row differences inside the changed pixels
        d = np.abs(np.diff(img[box], axis=0)).mean(axis=2)
        return float(d[changed[box][1:] & changed[box][:-1]].mean())
    assert grain(outs[True]) < 0.6 * grain(outs[False])
    # Far from the stretch nothing changes: the other half of the face is the same.
    far = np.ones_like(changed)
    far[:, max(xs.min() - 40, 0) :] = False
    assert far.sum() > 0
    np.testing.assert_array_equal(outs[True][far], outs[False][far])
