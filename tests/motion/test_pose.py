import numpy as np
import pytest

from enliven.motion.pose import euler_deg, fit_stable, rotation_angle_deg, rotation_from_euler, scale_rotation, umeyama


@pytest.mark.parametrize(
    ("yaw", "pitch", "roll"),
    [(0, 0, 0), (25, 0, 0), (-40, 10, 5), (10, -30, 20), (45, 20, -35), (-5, 3, 60)],
)
def test_known_rotations_come_back_within_one_degree(astronaut_landmarks, yaw, pitch, roll):
    lm = astronaut_landmarks
    rng = np.random.default_rng(1)
    rot = rotation_from_euler(yaw, pitch, roll)
    centre = lm.mean(axis=0)
    moved = 1.3 * (lm - centre) @ rot.T + centre + np.array([12.0, -7.0, 3.0])
    moved += rng.normal(0, 0.3, moved.shape)  # tracker-like noise, in pixels
    fit = fit_stable(lm, moved)
    got = euler_deg(fit.rotation)
    assert np.allclose(got, (yaw, pitch, roll), atol=1.0), got
    assert fit.scale == pytest.approx(1.3, rel=0.01)
    assert rotation_angle_deg(fit.rotation @ rot.T) < 1.0


def test_umeyama_recovers_a_2d_similarity_and_inverts():
    rng = np.random.default_rng(2)
    pts = rng.normal(size=(30, 2)) * 50
    a = np.deg2rad(30)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    dst = 0.5 * pts @ rot.T + [3, 4]
    fit = umeyama(pts, dst)
    assert fit.scale == pytest.approx(0.5)
    lifted = np.column_stack([pts, np.zeros(len(pts))])
    np.testing.assert_allclose(fit.apply(lifted)[:, :2], dst, atol=1e-9)
    np.testing.assert_allclose(fit.inverse().apply(fit.apply(lifted)), lifted, atol=1e-9)


def test_scale_rotation_scales_the_angle():
    rot = rotation_from_euler(30, 0, 0)
    assert euler_deg(scale_rotation(rot, 0.5))[0] == pytest.approx(15)
    np.testing.assert_allclose(scale_rotation(rot, 0.0), np.eye(3), atol=1e-12)
