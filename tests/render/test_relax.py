import numpy as np

from enliven.face import topology as topo
from enliven.motion.controls import Controls, apply_controls
from enliven.render import relax
from enliven.render.mesh import build_mesh
from enliven.render.relax import StretchRelaxer
from enliven.render.renderer import RenderConfig, Renderer

from ..conftest import settled_target


def _setup(astronaut, lm, controls):
    mesh = build_mesh(lm, astronaut.shape[1::-1])
    target = settled_target(lm, apply_controls(lm, controls))
    return mesh, StretchRelaxer(mesh), target, mesh.target_vertices(target)


def test_an_expression_however_wide_is_left_exactly_alone(astronaut, astronaut_landmarks):
    # A wide-open mouth and a full smile stretch edges round the mouth past the
    # cap, but the head is not turned: nothing is spread.
    mesh, relaxer, target, verts = _setup(astronaut, astronaut_landmarks, Controls(jaw=1.0, smile=1.0, brow=1.0))
    drawn = relaxer.ratios(verts, target.head.scale)[relaxer._asks]
    assert drawn.max() > relax.CAP
    assert relaxer.turn_ratios(target.head)[relaxer._asks].max() <= relax.CAP
    assert relaxer(verts, target.head) is verts


def test_a_big_turn_spreads_the_near_side_stretch_and_moves_no_feature(astronaut, astronaut_landmarks):
    mesh, relaxer, target, verts = _setup(astronaut, astronaut_landmarks, Controls(yaw=45))
    scale = target.head.scale
    out = relaxer(verts, target.head)
    before, after = relaxer.ratios(verts, scale), relaxer.ratios(out, scale)
    # The near side: the one the nose points away from, which the turn shows square on.
    oval = np.asarray(topo.FACE_OVAL)
    centre = verts[oval, 0].mean()
    away = np.sign(centre - verts[topo.NOSE_TIP, 0])
    side = np.sign(verts[:, 0] - centre)
    near = relaxer._asks & (side[relaxer.edges] == away).all(axis=1)
    assert near.sum() > 40
    assert before[near].max() > 2.5, "a 45-degree turn should stretch the near side's edge band"
    assert after[near].max() < 0.8 * before[near].max()
    top = np.argsort(-before[near])[:10]
    assert after[near][top].mean() < 0.8 * before[near][top].mean()
    # The band's other edges took the difference: some are drawn longer than before.
    assert (after[near] > before[near] + 0.05).sum() >= 10
    moved = np.linalg.norm(out[:, :2] - verts[:, :2], axis=1)
    assert moved.max() > 2.0
    # Eyes, brows, lips, irises and everything off the face stay where they were,
    # and no depth changes.
    still = sorted(relax._features() | set(range(topo.N_MESH, mesh.n_vertices)))
    np.testing.assert_array_equal(out[still], verts[still])
    np.testing.assert_array_equal(out[:, 2], verts[:, 2])
    # The near side moves most.
    side = side[: topo.N_MESH]
    assert moved[: topo.N_MESH][side == away].max() > 2.0 * moved[: topo.N_MESH][side == -away].max()


def test_a_big_turn_needs_less_softening_with_the_stretch_spread(astronaut, astronaut_landmarks):
    lm = astronaut_landmarks
    target = settled_target(lm, apply_controls(lm, Controls(yaw=45)))
    wanted = {}
    for on in (False, True):
        plan = Renderer(astronaut, lm, RenderConfig(background=False, relax_stretch=on)).plan(target)
        assert plan.blur is not None
        wanted[on] = float(plan.blur[0].sum())
    assert wanted[True] < 0.7 * wanted[False]


def test_a_small_turn_is_left_exactly_alone(astronaut, astronaut_landmarks):
    # Six degrees already stretch the foreshortened edges at the face's side past
    # the cap, but moving them would shift points by under a pixel.
    mesh, relaxer, target, verts = _setup(astronaut, astronaut_landmarks, Controls(yaw=6, smile=0.5))
    assert relaxer.turn_ratios(target.head)[relaxer._asks].max() > relax.CAP
    assert relaxer(verts, target.head) is verts
