"""Relative retargeting: the driver's changes from its reference frame, on the portrait.

``target = source + transfer(driver_t - driver_ref)`` in a pose-free frame, then the
driver's head-pose change is composed onto the source pose. Because only *changes*
are transferred, and scaled to the portrait's face, the driver's face shape never
leaks into the portrait. Eye opening is transferred as a ratio (so a blink closes
a big cartoon eye fully) and mouth opening as a ratio below the reference (so an
open-mouthed portrait closes when the driver closes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import astuple, dataclass, field, fields
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from enliven.errors import ConfigError
from enliven.face import topology as topo
from enliven.face.smoothing import OneEuroFilter
from enliven.motion.measures import Expression, eye_distance, eye_gazes, eye_opening, mouth_opening
from enliven.motion.pose import (
    STABLE_INDEX,
    Similarity,
    euler_deg,
    face_yaw_deg,
    fit_stable,
    matrix_from_rotvec,
    rotation_angle_deg,
    rotation_from_euler,
    rotvec_from_matrix,
    scale_rotation,
    umeyama,
)
from enliven.types import FaceObservation

if TYPE_CHECKING:
    from enliven.motion.detail import DetailField


@dataclass(frozen=True)
class RetargetConfig:
    """How the driver's motion maps onto the portrait."""

    head_gain: float = 1.0  # 0..2; 0 keeps the portrait's head still
    eyes_gain: float = 1.0  # 0..2; 0 keeps the portrait's eyes (no blinks, no gaze)
    brows_gain: float = 1.0  # 0..2
    mouth_gain: float = 1.0  # 0..2; 0 keeps the portrait's mouth
    max_translation: float = 0.35  # head shift limit, in portrait eye distances
    max_eye_ratio: float = 1.6  # eyes open at most this much wider than the portrait's
    smooth_min_cutoff_hz: float = 1.5  # One-Euro cutoff at rest (jitter removal)
    smooth_beta: float = 8.0  # One-Euro speed coefficient, per eye distance per second
    lips_min_cutoff_hz: float = 4.0  # lips and lids follow fast motion with no lag
    # Cutoff of the lips' and lids' speed estimate (One-Euro's d_cutoff), about
    # the syllable rate. At 1 Hz (the rest of the face's) the speed, and with it
    # the cutoff, rose too late for a 'p' or an 'm' shut for two frames: the
    # target was still 0.09 open on the first (talk_expressive_01 frame 56,
    # driver 0.002 after 0.22), 0.04 at 6 Hz.
    lips_speed_cutoff_hz: float = 6.0
    # The head's pose: at 1.5 Hz it lagged the driver by about a frame and a half
    # (pitch r, driver vs re-tracked output, peaked one frame late); at 4 Hz its
    # frame-to-frame jitter stays under half the driver's tracked pose jitter.
    pose_min_cutoff_hz: float = 4.0
    # Damp head turns toward the side of the face a turned portrait hides: the
    # warp has no picture of it, and past a few degrees it smears.
    limit_reveal: bool = True
    # A closing lid's band of lashes keeps about its height and the skin up to
    # the brow takes the lid's travel (Retargeter._unfold_lids): a shut eye is
    # smooth lid over a lash line, not lashes stretched over the whole lid. Off
    # by default: re-tracked, the Mona Lisa's shut left eye read as open
    # (blink_wink_01 r 0.96 -> 0.82), and brows and jitter fell a little
    # (docs/quality-log.md).
    unfold_lids: bool = False
    hold_s: float = 0.4  # a lost face holds its last motion this long ...
    ease_s: float = 0.8  # ... then eases back to the reference over this long

    def __post_init__(self) -> None:
        for name in ("head_gain", "eyes_gain", "brows_gain", "mouth_gain"):
            value = getattr(self, name)
            if not 0.0 <= value <= 2.0 or math.isnan(value):
                raise ConfigError(f"{name} must be in [0, 2], got {value}")
        if not 1.0 <= self.max_eye_ratio <= 3.0:
            raise ConfigError(f"max_eye_ratio must be in [1, 3], got {self.max_eye_ratio}")
        for name in ("smooth_min_cutoff_hz", "lips_min_cutoff_hz", "lips_speed_cutoff_hz", "pose_min_cutoff_hz"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        if self.hold_s < 0 or self.ease_s <= 0:
            raise ConfigError("hold_s must be >= 0 and ease_s > 0")


@dataclass(frozen=True)
class HeadMotion:
    """The head's rigid change, in portrait pixels, about ``centre``.

    ``p' = centre + scale * rotation @ (p - centre) + translation``
    """

    centre: NDArray[np.float64]
    rotation: NDArray[np.float64] = field(default_factory=lambda: np.eye(3))
    scale: float = 1.0
    translation: NDArray[np.float64] = field(default_factory=lambda: np.zeros(3))

    def apply(self, points: NDArray[np.floating]) -> NDArray[np.float64]:
        """Move points of shape (N, 3) with the head."""
        rel = np.asarray(points, np.float64) - self.centre
        return self.centre + self.scale * rel @ self.rotation.T + self.translation


@dataclass(frozen=True)
class TargetShape:
    """Where the portrait's face should be in one output frame.

    landmarks : (478, 3) float64, portrait pixels (z in the same units).
    head : the rigid part of the motion, for the hair, ears and neck rings.
    mouth_new : 0..1, how much of the target mouth opening the portrait does not
        show (0 keeps the portrait's own mouth interior, 1 needs a new interior).
    driver : the driver's observation this was made from (None for held frames or
        procedural performances); the renderer takes the mouth interior from it.
    detail : what the landmarks miss (flow and shading), when measured.
    crown : how much further the top of the head moves than the rigid head and
        the forehead say, portrait pixels, when measured (see
        :mod:`enliven.motion.crown`); the hair rings take it.
    """

    landmarks: NDArray[np.float64]
    head: HeadMotion
    mouth_new: float = 0.0
    driver: FaceObservation | None = None
    driver_rgb: NDArray[np.uint8] | None = None
    tracked: bool = True
    detail: DetailField | None = None  # residual flow and shading beyond landmarks
    crown: NDArray[np.float64] | None = None  # (2,) portrait px: the crown's move unlike the forehead's


def _region_weights(source: NDArray[np.float64], members: tuple[int, ...], sigma: float) -> NDArray[np.float64]:
    pts = source[:, :2]
    region = pts[list(members)]
    d = np.linalg.norm(pts[:, None, :] - region[None, :, :], axis=2).min(axis=1)
    return np.exp(-((d / sigma) ** 2))


_EYE_POINTS = tuple(topo.eye_loop(topo.RIGHT_EYE_PAIRS, topo.RIGHT_EYE_CORNERS)) + tuple(
    topo.eye_loop(topo.LEFT_EYE_PAIRS, topo.LEFT_EYE_CORNERS)
) + topo.RIGHT_IRIS + topo.LEFT_IRIS
_LIP_POINTS = tuple(
    [*topo.MOUTH_CORNERS_INNER, *topo.MOUTH_CORNERS_OUTER]
    + [i for pair in topo.INNER_LIP_PAIRS + topo.OUTER_LIP_PAIRS for i in pair]
)
_FAST_POINTS = _EYE_POINTS + _LIP_POINTS
_OPEN_REST = 0.15  # portrait lip gap (over eye distance) still read as a rest pose
# (shared portraits: closed 0.001-0.004, parted or smiling 0.06-0.12, a shout 0.47)
_OPEN_FULL = 0.15  # gap above the rest at which the driver's gap is taken as it is
_REF_REST_GAP = 0.05  # a driver's reference lip gap up to this is a mouth at rest (parted lips)
_EYE_SHUT = 0.05  # eye opening (over eye width) the tracker reports for a shut eye
_LID_BAND_STRETCH = 1.3  # a closing lid: its lashes' band grows at most this much (Retargeter._unfold_lids)
_UPPER_SHARE = 0.25  # of a change of lip gap, the upper lip's; the jaw moves the rest
# Each mouth corner, inner to outer (image-left, then right): where the lips meet.
_CORNERS = np.asarray(((78, 62, 76, 61), (308, 292, 306, 291)), np.intp)
_CORNER_SIGMA = 0.1  # eye distances over which a corner's move fades into the skin round it
_FAR_EYE_FROM, _FAR_EYE_SPAN = 15.0, 15.0  # driver yaw (degrees) where the far eye stops being read
_LOWER_COLUMNS = np.asarray(topo.LOWER_LIP_COLUMNS, np.intp)
# Of each lower-lip column, the rows past the inner lip that an open portrait
# lays along the lip (:meth:`Retargeter._lay_ribbon`): the lip's two rings, its
# outer edge and the ring under it, which runs along the lip's lower edge (the
# mesh's outer lip lies a pixel or two inside it).
_RIBBON_ROWS = 4
_UPPER_COLUMNS = np.asarray(topo.UPPER_LIP_COLUMNS, np.intp)
_PHILTRUM = np.asarray(topo.PHILTRUM_CHAINS, np.intp)
_PHILTRUM_MIDDLE = topo.PHILTRUM_CHAINS.index((0, 164, 2))  # the chain down the face's middle
# How much more the skin just above the upper lip may stretch than the skin
# under the nose before the stretch is moved up into the latter (fully by twice it).
_PHILTRUM_UNEVEN = 1.5
_PHILTRUM_STRETCH = 1.5  # the skin between nose and upper lip lengthens at most this much as a mouth closes
_BAND_SOFT = 0.02  # eye distances added to both band lengths of a ratio: thin bands change little
_BAND_RATIO = (0.5, 2.5)  # a band of the lower lip grows or shrinks at most this much
_WIDTH_SCALE = (0.4, 1.0)  # portrait mouth width over the driver's: the lips' sideways moves scale by it
_WIDTH_SIGMA = 0.45  # eye distances from the lips over which that scaling fades into the cheeks
# An opening may be at most this many times as tall for its width as the
# driver's. 1.0 took a third off a small drawn mouth's talking and thickened its
# upper lip; at 1.25 only mouths under 0.8 of the driver's width are held.
_ASPECT_SLACK = 1.25


def _laid_out(columns: NDArray[np.intp]) -> list[NDArray[np.intp]]:
    """Each column up to its first point an earlier column already has (the
    rings under the lip have fewer points than the lip): that point, placed by
    the earlier column, ends this one."""
    seen: set[int] = set()
    out = []
    for column in columns:
        shared = [k for k, point in enumerate(column) if k > 0 and int(point) in seen]
        out.append(column[: shared[0] + 1] if shared else column)
        seen.update(int(point) for point in column)
    return out


_LAID_OUT = _laid_out(_LOWER_COLUMNS)
_UNDER_LIP = [column[_RIBBON_ROWS:] for column in _LAID_OUT]  # from the ring under the lip down
_UNDER_FREE = np.unique(np.concatenate([c[1:-1] for c in _UNDER_LIP]))  # the skin (by :class:`_EvenStrain`)
# The points the ribbon places: its rows, and the skin under them down to the jaw's outline.
_RIBBON_MOVED = np.union1d(_LOWER_COLUMNS[:, 1 : _RIBBON_ROWS + 1].ravel(), _UNDER_FREE)
_STRAIN_FLOOR = 0.01  # eye distances added to every edge's length under the lip (coincident points)
_ORDER_GAP = 0.5  # px: a point of a column under the lip is kept at least this far past the one before


class _EvenStrain:
    """Places some landmarks (``free``) among the others, which stay, so that the
    mesh's edges at them stretch alike: least squares of each edge's change
    (as a vector) over its length in the portrait (``source``; ``floor`` px is
    added to every length). A short edge changes little, so a sliver of the
    mesh stays a sliver: laid out down the columns, where the leftover length
    is shared by the bands' sizes, the crowded rings under a shouting lip
    stretched as much as their neighbours, and the lip's edge and its shadow
    between them became a pink band under her closed lip
    (``photo_woman_surprised_01``: rings 2 px apart stretched 2.1-2.8 times,
    and the 4 px outside her outer lip covered about 13 px; 1.4-1.5 times
    now)."""

    def __init__(self, source: NDArray[np.float64], free: NDArray[np.intp], floor: float) -> None:
        tris = np.asarray(topo.mesh_triangles(), np.intp)
        edges = np.unique(np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [0, 2]]]), axis=1), axis=0)
        is_free = np.zeros(len(source), bool)
        is_free[free] = True
        edges = edges[is_free[edges].any(axis=1)]
        self.free = np.asarray(free, np.intp)
        self.fixed = np.setdiff1d(np.unique(edges), self.free)
        where = np.full(len(source), -1)
        where[self.free] = np.arange(len(self.free))
        where_fixed = np.full(len(source), -1)
        where_fixed[self.fixed] = np.arange(len(self.fixed))
        xy = np.asarray(source, np.float64)[:, :2]
        a = np.zeros((len(self.free), len(self.free)))
        b = np.zeros((len(self.free), len(self.fixed)))
        for i, j in edges:
            w = 1.0 / (float(np.sum((xy[i] - xy[j]) ** 2)) + floor**2)
            for p, q in ((i, j), (j, i)):
                if where[p] < 0:
                    continue
                a[where[p], where[p]] += w
                if where[q] >= 0:
                    a[where[p], where[q]] -= w
                else:
                    b[where[p], where_fixed[q]] += w
        self._gain = np.linalg.solve(a, b)  # free moves = gain @ fixed moves
        self._rest_free, self._rest_fixed = xy[self.free], xy[self.fixed]

    def place(self, points: NDArray[np.float64]) -> NDArray[np.float64]:
        """(free, 2) positions of the free points among ``points``' others."""
        return self._rest_free + self._gain @ (np.asarray(points)[self.fixed, :2] - self._rest_fixed)


# How far a portrait may turn toward the side it hides, by its own yaw:
# _REVEAL_FRONTAL - _REVEAL_PER_DEG * |yaw|, at least _REVEAL_MIN. Looked at on
# three portraits turned 10, 17 and 32 degrees (a photo, the Mona Lisa, Vermeer):
# the hidden cheek starts to smear past about 15-20, 10 and 3 degrees of such turn.
_REVEAL_FRONTAL, _REVEAL_PER_DEG, _REVEAL_MIN = 25.0, 0.85, 2.0
_REVEAL_FROM = 5.0  # portraits turned less than this hide nothing: no limit


def reveal_limit_deg(portrait_yaw_deg: float) -> float | None:
    """How far (degrees) a portrait turned by this yaw may turn toward its hidden
    side; None when it hides nothing worth limiting."""
    turned = abs(portrait_yaw_deg)
    if turned < _REVEAL_FROM:
        return None
    return max(_REVEAL_MIN, _REVEAL_FRONTAL - _REVEAL_PER_DEG * turned)


class Retargeter:
    """Turns driver observations into :class:`TargetShape` for one portrait.

    Parameters
    ----------
    source : (478, 3) landmarks of the portrait.
    reference : (478, 3) landmarks of the driver's reference frame (the frame
        whose pose and expression stand for the portrait's).
    """

    def __init__(
        self,
        source: NDArray[np.floating],
        reference: NDArray[np.floating],
        config: RetargetConfig | None = None,
    ) -> None:
        self.config = config or RetargetConfig()
        self.source = np.asarray(source, np.float64)
        self.reference = np.asarray(reference, np.float64)
        self.iod_source = eye_distance(self.source)
        self.iod_reference = eye_distance(self.reference)
        # Driver-reference frame -> portrait frame (rotation and size).
        self._to_source = fit_stable(self.reference, self.source)
        self.centre = self.source[STABLE_INDEX].mean(axis=0)
        self._ref_centre = self.reference[STABLE_INDEX].mean(axis=0)
        cfg = self.config
        sigma = 0.18 * self.iod_source
        eyes = _region_weights(self.source, _EYE_POINTS, sigma)
        brows = _region_weights(self.source, topo.RIGHT_BROW + topo.LEFT_BROW, sigma)
        mouth = _region_weights(self.source, _LIP_POINTS, 0.45 * self.iod_source)
        gain = 1.0 + eyes * (cfg.eyes_gain - 1) + brows * (cfg.brows_gain - 1) + mouth * (cfg.mouth_gain - 1)
        self._gain = np.clip(gain, 0.0, 2.0)[:, None]
        cutoff = np.full((topo.N_LANDMARKS, 1), cfg.smooth_min_cutoff_hz)
        cutoff[list(_FAST_POINTS)] = cfg.lips_min_cutoff_hz
        speed_cutoff = np.full((topo.N_LANDMARKS, 1), 1.0)  # the rest: One-Euro's usual 1 Hz
        speed_cutoff[list(_FAST_POINTS)] = cfg.lips_speed_cutoff_hz
        self._shape_filter = OneEuroFilter(cutoff, cfg.smooth_beta, speed_cutoff)
        self._pose_filter = OneEuroFilter(cfg.pose_min_cutoff_hz, cfg.smooth_beta)
        self._src_eye_half = {
            side: self._half_gaps(self.source, pairs)
            for side, pairs in (("right", topo.RIGHT_EYE_PAIRS), ("left", topo.LEFT_EYE_PAIRS))
        }
        self._ref_eye_open = {side: eye_opening(self.reference, side) for side in ("right", "left")}
        self._src_mouth = mouth_opening(self.source)
        self._lid_bands = {
            "right": self._band_heights(topo.RIGHT_EYE_PAIRS, topo.RIGHT_LID_RINGS),
            "left": self._band_heights(topo.LEFT_EYE_PAIRS, topo.LEFT_LID_RINGS),
        }
        self._jaw = _jaw_weights(self.source, self.iod_source)
        # Per mouth corner (as _CORNERS), how much each landmark moves with it:
        # the corner's points fully, the skin round them fading; not the lips
        # that the mouth's gap sets, nor the other corner.
        self._corner_weights = []
        for ring, other in zip(_CORNERS, _CORNERS[::-1], strict=True):
            w = _region_weights(self.source, tuple(ring.tolist()), _CORNER_SIGMA * self.iod_source)
            w[ring] = 1.0
            w[_UPPER_COLUMNS.ravel()] = 0.0
            w[np.asarray(topo.INNER_LIP_PAIRS)[:, 1]] = 0.0
            w[other] = 0.0
            self._corner_weights.append(w)
        chains = self.source[_PHILTRUM, :2]  # (chains, lip | ring | nose, 2)
        self._philtrum_bands = np.maximum(  # px: nose to ring, ring to lip
            np.stack([np.linalg.norm(chains[:, 1] - chains[:, 2], axis=1), np.linalg.norm(chains[:, 0] - chains[:, 1], axis=1)], axis=1),
            0.5,
        )
        self._src_steps = [_along_steps(self.source, column) for column in _LAID_OUT]
        # An open mouth's lower lip, each row placed along the one above it.
        self._ribbon_weight = float(np.clip((mouth_opening(self.source) - _OPEN_REST) / _OPEN_FULL, 0.0, 1.0))
        self._ribbon = [
            _on_polyline(_lip_row(self.source, k - 1), self.source[_LOWER_COLUMNS[:, k], :2])
            for k in range(1, _RIBBON_ROWS + 1)
        ]
        if min(float(out.min()) for _, out, _ in self._ribbon) <= 0.0:
            self._ribbon_weight = 0.0  # rows out of order (a tangled mesh): nothing to lay along
        # The skin under it, between the ring under the lip and the jaw's outline.
        self._under_steps = [_along_steps(self.source, column) for column in _UNDER_LIP]
        self._under_lip = _EvenStrain(self.source, _UNDER_FREE, _STRAIN_FLOOR * self.iod_source) if self._ribbon_weight > 0.0 else None
        corners = self.source[list(topo.MOUTH_CORNERS_OUTER), :2]
        across = corners[1] - corners[0]
        width = float(np.linalg.norm(across))
        self._across = across / max(width, 1e-9)
        self._mouth_centre = corners.mean(axis=0)
        ref_corners = self.reference[list(topo.MOUTH_CORNERS_OUTER), :2]
        ref_width = float(np.linalg.norm(ref_corners[1] - ref_corners[0])) * self._to_source.scale
        self.width_scale = float(np.clip(width / max(ref_width, 1e-9), *_WIDTH_SCALE))
        near_lips = _region_weights(self.source, _LIP_POINTS, _WIDTH_SIGMA * self.iod_source)
        self._width_weight = (self.width_scale - 1.0) * near_lips
        self._ref_bands = _band_lengths(self.reference, _LOWER_COLUMNS).sum(axis=0) + _BAND_SOFT * self.iod_reference
        self._ref_mouth = mouth_opening(self.reference)
        self.portrait_yaw_deg = face_yaw_deg(self.source)
        self._driver_yaw = face_yaw_deg(self.reference)  # the driver's turn from the camera, last seen
        # Degrees a turn toward the portrait's hidden side is eased into (None: not eased).
        self.reveal_limit = reveal_limit_deg(self.portrait_yaw_deg) if cfg.limit_reveal else None
        self._last_time_s: float | None = None
        self._last: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None
        self._lost_since_s: float | None = None
        self.frames_lost = 0

    def driver_to_portrait(self) -> NDArray[np.float64]:
        """(2, 2) linear map of an image move of the driver (reference-frame px)
        to the same move of the portrait, as the head's translation is mapped."""
        gain = self.config.head_gain * self.iod_source / max(self.iod_reference, 1e-9)
        return self._to_source.rotation[:2, :2] * gain

    @staticmethod
    def _half_gaps(points: NDArray[np.float64], pairs: tuple[tuple[int, int], ...]) -> NDArray[np.float64]:
        idx = np.asarray(pairs)
        return (points[idx[:, 0]] - points[idx[:, 1]]) / 2.0

    # -- per frame ------------------------------------------------------------------
    def step(
        self,
        observation: FaceObservation | None,
        time_s: float,
        driver_rgb: NDArray[np.uint8] | None = None,
    ) -> TargetShape:
        """The target shape for the driver's frame at ``time_s``.

        ``observation`` None means the driver's face was lost in this frame: the
        last motion is held for ``hold_s``, then eases back to the reference.
        """
        dt = 1 / 30 if self._last_time_s is None else max(time_s - self._last_time_s, 1e-3)
        self._last_time_s = time_s
        if observation is None:
            self.frames_lost += 1
            if self._lost_since_s is None:
                self._lost_since_s = time_s
            delta, pose = self._held(time_s - self._lost_since_s)
            tracked = False
        else:
            self._lost_since_s = None
            self._driver_yaw = face_yaw_deg(observation.landmarks)
            delta, pose = self._measure(observation.landmarks, dt)
            self._last = (delta, pose)
            tracked = True
        landmarks, head, mouth_new = self._compose(delta, pose)
        return TargetShape(
            landmarks,
            head,
            mouth_new,
            observation if tracked else None,
            driver_rgb if tracked else None,
            tracked,
        )

    def _measure(self, driver: NDArray[np.floating], dt: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Pose-free expression change (in reference units) and pose vector."""
        driver = np.asarray(driver, np.float64)
        to_ref = fit_stable(driver, self.reference)
        canonical = to_ref.apply(driver)
        unit = self.iod_reference
        norm = (canonical - self._ref_centre) / unit
        smooth = self._shape_filter(norm, dt) * unit + self._ref_centre
        delta = smooth - self.reference
        # Pose change ref -> frame t: the inverse of the fit, as a 7-vector.
        from_ref = to_ref.inverse()
        rotvec = rotvec_from_matrix(from_ref.rotation)
        centre_t = from_ref.apply(self._ref_centre[None])[0]
        pose = np.concatenate([rotvec, [math.log(from_ref.scale)], (centre_t - self._ref_centre) / unit])
        pose = self._pose_filter(pose, dt)
        return delta, pose

    def _held(self, lost_for_s: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        if self._last is None:
            return np.zeros_like(self.reference), np.zeros(7)
        cfg = self.config
        fade = 1.0 - min(max(lost_for_s - cfg.hold_s, 0.0) / cfg.ease_s, 1.0)
        fade = 0.5 - 0.5 * math.cos(math.pi * fade)  # smooth ease
        delta, pose = self._last
        return delta * fade, pose * fade

    def _compose(
        self, delta_ref: NDArray[np.float64], pose: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], HeadMotion, float]:
        cfg = self.config
        to_src = self._to_source
        delta = to_src.scale * delta_ref @ to_src.rotation.T * self._gain
        target = self.source + delta
        mouth_new = self._fix_openings(target, self.reference + delta_ref)

        rot_ref = matrix_from_rotvec(pose[:3])
        rot_src = to_src.rotation @ rot_ref @ to_src.rotation.T
        rot_src = scale_rotation(rot_src, cfg.head_gain)
        if self.reveal_limit is not None:
            rot_src = self._damp_reveal(rot_src, self.reveal_limit)
        scale = math.exp(pose[3] * cfg.head_gain)
        shift = to_src.rotation @ (pose[4:] * self.iod_source) * cfg.head_gain
        shift[2] = 0.0
        limit = cfg.max_translation * self.iod_source
        norm = float(np.linalg.norm(shift[:2]))
        if norm > limit:
            shift *= limit / norm
        head = HeadMotion(self.centre, rot_src, scale, shift)
        return head.apply(target), head, mouth_new

    def _damp_reveal(self, rotation: NDArray[np.float64], limit: float) -> NDArray[np.float64]:
        """The rotation with its yaw toward the portrait's hidden side eased into
        ``limit`` degrees (``limit * tanh(yaw / limit)``); turns away are kept."""
        yaw, pitch, roll = euler_deg(rotation)
        if yaw * self.portrait_yaw_deg >= 0.0:  # turning further away: nothing hidden shows
            return rotation
        eased = math.copysign(limit * math.tanh(abs(yaw) / limit), yaw)
        return rotation_from_euler(eased, pitch, roll)

    def _fix_openings(self, target: NDArray[np.float64], driver: NDArray[np.float64]) -> float:
        """Set lid and lip gaps of ``target`` by ratio, in place.

        ``driver`` is the driver's (smoothed, pose-free) face. Returns the share of
        the target mouth opening that the portrait does not show (0..1).
        """
        cfg = self.config
        ratios = {}
        for side in ("right", "left"):
            ref_open = self._ref_eye_open[side]
            if ref_open < 0.08:  # the driver's reference eye is shut: no ratio
                continue
            # The tracker reads a shut eye as ~0.03-0.06 open, not 0 (shared
            # clips); measured from that floor, a blink closes the portrait's
            # eye fully instead of leaving a band of iris and lashes.
            ratios[side] = (eye_opening(driver, side) - _EYE_SHUT) / (ref_open - _EYE_SHUT)
        # The far eye of a driver turned far is foreshortened, and the tracker's
        # reading of it is not to be trusted: turned 37-41 degrees, the driver of
        # head_turn_big_01 reads 0.42-0.53 open on the far eye against 0.15-0.16
        # on the near one (0.21 both at his reference), and the portrait's far
        # eye opened wide. Past _FAR_EYE_FROM degrees it takes the near eye's
        # ratio, fully from _FAR_EYE_FROM + _FAR_EYE_SPAN (a wink there is lost).
        far, near = ("right", "left") if self._driver_yaw > 0 else ("left", "right")
        w = float(np.clip((abs(self._driver_yaw) - _FAR_EYE_FROM) / _FAR_EYE_SPAN, 0.0, 1.0))
        if w > 0 and far in ratios and near in ratios:
            ratios[far] = (1.0 - w) * ratios[far] + w * ratios[near]
        for side, pairs, rings in (
            ("right", topo.RIGHT_EYE_PAIRS, topo.RIGHT_LID_RINGS),
            ("left", topo.LEFT_EYE_PAIRS, topo.LEFT_LID_RINGS),
        ):
            if side not in ratios:
                continue
            ratio = 1.0 + cfg.eyes_gain * (ratios[side] - 1.0)
            ratio = float(np.clip(ratio, 0.0, cfg.max_eye_ratio))
            idx = np.asarray(pairs)
            mid = (target[idx[:, 0]] + target[idx[:, 1]]) / 2.0
            half = self._src_eye_half[side] * ratio
            target[idx[:, 0]] = mid + half
            target[idx[:, 1]] = mid - half
            if ratio < 1.0 and cfg.unfold_lids:
                self._unfold_lids(target, pairs, rings, self._lid_bands[side])
        # Mouth: above the driver's reference opening the change adds; below it,
        # the portrait's own opening shrinks in proportion, down to closed.
        drv_gap, src_gap = mouth_opening(driver), self._src_mouth
        # A reference mouth open wider than the portrait's and than a mouth at
        # rest is open, not resting (a singer who never closes his mouth in the
        # window searched): counted as rest only up to that, the portrait's mouth
        # opens with the rest of his opening instead of staying shut below it.
        ref_gap = min(self._ref_mouth, max(src_gap, _REF_REST_GAP))
        gain = cfg.mouth_gain
        if drv_gap >= ref_gap or ref_gap < 0.03:
            want = max(0.0, src_gap + gain * (drv_gap - ref_gap))
        else:
            want = src_gap * max(0.0, 1.0 - gain * (1.0 - drv_gap / ref_gap))
        # A portrait caught with its mouth open (a shout, a laugh) is an
        # expression, not a rest pose: the driver's own opening, as it is, says
        # how far the mouth is open, so the mouth talks and closes as the driver's
        # does instead of staying a fraction of the portrait's gape. The gain
        # goes from the portrait's gape (0) through the driver's opening (1) to
        # twice it (2); ``gain * drv_gap`` alone had shut a shouting portrait's
        # mouth at gain 0, which is to keep the portrait's mouth as it is.
        w = float(np.clip((src_gap - _OPEN_REST) / _OPEN_FULL, 0.0, 1.0))
        own = src_gap + gain * (drv_gap - src_gap) if gain <= 1.0 else gain * drv_gap
        want = (1.0 - w) * want + w * own
        now = mouth_opening(target)
        if abs(now - want) > 0.004:
            self._set_mouth_gap(target, want * self.iod_source)
        self._scale_mouth_width(target)
        want = self._round_opening(target, driver, drv_gap, want, src_gap)
        self._lay_out_lower_lip(target, driver)
        self._spread_philtrum(target)
        if want < 0.02:
            return 0.0
        return float(np.clip((want - src_gap) / want, 0.0, 1.0))

    def _band_heights(
        self, pairs: tuple[tuple[int, int], ...], rings: tuple[tuple[int, ...], ...]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """The portrait's bands round one eye, in the picture (px): from the
        upper lid's edge to the ring past it, from the lower lid's edge to the
        ring under it, and of the skin from that first ring up to the brow, the
        share beyond the fold's ring (what :meth:`_unfold_lids` moves the fold
        by)."""
        src = self.source[:, :2]
        idx = np.asarray(pairs)
        first, second, brow, under = (np.asarray(r) for r in rings)
        h2 = np.linalg.norm(src[second] - src[first], axis=1)
        h3 = np.linalg.norm(src[brow] - src[second], axis=1)
        return (
            np.linalg.norm(src[first] - src[idx[:, 0]], axis=1),
            np.linalg.norm(src[under] - src[idx[:, 1]], axis=1),
            h3 / np.maximum(h2 + h3, 1e-6),
        )

    def _unfold_lids(
        self,
        target: NDArray[np.float64],
        pairs: tuple[tuple[int, int], ...],
        rings: tuple[tuple[int, ...], ...],
        bands: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
    ) -> None:
        """Let a closing eye's lids unfold from their folds, in place.

        The band between a lid's edge and the mesh's ring beyond it is, on a
        portrait, mostly the lid's lashes (and a cartoon's drawn lid line). As
        the lids meet, that band had to cover the eye's whole height: a shut
        eye showed its lashes stretched into a bristly band (the photos, the
        anime portrait) or a brown one (the 3-D cartoon) where the driver shows
        smooth lid skin over a lash line. The band now grows at most
        ``_LID_BAND_STRETCH`` times its own height, and the ring beyond it comes
        along, so the skin between that ring and the next takes the rest of
        the lid's travel, as a real lid unfolds from its crease. ``bands``:
        :meth:`_band_heights` of this eye.
        """
        idx = np.asarray(pairs)
        first, second, _, under = (np.asarray(r) for r in rings)
        upper_height, lower_height, fold_share = bands
        for edge, ring, height in ((idx[:, 0], first, upper_height), (idx[:, 1], under, lower_height)):
            now = target[ring] - target[edge]
            length = np.linalg.norm(now[:, :2], axis=1)  # in the picture: depth does not show
            keep = _LID_BAND_STRETCH * height
            over = length > keep
            if not over.any():
                continue
            moved = now[over] * (keep[over] / length[over] - 1.0)[:, None]
            target[ring[over]] += moved
            if ring is first:
                # The fold's ring goes a share of the way, so the skin from the
                # lashes' ring up to the brow stretches evenly (a fold's shadow
                # is not drawn out alone).
                target[second[over]] += moved * fold_share[over][:, None]

    def _round_opening(
        self, target: NDArray[np.float64], driver: NDArray[np.float64], drv_gap: float, want: float, src_gap: float
    ) -> float:
        """Hold the mouth's opening to the driver's shape, in place; returns the
        opening (over eye distance) it leaves.

        The lips' sideways moves scale with the mouth's width
        (:meth:`_scale_mouth_width`) but the opening is added whole, so on a
        mouth narrower than the driver's an opening is taller for its width than
        the driver's: at the widest of pout_kiss_01's kiss the anime portrait's
        O was 1.43 times as tall as wide where the driver's was 0.92. The gap is
        capped at ``_ASPECT_SLACK`` times the driver's height over width, at the
        target's width; never below the portrait's own opening.
        """
        if self.width_scale >= 1.0 or want <= src_gap:  # the cap is never below the portrait's own
            return want
        a, b = topo.MOUTH_CORNERS_INNER
        drv_w = float(np.linalg.norm(driver[a, :2] - driver[b, :2]))
        if drv_w < 1e-6:
            return want
        aspect = drv_gap * eye_distance(driver) / drv_w  # drv_gap: mouth_opening(driver)
        tgt_w = float(np.linalg.norm(target[a, :2] - target[b, :2])) / self.iod_source
        cap = max(src_gap, _ASPECT_SLACK * aspect * tgt_w)
        if want <= cap:
            return want
        self._set_mouth_gap(target, cap * self.iod_source)
        return cap

    def _set_mouth_gap(self, target: NDArray[np.float64], gap_px: float) -> None:
        """Open or close the inner lips to ``gap_px``, in place, as a jaw does.

        The upper lip takes a quarter of the change; the lower lip takes the rest
        and the chin and lower face follow it (see :func:`_jaw_weights`), so a
        shouting portrait closes by raising its jaw, not by stretching its lips.
        The upper lip comes down only as far as the skin under the nose has room
        (:meth:`_philtrum_room`); the jaw closes the rest.
        """
        idx_in = np.asarray(topo.INNER_LIP_PAIRS)
        upper, lower = target[idx_in[:, 0]], target[idx_in[:, 1]]
        now = float(np.linalg.norm((upper - lower)[3:6, :2], axis=1).mean())
        k = gap_px / max(now, 1e-6)
        closing = (upper - lower) * (1.0 - k)  # per pair, how far the lips come together
        # The lip's drop at its middle pair (13, 14), under the philtrum's middle chain.
        share = _UPPER_SHARE * self._philtrum_room(target, -_UPPER_SHARE * closing[4, :2])
        shift_upper = -share * closing
        shift_lower = (1.0 - share) * closing
        # The whole upper lip moves, its two inner rings too, and not with the
        # jaw: moving only its edges folded a thin lip over its middle
        # (photo_woman_surprised_01, closing, had 15-31 folded triangles round
        # the mouth in every frame).
        upper_lip = target[_UPPER_COLUMNS] + shift_upper[:, None, :]
        if k < 1.0:
            self._close_corners(target, upper, lower, closing, share)
        target += self._jaw[:, None] * shift_lower.mean(axis=0)
        target[_UPPER_COLUMNS] = upper_lip
        target[idx_in[:, 1]] = lower + shift_lower

    def _close_corners(
        self,
        target: NDArray[np.float64],
        upper: NDArray[np.float64],
        lower: NDArray[np.float64],
        closing: NDArray[np.float64],
        share: float,
    ) -> None:
        """Bring each mouth corner to where the lips next to it meet as the mouth
        closes, with the skin round it, in place.

        The lips meet ``share`` of the way down from the upper inner lip to the
        lower; a corner lies some way down the opening beside them, and the
        jaw (weight 0 at the corners' line) does not move it. A shouting
        mouth's corners lie well below its raised upper lip
        (``photo_woman_surprised_01``); closed near the upper lip, the lips'
        line bent down into corners left where they were, the lower lip's
        edge, laid out from that line, folded over them, and the corners drew
        a dark notch of the open mouth: 21 folded triangles round her mouth in
        an average frame of ``talk_fast_01`` (15 with this), 1-2 on the other
        portraits. Each corner moves as a point at its place in the opening
        (measured along the lip pair next to it) moves as the lips close.
        """
        for ring, pair, weights in zip(_CORNERS, (0, -1), self._corner_weights, strict=True):
            gap = lower[pair, :2] - upper[pair, :2]
            length2 = float(gap @ gap)
            if length2 < 1e-6:
                continue
            down = float((target[ring[0], :2] - upper[pair, :2]) @ gap) / length2
            move = (float(np.clip(down, 0.0, 1.0)) - share) * closing[pair]
            target += weights[:, None] * move

    def _philtrum_room(self, target: NDArray[np.float64], drop: NDArray[np.float64]) -> float:
        """The share (0..1) of an upper lip's ``drop`` (px, at its middle) the skin
        between the nose and the lip has room for: it stretches to at most
        ``_PHILTRUM_STRETCH`` times the portrait's.

        A shout raises the upper lip to under the nose: ``photo_woman_surprised_01``
        has 0.074 eye distances from the nose's base to the lip, the 13 other
        shared portraits 0.115-0.234 (median 0.15). A quarter of closing her
        mouth lowered the lip 17 px, and that skin, of which the portrait shows
        only 10 px, stretched threefold under her nose.
        """
        lip, _, nose = _PHILTRUM[_PHILTRUM_MIDDLE]
        span = target[lip, :2] - target[nose, :2]
        length = float(np.linalg.norm(span))
        down = float(drop @ span) / max(length, 1e-6)  # of the drop, along the skin
        if down <= 1e-6:
            return 1.0
        room = _PHILTRUM_STRETCH * float(self._philtrum_bands[_PHILTRUM_MIDDLE].sum()) - length
        return float(np.clip(room / down, 0.0, 1.0))

    def _spread_philtrum(self, target: NDArray[np.float64]) -> None:
        """Put a stretch of the skin between the nose and the upper lip into the
        skin under the nose, not the lip's edge, in place.

        A shouting portrait's raised upper lip leaves a few pixels under it
        (``photo_woman_surprised_01``: 3 px between the ring above the lip and
        the lip's edge, 7 px above that). As her mouth closed and the lip came
        down, that thin band, the lip's light edge, took the stretch: sevenfold,
        a pink block under her nose. Where the band next to the lip stretches
        over ``_PHILTRUM_UNEVEN`` times as much as the one under the nose, the
        ring between them moves down (only along the chain, fully at twice
        that) until the lip's band is back at its own length, or both bands
        stretch alike.
        """
        lip, ring, nose = (target[_PHILTRUM[:, k], :2] for k in range(3))
        high_src, low_src = self._philtrum_bands[:, 0], self._philtrum_bands[:, 1]
        low = np.linalg.norm(lip - ring, axis=1) / low_src
        high = np.linalg.norm(ring - nose, axis=1) / high_src
        w = np.clip((low / np.maximum(high, 1e-6) - _PHILTRUM_UNEVEN) / _PHILTRUM_UNEVEN, 0.0, 1.0)
        if not w.any():
            return
        span = lip - nose
        length = np.maximum(np.linalg.norm(span, axis=1), 1e-6)
        along = span / length[:, None]
        now = ((ring - nose) * along).sum(axis=1)
        want = np.maximum(length - low_src, high_src / (high_src + low_src) * length)
        target[_PHILTRUM[:, 1], :2] += (w * (want - now))[:, None] * along

    def _scale_mouth_width(self, target: NDArray[np.float64]) -> None:
        """Scale the lips' sideways moves by the portrait's mouth width over the
        driver's, in place, fading into the cheeks.

        Added as offsets, a kiss pucker (``pout_kiss_01``: the mouth narrows
        from 0.74 to 0.27 eye distances) pulled the corners of a 0.40-wide
        cartoon mouth past each other: a tall, narrow slot with the lips
        smeared round it. As a share of the mouth's width the pucker narrows a
        small mouth as much as the driver's. Moves are taken about the mouth's
        centre, so the whole mouth still shifts as the driver's does. A mouth
        wider than the driver's moves as the driver's: scaled up, the
        terracotta warrior's lips folded in more frames of tongue_01 (82 -> 131
        of 300).
        """
        if not self._width_weight.any():
            return
        corners = list(topo.MOUTH_CORNERS_OUTER)
        centre_shift = float((target[corners, :2].mean(axis=0) - self._mouth_centre) @ self._across)
        sideways = (target[:, :2] - self.source[:, :2]) @ self._across - centre_shift
        target[:, :2] += np.outer(self._width_weight * sideways, self._across)

    def _lay_out_lower_lip(self, target: NDArray[np.float64], driver: NDArray[np.float64]) -> None:
        """Space the lower lip and the skin under it down to the jaw's outline in
        the portrait's own proportions, each band grown or shrunk as the
        driver's, in place.

        Added as offsets, the driver's changes assume the portrait's lip is as
        thick as the driver's. When a full lower lip rolls down over the chin
        (a tongue pushed out, a wide "ah"), its inner edge drops 0.2 eye
        distances more than the chin (tongue_01); on a thin painted lip that is
        more than the lip and the skin under it, which folded over and drew the
        lip's shadow as a hard polygonal line (tongue_01 on the Mona Lisa:
        triangles under the lip folded in 110-170 of 300 frames). Each column
        keeps its ends (the inner lip, where the mouth's gap puts it, and the
        jaw's outline) and its points' offsets across it; only where the points
        sit along it changes, so no band folds and a thin lip stays a lip. At
        rest every point stays where it is.
        """
        cols = _LOWER_COLUMNS
        soft = _BAND_SOFT * self.iod_reference
        # One ratio per band, over all columns: ratios column by column set
        # neighbouring points at uneven heights, and the lip's edge zigzagged.
        ratio = (_band_lengths(driver, cols).sum(axis=0) + soft) / self._ref_bands
        ratio = np.clip(1.0 + self.config.mouth_gain * (ratio - 1.0), *_BAND_RATIO)
        _lay_columns(target, _LAID_OUT, self._src_steps, ratio)
        if self._ribbon_weight > 0.0:
            self._lay_ribbon(target, ratio)

    def _lay_ribbon(self, target: NDArray[np.float64], ratio: NDArray[np.float64]) -> None:
        """Lay an open portrait's lower lip along its inner edge, row by row, in place.

        The columns run from the inner lip down to the jaw's outline, and a
        point keeps its offset across its column. An open mouth's lower lip is
        a U: up the sides of the opening its thickness lies across the columns.
        Closed, the inner lip is a line, and the offsets kept the U's lip
        beside the corners over a lip a column's length thick in the middle: a
        V of lip hanging from the mouth, its edge folded over the corners
        (``photo_woman_surprised_01``: 21 folded triangles round her mouth
        in an average frame of ``talk_fast_01``, 15 with her corners closed,
        3 laid along the lip). Here each point of a row keeps where it lies
        along the row above it (which segment, how far along) and how far out
        from it, that distance grown or shrunk with the driver's band. The
        skin under the lip, between the ring under it and the jaw's outline,
        is then placed so that its edges stretch alike (:class:`_EvenStrain`;
        the driver's bands there are not used), each column's points kept in
        order. Blended in by how open the portrait's mouth is (none of a
        mouth at rest), and not done where the portrait's rows are out of
        order (a tangled mesh).
        """
        laid = target.copy()
        for k, (where, out, along) in enumerate(self._ribbon, start=1):
            laid[_LOWER_COLUMNS[:, k], :2] = _from_polyline(_lip_row(laid, k - 1), where, out * ratio[k - 1], along)
        assert self._under_lip is not None
        laid[_UNDER_FREE, :2] = self._under_lip.place(laid)
        _keep_order(laid, _UNDER_LIP, self._under_steps)
        moved = _RIBBON_MOVED
        target[moved, :2] += self._ribbon_weight * (laid[moved, :2] - target[moved, :2])


def _lay_columns(
    target: NDArray[np.float64],
    columns: list[NDArray[np.intp]],
    src_steps: list[NDArray[np.float64]],
    ratio: NDArray[np.float64],
) -> None:
    """Space each column's points between its two ends, which stay, by the
    portrait's steps along it (``src_steps``, :func:`_along_steps`) each scaled
    by its band's ``ratio``, in place; a point keeps its offset across its column."""
    for column, steps in zip(columns, src_steps, strict=True):
        scaled = steps * ratio[: len(steps)]
        reach = np.cumsum(np.abs(steps) * ratio[: len(steps)])  # band ratios are positive
        if reach[-1] <= 1e-6:  # a column whose points all coincide
            continue
        start = target[column[0], :2]
        chord = target[column[-1], :2] - start
        length = float(np.linalg.norm(chord))
        along = chord / max(length, 1e-9)
        # Where each point sits along the chord: the scaled steps, and what
        # they leave short of the chord's length spread over them by their
        # size. On a column that runs one way this is the steps scaled to
        # the chord; dividing by the steps' signed sum instead, as at first,
        # blew up where a column doubles back (an open mouth's lower lip,
        # whose outer edge lies above its inner one) and the sum neared 0:
        # photo_woman_surprised_01, closing, drew a spike of lip down its chin.
        share = np.cumsum(scaled)
        place = share + (length - share[-1]) * reach / reach[-1]
        inner = column[1:-1]
        rel = target[inner, :2] - start
        across = rel - np.outer(rel @ along, along)
        target[inner, :2] = start + np.outer(place[:-1], along) + across


def _keep_order(points: NDArray[np.float64], columns: list[NDArray[np.intp]], src_steps: list[NDArray[np.float64]]) -> None:
    """Move any point of a column that lies behind the one before it, along the
    column's chord, to ``_ORDER_GAP`` past it, in place; a step that is shorter
    (or doubles back) in the portrait (``src_steps``, :func:`_along_steps`) may
    be as short as it is there."""
    for column, steps in zip(columns, src_steps, strict=True):
        start = points[column[0], :2]
        chord = points[column[-1], :2] - start
        length = float(np.linalg.norm(chord))
        if length < 1e-6:
            continue
        along = chord / length
        last = 0.0
        for point, step in zip(column[1:-1], steps[:-1], strict=True):
            s = float((points[point, :2] - start) @ along)
            least = last + min(_ORDER_GAP, float(step))
            if s < least:
                points[point, :2] += (least - s) * along
                s = least
            last = s


def _lip_row(points: NDArray[np.floating], k: int) -> NDArray[np.float64]:
    """(columns + 2, 2) row ``k`` of the lower-lip columns as a line from one
    corner of the mouth to the other (the inner corners for the inner lip)."""
    xy = np.asarray(points, np.float64)[:, :2]
    a, b = topo.MOUTH_CORNERS_INNER if k == 0 else topo.MOUTH_CORNERS_OUTER
    return np.vstack([xy[a], xy[_LOWER_COLUMNS[:, k]], xy[b]])


def _polyline_normals(line: NDArray[np.float64]) -> NDArray[np.float64]:
    """Unit normals at the vertices of ``line``: a quarter turn on from its
    direction (down on a lower lip drawn left to right)."""
    tangent = np.gradient(line, axis=0)
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1), 1e-9)[:, None]
    return np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)


def _frame_at(line: NDArray[np.float64], i: NDArray[np.intp], t: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    """The point ``t`` of the way along segment ``i`` of ``line``, the normal
    there (blended between the segment's ends) and the segment's length."""
    normals = _polyline_normals(line)
    seg = line[i + 1] - line[i]
    normal = (1.0 - t)[:, None] * normals[i] + t[:, None] * normals[i + 1]
    normal /= np.maximum(np.linalg.norm(normal, axis=1), 1e-9)[:, None]
    return line[i] + t[:, None] * seg, normal, np.maximum(np.linalg.norm(seg, axis=1), 1e-9)


def _on_polyline(
    line: NDArray[np.float64], points: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """For each point, where its nearest point on ``line`` lies (segment index
    plus the share of the way along it), and its offset from there: out along
    the normal (px), and along the line (in that segment's lengths), so that
    :func:`_from_polyline` gives the points back."""
    a, seg = line[:-1], np.diff(line, axis=0)
    length2 = np.maximum((seg * seg).sum(axis=1), 1e-12)
    t = np.clip(((points[:, None, :] - a[None]) * seg[None]).sum(axis=2) / length2[None], 0.0, 1.0)
    near = a[None] + t[..., None] * seg[None]  # (points, segments, 2)
    best = np.argmin(np.linalg.norm(points[:, None, :] - near, axis=2), axis=1)
    tb = t[np.arange(len(points)), best]
    foot, normal, size = _frame_at(line, best, tb)
    rel = points - foot
    out = (rel * normal).sum(axis=1)
    along = (rel * np.stack([normal[:, 1], -normal[:, 0]], axis=1)).sum(axis=1) / size
    return best + tb, out, along


def _from_polyline(
    line: NDArray[np.float64], where: NDArray[np.float64], out: NDArray[np.float64], along: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Points at ``where`` on ``line`` (segment index plus share), ``out`` px
    along its normal and ``along`` segment lengths along it:
    :func:`_on_polyline`'s inverse."""
    i = np.clip(np.floor(where).astype(np.intp), 0, len(line) - 2)
    foot, normal, size = _frame_at(line, i, where - i)
    return foot + out[:, None] * normal + (along * size)[:, None] * np.stack([normal[:, 1], -normal[:, 0]], axis=1)


def _along_steps(points: NDArray[np.float64], column: NDArray[np.intp]) -> NDArray[np.float64]:
    """How far each point of a column is past the one before along the column's
    chord (first to last point), image-plane pixels: the portrait's own
    spacing, which the driver's band ratios scale. Negative where a portrait's
    column doubles back (an open mouth's corners), so that at rest every point
    keeps its place."""
    xy = np.asarray(points, np.float64)[column, :2]
    chord = xy[-1] - xy[0]
    return np.diff((xy - xy[0]) @ (chord / max(float(np.linalg.norm(chord)), 1e-9)))


def _band_lengths(points: NDArray[np.float64], columns: NDArray[np.intp]) -> NDArray[np.float64]:
    """(columns, points - 1) image-plane lengths between successive points of each column."""
    xy = np.asarray(points, np.float64)[:, :2]
    return np.linalg.norm(xy[columns[:, 1:]] - xy[columns[:, :-1]], axis=2)


def _jaw_weights(source: NDArray[np.float64], iod: float) -> NDArray[np.float64]:
    """How much each landmark moves with the jaw (0..1), from the portrait's face.

    1 at and below the lower lip's middle, 0 at and above the mouth corners'
    line, fading sideways away from the chin (the jaw turns about hinges by the
    ears, so its sides move less).
    """
    pts = source[:, :2]
    corners = pts[list(topo.MOUTH_CORNERS_INNER)]
    across = corners[1] - corners[0]
    across /= max(float(np.linalg.norm(across)), 1e-9)
    down = np.array([-across[1], across[0]])
    lip = pts[[lo for _, lo in topo.INNER_LIP_PAIRS]].mean(axis=0)
    mid = corners.mean(axis=0)
    if float((lip - mid) @ down) < 0:  # the face is upside down in this frame
        down = -down
    depth = max(float((lip - mid) @ down), 0.05 * iod)
    rel = pts - mid
    below = np.clip((rel @ down) / depth, 0.0, 1.0)
    side = np.exp(-(((rel @ across) / (1.1 * iod)) ** 2))
    return below * side


def reference_pose_deg(source: NDArray[np.floating], driver: NDArray[np.floating]) -> float:
    """How far (degrees) a driver frame's head is turned from the portrait's."""
    fit = fit_stable(np.asarray(driver, np.float64), np.asarray(source, np.float64))
    return rotation_angle_deg(fit.rotation)


_NARROWED = 0.6  # a portrait eye under this share of the driver's typical opening is matched as it is
POSE_GATE_DEG = 8.0  # reference candidates: at most this much further turned than the closest
_EXPRESSION_FIELDS = tuple(f.name for f in fields(Expression))


def reference_distance(
    source: NDArray[np.floating],
    driver: NDArray[np.floating],
    pose_deg: float | None = None,
    typical: Expression | None = None,
) -> float:
    """How far a driver frame is from standing for the portrait, in pose and expression.

    Pose difference in degrees/10 plus eye and mouth opening and gaze
    differences. Gaze counts because it is transferred relative to the reference:
    a reference looking aside would set every output's irises off by as much.
    ``pose_deg``: :func:`reference_pose_deg` of the pair, when already known.

    ``typical``: the driver's :func:`typical_expression` over the frames compared. With
    it, what is anatomy rather than expression is matched to the driver's own
    typical face, not to the portrait's numbers: an eye is matched to the
    driver's typical opening unless the portrait's is narrowed (under
    ``_NARROWED`` of it: a squint, a shut eye), and the mouth's width always to
    the driver's closed-mouth width. A big-eyed, small-mouthed cartoon otherwise
    takes the driver's widest-eyed pucker as the reference, and then frowns
    sleepily with its lips stretched thin whenever the driver rests.
    """
    angle = reference_pose_deg(source, driver) if pose_deg is None else pose_deg
    source, driver = np.asarray(source), np.asarray(driver)
    return _distance(angle, _Face.of(source), _Face.of(driver), typical)


@dataclass(frozen=True)
class _Face:
    """What the reference choice measures of one face: its expression and each eye's gaze."""

    expression: Expression
    gazes: NDArray[np.float64]

    @classmethod
    def of(cls, landmarks: NDArray[np.floating]) -> _Face:
        return cls(Expression.of(landmarks), eye_gazes(landmarks))


def _distance(angle: float, source: _Face, driver: _Face, typical: Expression | None) -> float:
    """:func:`reference_distance` on faces already measured."""
    es, ed = source.expression, driver.expression
    want_right, want_left, width = es.eye_right, es.eye_left, 0.0
    if typical is not None:
        if want_right >= _NARROWED * typical.eye_right:
            want_right = typical.eye_right
        if want_left >= _NARROWED * typical.eye_left:
            want_left = typical.eye_left
        width = abs(ed.mouth_width - typical.mouth_width) / 0.1
    eyes = abs(want_right - ed.eye_right) + abs(want_left - ed.eye_left)
    # Per eye: each iris moves by its own change from the reference, so a
    # cross-eyed reference (tongue_01 crosses her eyes), whose mean gaze looks
    # straight, would spread the portrait's eyes apart whenever the driver looks
    # straight.
    gaze = float(np.abs(source.gazes - driver.gazes).sum()) / 2.0
    return angle / 10.0 + eyes / 0.1 + gaze / 0.1 + abs(es.mouth_open - ed.mouth_open) / 0.03 + width


def typical_expression(frames: Sequence[NDArray[np.floating]]) -> Expression:
    """A driver's usual face over ``frames``: the median of each measure, but
    the eyes' 75th percentile (their open state: blinks and squints pull the
    median down; head_turn_big_01's singer, who squints half the time, has a
    median eye a quarter narrower than his open one) and the mouth's width over
    the frames with the mouth closed (the 30% least open: a driver who smiles
    through a clip has a median width of a smile)."""
    return _typical([Expression.of(np.asarray(f, np.float64)) for f in frames])


def _typical(measured: Sequence[Expression]) -> Expression:
    """:func:`typical_expression` of faces already measured."""
    values = np.array([astuple(e) for e in measured])
    typical = np.median(values, axis=0)
    for name in ("eye_right", "eye_left"):
        k = _EXPRESSION_FIELDS.index(name)
        typical[k] = np.percentile(values[:, k], 75)
    opening, width = (_EXPRESSION_FIELDS.index(n) for n in ("mouth_open", "mouth_width"))
    closed = values[:, opening] <= np.percentile(values[:, opening], 30)
    typical[width] = np.median(values[closed, width])
    return Expression(*typical.tolist())


def reference_index(
    source: NDArray[np.floating],
    frames: Sequence[NDArray[np.floating]],
    gate_deg: float = POSE_GATE_DEG,
) -> tuple[int, float, float]:
    """Which driver frame stands for the portrait: (position in ``frames``, pose°, distance).

    Pose first: the head's pose is transferred relative to the reference, so a
    reference turned 35 degrees from the portrait turns every output frame 35
    degrees too far, and the tracker reads a turned driver's eyes as wider, like
    a cartoon's. Only frames at most ``gate_deg`` further turned than the
    closest-posed one compete, on :func:`reference_distance` against the
    driver's :func:`typical_expression` over all ``frames``.
    """
    if not frames:
        raise ValueError("no driver frames to choose a reference from")
    poses = [reference_pose_deg(source, f) for f in frames]
    faces = [_Face.of(np.asarray(f)) for f in frames]
    typical = _typical([f.expression for f in faces])
    portrait = _Face.of(np.asarray(source))
    limit = min(poses) + gate_deg
    best = min((_distance(p, portrait, f, typical), i) for i, (f, p) in enumerate(zip(faces, poses)) if p <= limit)
    return best[1], poses[best[1]], best[0]


__all__ = [
    "HeadMotion",
    "RetargetConfig",
    "Retargeter",
    "Similarity",
    "TargetShape",
    "reference_distance",
    "reference_index",
    "reference_pose_deg",
    "typical_expression",
    "umeyama",
]
