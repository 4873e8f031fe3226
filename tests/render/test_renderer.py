import cv2
import numpy as np
import pytest

from enliven.motion.controls import Controls, apply_controls
from enliven.motion.measures import eye_distance, mouth_opening
from enliven.render.background import MediaPipeSegmenter
from enliven.face import topology as topo
from enliven.render.mesh import FRAME, N_RINGS, OWN_BAND, STILL_SCALE, build_mesh
from enliven.render.raster import rasterize
from enliven.render.renderer import RenderConfig, Renderer

from ..conftest import psnr, settled_target


_target = settled_target


@pytest.fixture(scope="module")
def renderer(astronaut, astronaut_landmarks):
    seg = MediaPipeSegmenter()
    yield Renderer(astronaut, astronaut_landmarks, segmenter=seg)
    seg.close()


def test_zero_motion_gives_back_the_portrait(renderer, astronaut, astronaut_landmarks):
    out = renderer.render(_target(astronaut_landmarks, astronaut_landmarks, frames=1))
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    assert psnr(out, astronaut) > 40


@pytest.mark.parametrize("work_size", [0, 200])
def test_zero_motion_without_segmentation_and_with_upsampled_maps(astronaut, astronaut_landmarks, work_size):
    r = Renderer(astronaut, astronaut_landmarks, RenderConfig(work_size=work_size, background=False))
    out = r.render(_target(astronaut_landmarks, astronaut_landmarks, frames=1))
    assert psnr(out, astronaut) > 40


def test_motion_changes_the_face_but_not_the_far_background(renderer, astronaut, astronaut_landmarks):
    driver = apply_controls(astronaut_landmarks, Controls(yaw=20, jaw=0.8))
    out = renderer.render(_target(astronaut_landmarks, driver))
    face = (slice(60, 200), slice(160, 290))
    assert psnr(out[face], astronaut[face]) < 30
    corner = (slice(0, 60), slice(0, 60))  # the flag, far from the head
    np.testing.assert_array_equal(out[corner], astronaut[corner])


def test_an_opening_mouth_gets_a_dark_interior(renderer, astronaut_landmarks):
    lm = astronaut_landmarks
    t = _target(lm, apply_controls(lm, Controls(jaw=1.0)))
    out = renderer.render(t)
    centre = t.landmarks[[13, 14], :2].mean(axis=0).round().astype(int)
    patch = out[centre[1] - 2 : centre[1] + 3, centre[0] - 2 : centre[0] + 3]
    assert patch.mean() < 110  # cavity, not stretched lip


def test_the_mesh_covers_every_pixel(astronaut_landmarks):
    mesh = build_mesh(astronaut_landmarks, (512, 512))
    _, _, tri_id, _ = rasterize(mesh.vertices, mesh.vertices, mesh.triangles, mesh.bias, (512, 512))
    assert (tri_id >= 0).all()
    assert (mesh.kinds == FRAME).any()


def _wide(astronaut, astronaut_landmarks, dx=600, dy=100):
    """The astronaut on a wide, textured canvas, its face off centre."""
    rng = np.random.default_rng(3)
    canvas = rng.integers(0, 256, (768, 1600, 3), dtype=np.uint8)
    canvas[dy : dy + 512, dx : dx + 512] = astronaut
    lm = astronaut_landmarks.copy()
    lm[:, 0] += dx
    lm[:, 1] += dy
    return canvas, lm


@pytest.mark.parametrize("shift", [(600, 100), (0, 0), (1088, 256)])
def test_the_still_ring_lies_between_the_moving_rings_and_the_frame(astronaut, astronaut_landmarks, shift):
    _, lm = _wide(astronaut, astronaut_landmarks, *shift)
    mesh = build_mesh(lm, (1600, 768))
    n, n_oval = topo.N_LANDMARKS, len(topo.FACE_OVAL)
    centre = lm[list(topo.FACE_OVAL), :2].mean(axis=0)
    radius = [np.linalg.norm(mesh.vertices[n + k * n_oval : n + (k + 1) * n_oval, :2] - centre, axis=1) for k in range(N_RINGS + 1)]
    for inner, outer in zip(radius[:-1], radius[1:]):
        assert (outer >= inner - 1e-9).all()  # each ring outside the one before, the frame last
    oval = np.linalg.norm(lm[list(topo.FACE_OVAL), :2] - centre, axis=1)
    assert (radius[N_RINGS - 1] <= STILL_SCALE * oval + 1e-6).all()
    assert (mesh.follow[n + (N_RINGS - 1) * n_oval : n + N_RINGS * n_oval] == 0).all()
    _, _, tri_id, _ = rasterize(mesh.vertices, mesh.vertices, mesh.triangles, mesh.bias, (1600, 768))
    assert (tri_id >= 0).all()


def test_a_wide_frame_beyond_the_still_ring_is_the_portrait_itself(astronaut, astronaut_landmarks):
    canvas, lm = _wide(astronaut, astronaut_landmarks)
    r = Renderer(canvas, lm, RenderConfig(background=False))
    driver = apply_controls(lm, Controls(yaw=25, pitch=10, jaw=0.8))
    driver[:, :2] += (40.0, -25.0)  # and the head moves
    out = r.render(_target(lm, driver))
    centre = lm[list(topo.FACE_OVAL), :2].mean(axis=0)
    reach = STILL_SCALE * np.linalg.norm(lm[list(topo.FACE_OVAL), :2] - centre, axis=1).max()
    ys, xs = np.mgrid[0:768, 0:1600]
    far = np.hypot(xs - centre[0], ys - centre[1]) > reach + 8  # + two working pixels
    changed = (out != canvas).any(axis=2)
    assert changed[~far].mean() > 0.05  # the head moved
    assert not changed[far].any()  # the far background and the body did not


def test_the_depth_test_keeps_the_nearer_triangle():
    verts = np.array(
        [[0, 0, 5], [20, 0, 5], [0, 20, 5], [0, 0, 1], [20, 0, 1], [0, 20, 1]], np.float32
    )
    source = verts[:, :2] + np.array([[0, 0]] * 3 + [[100, 100]] * 3)
    tris = np.array([[0, 1, 2], [3, 4, 5]], np.int32)
    for order in (tris, tris[::-1].copy()):
        map_x, _, tri_id, _ = rasterize(verts, source, order, np.zeros(2, np.float32), (21, 21))
        assert map_x[2, 2] == pytest.approx(102)  # the z=1 triangle, whatever the order


def test_a_closing_mouth_keeps_a_band_at_each_lip_and_squashes_the_rest(astronaut_landmarks):
    """Closing, each lip keeps up to ``own_band`` of the portrait's interior at
    its own scale (its teeth) and the rest squashes between them; narrower than
    two bands, each keeps half the gap. Each had kept its whole half: a shout's
    tongue then rode up with the jaw at its own size and filled the opening."""
    lm = astronaut_landmarks
    opened = apply_controls(lm, Controls(jaw=1.0))
    mesh = build_mesh(opened, (512, 512))
    band = OWN_BAND * eye_distance(opened)
    assert mesh.own_band == pytest.approx(band)
    pairs = np.asarray(topo.INNER_LIP_PAIRS)
    src_half = np.linalg.norm(opened[pairs[:, 1], :2] - opened[pairs[:, 0], :2], axis=1) / 2
    regimes = np.zeros(2, int)
    for jaw in (0.05, 0.6):
        verts = mesh.target_vertices(_target(opened, apply_controls(lm, Controls(jaw=jaw)), frames=1))
        source = mesh.source_vertices(verts)
        gap = np.linalg.norm(verts[pairs[:, 1], :2] - verts[pairs[:, 0], :2], axis=1)
        narrower = gap < 2 * src_half - 1.0
        squashed = narrower & (gap > 2 * band + 0.5)
        cut = narrower & (gap < 2 * band - 0.5)
        regimes += squashed.sum(), cut.sum()
        reach = np.where(squashed, band, gap / 2)
        keep = squashed | cut
        for row, lip in ((mesh.mid_up, pairs[:, 0]), (mesh.mid_low, pairs[:, 1])):
            drawn = np.linalg.norm(verts[row, :2] - verts[lip, :2], axis=1)
            sampled = np.linalg.norm(source[row, :2] - opened[lip, :2], axis=1)
            # The band by each lip is drawn at its own scale ...
            np.testing.assert_allclose(drawn[keep], reach[keep], atol=0.5)
            np.testing.assert_allclose(sampled[keep], reach[keep], atol=0.5)
        # ... and between the bands the rest of the interior shows, squashed.
        middle = np.linalg.norm(source[mesh.mid_low, :2] - source[mesh.mid_up, :2], axis=1)
        np.testing.assert_allclose(middle[squashed], 2 * src_half[squashed] - 2 * band, atol=0.5)
    assert regimes.min() >= 3, regimes  # both ways of closing were tried
    # Opening wider than the portrait: both halves reach its middle, at their
    # own scale, and a band opens between them for the new interior.
    target = _target(opened, apply_controls(lm, Controls(jaw=2.0)), frames=1)
    verts = mesh.target_vertices(target)
    wide = mesh.source_vertices(verts, target.head.scale)
    np.testing.assert_allclose(wide[mesh.mid_up], wide[mesh.mid_low], atol=1e-6)
    wider = np.linalg.norm(verts[pairs[:, 1], :2] - verts[pairs[:, 0], :2], axis=1) > 2 * src_half * target.head.scale + 2
    assert wider.sum() >= 5
    upper_band = np.linalg.norm(verts[mesh.mid_up, :2] - verts[pairs[:, 0], :2], axis=1)
    lower_band = np.linalg.norm(verts[pairs[:, 1], :2] - verts[mesh.mid_low, :2], axis=1)
    np.testing.assert_allclose(upper_band[wider], src_half[wider] * target.head.scale, atol=0.5)
    np.testing.assert_allclose(lower_band[wider], src_half[wider] * target.head.scale, atol=0.5)


def test_a_smiles_teeth_keep_their_size_as_the_mouth_opens_wider(astronaut, astronaut_landmarks):
    """The astronaut smiles with her teeth: opened wider (tongue_01, pout_kiss_01)
    the whole strip stretched over the opening and her teeth became tall grey
    bars. Now the rows under her upper lip are her own teeth, as they are."""
    lm = astronaut_landmarks
    r = Renderer(astronaut, lm, RenderConfig(work_size=0, background=False))
    target = _target(lm, apply_controls(lm, Controls(jaw=1.0)))
    assert mouth_opening(target.landmarks) > 2.5 * mouth_opening(lm)
    out = r.render(target).astype(float)
    diffs = []
    for upper, lower in topo.INNER_LIP_PAIRS[3:6]:  # the middle of the mouth
        x, y = int(round(lm[upper, 0])), int(np.ceil(lm[upper, 1]))
        assert abs(target.landmarks[upper, 1] - lm[upper, 1]) < 0.5  # the upper lip stays: the jaw opens
        teeth = int((lm[lower, 1] - lm[upper, 1]) / 2)  # her upper teeth: the upper half of her opening
        diffs.append(np.abs(out[y : y + teeth, x - 2 : x + 3] - astronaut[y : y + teeth, x - 2 : x + 3]).mean())
    assert max(diffs) < 6.0, diffs  # stretched: 18.6-18.8 levels


def test_no_drawn_teeth_below_a_portraits_own(astronaut, astronaut_landmarks):
    """With no driver picture (the demo's performance) the drawn interior put
    its own teeth under the astronaut's: a second, flat cream row."""
    lm = astronaut_landmarks
    r = Renderer(astronaut, lm, RenderConfig(work_size=0, background=False))
    target = _target(lm, apply_controls(lm, Controls(jaw=1.0)))
    out = r.render(target).astype(float)
    for upper, lower in topo.INNER_LIP_PAIRS[3:6]:
        x = int(round(target.landmarks[upper, 0]))
        teeth = (lm[lower, 1] - lm[upper, 1]) / 2
        below = int(round(target.landmarks[upper, 1] + teeth + 4))  # just under her upper teeth
        assert out[below, x - 1 : x + 2].mean() < 90, (upper, out[below, x - 1 : x + 2].mean())


def _shout(lm: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks of a shout (the lower lip and the skin under it dropped: a mouth
    open 0.3 eye distances more) and its opening as a mask of ``shape``."""
    shout = lm.copy()
    below = sorted({k for column in topo.LOWER_LIP_COLUMNS for k in column})
    shout[below, 1] += 0.3 * np.linalg.norm(lm[33, :2] - lm[263, :2])
    cavity = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(cavity, [np.round(shout[topo.inner_lip_loop(), :2]).astype(np.int32)], 1)
    return shout, cavity


@pytest.mark.parametrize("work_size", [384, 160])
def test_a_closing_open_mouth_never_shows_the_cavity_it_hides(astronaut, astronaut_landmarks, work_size):
    """Upsampled from working resolution, the maps interpolated across the jump
    between the strip's two halves, so a shouting portrait closing its mouth
    drew a dark, stair-stepped line of its cavity along the lips."""
    lm = astronaut_landmarks
    pairs = np.asarray(topo.INNER_LIP_PAIRS)
    shout, cavity = _shout(lm, astronaut.shape)
    loop = topo.inner_lip_loop()
    portrait = astronaut.copy()
    portrait[cv2.erode(cavity, np.ones((15, 15), np.uint8)) > 0] = (0, 255, 0)  # a green cavity, well inside the lips
    r = Renderer(portrait, shout, RenderConfig(work_size=work_size, background=False, mouth_interior=False))
    shut = lm.copy()
    shut[pairs[:, 1]] = shut[pairs[:, 0]]  # the driver's lips together: this mouth closes
    target = _target(shout, shut)
    assert mouth_opening(target.landmarks) < 0.01
    out = r.render(target).astype(int)
    x0, y0 = np.floor(target.landmarks[loop, :2].min(axis=0)).astype(int) - 3
    x1, y1 = np.ceil(target.landmarks[loop, :2].max(axis=0)).astype(int) + 4
    box = out[y0:y1, x0:x1]
    green = (box[..., 1] - np.maximum(box[..., 0], box[..., 2])) > 60
    assert green.sum() <= 2, green.sum()  # before: 10 at 384, 29 at 160


def test_no_cavity_flecks_beside_a_closed_shouts_lip_line(astronaut, astronaut_landmarks):
    """The lip line was redrawn from full-resolution maps only where the lips'
    triangles fall; the pixels beside it kept the upsampled maps, which
    interpolate across the hidden cavity: single dark flecks along a closed
    shout's lips (photo_woman_surprised_01, pout_kiss_01 frame 0). Here the
    cavity is green up to 3 px from the lips, at a coarse working grid."""
    lm = astronaut_landmarks
    pairs = np.asarray(topo.INNER_LIP_PAIRS)
    shout, cavity = _shout(lm, astronaut.shape)
    loop = topo.inner_lip_loop()
    portrait = astronaut.copy()
    portrait[cv2.erode(cavity, np.ones((7, 7), np.uint8)) > 0] = (0, 255, 0)
    r = Renderer(portrait, shout, RenderConfig(work_size=160, background=False, mouth_interior=False))
    shut = lm.copy()
    shut[pairs[:, 1]] = shut[pairs[:, 0]]
    target = _target(shout, shut)
    out = r.render(target).astype(int)
    x0, y0 = np.floor(target.landmarks[loop, :2].min(axis=0)).astype(int) - 3
    x1, y1 = np.ceil(target.landmarks[loop, :2].max(axis=0)).astype(int) + 4
    box = out[y0:y1, x0:x1]
    green = (box[..., 1] - np.maximum(box[..., 0], box[..., 2])) > 30
    assert green.sum() <= 4, green.sum()  # 15 with the lip line's own pixels alone redrawn, 2 now


def test_a_closing_open_mouth_meets_its_halves_through_blended_pixels(astronaut, astronaut_landmarks):
    """Where a closing shout's two halves meet, the source jumps (her teeth
    above, her tongue below). Redrawn one sample per pixel, that edge was a
    staircase of hard steps; sampled twice per pixel side, most of its
    pixels are a blend."""
    lm = astronaut_landmarks
    pairs = np.asarray(topo.INNER_LIP_PAIRS)
    iod = float(np.linalg.norm(lm[33, :2] - lm[263, :2]))
    shout, cavity = _shout(lm, astronaut.shape)
    portrait = astronaut.copy()
    ys, xs = np.nonzero(cavity)
    middle = (shout[pairs[:, 0], 1].mean() + shout[pairs[:, 1], 1].mean()) / 2
    portrait[ys, xs] = np.where((ys < middle)[:, None], (255, 255, 255), (200, 0, 0))  # white teeth over a red tongue
    r = Renderer(portrait, shout, RenderConfig(work_size=384, background=False, mouth_interior=False))
    half = lm.copy()
    half[pairs[:, 1], 1] = lm[pairs[:, 0], 1] + 0.1 * iod  # closing to a third of the shout
    out = r.render(_target(shout, half)).astype(int)
    white = out.min(axis=2) > 230
    red = (out[..., 0] > 170) & (out[..., 1] < 30)
    assert white.sum() > 50 and red.sum() > 50  # both halves show
    steps = int((white[:-1] & red[1:]).sum())  # straight from teeth to tongue, no pixel between
    assert steps <= 20, steps  # 36 one sample per pixel, 13 now


def test_the_interior_is_matched_in_lab_keeping_teeth_near_neutral():
    from enliven.render.mouth import _lab as mouth_lab
    from enliven.render.mouth import match_interior

    warm_driver, pale_portrait = np.array([200, 150, 110], np.float32), np.array([235, 205, 195], np.float32)
    teeth = np.array([[225, 215, 180]], np.float32)  # a warm driver's off-white teeth
    cavity = np.array([[40, 20, 20]], np.float32)
    out_teeth = match_interior(teeth, pale_portrait, warm_driver)[0]
    out_cavity = match_interior(cavity, pale_portrait, warm_driver)[0]
    # The old per-channel gain (portrait / driver skin) made such teeth orange:
    # in Lab they lose part of the warm cast instead.
    lab_in, lab_out = mouth_lab(teeth)[0], mouth_lab(out_teeth[None])[0]
    assert np.hypot(*lab_out[1:]) < np.hypot(*lab_in[1:]) - 4
    assert out_teeth.min() > 170  # still light
    assert out_cavity.max() < 80 and out_cavity[2] <= out_cavity[0] + 5  # dark, not blue


def test_a_dark_skinned_drivers_teeth_on_a_pale_portrait_keep_their_shading_and_hue():
    """The skins' lightness ratio (89 against 58) is mostly pigment: at the full
    ratio teeth went to L* 100 (shading gone), and moved by the skins' a*, b*
    difference they turned green."""
    import cv2

    from enliven.render.mouth import match_interior

    def rgb(lab):
        lab = np.asarray(lab, np.float32).reshape(-1, 1, 3)
        return (cv2.cvtColor(lab, cv2.COLOR_Lab2RGB).reshape(-1, 3) * 255).astype(np.float32)

    def lab(rgb):
        return cv2.cvtColor(rgb.reshape(-1, 1, 3).astype(np.float32) / 255, cv2.COLOR_RGB2Lab).reshape(-1, 3)

    driver_skin, pale_skin = rgb([58, 28, 30])[0], rgb([88.6, 6, 4])[0]
    teeth = rgb([[62, 3, 22], [70, 3, 22], [78, 3, 22], [86, 3, 22]])  # warm-lit, shaded to bright
    out = lab(match_interior(teeth, pale_skin, driver_skin))
    light = out[:, 0]
    assert np.all(np.diff(light) > 0.6 * 8), light  # the shading kept (steps of 8 L* in)
    assert light[0] > 62 and light[-1] < 95, light  # lighter, not blown out
    assert np.all(out[:, 1] > -2), out  # not green
    assert np.all(out[:, 2] < 22), out  # less yellow than the warm light made them


def _brute_force(target, source, triangles, size_wh):
    """Every pixel of every triangle's box tested, in NumPy: what the rasteriser's
    row spans must reproduce."""
    w, h = size_wh
    map_x = np.full((h, w), -1.0)
    tri_id = np.full((h, w), -1)
    zbuf = np.full((h, w), np.inf)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    for t, (i0, i1, i2) in enumerate(triangles):
        (x0, y0, z0), (x1, y1, z1), (x2, y2, z2) = target[[i0, i1, i2]].astype(np.float64)
        det = (y1 - y2) * (x0 - x2) + (x2 - x1) * (y0 - y2)
        if abs(det) < 1e-9:
            continue
        w0 = ((y1 - y2) * (xs - x2) + (x2 - x1) * (ys - y2)) / det
        w1 = ((y2 - y0) * (xs - x2) + (x0 - x2) * (ys - y2)) / det
        w2 = 1.0 - w0 - w1
        z = w0 * z0 + w1 * z1 + w2 * z2
        win = (w0 >= -1e-5) & (w1 >= -1e-5) & (w2 >= -1e-5) & (z < zbuf)
        zbuf[win], tri_id[win] = z[win], t
        map_x[win] = (w0 * source[i0, 0] + w1 * source[i1, 0] + w2 * source[i2, 0])[win]
    return map_x, tri_id


def test_the_rasteriser_visits_every_pixel_a_box_scan_would():
    """Rows are scanned over the span the triangle covers, not its whole box:
    the same pixels are drawn (up to float rounding on the very edges)."""
    rng = np.random.default_rng(5)
    for _ in range(40):
        n = int(rng.integers(3, 30))
        size = (int(rng.integers(8, 80)), int(rng.integers(8, 80)))
        target = np.column_stack([rng.uniform(-10, size[0] + 10, n), rng.uniform(-10, size[1] + 10, n), rng.uniform(0, 1, n)])
        target[: n // 2, :2] = np.round(target[: n // 2, :2])  # edges through pixel centres
        source = rng.uniform(0, 100, (n, 2))
        tris = rng.integers(0, n, (int(rng.integers(1, 40)), 3)).astype(np.int32)
        # No triangle twice (in another vertex order): equal depths tie on rounding.
        tris = tris[np.unique(np.sort(tris, axis=1), axis=0, return_index=True)[1]]
        map_x, _, tri_id, _ = rasterize(target, source, tris, np.zeros(len(tris), np.float32), size)
        want_x, want_id = _brute_force(target, source, tris, size)
        same = tri_id == want_id
        assert same.mean() > 0.995
        assert np.allclose(map_x[same], want_x[same], atol=1e-2)


def test_a_moved_iris_uncovers_white_not_a_flat_patch(renderer, astronaut, astronaut_landmarks):
    """Gaze to the side: the iris moves, and where it was the eye shows the
    white made behind it (shaded like the rows beside it), not iris."""
    lm = astronaut_landmarks
    which = 0
    iris = renderer._irises[which]
    assert iris.white_at is not None  # the astronaut's eyes have white beside the iris
    r = iris.radius
    looking = lm.copy()
    looking[list(topo.RIGHT_IRIS), 0] += 0.9 * r
    out = renderer.render(_target(lm, looking))
    cx, cy = iris.centre
    lum = lambda im, x, y: float(im[int(round(y)), int(round(x))].astype(float).mean())  # noqa: E731
    # Where the left part of the iris was: white now, far brighter than the iris.
    was = (cx - 0.7 * r, cy)
    assert lum(out, *was) > lum(astronaut, *was) + 25
    # What shows there is the fill behind the iris, at that point of the eye.
    x0, y0 = iris.box[:2]
    fill = iris.white[int(round(was[1])) - y0, int(round(was[0])) - x0].astype(float).mean()
    assert abs(lum(out, *was) - fill) < 20
    # The iris is now to the right, as dark as it was.
    assert lum(out, cx + 0.9 * r, cy) < lum(astronaut, cx - 2.2 * r, cy) - 25


def test_a_coarse_working_grid_still_traces_the_lids_at_output_resolution(astronaut, astronaut_landmarks):
    """The eye opening an iris is clipped to: the lids' polygon at output
    resolution, not the working grid's blocks, and still hidden where the
    working buffer says something is in front."""
    import cv2

    r = Renderer(astronaut, astronaut_landmarks, RenderConfig(work_size=200, background=False))
    assert r.scale < 0.5  # working pixels are over two output pixels wide
    verts = r.mesh.vertices
    loop = topo.eye_loop(topo.RIGHT_EYE_PAIRS, topo.RIGHT_EYE_CORNERS)
    pts = verts[loop, :2]
    x0, y0 = np.floor(pts.min(axis=0)).astype(int) - 4
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 4
    exact = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(exact, [np.round((pts - (x0, y0)) * 16).astype(np.int32)], 1, shift=4)
    # What the working grid sees: the polygon at its resolution, blown up in blocks.
    s = r.scale
    work = np.zeros((int(y1 * s) + 2, int(x1 * s) + 2), np.uint8)
    cv2.fillPoly(work, [np.round(pts * s * 16).astype(np.int32)], 1, shift=4)
    ys = ((np.arange(y0, y1) + 0.5) * s).astype(int)
    xs = ((np.arange(x0, x1) + 0.5) * s).astype(int)
    blocky = work[np.ix_(ys, xs)].astype(bool)
    assert (blocky != exact.astype(bool)).sum() > 20  # the staircase is there to remove
    traced = r._trace_lids(blocky, verts, 0, (x0, y0))
    np.testing.assert_array_equal(traced, exact.astype(bool))
    # Where the buffer says the eye is hidden (its left half), it stays hidden.
    half = blocky.copy()
    half[:, : half.shape[1] // 2] = False
    traced = r._trace_lids(half, verts, 0, (x0, y0))
    margin = 2 * int(np.ceil(1 / s)) + 1
    assert not traced[:, : half.shape[1] // 2 - margin].any()


def test_the_drawn_mouth_style_draws_the_drivers_parts_in_flat_colours(astronaut, astronaut_landmarks):
    """mouth_style="driver" shows the driver's interior, colour-matched;
    "drawn" shows the same parts where the driver has them (here lower teeth
    under the cavity) in the drawn palette's flat colours, never the driver's own."""
    import dataclasses

    import cv2

    from enliven.errors import ConfigError
    from enliven.types import FaceObservation

    lm = astronaut_landmarks
    t = _target(lm, apply_controls(lm, Controls(jaw=1.0)))
    obs = FaceObservation(np.asarray(t.landmarks, np.float32), (0, 0, 1, 1))
    upper_lip, lower_lip = t.landmarks[13, :2], t.landmarks[14, :2]
    centre = (upper_lip + lower_lip) / 2
    gap = float(np.linalg.norm(lower_lip - upper_lip))

    def at(out, dy):
        x, y = np.round(centre + (0.0, dy * gap)).astype(int)
        return out[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).astype(float).mean(axis=0)

    green = np.zeros_like(astronaut)
    green[..., 1] = 255
    cfg = RenderConfig(background=False)
    drawn_cfg = dataclasses.replace(cfg, mouth_style="drawn")
    taken = at(Renderer(astronaut, lm, cfg).render(dataclasses.replace(t, driver=obs, driver_rgb=green)), 0.0)
    assert taken[1] > taken[0] + 15  # the driver's (green) interior, colour-matched

    # A driver showing only lower teeth: a black cavity above its middle line and
    # white below (a drawn interior of its own would put teeth at the top).
    cavity_over_teeth = np.zeros_like(astronaut)
    cv2.rectangle(cavity_over_teeth, (0, int(centre[1])), astronaut.shape[1::-1], (240, 238, 230), -1)
    r = Renderer(astronaut, lm, drawn_cfg)
    out = r.render(dataclasses.replace(t, driver=obs, driver_rgb=cavity_over_teeth))
    upper, lower = at(out, -0.3), at(out, 0.3)
    assert lower.min() > 200 and np.ptp(lower) < 35  # the palette's teeth (shaded), low as the driver's
    assert upper.mean() < lower.mean() - 80  # the cavity above them, blended at the edge
    assert upper[0] > upper[1] + 15  # dark red: the palette's cavity, a dark shade of the lips' hue
    # Green is not a part: it is drawn as tongue, in the palette's colour.
    out = r.render(dataclasses.replace(t, driver=obs, driver_rgb=green))
    assert at(out, 0.0)[0] > at(out, 0.0)[1] + 20
    with pytest.raises(ConfigError, match="mouth_style"):
        RenderConfig(mouth_style="cartoon")


def test_interior_parts_tell_teeth_cavity_and_tongue():
    from enliven.render.mouth import interior_parts

    rgb = np.array([[235, 230, 215], [25, 10, 12], [190, 90, 100], [120, 60, 70]], np.float32)
    parts = interior_parts(rgb)
    np.testing.assert_allclose(parts.sum(axis=1), 1.0, atol=1e-6)
    assert parts.argmax(axis=1).tolist() == [0, 1, 2, 2]  # teeth, cavity, tongue, tongue


def test_lip_colour_reads_the_lips_not_the_skin_or_a_moustache(astronaut_landmarks):
    import cv2

    from enliven.face import topology as topo
    from enliven.render.mouth import lip_colour

    lm = astronaut_landmarks * 3  # lips 7-15 px thick, as in a close-up, not 2-5
    img = np.full((1536, 1536, 3), (200, 160, 140), np.uint8)  # skin
    outer_up = lm[[up for up, _ in topo.OUTER_LIP_PAIRS], :2]
    inner_up = lm[[up for up, _ in topo.INNER_LIP_PAIRS], :2]
    upper = np.vstack([outer_up, inner_up[::-1]])
    lower = np.vstack([lm[[lo for _, lo in topo.OUTER_LIP_PAIRS], :2], lm[[lo for _, lo in topo.INNER_LIP_PAIRS], :2][::-1]])
    for lip in (upper, lower):
        cv2.fillPoly(img, [np.rint(lip).astype(np.int32)], (150, 40, 60))
    # A moustache over the outer 60% of the upper lip: two of its three sample rows.
    edge = outer_up + 0.6 * (inner_up - outer_up)
    cv2.fillPoly(img, [np.rint(np.vstack([outer_up, edge[::-1]])).astype(np.int32)], (40, 30, 25))
    np.testing.assert_allclose(lip_colour(img, lm), (150, 40, 60), atol=1)


def test_the_tongue_follows_the_lips_and_the_teeth_the_skin():
    import cv2

    from enliven.render.mouth import interior_parts, match_interior

    driver_skin, driver_lips = np.array([190, 140, 120], np.float32), np.array([170, 90, 95], np.float32)
    pale_skin, red_lips = np.array([240, 225, 220], np.float32), np.array([190, 40, 55], np.float32)
    tongue, teeth = np.array([[185, 95, 105]], np.float32), np.array([[225, 220, 205]], np.float32)
    assert interior_parts(tongue).argmax() == 2 and interior_parts(teeth).argmax() == 0

    def chroma(rgb):
        lab = cv2.cvtColor(rgb.reshape(1, 1, 3).astype(np.float32) / 255, cv2.COLOR_RGB2Lab)[0, 0]
        return float(np.hypot(lab[1], lab[2]))

    by_skin = match_interior(tongue, pale_skin, driver_skin)[0]
    by_lips = match_interior(tongue, pale_skin, driver_skin, red_lips, driver_lips)[0]
    # A pale portrait with red lips: matched to the skin the tongue washes out,
    # matched to the lips it stays at least as red as the driver's.
    assert chroma(by_skin) < chroma(tongue[0]) - 5
    assert chroma(by_lips) > chroma(tongue[0])
    # Teeth follow the skin whatever the lips.
    np.testing.assert_allclose(
        match_interior(teeth, pale_skin, driver_skin, red_lips, driver_lips), match_interior(teeth, pale_skin, driver_skin), atol=0.5
    )


def test_the_drawn_palette_takes_the_lips_hue_and_mutedness():
    import cv2

    from enliven.render.mouth import palette

    def lab(rgb):
        return cv2.cvtColor(np.asarray(rgb, np.float32).reshape(1, 1, 3) / 255, cv2.COLOR_RGB2Lab)[0, 0]

    skin = np.array([200, 160, 130], np.float32)
    _, _, bright = palette(skin, np.array([210, 40, 50], np.float32))  # a cartoon's red lips
    _, _, muted = palette(skin, np.array([150, 105, 80], np.float32))  # a varnished painting's brown ones
    b, m = lab(bright), lab(muted)
    assert np.hypot(b[1], b[2]) > np.hypot(m[1], m[2]) + 10
    hue_b, hue_m = (float(np.degrees(np.arctan2(x[2], x[1]))) for x in (b, m))
    assert hue_b + 5 < hue_m <= 40.5  # towards the brown lips' yellow, but still red (brown lips are at 55)
    teeth, cavity, _ = palette(skin, np.array([150, 105, 80], np.float32))
    assert teeth.min() > 180 and cavity.max() < 60


def test_skin_colour_is_not_the_hair_or_beard_over_most_of_its_points(astronaut_landmarks):
    import cv2

    from enliven.render.mouth import SKIN_POINTS, skin_colour

    lm = astronaut_landmarks
    img = np.full((512, 512, 3), (205, 160, 140), np.uint8)
    for i in SKIN_POINTS[:9]:  # a fringe, a beard and glasses over 9 of the 16 points
        cv2.circle(img, tuple(int(round(v)) for v in lm[i, :2]), 3, (50, 35, 30), -1)
    np.testing.assert_allclose(skin_colour(img, lm), (205, 160, 140), atol=1)
