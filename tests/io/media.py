"""Small synthetic media files for the io tests, made with PyAV and NumPy."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray


def smooth_frame(i: int, w: int = 64, h: int = 48) -> NDArray[np.uint8]:
    """A smooth gradient with a soft blob that moves with ``i``."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    cx = (0.25 + 0.02 * i) * w
    cy = 0.5 * h
    blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * (0.15 * w) ** 2))
    r = 40 + 150 * x / w + 60 * blob
    g = 60 + 120 * y / h + 40 * blob
    b = 180 - 100 * x / w
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8)


def flat_frame(level: int, w: int = 64, h: int = 48) -> NDArray[np.uint8]:
    return np.full((h, w, 3), level, np.uint8)


def tone(n: int, rate: int, channels: int, t0: int = 0) -> NDArray[np.float32]:
    """Samples t0 .. t0+n of a two-tone signal (440 + 97 Hz: repeats once a second)."""
    t = (np.arange(n) + t0) / rate
    wave = 0.2 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 97 * t)
    wave = wave.astype(np.float32)
    return np.repeat(wave[None, :], channels, axis=0)


def write_clip(
    path: Path,
    frames: Sequence[NDArray[np.uint8]],
    *,
    fps: float = 25,
    codec: str = "libx264",
    pts_ms: Sequence[int] | None = None,
    rotation: float | None = None,
    display_matrix: Sequence[int] | None = None,
    audio_s: float | None = None,
    audio_rate: int = 44100,
    audio_layout: str = "stereo",
    fmt: str | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode ``frames`` (RGB) to ``path``; optionally VFR, rotated, with a tone."""
    h, w = frames[0].shape[:2]
    container = av.open(str(path), mode="w", format=fmt, options=options or {})
    rate = Fraction(fps).limit_denominator(1001)
    vs = container.add_stream(codec, rate=rate)
    vs.width, vs.height = w, h
    vs.pix_fmt = "yuv420p"
    if codec == "libx264":
        vs.options = {"preset": "ultrafast", "crf": "12"}
    tb = Fraction(1, 1000) if pts_ms is not None else 1 / rate
    vs.codec_context.time_base = tb
    if rotation is not None:
        vs.set_display_rotation(rotation)
    if display_matrix is not None:
        vs.set_display_matrix(display_matrix)
    aus = None
    if audio_s is not None:
        aus = container.add_stream("aac", rate=audio_rate, layout=audio_layout)
    channels = 1 if audio_layout == "mono" else 2
    a_total = round((audio_s or 0) * audio_rate)
    a_done = 0

    def pump_audio(until_s: float) -> None:
        nonlocal a_done
        while aus is not None and a_done < min(a_total, until_s * audio_rate):
            n = min(1024, a_total - a_done)
            af = av.AudioFrame.from_ndarray(
                tone(n, audio_rate, channels, t0=a_done), format="fltp",
                layout=audio_layout,
            )  # fmt: skip
            af.sample_rate = audio_rate
            af.pts = a_done
            af.time_base = Fraction(1, audio_rate)
            a_done += n
            for p in aus.encode(af):
                container.mux(p)

    for i, rgb in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        vf.pts = pts_ms[i] if pts_ms is not None else i
        vf.time_base = tb
        for p in vs.encode(vf):
            container.mux(p)
        pump_audio(float(vf.pts * tb) + 0.5)
    for p in vs.encode(None):
        container.mux(p)
    pump_audio(1e9)
    if aus is not None:
        for p in aus.encode(None):
            container.mux(p)
    container.close()
    return path


def write_tone(path: Path, seconds: float = 1.2, rate: int = 44100,
               layout: str = "stereo", codec: str = "aac") -> Path:  # fmt: skip
    """An audio-only file holding a sine tone (AAC, or PCM with codec="pcm_s16le")."""
    container = av.open(str(path), mode="w")
    aus = container.add_stream(codec, rate=rate, layout=layout)
    channels = 1 if layout == "mono" else 2
    total = round(seconds * rate)
    done = 0
    while done < total:
        n = min(1024, total - done)
        wave = tone(n, rate, channels, t0=done)
        if codec == "aac":
            af = av.AudioFrame.from_ndarray(wave, format="fltp", layout=layout)
        else:
            packed = (wave.T.reshape(1, -1) * 32767).astype(np.int16)
            af = av.AudioFrame.from_ndarray(packed, format="s16", layout=layout)
        af.sample_rate = rate
        af.pts = done
        af.time_base = Fraction(1, rate)
        done += n
        for p in aus.encode(af):
            container.mux(p)
    for p in aus.encode(None):
        container.mux(p)
    container.close()
    return path


def stream_durations(path: Path) -> dict[str, float]:
    """Duration in seconds of the first video and audio streams, from the container."""
    out = {}
    with av.open(str(path)) as c:
        for s in c.streams:
            if s.type in out or s.duration is None:
                continue
            out[s.type] = float(s.duration * s.time_base)
    return out


def decoded_audio(path: Path) -> NDArray[np.float32]:
    """First channel of the decoded audio of ``path``."""
    with av.open(str(path)) as c:
        return np.concatenate([f.to_ndarray()[0] for f in c.decode(audio=0)])


def decoded_audio_seconds(path: Path) -> float:
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        return sum(f.samples for f in c.decode(s)) / s.codec_context.sample_rate


def psnr(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)
