"""Spreading the stretch of a big turn over the side of the face.

Turned 40 degrees, a frontal portrait's near cheek is seen square on, but the
portrait holds its outer part foreshortened in a thin band at the face's edge.
A warp that follows the landmarks exactly pulls that band out two to three
times wider than it is, into streaks, while the cheek beside it stretches far
less (``painting_old_woman_01`` x ``head_turn_big_01`` frame 190: grey
bars of hair across the temple). :class:`StretchRelaxer` moves the outer four
rings of the face's landmarks, its outline included, so that edges the head's
pose stretches past ``CAP`` give some of their stretch to the cheek beside them
and to the hair beyond the outline: the side of the head keeps its width, and
its texture is magnified evenly instead of streaked. It acts only on the near
side of a turn of 10 degrees or more; eyes, brows, lips and the head's rings
never move, and a frame it does not act on is left exactly as it is. Cost on
the 2-core machine: 0.04 ms a frame when it does nothing, 0.6 ms at 45 degrees.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import NDArray

from enliven.face import topology as topo
from enliven.motion.measures import eye_distance
from enliven.motion.retarget import HeadMotion
from enliven.render.mesh import HEAD, ExtendedMesh, ring_vertices, signed_areas

# An edge drawn more than CAP times its portrait length (over the head's scale)
# asks to be drawn at CAP plus KEEP of the excess; the band's other edges take up
# the difference, each in proportion to its own length.
CAP = 1.4
KEEP = 0.3
BAND_RINGS = 4  # rings of landmarks inside the face outline that may move (the outline is ring 0)
# Edges shorter than this in the portrait (over its eye distance) ask for
# nothing: mediapipe puts pairs of landmarks almost on top of each other at the
# face's edge (0.2 px apart on the astronaut), and any turn "stretches" them
# tens of times without there being a texture to streak.
MIN_EDGE = 0.02
# The near side of a big turn is where the outline, which faces sideways in the
# portrait, turns toward the camera: from NEAR_FROM of its outward direction
# pointing at the camera (10 degrees of turn), wholly from NEAR_FROM + NEAR_RAMP
# (20). Elsewhere edges ask for nothing and the outline is held (weight PIN, in
# the edges' units of 1/px^2). Below 10 degrees the moves were under a pixel
# (0.005 eye distances on talk_fast_01) and only stirred the tracker's readings.
NEAR_FROM, NEAR_RAMP = 0.17, 0.17
PIN = 10.0


def _features() -> set[int]:
    """Landmarks that never move here: eyes, brows, lips and the chin under them, irises."""
    keep: set[int] = set(range(topo.N_MESH, topo.N_LANDMARKS))
    keep |= set(topo.eye_loop(topo.RIGHT_EYE_PAIRS, topo.RIGHT_EYE_CORNERS))
    keep |= set(topo.eye_loop(topo.LEFT_EYE_PAIRS, topo.LEFT_EYE_CORNERS))
    keep |= set(topo.RIGHT_BROW) | set(topo.LEFT_BROW)
    for columns in (topo.UPPER_LIP_COLUMNS, topo.LOWER_LIP_COLUMNS):
        for column in columns:
            keep |= set(column)
    keep |= set(topo.outer_lip_loop()) | set(topo.inner_lip_loop())
    return keep


class StretchRelaxer:
    """Built once per portrait from its extended mesh; called once per frame.

    The face mesh's triangles and the strip between the outline and the first
    head ring are springs: a least-squares fit of the free landmarks' positions
    to each edge's wanted vector, weighted by one over its portrait length (what
    shows is how much an edge stretches, not by how many pixels). The system's
    matrix is built once; per frame only the outline's hold (its diagonal)
    changes, and it is factorised again on frames the fit acts on.
    """

    def __init__(self, mesh: ExtendedMesh) -> None:
        n = topo.N_MESH
        oval = np.asarray(topo.FACE_OVAL)
        first_ring = ring_vertices(0)
        strip = (mesh.kinds == HEAD) & np.isin(mesh.triangles, np.concatenate([oval, first_ring])).all(axis=1)
        self._tris = np.vstack([topo.mesh_triangles(), mesh.triangles[strip]]).astype(np.intp)
        tri_edges = np.sort(np.stack([self._tris[:, [0, 1]], self._tris[:, [1, 2]], self._tris[:, [2, 0]]], axis=1), axis=2)
        edges, of_tri = np.unique(tri_edges.reshape(-1, 2), axis=0, return_inverse=True)
        # Rings of landmarks inward from the outline, by hops along the face's edges.
        hops = np.full(mesh.n_vertices, np.inf)
        hops[oval] = 0
        inside = edges[(edges < n).all(axis=1)]
        for ring in range(1, BAND_RINGS + 1):
            reached = inside[(hops[inside[:, 0]] == ring - 1) | (hops[inside[:, 1]] == ring - 1)].ravel()
            hops[reached] = np.minimum(hops[reached], ring)
        fixed = _features()
        self.free = np.array([v for v in range(n) if hops[v] <= BAND_RINGS and v not in fixed], np.intp)
        col = np.full(mesh.n_vertices, -1, np.intp)
        col[self.free] = np.arange(len(self.free))
        self._col = col
        touch = (col[edges[:, 0]] >= 0) | (col[edges[:, 1]] >= 0)
        self.edges = edges[touch]
        # Each triangle's edges as rows of self.edges (-1: an edge between fixed points).
        index = np.full(len(edges), -1, np.intp)
        index[touch] = np.arange(touch.sum())
        self._tri_edges = index[of_tri.reshape(-1, 3)]
        src = mesh.vertices[:, :2]
        self._src = src
        self._src3d = mesh.vertices
        self._ends = np.unique(self.edges)
        self.src_len = np.linalg.norm(src[self.edges[:, 0]] - src[self.edges[:, 1]], axis=1)
        self._asks = self.src_len >= MIN_EDGE * eye_distance(mesh.vertices[: topo.N_LANDMARKS])
        self._w = 1.0 / np.maximum(self.src_len, 0.5)
        a, b = self.edges[:, 0], self.edges[:, 1]
        ia, ib = col[a] >= 0, col[b] >= 0
        rows = np.arange(len(self.edges))
        # D x = w (p_a - p_b), one column per free landmark.
        d = sp.coo_matrix(
            (np.concatenate([self._w[ia], -self._w[ib]]), (np.concatenate([rows[ia], rows[ib]]), np.concatenate([col[a[ia]], col[b[ib]]]))),
            shape=(len(self.edges), len(self.free)),
        ).tocsr()
        self._dt = d.T.tocsr()
        self._normal = (self._dt @ d).tocsc()
        # The outline's points, their outward directions in the picture, and for
        # each end of an edge the outline point nearest to it.
        self._oval = oval
        out = src[oval] - src[oval].mean(axis=0)
        self._outward = np.column_stack([out / np.linalg.norm(out, axis=1, keepdims=True), np.zeros(len(oval))])
        movable = col[oval] >= 0
        self._movable = movable
        self._outline = col[oval[movable]]
        self._nearest = np.argmin(np.linalg.norm(src[self.edges][:, :, None, :] - src[oval][None, None], axis=3), axis=2)

    def ratios(self, target_xy: NDArray[np.floating], scale: float) -> NDArray[np.float64]:
        """(E,) each edge of :attr:`edges` drawn over its portrait length, over the head's ``scale``."""
        t = np.asarray(target_xy)[:, :2]
        drawn = np.linalg.norm(t[self.edges[:, 0]] - t[self.edges[:, 1]], axis=1)
        return drawn / np.maximum(scale * self.src_len, 1e-9)

    def turn_ratios(self, head: HeadMotion) -> NDArray[np.float64]:
        """(E,) :meth:`ratios` of the portrait moved by the head alone: the
        stretch the turn makes, whatever the expression adds to it."""
        moved = np.zeros((len(self._src3d), 2))
        moved[self._ends] = head.apply(self._src3d[self._ends])[:, :2]
        return self.ratios(moved, head.scale)

    def __call__(self, target_xy: NDArray[np.float64], head: HeadMotion) -> NDArray[np.float64]:
        """``target_xy`` (V, >=2) with the band's landmarks moved (a new array),
        or the array itself when the head's pose stretches no edge past ``CAP``.

        Only the turn's stretch counts: a mouth opened or a smile pulls edges
        round the mouth far past ``CAP`` (5x at a shouting portrait's lip
        corners), and that is the expression, not a streak to spread.
        """
        t = target_xy[:, :2]
        turn = self.turn_ratios(head)
        over = (turn > CAP) & self._asks
        if not over.any():
            return target_xy
        # The near side only (see NEAR_FROM). On the far side the outline is the
        # silhouette: moved out, it crossed the squeezed strip beyond it
        # (Vermeer's girl, turned 32 degrees, at her far eye), and the slivers
        # the turn stretches along it are too narrow to streak.
        facing = -(self._outward @ np.asarray(head.rotation).T)[:, 2]  # depth grows away from the camera
        near = np.clip((facing - NEAR_FROM) / NEAR_RAMP, 0.0, 1.0)
        gate = np.where(over, near[self._nearest].min(axis=1), 0.0)
        # Only skin facing the camera: a triangle turned over lies in a fold,
        # where the depth test hides it.
        s, p = self._src[self._tris], t[self._tris]
        turned = signed_areas(s) * signed_areas(p) <= 0
        hidden = self._tri_edges[turned].ravel()
        gate[hidden[hidden >= 0]] = 0.0
        if not gate.any():
            return target_xy
        a, b = self.edges[:, 0], self.edges[:, 1]
        # Each edge as drawn, shortened by what easing the turn's stretch takes off.
        eased = (CAP + KEEP * (turn - CAP)) / np.maximum(turn, 1e-9)
        want = 1.0 - gate * (1.0 - eased)
        rhs = (t[a] - t[b]) * want[:, None]
        # Fixed ends go to the right-hand side.
        fa, fb = self._col[a] < 0, self._col[b] < 0
        rhs[fa] -= t[a[fa]]
        rhs[fb] += t[b[fb]]
        rhs *= self._w[:, None]
        pin = PIN * (1.0 - near[self._movable])
        lhs = self._normal + sp.csc_matrix((pin, (self._outline, self._outline)), shape=self._normal.shape)
        solve = spla.factorized(lhs)
        held = t[self._oval[self._movable]]
        out = target_xy.copy()
        for k in range(2):
            extra = np.zeros(len(self.free))
            extra[self._outline] = pin * held[:, k]
            out[self.free, k] = solve(self._dt @ rhs[:, k] + extra)
        return out

