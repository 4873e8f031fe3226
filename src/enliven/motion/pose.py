"""Rigid head pose: similarity fits (Umeyama 1991) and Euler angles."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from enliven.face.topology import STABLE

STABLE_INDEX = np.asarray(STABLE, dtype=np.intp)


@dataclass(frozen=True)
class Similarity:
    """``y = scale * rotation @ x + translation`` for points as rows."""

    scale: float
    rotation: NDArray[np.float64]  # (3, 3) proper rotation
    translation: NDArray[np.float64]  # (3,)

    def apply(self, points: NDArray[np.floating]) -> NDArray[np.float64]:
        """Transform points of shape (N, 3)."""
        return self.scale * np.asarray(points, np.float64) @ self.rotation.T + self.translation

    def inverse(self) -> Similarity:
        """The transform that undoes this one."""
        rot_t = self.rotation.T
        return Similarity(1.0 / self.scale, rot_t, -(rot_t @ self.translation) / self.scale)


def umeyama(
    src: NDArray[np.floating], dst: NDArray[np.floating], *, with_scale: bool = True
) -> Similarity:
    """Least-squares similarity taking ``src`` onto ``dst`` (both (N, D), D = 2 or 3).

    Umeyama, "Least-squares estimation of transformation parameters between two
    point patterns", PAMI 1991. Returns a 3-D :class:`Similarity` (2-D input is
    lifted with z = 0).
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    dim = src.shape[1]
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    xs, xd = src - mu_s, dst - mu_d
    cov = xd.T @ xs / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(dim)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    rot = u @ np.diag(d) @ vt
    var_s = (xs**2).sum() / len(src)
    scale = float((sig * d).sum() / var_s) if with_scale and var_s > 0 else 1.0
    trans = mu_d - scale * rot @ mu_s
    if dim == 2:
        rot3 = np.eye(3)
        rot3[:2, :2] = rot
        return Similarity(scale, rot3, np.array([trans[0], trans[1], 0.0]))
    return Similarity(scale, rot, trans)


def fit_stable(src: NDArray[np.floating], dst: NDArray[np.floating]) -> Similarity:
    """Similarity taking face ``src`` onto face ``dst`` using the rigid points only."""
    return umeyama(np.asarray(src)[STABLE_INDEX], np.asarray(dst)[STABLE_INDEX])


# Pairs of landmarks straight across the face: outer eye corners and two pairs
# on the cheeks' outline (the subject's right, then left).
_ACROSS = np.array([(33, 263), (234, 454), (127, 356)], np.intp)


def face_yaw_deg(landmarks: NDArray[np.floating]) -> float:
    """How far one face is turned from the camera, in :func:`euler_deg`'s yaw.

    From the direction, in 3-D, of lines straight across the face: facing the
    camera they run along x. 0 for a frontal face, positive for one whose nose
    points toward the image's left.
    """
    lm = np.asarray(landmarks, np.float64)
    across = (lm[_ACROSS[:, 1]] - lm[_ACROSS[:, 0]]).sum(axis=0)
    return math.degrees(math.atan2(-across[2], across[0]))


def rotvec_from_matrix(rotation: NDArray[np.floating]) -> NDArray[np.float64]:
    """Axis times angle (radians) of a rotation matrix."""
    vec, _ = cv2.Rodrigues(np.asarray(rotation, np.float64))
    return vec.ravel()


def matrix_from_rotvec(rotvec: NDArray[np.floating]) -> NDArray[np.float64]:
    """Rotation matrix of an axis-times-angle vector (radians)."""
    mat, _ = cv2.Rodrigues(np.asarray(rotvec, np.float64).reshape(3, 1))
    return mat


def euler_deg(rotation: NDArray[np.floating]) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a rotation in image axes (x right, y down).

    Yaw turns about the vertical axis, pitch about the horizontal one, roll in the
    image plane; ``R = R_y(yaw) @ R_x(pitch) @ R_z(roll)``.
    """
    r = np.asarray(rotation, np.float64)
    pitch = math.asin(float(np.clip(-r[1, 2], -1.0, 1.0)))
    yaw = math.atan2(r[0, 2], r[2, 2])
    roll = math.atan2(r[1, 0], r[1, 1])
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def rotation_from_euler(yaw_deg: float, pitch_deg: float, roll_deg: float) -> NDArray[np.float64]:
    """Inverse of :func:`euler_deg`."""
    y, p, r = (math.radians(a) for a in (yaw_deg, pitch_deg, roll_deg))
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return ry @ rx @ rz


def rotation_angle_deg(rotation: NDArray[np.floating]) -> float:
    """Total angle of a rotation in degrees."""
    return float(np.degrees(np.linalg.norm(rotvec_from_matrix(rotation))))


def scale_rotation(rotation: NDArray[np.floating], gain: float) -> NDArray[np.float64]:
    """The rotation about the same axis by ``gain`` times the angle."""
    return matrix_from_rotvec(rotvec_from_matrix(rotation) * gain)
