import numpy as np

from enliven.face import topology as topo


def test_mesh_triangles_are_the_852_of_the_face_mesh():
    tris = topo.mesh_triangles()
    assert tris.shape == (852, 3)
    assert tris.min() >= 0 and tris.max() < topo.N_MESH
    assert len(np.unique(tris)) == topo.N_MESH


def test_openings_are_holes_in_the_mesh_and_strips_fill_them():
    tris = {tuple(sorted(t)) for t in topo.mesh_triangles().tolist()}
    for corners, pairs in (
        (topo.RIGHT_EYE_CORNERS, topo.RIGHT_EYE_PAIRS),
        (topo.LEFT_EYE_CORNERS, topo.LEFT_EYE_PAIRS),
        (topo.MOUTH_CORNERS_INNER, topo.INNER_LIP_PAIRS),
    ):
        strip = topo.strip_triangles(corners, pairs)
        assert len(strip) == 2 * len(pairs)
        assert not {tuple(sorted(t)) for t in strip.tolist()} & tris


def test_loops_are_closed_contours_without_repeats():
    loop = topo.inner_lip_loop()
    assert len(loop) == len(set(loop)) == 20
    eye = topo.eye_loop(topo.RIGHT_EYE_PAIRS, topo.RIGHT_EYE_CORNERS)
    assert len(eye) == len(set(eye)) == 16
