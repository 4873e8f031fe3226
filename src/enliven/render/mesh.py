"""The extended mesh: face, eye and mouth openings, head rings and a fixed frame.

Built once per portrait from its landmarks:

- the 852 face-mesh triangles (kind ``FACE``);
- strips filling each eye opening (``EYE``) and the mouth opening (``MOUTH``);
- three rings outside the face oval (forehead and hair, ears, neck), whose points
  follow the head less the further out and the lower they are (``HEAD``); above
  the face, the outer two also take the crown's own move measured in the
  driver's image (``TargetShape.crown``, :mod:`enliven.motion.crown`);
- a still ring further out, where the head's pull ends (``HEAD``): what lies
  beyond it (far background, shoulders) is the portrait itself, not resampled;
- a ring on a rectangle enclosing the image, fixed, joined to the still ring by
  a strip and corner triangles (``FRAME``), so every pixel is covered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from enliven.face import topology as topo
from enliven.motion.measures import eye_distance
from enliven.motion.retarget import TargetShape

FACE, EYE, MOUTH, HEAD, FRAME = 0, 1, 2, 3, 4
RING_SCALES = (1.22, 1.55, 2.0)  # ring size over the face oval, about its centre
# How much each ring follows the head: (at the top of the head, below the chin).
RING_FOLLOW = ((1.0, 0.55), (0.8, 0.2), (0.35, 0.0))
# How much of a measured crown move each ring takes (by its top): the first ring
# lies at the hairline, where the hair in front (a fringe, a quiff) goes with the
# forehead; the outer rings are the head's outline, which is the crown.
RING_CROWN = (0.0, 1.0, 1.0)
# The still ring's size over the face oval. Beyond the third ring the head's pull
# fades to nothing by here, instead of out to the image's border: on a wide
# frame that border strip was half of all the pixels a 1080p frame resampled.
STILL_SCALE = 2.6
N_RINGS = len(RING_SCALES) + 1  # the moving rings and the still one
FAR = 1e4  # depth of the fixed frame: behind everything
_INNER_PAIRS = np.asarray(topo.INNER_LIP_PAIRS)  # (upper, lower) inner-lip landmarks
# How much of a portrait's open mouth (over the outer eye-corner distance, about
# 90 mm) each lip keeps at its own scale while the mouth closes: about 5 mm, what
# an open mouth shows of its upper teeth (0.05 on the shouting photo). The rest
# of the interior squashes. Each lip had kept its whole half: a shout's tongue
# (photo_woman_surprised_01) then rode up with the jaw at its own size and
# filled a half-open mouth, which the tracker read as lip. Portraits opened
# less than two bands (every other shared one) close as before.
OWN_BAND = 0.06


@dataclass(frozen=True)
class ExtendedMesh:
    """Vertices and triangles of the whole warp, in portrait pixels.

    vertices : (V, 3) float64; the first 478 are the face landmarks.
    triangles : (T, 3) int32.
    kinds : (T,) int8, one of FACE, EYE, MOUTH, HEAD, FRAME.
    bias : (T,) float32 depth bias (openings sit just behind the skin).
    follow : (V,) float64, how much a vertex follows the head (landmarks: 1).
    anchor : (V,) int32, for ring vertices the oval landmark they hang from
        (the landmark itself for landmarks, -1 for the frame).
    mid_up, mid_low : the vertices of the mouth strip's middle rows, one for
        each half: together where the mouth opens no wider than the portrait's,
        apart beyond it, with the new interior's band between them (see
        :meth:`source_vertices`).
    crown_weight : how much of ``TargetShape.crown`` each vertex takes: ring
        vertices above the oval's centre, by how far up they point and how much
        they follow the head; 0 elsewhere.
    """

    vertices: NDArray[np.float64]
    triangles: NDArray[np.int32]
    kinds: NDArray[np.int8]
    bias: NDArray[np.float32]
    follow: NDArray[np.float64]
    anchor: NDArray[np.int32]
    mid_up: NDArray[np.intp]  # the mouth strip's middle rows: the upper half's ...
    mid_low: NDArray[np.intp]  # ... and the lower half's (apart where the mouth opens wider than the portrait's)
    crown_weight: NDArray[np.float64]  # (V,) share of a measured crown move a vertex takes
    own_band: float = np.inf  # portrait pixels of its interior each lip keeps at its own scale while closing

    @property
    def n_vertices(self) -> int:
        return len(self.vertices)

    def target_vertices(self, target: TargetShape) -> NDArray[np.float64]:
        """Vertex positions for one frame: landmarks as given, rings by follow."""
        out = self.vertices.copy()
        n = topo.N_LANDMARKS
        out[:n] = target.landmarks
        rings = slice(n, n + N_RINGS * len(topo.FACE_OVAL))
        src = self.vertices[rings]
        anchors = self.anchor[rings]
        # The expression-only move of each ring's anchor (e.g. the jaw dropping).
        anchor_src = self.vertices[anchors]
        expr = target.landmarks[anchors] - target.head.apply(anchor_src)
        moved = target.head.apply(src) + expr
        w = self.follow[rings][:, None]
        out[rings] = src + w * (moved - src)
        if target.crown is not None:
            out[rings, :2] += self.crown_weight[rings, None] * np.asarray(target.crown)[None, :2]
        upper, lower = target.landmarks[_INNER_PAIRS[:, 0]], target.landmarks[_INNER_PAIRS[:, 1]]
        f_up, f_low = self._mouth_rows(upper, lower, target.head.scale)
        out[self.mid_up] = upper + (lower - upper) * f_up[:, None]
        out[self.mid_low] = upper + (lower - upper) * f_low[:, None]
        return out

    def _mouth_rows(
        self, upper: NDArray[np.float64], lower: NDArray[np.float64], scale: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Where the mouth strip's two middle rows sit, per lip pair, as shares of
        the way from the upper inner lip to the lower one.

        Wider than the portrait's opening, each lip keeps its own half of the
        portrait's interior at its own scale (the teeth a smile shows stay the
        size they are, the upper ones with the upper lip, the lower ones with
        the jaw) and a middle band between the rows opens for the new
        interior: stretched over the whole opening, a smile's teeth had
        become tall grey bars. Narrower, see :meth:`_own_reach`.
        """
        gap_tgt = np.linalg.norm(lower[:, :2] - upper[:, :2], axis=1)
        reach = self._own_reach(gap_tgt / scale)
        f = np.where(gap_tgt > 1e-9, reach * scale / np.maximum(gap_tgt, 1e-9), 0.5)
        return f, 1.0 - f

    def _own_reach(self, gap: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per lip pair, how far (portrait pixels) from each inner lip the
        portrait's interior keeps its own scale, for a target ``gap`` in portrait
        pixels.

        Opening wider than the portrait: each lip's half. Closing: each lip keeps
        up to ``own_band`` (its teeth) and the interior between the bands
        squashes into what is left; narrower still than two bands, each lip
        keeps half the gap and the middle is hidden.
        """
        src = self.vertices
        half_src = np.linalg.norm(src[_INNER_PAIRS[:, 1], :2] - src[_INNER_PAIRS[:, 0], :2], axis=1) / 2.0
        band = np.minimum(half_src, self.own_band)
        return np.where(gap >= 2.0 * half_src, half_src, np.where(gap >= 2.0 * band, band, gap / 2.0))

    def mouth_shares(self, target_vertices: NDArray[np.float64], scale: float = 1.0) -> NDArray[np.float64]:
        """(V,) for the mouth strip's vertices, their share of the way from the
        upper inner lip (0) to the lower one (1), in this frame (``scale``: the
        head's, as for :meth:`source_vertices`); 0 elsewhere but 1 on the lower
        inner lip and 0.5 at the inner corners."""
        tv = np.asarray(target_vertices, np.float64)
        out = np.zeros(len(tv))
        out[_INNER_PAIRS[:, 1]] = 1.0
        out[list(topo.MOUTH_CORNERS_INNER)] = 0.5
        out[self.mid_up], out[self.mid_low] = self._mouth_rows(tv[_INNER_PAIRS[:, 0]], tv[_INNER_PAIRS[:, 1]], scale)
        return out

    def source_vertices(self, target_vertices: NDArray[np.float64], scale: float = 1.0) -> NDArray[np.float64]:
        """Source positions for one frame: fixed, but for the mouth's middle line.

        The mouth strip is split along its middle. Where the target mouth is
        less open than the portrait's, each half samples the portrait's interior
        at its own scale next to its own lip (upper teeth stay with the upper
        lip, lower teeth with the jaw), up to :attr:`own_band`; between the
        halves the rest of the portrait's interior squashes, and when the gap
        is narrower than the two bands the middle is hidden. Where it opens
        wider, each half shows its lip's half of the portrait's interior at its
        own scale and the band between them (:meth:`_mouth_rows`) samples the
        portrait's middle line; the renderer draws the new interior there.
        ``scale`` is the head's scale (target pixels per portrait pixel).
        """
        src = self.vertices
        upper, lower = src[_INNER_PAIRS[:, 0], :2], src[_INNER_PAIRS[:, 1], :2]
        gap = lower - upper
        half_src = np.linalg.norm(gap, axis=1) / 2.0
        tgt = target_vertices
        gap_tgt = np.linalg.norm(tgt[_INNER_PAIRS[:, 1], :2] - tgt[_INNER_PAIRS[:, 0], :2], axis=1) / scale
        reach = self._own_reach(gap_tgt)
        unit = gap / np.maximum(2.0 * half_src, 1e-9)[:, None]
        out = src.copy()
        out[self.mid_up, :2] = upper + unit * reach[:, None]
        out[self.mid_low, :2] = lower - unit * reach[:, None]
        return out

    def extend(self, landmarks: NDArray[np.floating], shares: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        """(V, 2) positions of the landmark-defined vertices for other landmarks
        (e.g. the driver's): the landmarks and the mouth strip's middle rows, at
        ``shares`` (:meth:`mouth_shares` of a frame: the driver's opening then
        maps onto the frame's strip evenly) or halfway; 0 elsewhere."""
        lm = np.asarray(landmarks, np.float64)[:, :2]
        out = np.zeros((self.n_vertices, 2))
        out[: len(lm)] = lm
        upper, lower = lm[_INNER_PAIRS[:, 0]], lm[_INNER_PAIRS[:, 1]]
        for rows in (self.mid_up, self.mid_low):
            share = np.full(len(rows), 0.5) if shares is None else shares[rows]
            out[rows] = upper + (lower - upper) * share[:, None]
        return out


def signed_areas(corners: NDArray[np.floating]) -> NDArray[np.float64]:
    """Twice the signed area of each triangle of (T, 3, 2+) corners: a
    triangle whose sign differs between two layouts turned over."""
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def ring_vertices(k: int) -> NDArray[np.intp]:
    """The vertex indices of ring ``k`` (0: the first round the face oval, up to
    ``N_RINGS - 1``: the still one), one per oval landmark, in the oval's order."""
    n_oval = len(topo.FACE_OVAL)
    return topo.N_LANDMARKS + k * n_oval + np.arange(n_oval)


def _ray_limit(centre: NDArray[np.float64], direction: NDArray[np.float64], lo: NDArray[np.float64], hi: NDArray[np.float64]) -> float:
    """Distance along ``direction`` from ``centre`` to the rectangle [lo, hi]."""
    t = np.inf
    for axis in range(2):
        d = direction[axis]
        if d > 1e-9:
            t = min(t, (hi[axis] - centre[axis]) / d)
        elif d < -1e-9:
            t = min(t, (lo[axis] - centre[axis]) / d)
    return float(t)


def build_mesh(landmarks: NDArray[np.floating], size_wh: tuple[int, int]) -> ExtendedMesh:
    """Build the extended mesh for a portrait of ``size_wh`` with these landmarks."""
    lm = np.asarray(landmarks, np.float64)
    width, height = size_wh
    iod = eye_distance(lm)
    oval_idx = np.asarray(topo.FACE_OVAL)
    oval = lm[oval_idx]
    centre = oval[:, :2].mean(axis=0)
    # The frame: a rectangle enclosing the image and the face, with a margin.
    lo = np.minimum(np.array([-2.0, -2.0]), oval[:, :2].min(axis=0) - 0.5 * iod)
    hi = np.maximum(np.array([width + 1.0, height + 1.0]), oval[:, :2].max(axis=0) + 0.5 * iod)

    n_oval = len(oval_idx)
    rings, follow, anchor, crown = [], [], [], []
    frame_pts = []
    for i in range(n_oval):
        d = oval[i, :2] - centre
        r = float(np.linalg.norm(d))
        direction = d / max(r, 1e-9)
        limit = _ray_limit(centre, direction, lo, hi) / max(r, 1e-9)  # in oval radii
        # Squeeze the rings where the frame is near, so they stay inside it.
        room = max(limit - 1.0, 1e-3) * 0.9
        squeeze = min(1.0, room / (RING_SCALES[-1] - 1.0))
        up = float(np.clip(-direction[1], -1.0, 1.0))  # +1 at the top of the head
        t = (up + 1.0) / 2.0
        for k, scale in enumerate(RING_SCALES):
            f = 1.0 + (scale - 1.0) * squeeze
            p = centre + d * f
            z = oval[i, 2] + 0.05 * iod * (k + 1)
            rings.append((k, i, p[0], p[1], z))
            top, bottom = RING_FOLLOW[k]
            follow.append(bottom + (top - bottom) * t)
            crown.append(max(up, 0.0) * follow[-1] * RING_CROWN[k])
            anchor.append(oval_idx[i])
        # The still ring; where the frame is nearer, on the frame (as if there were none).
        p = centre + d * min(STILL_SCALE, limit)
        rings.append((len(RING_SCALES), i, p[0], p[1], oval[i, 2] + 0.05 * iod * N_RINGS))
        follow.append(0.0)
        crown.append(0.0)
        anchor.append(oval_idx[i])
        frame_pts.append(centre + direction * limit * r)
    n = topo.N_LANDMARKS
    ring_xyz = np.zeros((N_RINGS * n_oval, 3))
    for k, i, x, y, z in rings:
        ring_xyz[k * n_oval + i] = (x, y, z)
    follow_arr = np.zeros(N_RINGS * n_oval)
    anchor_arr = np.zeros(N_RINGS * n_oval, np.int32)
    crown_arr = np.zeros(N_RINGS * n_oval)
    for j, (k, i, *_rest) in enumerate(rings):
        follow_arr[k * n_oval + i] = follow[j]
        crown_arr[k * n_oval + i] = crown[j]
        anchor_arr[k * n_oval + i] = anchor[j]
    frame_xyz = np.column_stack([np.asarray(frame_pts), np.full(n_oval, FAR)])
    corners = np.array([[lo[0], lo[1], FAR], [hi[0], lo[1], FAR], [hi[0], hi[1], FAR], [lo[0], hi[1], FAR]])
    mid = (lm[_INNER_PAIRS[:, 0]] + lm[_INNER_PAIRS[:, 1]]) / 2.0
    vertices = np.vstack([lm, ring_xyz, frame_xyz, corners, mid, mid])
    frame_start = n + N_RINGS * n_oval
    corner_start = frame_start + n_oval
    n_pairs = len(_INNER_PAIRS)
    mid_up = np.arange(corner_start + 4, corner_start + 4 + n_pairs)
    mid_low = mid_up + n_pairs

    tris: list[NDArray[np.int32]] = []
    kinds: list[NDArray[np.int8]] = []

    def add(t: NDArray[np.int32] | list, kind: int) -> None:
        arr = np.asarray(t, np.int32).reshape(-1, 3)
        tris.append(arr)
        kinds.append(np.full(len(arr), kind, np.int8))

    add(topo.mesh_triangles(), FACE)
    add(topo.strip_triangles(topo.RIGHT_EYE_CORNERS, topo.RIGHT_EYE_PAIRS), EYE)
    add(topo.strip_triangles(topo.LEFT_EYE_CORNERS, topo.LEFT_EYE_PAIRS), EYE)
    # The mouth strip in two halves, upper lip to middle line to lower lip.
    upper_half = tuple(zip(_INNER_PAIRS[:, 0].tolist(), mid_up.tolist(), strict=True))
    lower_half = tuple(zip(mid_low.tolist(), _INNER_PAIRS[:, 1].tolist(), strict=True))
    add(topo.strip_triangles(topo.MOUTH_CORNERS_INNER, upper_half), MOUTH)
    add(topo.strip_triangles(topo.MOUTH_CORNERS_INNER, lower_half), MOUTH)
    # Between the halves, the band that opens where the mouth opens wider than
    # the portrait's (empty until then): the new interior's.
    middle = tuple(zip(mid_up.tolist(), mid_low.tolist(), strict=True))
    add(topo.strip_triangles(topo.MOUTH_CORNERS_INNER, middle), MOUTH)
    # Strips between the oval and the rings, and the still ring and the frame.
    loops = [oval_idx] + [ring_vertices(k) for k in range(N_RINGS)]
    loops.append(frame_start + np.arange(n_oval))
    for k, (a, b) in enumerate(zip(loops[:-1], loops[1:])):
        quads = []
        for i in range(n_oval):
            j = (i + 1) % n_oval
            quads += [(a[i], a[j], b[i]), (a[j], b[j], b[i])]
        add(quads, FRAME if k == N_RINGS else HEAD)
    # Corner wedges where consecutive frame points lie on different sides.
    corner_xy = vertices[corner_start:, :2]
    for i in range(n_oval):
        j = (i + 1) % n_oval
        pi, pj = vertices[frame_start + i, :2], vertices[frame_start + j, :2]
        for c in range(4):
            cxy = corner_xy[c]
            # The corner lies between the two points if the triangle pi, pj, c
            # is on the outer side of the segment (away from the face centre).
            side_c = np.cross(pj - pi, cxy - pi)
            side_o = np.cross(pj - pi, centre - pi)
            if side_c * side_o < 0 and _between(centre, pi, pj, cxy):
                add([(frame_start + i, frame_start + j, corner_start + c)], FRAME)

    triangles = np.vstack(tris)
    kind_arr = np.concatenate(kinds)
    bias = np.zeros(len(triangles), np.float32)
    bias[(kind_arr == EYE) | (kind_arr == MOUTH)] = 0.03 * iod
    follow_all = np.concatenate([np.ones(n), follow_arr, np.zeros(n_oval + 4), np.ones(2 * n_pairs)])
    anchor_all = np.concatenate([np.arange(n), anchor_arr, np.full(n_oval + 4 + 2 * n_pairs, -1)]).astype(np.int32)
    crown_all = np.concatenate([np.zeros(n), crown_arr, np.zeros(n_oval + 4 + 2 * n_pairs)])
    return ExtendedMesh(vertices, triangles, kind_arr, bias, follow_all, anchor_all, mid_up, mid_low, crown_all, OWN_BAND * iod)


def _between(centre: NDArray[np.float64], a: NDArray[np.float64], b: NDArray[np.float64], c: NDArray[np.float64]) -> bool:
    """Whether the direction to ``c`` from ``centre`` lies between those to a and b."""
    va, vb, vc = a - centre, b - centre, c - centre
    cross_ab = np.cross(va, vb)
    return bool(np.cross(va, vc) * cross_ab >= 0 and np.cross(vc, vb) * cross_ab >= 0)
