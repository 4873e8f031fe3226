"""The white of the eye made behind the iris, and the atlas that holds it."""

import numpy as np

from enliven.render.eyefill import DISC, PAD_ROWS, drawn_iris_radius, fill_white, with_atlas


def _eye(h=40, w=80, r=9.0, white=(235, 228, 220), iris=(60, 40, 30)):
    """A synthetic eye: a white opening shaded top to bottom, a dark iris disc."""
    ys, xs = np.mgrid[0:h, 0:w]
    opening = ((xs - w / 2) / (w / 2 - 2)) ** 2 + ((ys - h / 2) / (h / 2 - 4)) ** 2 < 1.0
    shade = (0.85 + 0.15 * ys / h)[..., None]
    patch = np.full((h, w, 3), (150, 100, 80), np.float32)  # skin around it
    patch[opening] = (np.array(white, np.float32) * shade)[opening]
    centre = (w / 2 + 3.0, h / 2)
    disc = np.hypot(xs - centre[0], ys - centre[1]) <= r
    patch[disc & opening] = iris
    return patch.astype(np.uint8), opening, centre, r, disc


def test_the_iris_disc_is_replaced_by_the_white_of_its_rows():
    patch, opening, centre, r, disc = _eye()
    out = fill_white(patch, opening, centre, r)
    assert out is not None
    hole = opening & disc
    # White, not iris; as bright as the white on the same rows (its shading kept).
    assert out[hole].astype(int).min() > 150
    for row in np.flatnonzero(hole.any(axis=1)):
        beside = opening[row] & ~(np.hypot(np.arange(80) - centre[0], row - centre[1]) <= DISC * r)
        if beside.any():
            want = patch[row, beside].astype(float).mean(axis=0)
            got = out[row, hole[row]].astype(float).mean(axis=0)
            assert np.abs(got - want).max() < 12
    # Nothing outside the disc changes.
    ys, xs = np.mgrid[0:40, 0:80]
    far = np.hypot(xs - centre[0], ys - centre[1]) > DISC * r + 1
    np.testing.assert_array_equal(out[far], patch[far])


def test_no_white_beside_the_iris_gives_none():
    patch, opening, centre, r, _ = _eye()
    tiny = np.hypot(*np.mgrid[0:40, 0:80][::-1] - np.array(centre)[:, None, None]) <= r
    assert fill_white(patch, tiny & opening, centre, r) is None


def test_the_atlas_keeps_the_portrait_on_top_and_replicates_its_last_row():
    rng = np.random.default_rng(0)
    portrait = rng.integers(0, 256, (50, 120, 3), np.uint8)
    a, b = rng.integers(0, 256, (10, 30, 3), np.uint8), rng.integers(0, 256, (12, 40, 3), np.uint8)
    source, places = with_atlas(portrait, [a, None, b])
    np.testing.assert_array_equal(source[:50], portrait)
    np.testing.assert_array_equal(source[50 : 50 + PAD_ROWS], np.broadcast_to(portrait[-1], (PAD_ROWS, 120, 3)))
    assert places[1] is None
    for patch, (x, y) in ((a, places[0]), (b, places[2])):
        np.testing.assert_array_equal(source[y : y + patch.shape[0], x : x + patch.shape[1]], patch)
    # Patches that do not fit side by side are left out, not clipped.
    wide = rng.integers(0, 256, (5, 100, 3), np.uint8)
    _, places = with_atlas(portrait, [wide, wide])
    assert places[0] is not None and places[1] is None
    same, none = with_atlas(portrait, [None])
    assert same is portrait and none == [None]


def _drawn(scale: float, outer=(150, 200, 230)) -> tuple:
    """A cartoon eye whose drawn iris is ``scale`` times the tracker's radius 9:
    dark blue inside, a light blue outer band, on white."""
    patch, opening, centre, r, _ = _eye(h=48, w=100)
    ys, xs = np.mgrid[0:48, 0:100]
    dist = np.hypot(xs - centre[0], ys - centre[1])
    patch[(dist <= scale * r) & opening] = outer
    patch[(dist <= 0.7 * scale * r) & opening] = (40, 90, 150)
    return patch, opening, centre, r


def test_a_drawn_iris_larger_than_the_trackers_is_measured():
    for scale in (1.3, 1.6):
        patch, opening, centre, r = _drawn(scale)
        got = drawn_iris_radius(patch, opening, centre, r)
        # The light blue band is iris, not white; the step is 5% of the radius.
        assert scale * r - 0.1 * r <= got <= scale * r + 0.1 * r, (scale, got / r)


def test_a_human_sized_iris_keeps_the_trackers_radius():
    patch, opening, centre, r, _ = _eye()
    assert r <= drawn_iris_radius(patch, opening, centre, r) <= 1.05 * r  # one 5% step


def test_no_white_of_the_eye_keeps_the_trackers_radius():
    patch, opening, centre, r = _drawn(1.6)
    patch[opening] = (150, 200, 230)  # all iris: nothing to tell the rim by
    assert drawn_iris_radius(patch, opening, centre, r) == r
