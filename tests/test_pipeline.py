"""The streaming Animator: frames in, frames out, one at a time."""

import numpy as np
import pytest

from enliven.errors import ConfigError, InputError, NoFaceError
from enliven.motion.controls import Controls, apply_controls
from enliven.motion.retarget import Retargeter
from enliven.pipeline import AnimateConfig, Animator, fit_portrait
from enliven.types import FaceObservation


@pytest.fixture(scope="module")
def driving_frames(astronaut, astronaut_landmarks):
    """Ten frames of the astronaut opening her mouth and turning (a moving face)."""
    animator = Animator(astronaut, AnimateConfig())
    lm = animator.face.landmarks
    r = Retargeter(lm, lm)
    frames = []
    for k in range(10):
        c = Controls(yaw=2.0 * k, jaw=0.1 * k)
        frames.append(animator.renderer.render(r.step(FaceObservation(apply_controls(lm, c).astype(np.float32), (0, 0, 1, 1)), k / 25)))
    animator.close()
    return frames


def test_frames_are_yielded_one_by_one_at_portrait_size(astronaut, driving_frames):
    portrait = astronaut[:400, 50:450]  # a different size than the driver
    with Animator(portrait) as animator:
        stream = animator.frames(iter(driving_frames), fps=25)
        first = next(stream)
        assert first.shape == (400, 400, 3) and first.dtype == np.uint8
        rest = list(stream)
    assert len(rest) == len(driving_frames) - 1
    assert animator.frames_lost == 0


def test_the_first_driving_frame_gives_back_the_portrait(astronaut, driving_frames):
    from .conftest import psnr

    with Animator(astronaut) as animator:
        out = next(animator.frames(driving_frames[:1]))
    assert psnr(out, astronaut) > 40


def test_frames_without_a_face_are_counted_and_held(astronaut, driving_frames):
    blank = np.full_like(driving_frames[0], 127)
    with Animator(astronaut) as animator:
        outs = list(animator.frames([*driving_frames[:5], blank, blank, driving_frames[5]]))
    assert len(outs) == 8
    assert animator.frames_lost == 2


def test_a_portrait_without_a_face_is_refused():
    with pytest.raises(NoFaceError, match="no face found in the portrait"):
        Animator(np.full((256, 256, 3), 200, np.uint8))


def test_fit_portrait_limits_size_and_makes_sides_even():
    img = np.zeros((3001, 1501, 3), np.uint8)
    out = fit_portrait(img, 2048)
    assert max(out.shape[:2]) <= 2048 and out.shape[0] % 2 == 0 and out.shape[1] % 2 == 0
    small = fit_portrait(np.zeros((101, 77, 3), np.uint8), 2048)
    assert small.shape[:2] == (100, 76)


def test_fit_portrait_upscales_small_portraits_unless_max_size_forbids():
    img = np.zeros((256, 200, 3), np.uint8)
    assert fit_portrait(img, 2048, 384).shape[:2] == (492, 384)  # short side 384, even
    assert fit_portrait(img, 400, 384).shape[:2] == (400, 312)  # max_size wins
    assert fit_portrait(np.zeros((600, 500, 3), np.uint8), 2048, 384).shape[:2] == (600, 500)


def test_config_is_validated():
    with pytest.raises(ConfigError, match="end_s"):
        AnimateConfig(start_s=2.0, end_s=1.0)
    with pytest.raises(ConfigError, match="max_size"):
        AnimateConfig(max_size=10)


def test_threaded_stream_gives_the_same_frames_as_the_serial_one(astronaut, driving_frames):
    from enliven.types import VideoFrame

    frames = [VideoFrame(k, k / 25, rgb) for k, rgb in enumerate(driving_frames)]
    with Animator(astronaut, job_id=7) as animator:
        animator.start()
        serial = [out for _, _, out in animator.stream(iter(frames), threads=False)]
        animator.start()
        threaded = [out for _, _, out in animator.stream(iter(frames), threads=True)]
    assert len(serial) == len(threaded) == len(frames)
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("zoom", [1, 2, 4])
def test_working_resolution_maps_match_full_resolution_maps(astronaut, astronaut_landmarks, zoom):
    """The speed-ups (maps at the default working size, work only in the moving
    box) stay within 0.5 dB of rendering everything at full resolution, from
    512² (maps at 384) to 2048² (maps upsampled 5.3 times)."""
    import cv2

    from enliven.render.renderer import RenderConfig, Renderer

    from .conftest import psnr

    size = 512 * zoom
    big = astronaut if zoom == 1 else cv2.resize(astronaut, (size, size), interpolation=cv2.INTER_CUBIC)
    lm = astronaut_landmarks * [zoom, zoom, zoom]
    r = Retargeter(lm, lm)
    driver = apply_controls(lm, Controls(yaw=15, jaw=0.6, blink_left=1.0))
    for k in range(20):
        target = r.step(FaceObservation(driver.astype(np.float32), (0, 0, 1, 1)), k / 25)
    assert RenderConfig().work_size < size
    fast = Renderer(big, lm, RenderConfig(background=False)).render(target)
    full = Renderer(big, lm, RenderConfig(work_size=0, background=False)).render(target)
    face = (slice(50 * zoom, 210 * zoom), slice(150 * zoom, 310 * zoom))
    assert psnr(fast, full) > 40
    # Against the portrait the two differ by less than 0.5 dB: the same picture.
    assert abs(psnr(fast[face], big[face]) - psnr(full[face], big[face])) < 0.5


def test_fit_landmarks_follows_fit_portrait():
    from enliven.pipeline import fit_landmarks

    points = np.array([[100.0, 60.0, -8.0], [999.0, 599.0, 4.0]])
    fitted = fit_landmarks(points, (1000, 600), 500)
    assert fit_portrait(np.zeros((600, 1000, 3), np.uint8), 500).shape[:2] == (300, 500)
    np.testing.assert_allclose(fitted, points * 0.5, rtol=1e-6)
    back = fit_landmarks(fitted, (1000, 600), 500, inverse=True)
    small = fit_landmarks(points, (300, 200), 2048, 384)  # upscaled to 576x384
    assert np.allclose(small[:, :2], points[:, :2] * 384 / 200, atol=1e-3)
    np.testing.assert_allclose(back, points, rtol=1e-6)
    np.testing.assert_allclose(
        fit_landmarks(points[:, :2], (1000, 600), 2048), points[:, :2]
    )


def test_user_landmarks_replace_face_finding_and_are_scaled(
    astronaut, astronaut_landmarks
):
    import cv2

    big = cv2.resize(astronaut, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    given = astronaut_landmarks * 2.0  # in pixels of the 1024 px portrait
    config = AnimateConfig(max_size=512)
    with Animator(big, config, landmarks=given) as animator:
        np.testing.assert_allclose(
            animator.face.landmarks, astronaut_landmarks, atol=1e-3
        )
    # Without z, the depth comes from a reference face: near the tracker's own.
    with Animator(big, config, landmarks=given[:, :2]) as animator:
        z = animator.face.landmarks[:, 2]
    assert np.corrcoef(z, astronaut_landmarks[:, 2])[0, 1] > 0.99


def test_user_landmarks_of_a_non_face_are_used_as_given():
    blank = np.full((400, 400, 3), 200, np.uint8)  # nothing to find: no error
    points = np.random.default_rng(0).uniform(60, 200, (478, 3))
    with Animator(blank, landmarks=points) as animator:
        np.testing.assert_allclose(animator.face.landmarks, points, rtol=1e-6)
    with pytest.raises(InputError, match="478"):
        Animator(blank, landmarks=points[:400])


def test_close_drops_the_render_state_and_can_be_repeated(astronaut, driving_frames):
    """api.animate closes the Animator before the writer signs the output, so the
    renderer's maps and plates are gone when signing allocates."""
    import weakref

    animator = Animator(astronaut)
    renderer = weakref.ref(animator.renderer)
    next(animator.frames(driving_frames[:1]))
    animator.close()
    animator.close()
    assert renderer() is None
    assert animator.face is not None and animator.size_wh == (astronaut.shape[1], astronaut.shape[0])
    with pytest.raises(RuntimeError, match="closed"):
        animator.step(driving_frames[1], 0.04)


def test_auto_encoder_options_follow_the_output_size():
    auto = AnimateConfig()
    assert auto.encoder_options((512, 512)) == {"preset": "veryfast", "tune": None, "params": "me=dia:subme=1:threads=1"}
    assert auto.encoder_options((1920, 1080)) == {"preset": "superfast", "tune": "zerolatency", "params": None}
    # A preset the user chose is taken as it is.
    assert AnimateConfig(preset="medium").encoder_options((512, 512)) == {"preset": "medium", "tune": None, "params": None}


@pytest.mark.parametrize("follow_crown", [True, False])
def test_the_crown_is_measured_in_the_driver_unless_turned_off(astronaut, driving_frames, follow_crown):
    with Animator(astronaut, AnimateConfig(follow_crown=follow_crown)) as animator:
        targets = [animator.target(frame, k / 25) for k, frame in enumerate(driving_frames[:3])]
        assert (animator.evidence.crown is not None) == follow_crown
    for target in targets:
        if follow_crown:
            assert target.crown is not None and target.crown.shape == (2,) and np.isfinite(target.crown).all()
        else:
            assert target.crown is None


def test_the_reference_frame_faces_the_camera_as_the_portrait_does(astronaut, tmp_path):
    """A driver turned 30 degrees with the portrait's expression, then frontal
    with the mouth open and the eyes half shut: the frontal frame stands for the
    frontal portrait (a turned reference turns every output frame as far; by
    expression alone the turned frame is closer)."""
    from enliven.api import find_reference
    from enliven.io.video import VideoWriter
    from enliven.motion.pose import face_yaw_deg

    animator = Animator(astronaut, AnimateConfig())
    lm = animator.face.landmarks
    frames = []
    for controls in [Controls(yaw=30.0)] * 8 + [Controls(jaw=0.6, blink_right=0.5, blink_left=0.5)] * 8:
        r = Retargeter(lm, lm)
        driver = apply_controls(lm, controls).astype(np.float32)
        for k in range(12):
            target = r.step(FaceObservation(driver, (0, 0, 1, 1)), k / 25)
        frames.append(animator.renderer.render(target))
    clip = tmp_path / "driver.mp4"
    with VideoWriter(clip, (512, 512), 25) as writer:
        for frame in frames:
            writer.write(frame)
    ref = find_reference(clip, animator.face, animator.tracker, AnimateConfig(), 25.0)
    animator.close()
    assert ref.index >= 8, ref.index
    assert abs(face_yaw_deg(ref.landmarks) - face_yaw_deg(lm)) < 8.0
    # The chosen picture is decoded again after the choice: it is that frame.
    from enliven.io.video import read_frames

    decoded = [f.rgb for f in read_frames(clip)]
    assert np.array_equal(ref.rgb, decoded[ref.index])
    assert not np.array_equal(ref.rgb, decoded[ref.index - 8])
