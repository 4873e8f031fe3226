"""Tests of the invisible watermark: payload, code, embedding, detection, attacks.

All media are made here: skimage images and a seeded synthetic "portrait" clip
(smooth background with grain, a textured band, a moving head) encoded with
VideoWriter. The long false-positive confirmation lives in
benchmarks/bench_watermark.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from scipy import stats

from enliven.errors import ConfigError
from enliven.io.video import VideoWriter, read_frames
from enliven.provenance import watermark as wm
from enliven.provenance.watermark import (
    TEST_Z_THRESHOLD,
    Z_THRESHOLD,
    Payload,
    WatermarkDetector,
    Watermarker,
    detect_file,
)

PAYLOAD = Payload(version=(0, 2, 1), job_id=0x1234ABCD)
SIZE = 384
FPS = 25.0


def psnr(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def portrait_clip(
    n: int = 50, size: int = SIZE, seed: int = 7
) -> list[NDArray[np.uint8]]:
    """A talking-head-like clip: smooth background, textured band, moving head."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    texture = cv2.GaussianBlur(
        rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 3.0
    )
    texture /= texture.std()
    background = np.stack([70 + 90 * x, 100 + 60 * y, 160 - 60 * x], -1)
    background[y < 0.3] += 8 * texture[y < 0.3, None]
    frames = []
    for k in range(n):
        cx = 0.5 + 0.08 * math.sin(2 * math.pi * k / n)
        cy = 0.6 + 0.03 * math.cos(2 * math.pi * k / n)
        r2 = ((x - cx) / 0.2) ** 2 + ((y - cy) / 0.27) ** 2
        head = np.clip(1.5 * (1 - r2), 0, 1)[..., None]
        skin = np.array([205, 160, 135], np.float32) - 40 * r2[..., None]
        skin += (
            5 * np.roll(texture, (int(cy * size), int(cx * size)), (0, 1))[..., None]
        )
        img = background * (1 - head) + skin * head
        for dx in (-0.07, 0.07):
            eye = ((x - cx - dx) / 0.03) ** 2 + ((y - cy + 0.06) / 0.015) ** 2 < 1
            img[eye] = 40
        img += rng.normal(0, 1.5, img.shape)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return frames


def write(
    path: Path, frames: list[NDArray[np.uint8]], fps: float = FPS, crf: int = 18
) -> Path:
    height, width = frames[0].shape[:2]
    with VideoWriter(path, (width, height), fps, crf=crf) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def even(n: float) -> int:
    return int(n) // 2 * 2


@pytest.fixture(scope="module")
def clip() -> list[NDArray[np.uint8]]:
    return portrait_clip()


@pytest.fixture(scope="module")
def marked_frames(tmp_path_factory, clip) -> list[NDArray[np.uint8]]:
    """The clip marked and encoded as Enliven writes it (crf 18), decoded again."""
    marker = Watermarker((SIZE, SIZE), PAYLOAD)
    path = write(
        tmp_path_factory.mktemp("wm") / "marked.mp4", [marker.mark(f) for f in clip]
    )
    return [frame.rgb for frame in read_frames(path)]


@pytest.fixture(scope="module")
def astronaut() -> NDArray[np.uint8]:
    from skimage import data

    return data.astronaut()


# ------------------------------------------------------------------- payload


def test_payload_bits_round_trip():
    bits = PAYLOAD.to_bits()
    assert bits.shape == (88,)
    assert Payload.from_bits(bits) == PAYLOAD


@pytest.mark.parametrize("flip", [0, 17, 40, 87])
def test_payload_crc_rejects_any_flipped_bit(flip):
    bits = PAYLOAD.to_bits().copy()
    bits[flip] ^= 1
    assert Payload.from_bits(bits) is None


@pytest.mark.parametrize(
    ("version", "job_id"),
    [((0, 0, 256), 0), ((0, 0), 1), ((0, 0, 0), -1), ((0, 0, 0), 2**32)],
)
def test_payload_rejects_out_of_range(version, job_id):
    with pytest.raises(ConfigError):
        Payload(version=version, job_id=job_id)


def test_code_corrects_noisy_soft_bits():
    rng = np.random.default_rng(3)
    info = PAYLOAD.to_bits()
    coded = wm._encode(info)
    soft = (1.0 - 2.0 * coded) + rng.normal(0, 0.7, coded.size)
    assert ((soft < 0) != coded.astype(bool)).sum() > 5  # there were errors to fix
    assert np.array_equal(wm._viterbi(soft, wm._MAGIC_BITS), info)


def test_carriers_are_orthonormal():
    spectra = wm._carriers(wm.DEFAULT_KEY).spectra
    gram = (spectra @ spectra.conj().T).real * 2 / wm._TILE**2
    assert np.allclose(gram, np.eye(gram.shape[0]), atol=1e-9)


def test_thresholds_follow_from_the_null_distribution():
    assert stats.norm.isf(1e-6) == pytest.approx(Z_THRESHOLD, abs=1e-6)
    per_test = stats.norm.sf(TEST_Z_THRESHOLD) * wm._SEARCH_TESTS
    assert per_test == pytest.approx(1e-6, rel=1e-6)


# ------------------------------------------------------------------- embedding


def test_mark_is_invisible_by_psnr_and_leaves_the_input(astronaut, clip):
    flat = np.full((SIZE, SIZE, 3), 128, np.uint8)
    for image in (astronaut, clip[0], flat):
        before = image.copy()
        height, width = image.shape[:2]
        marked = Watermarker((width, height), PAYLOAD).mark(image)
        assert np.array_equal(image, before)
        assert marked.shape == image.shape and marked.dtype == np.uint8
        assert psnr(marked, image) >= 42.0
    # Flat areas get the weakest mark (texture masking): well under 1 level RMS.
    diff = marked.astype(np.float64) - flat
    assert diff.std() < 0.8
    assert np.array_equal(marked[..., 0], marked[..., 1])  # same value on R, G, B


@pytest.mark.parametrize("adaptive", [True, False])
def test_banded_mark_equals_the_whole_frame_mark(astronaut, adaptive):
    # mark() works in bands of rows; the same sums on the whole frame at once
    # (a height that is not a multiple of the band) must give the same pixels.
    image = cv2.resize(astronaut, (300, 2 * wm._BAND + 37), interpolation=cv2.INTER_AREA)
    marker = Watermarker((300, image.shape[0]), PAYLOAD, adaptive=adaptive)
    if adaptive:
        amp = np.clip(np.rint(marker.amplitude_map(image) * wm._AMP_ONE), 0, 255).astype(np.uint8)
        amp = cv2.resize(amp, marker.size_wh, interpolation=cv2.INTER_LINEAR)
        scale = 1.0 / (wm._AMP_ONE * wm._PATTERN_ONE)
        plus = wm._rgb(cv2.multiply(amp, marker._plus, scale=scale))
        minus = wm._rgb(cv2.multiply(amp, marker._minus, scale=scale))
    else:
        plus, minus = marker._plus, marker._minus
    whole = cv2.subtract(cv2.add(image, plus), minus)
    assert np.array_equal(marker.mark(image), whole)
    assert not np.array_equal(whole, image)


def test_uniform_mode_marks_and_detects(astronaut):
    marked = Watermarker((512, 512), PAYLOAD, adaptive=False).mark(astronaut)
    assert psnr(marked, astronaut) >= 42.0
    detector = WatermarkDetector()
    detector.add(marked)
    assert detector.result().payload == PAYLOAD


def test_watermarker_rejects_bad_arguments(astronaut):
    with pytest.raises(ConfigError):
        Watermarker((8, 8), PAYLOAD)
    with pytest.raises(ConfigError):
        Watermarker((512, 512), PAYLOAD, strength=0)
    with pytest.raises(ValueError, match="frame must be"):
        Watermarker((256, 256), PAYLOAD).mark(astronaut)


# ------------------------------------------------------------------- detection


def test_clean_frame_round_trip(astronaut):
    detector = WatermarkDetector()
    detector.add(Watermarker((512, 512), PAYLOAD).mark(astronaut))
    result = detector.result()
    assert result.found and result.payload == PAYLOAD
    assert result.confidence > Z_THRESHOLD + 5
    assert result.frames_used == 1
    assert result.scale == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("size_wh", [(513, 511), (640, 360), (300, 500)])
def test_odd_and_wide_sizes_round_trip(astronaut, size_wh):
    image = cv2.resize(astronaut, size_wh, interpolation=cv2.INTER_AREA)
    detector = WatermarkDetector()
    detector.add(Watermarker(size_wh, PAYLOAD).mark(image))
    assert detector.result().payload == PAYLOAD


def test_other_key_does_not_detect(astronaut):
    detector = WatermarkDetector(key=b"someone else")
    detector.add(Watermarker((512, 512), PAYLOAD).mark(astronaut))
    result = detector.result()
    assert not result.found and result.payload is None


def _unmarked_images() -> list[NDArray[np.uint8]]:
    from skimage import data

    rng = np.random.default_rng(11)
    noise = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    smooth = cv2.GaussianBlur(rng.normal(128, 40, (256, 256, 3)), (0, 0), 4)
    checker = np.kron((np.indices((8, 8)).sum(0) % 2) * 255, np.ones((32, 32)))
    return [
        data.astronaut(),
        data.coffee(),
        data.chelsea(),
        cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2RGB),
        noise,
        np.clip(smooth, 0, 255).astype(np.uint8),
        np.repeat(checker[..., None], 3, 2).astype(np.uint8),
        np.full((200, 200, 3), 90, np.uint8),
    ]


@pytest.mark.parametrize("index", range(8))
def test_unmarked_images_are_not_detected(index):
    detector = WatermarkDetector()
    detector.add(_unmarked_images()[index])
    result = detector.result()
    assert not result.found and result.payload is None
    # The statistic stays far below the threshold (null maximum is about 3-5).
    assert result.statistic_z < TEST_Z_THRESHOLD - 1.5


def test_unmarked_clip_is_not_detected(clip):
    detector = WatermarkDetector()
    for frame in clip:
        detector.add(frame)
    result = detector.result()
    assert not result.found and result.frames_used == len(clip)
    assert result.statistic_z < TEST_Z_THRESHOLD - 1.5


def test_detector_rejects_frames_of_another_size(clip):
    detector = WatermarkDetector()
    detector.add(clip[0])
    with pytest.raises(ValueError, match="differs"):
        detector.add(clip[0][:100])
    assert WatermarkDetector().result().found is False


# ------------------------------------------------------------------- attacks


def _lut(
    gain: float, offset: float
) -> Callable[[NDArray[np.uint8]], NDArray[np.uint8]]:
    table = np.clip(np.rint(np.arange(256) * gain + offset), 0, 255).astype(np.uint8)
    return lambda frame: cv2.LUT(frame, table)


def _downscale(frame: NDArray[np.uint8]) -> NDArray[np.uint8]:
    size = (even(frame.shape[1] / 2), even(frame.shape[0] / 2))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def _crop(frame: NDArray[np.uint8]) -> NDArray[np.uint8]:
    height, width = frame.shape[:2]
    y, x = round(0.1 * height), round(0.1 * width)
    return np.ascontiguousarray(
        frame[y : y + even(height - 2 * y), x : x + even(width - 2 * x)]
    )


ATTACKS = {  # name -> (per-frame transform, crf of the re-encode)
    "h264 crf 28": (lambda f: f, 28),
    "downscale 50%": (_downscale, 18),
    "crop 10% each side": (_crop, 18),
    "brightness +20%": (_lut(1.0, 51.0), 18),
    "brightness -20%": (_lut(1.0, -51.0), 18),
    "contrast +20%": (_lut(1.2, -25.6), 18),
    "contrast -20%": (_lut(0.8, 25.6), 18),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_payload_survives_attack(tmp_path, marked_frames, name):
    transform, crf = ATTACKS[name]
    path = write(
        tmp_path / "attacked.mp4", [transform(f) for f in marked_frames], crf=crf
    )
    result = detect_file(path, max_seconds=2.0)
    assert result.found, name
    assert result.payload == PAYLOAD, name
    assert result.frames_used == 50
    if name.startswith("crop"):
        assert result.scale == pytest.approx(1.25, abs=0.01)


def test_payload_survives_frame_rate_change_and_excerpt(tmp_path, marked_frames):
    # 30 % fewer frames (dropped) at 0.7x the rate, then a 1 s excerpt from the middle.
    kept = [marked_frames[int(k / 0.7)] for k in range(int(len(marked_frames) * 0.7))]
    path = write(tmp_path / "slow.mp4", kept, fps=FPS * 0.7)
    excerpt = [frame.rgb for frame in read_frames(path, start_s=0.5, end_s=1.5)]
    result = detect_file(write(tmp_path / "excerpt.mp4", excerpt, fps=FPS * 0.7))
    assert result.payload == PAYLOAD
    assert result.frames_used == len(excerpt)


def test_jpeg_q70_single_frame_is_detected(tmp_path, marked_frames):
    path = tmp_path / "frame.jpg"
    Image.fromarray(marked_frames[10]).save(path, quality=70)
    result = detect_file(path)
    assert result.found and result.frames_used == 1
    assert result.confidence >= Z_THRESHOLD
    assert result.payload == PAYLOAD
