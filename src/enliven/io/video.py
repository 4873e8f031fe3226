"""Probe, read and write videos with PyAV.

Reading yields upright RGB frames (rotation metadata applied) on a constant frame
rate grid, whatever the timing of the input. Writing produces H.264/yuv420p MP4
(or MOV/MKV) with optional AAC audio taken from another file, trimmed, and
streamed and interleaved as the video is written. AAC from an MP4/MOV source goes
into an MP4/MOV output as it is; anything else is re-encoded.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import av.logging
import cv2
import numpy as np
from numpy.typing import NDArray

from enliven.errors import ConfigError, InputError, OutputError
from enliven.io.atomic import atomic_path
from enliven.types import VideoFrame

log = logging.getLogger(__name__)

DEFAULT_FPS = 25.0
_HINT = "re-export it as MP4/H.264"
_EPS = 1e-6
# Sample rates the AAC encoder accepts.
_AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000,
              12000, 11025, 8000, 7350)  # fmt: skip
_AAC_FRAME = 1024
_OUT_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` learns about a video file.

    width, height : display size in pixels (after rotation).
    fps : frame rate :func:`read_frames` uses by default.
    frame_count : frames in the stream (estimated as duration * fps when the
        container does not say).
    duration_s : duration of the video stream in seconds.
    rotation_deg : clockwise rotation (0, 90, 180 or 270) applied to the stored
        frames to display them upright (the "rotate" tag convention).
    has_audio : whether the file has an audio stream.
    video_codec : decoder name, e.g. "h264".
    """

    path: Path
    width: int
    height: int
    fps: float
    frame_count: int
    duration_s: float
    rotation_deg: int
    has_audio: bool
    video_codec: str


# --------------------------------------------------------------------------- input


def _reason(exc: BaseException) -> str:
    """A short reason for an FFmpeg error, preferring the demuxer's own log line."""
    logged = getattr(exc, "log", None)
    if logged and len(logged) >= 3 and str(logged[2]).strip():
        return str(logged[2]).strip()
    return str(getattr(exc, "strerror", None) or exc)


def _bad_video(path: Path, reason: str) -> InputError:
    return InputError(
        f"cannot read video {path}: not a video file or damaged ({reason}); {_HINT}"
    )


def _no_frames(path: Path, reason: str | None = None) -> InputError:
    detail = f"damaged: {reason}" if reason else "empty or damaged"
    return InputError(
        f"cannot read video {path}: it has no video frames that decode ({detail}); "
        f"{_HINT}"
    )


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"cannot read video {path}: file not found; check the path")
    if path.is_dir():
        raise InputError(
            f"cannot read video {path}: it is a directory, not a file; "
            "give the path of a video file"
        )


@contextlib.contextmanager
def _ffmpeg_log_in_errors() -> Iterator[None]:
    """Let FFmpeg errors raised inside carry FFmpeg's log line (e.g. 'moov atom
    not found') instead of only 'Invalid data found when processing input'."""
    level = av.logging.get_level()
    if level is not None:
        yield
        return
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture():
            yield
    finally:
        av.logging.set_level(level)


def _open_input(path: Path) -> av.container.InputContainer:
    _check_file(path)
    try:
        with _ffmpeg_log_in_errors():
            return av.open(str(path), mode="r")
    except av.FFmpegError as exc:
        raise _bad_video(path, _reason(exc)) from exc
    except OSError as exc:
        raise InputError(
            f"cannot read video {path}: {exc.strerror or exc}; "
            "check the file and its permissions"
        ) from exc


def _is_cover_art(stream: Any) -> bool:
    flag = getattr(getattr(av.stream, "Disposition", None), "attached_pic", 0)
    try:
        return bool(stream.disposition & flag)
    except (AttributeError, TypeError):
        return False


def _video_stream(container: Any, path: Path) -> av.video.stream.VideoStream:
    for stream in container.streams.video:
        if not _is_cover_art(stream):
            return stream
    raise InputError(
        f"cannot read video {path}: it has no video stream (no video frames); "
        f"give a video file, or {_HINT}"
    )


def _sane_rate(rate: Fraction | None) -> float | None:
    if rate is None or rate <= 0:
        return None
    value = float(rate)
    return value if 1.0 <= value <= 240.0 else None


def _stream_fps(stream: av.video.stream.VideoStream) -> float:
    return _sane_rate(stream.average_rate) or _sane_rate(stream.guessed_rate) or (
        DEFAULT_FPS
    )


def _stream_start_s(stream: Any) -> float:
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def _rotation_ccw(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns (0..3) that make ``frame`` upright."""
    try:
        degrees = float(frame.rotation)
    except (AttributeError, ValueError, TypeError):
        return 0
    if math.isnan(degrees):
        return 0
    return round(degrees / 90.0) % 4


# AVColorSpace / AVColorRange / AVColorPrimaries / AVColorTransferCharacteristic
_BT601_MATRIX, _TV_RANGE, _BT709_PRIMARIES, _BT709_TRC = 6, 1, 1, 1


def _rgb_matrix(kr: float, kb: float) -> NDArray[np.float64]:
    """RGB from (Y', Cb, Cr) scaled to full range, for luma weights kr, kb."""
    kg = 1.0 - kr - kb
    return np.array([
        [1.0, 0.0, 2.0 * (1.0 - kr)],
        [1.0, -2.0 * (1.0 - kb) * kb / kg, -2.0 * (1.0 - kr) * kr / kg],
        [1.0, 2.0 * (1.0 - kb), 0.0],
    ])  # fmt: skip


# OpenCV decodes I420 with the BT.601 matrix only; a BT.709 frame is that result
# times this (exact but where BT.601 clipped a channel).
_BT601_TO_BT709 = (_rgb_matrix(0.2126, 0.0722) @ np.linalg.inv(_rgb_matrix(0.299, 0.114))).astype(np.float32)
# AVColorSpace values: BT.709, unspecified (swscale takes BT.601), BT.470BG, SMPTE 170M.
_BT709_SPACE, _BT601_SPACES = 1, (2, 5, 6)
_JPEG_RANGE = 2


def _fast_rgb(frame: av.VideoFrame) -> NDArray[np.uint8] | None:
    """A limited-range BT.601/709 yuv420p frame converted by OpenCV (SIMD, 0.3
    ms at 512² against swscale's 1.2 ms); None for anything else."""
    width, height = frame.width, frame.height
    space = frame.colorspace
    if (
        frame.format.name != "yuv420p"
        or width % 2
        or height % 2
        or frame.color_range == _JPEG_RANGE
        or (space != _BT709_SPACE and space not in _BT601_SPACES)
    ):
        return None
    yuv = frame.to_ndarray()
    if yuv.shape != (height * 3 // 2, width):
        return None
    rgb = cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)
    if space == _BT709_SPACE:
        rgb = cv2.transform(rgb, _BT601_TO_BT709)
    return rgb


def _to_rgb(frame: av.VideoFrame) -> NDArray[np.uint8]:
    rgb = _fast_rgb(frame)
    if rgb is None:
        rgb = frame.to_ndarray(format="rgb24")
    turns = _rotation_ccw(frame)
    if turns:
        rgb = np.ascontiguousarray(np.rot90(rgb, k=turns))
    return rgb


def probe_video(path: Path | str) -> VideoInfo:
    """Describe a video file, making sure its first frame decodes.

    Parameters
    ----------
    path : Path
        A video file (MP4, MOV, MKV, WebM, ...).

    Returns
    -------
    VideoInfo

    Raises
    ------
    InputError
        If the file is missing, not a media file, damaged, has no video stream or
        no decodable video frame.
    """
    path = Path(path)
    container = _open_input(path)
    with container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        fps = _stream_fps(stream)
        first = None
        try:
            for first in container.decode(stream):
                break
        except av.FFmpegError as exc:
            raise _no_frames(path, _reason(exc)) from exc
        if first is None:
            raise _no_frames(path)
        turns = _rotation_ccw(first)
        width = stream.codec_context.width or first.width
        height = stream.codec_context.height or first.height
        if turns % 2:
            width, height = height, width
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = 0.0
        frames = stream.frames or 0
        if frames <= 0:
            frames = max(1, round(duration * fps))
        if duration <= 0.0:
            duration = frames / fps
        info = VideoInfo(
            path=path,
            width=int(width),
            height=int(height),
            fps=fps,
            frame_count=int(frames),
            duration_s=duration,
            rotation_deg=(-90 * turns) % 360,
            has_audio=len(container.streams.audio) > 0,
            video_codec=stream.codec_context.name,
        )
    log.debug("probed %s: %s", path, info)
    return info


def read_frames(
    path: Path | str,
    *,
    start_s: float = 0.0,
    end_s: float | None = None,
    fps: float | None = None,
    select: Callable[[int], bool] | None = None,
) -> Iterator[VideoFrame]:
    """Decode a video as upright RGB frames on a constant frame rate grid.

    Output frame ``k`` has ``time_s = k / fps`` (seconds after ``start_s``) and
    shows the latest decoded frame whose timestamp is at most
    ``start_s + (k + 0.5) / fps``: input frames are repeated or dropped as needed,
    so variable frame rate input gives a steady grid. Frames are decoded lazily;
    the video is never held in memory. A repeated frame shares its ``rgb`` array
    with the previous one: copy it before modifying it in place.

    Parameters
    ----------
    path : Path
        The video file.
    start_s, end_s : float
        Window of the clip to read, in seconds from its start (``end_s=None``:
        to the end).
    fps : float, optional
        Output frame rate; default: the stream's (see :class:`VideoInfo`).
    select : callable, optional
        Yield only the indices it accepts (the others are decoded but not
        converted to RGB: cheap sampling).

    Yields
    ------
    VideoFrame
        Indices from 0, ``rgb`` of shape (H, W, 3) uint8.

    Raises
    ------
    InputError
        If the file cannot be opened or no frame decodes in the window. A decode
        error after some frames only logs a warning and ends the iteration.
    ConfigError
        If the window or frame rate is invalid.
    """
    path = Path(path)
    if not math.isfinite(start_s) or start_s < 0:
        raise ConfigError(f"start time must be >= 0 s, got {start_s}")
    if end_s is not None and not end_s > start_s:
        raise ConfigError(f"end time ({end_s} s) must be after start ({start_s} s)")
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ConfigError(f"frame rate must be > 0, got {fps}")
    _check_file(path)
    return _iter_frames(path, float(start_s), end_s, fps, select)


def _iter_frames(
    path: Path,
    start_s: float,
    end_s: float | None,
    fps: float | None,
    select: Callable[[int], bool] | None = None,
) -> Iterator[VideoFrame]:
    container = _open_input(path)
    with container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        out_fps = float(fps) if fps else _stream_fps(stream)
        period = 1.0 / out_fps
        origin = _stream_start_s(stream)
        in_period = 1.0 / (_sane_rate(stream.guessed_rate) or out_fps)
        window = None if end_s is None else end_s - start_s

        if start_s > 0:
            try:
                target = int((start_s + origin) / stream.time_base)
                container.seek(target, stream=stream, backward=True, any_frame=False)
            except (av.FFmpegError, OverflowError, ZeroDivisionError, TypeError) as exc:
                log.debug("seek in %s failed (%s); decoding from the start", path, exc)

        def in_window(k: int) -> bool:
            return window is None or k * period + 0.5 * period <= window + _EPS

        k = 0
        held: av.VideoFrame | None = None
        held_rgb: NDArray[np.uint8] | None = None
        n_decoded = 0
        last_t = -math.inf
        last_dur = in_period
        frames = container.decode(stream)
        stream_ended = False
        while in_window(k):
            try:
                frame = next(frames)
            except StopIteration:
                stream_ended = True
                break
            except av.FFmpegError as exc:
                if n_decoded == 0:
                    raise _no_frames(path, _reason(exc)) from exc
                log.warning(
                    "video %s is damaged after %.2f s (%s); using the frames before",
                    path, max(last_t, 0.0), _reason(exc),
                )  # fmt: skip
                break
            n_decoded += 1
            if frame.time is not None:
                t = float(frame.time) - origin
            else:
                t = last_t + last_dur if n_decoded > 1 else 0.0
            if frame.duration and frame.time_base is not None:
                last_dur = float(frame.duration * frame.time_base)
            else:
                last_dur = in_period
            # Slots whose deadline passed before this frame get the held frame.
            while in_window(k) and start_s + (k + 0.5) * period + _EPS < t:
                if held is None:  # nothing before this frame: show it early
                    held, held_rgb = frame, None
                if select is None or select(k):
                    if held_rgb is None:
                        held_rgb = _to_rgb(held)
                    yield VideoFrame(index=k, time_s=k * period, rgb=held_rgb)
                k += 1
            held, held_rgb = frame, None
            last_t = max(last_t, t)

        if n_decoded == 0:
            raise _no_frames(path)
        end_t = last_t + last_dur
        declared = (
            float(stream.duration * stream.time_base)
            if stream.duration is not None and stream.time_base is not None
            else None
        )
        if stream_ended and declared and end_t < declared - max(0.25, 2 * last_dur):
            log.warning(
                "video %s stops at %.2f s but its header says %.2f s (truncated?); "
                "using the frames that decode", path, end_t, declared,
            )  # fmt: skip
        while held is not None and in_window(k):
            if start_s + (k + 0.5) * period > end_t + _EPS:
                break
            if select is None or select(k):
                if held_rgb is None:
                    held_rgb = _to_rgb(held)
                yield VideoFrame(index=k, time_s=k * period, rgb=held_rgb)
            k += 1
        if k == 0:
            raise InputError(
                f"cannot read video {path}: no frames from {start_s:g} s on (the "
                f"clip ends at {end_t:.2f} s); choose an earlier start time"
            )
        log.debug("read %d frames at %.3f fps from %s", k, out_fps, path)


# -------------------------------------------------------------------------- output


class _Abort(Exception):
    """Thrown into the atomic_path context to discard the temporary file."""


class _AudioSource:
    """Decoded, resampled and trimmed audio of a file, pulled in small pieces."""

    def __init__(
        self, path: Path, start_s: float, end_s: float | None
    ) -> None:
        self.path = path
        self.container: Any = None
        self.rate = 0
        self.layout = "stereo"
        self._start_s = start_s
        self._end_s = end_s
        self._chunks: Iterator[NDArray[np.float32]] | None = None
        container = _open_input(path)
        if not container.streams.audio:
            container.close()
            log.info("%s has no audio stream; writing video only", path)
            return
        self.container = container
        self._stream = container.streams.audio[0]
        cc = self._stream.codec_context
        in_rate = int(cc.sample_rate or 48000)
        self.rate = in_rate if in_rate in _AAC_RATES else (
            44100 if in_rate % 11025 == 0 else 48000
        )
        self.layout = "mono" if cc.layout.nb_channels == 1 else "stereo"
        self.channels = 1 if self.layout == "mono" else 2
        self._chunks = self._generate()

    @property
    def present(self) -> bool:
        return self.container is not None

    def close(self) -> None:
        if self.container is not None:
            self.container.close()
            self.container = None
            self._chunks = None

    def chunks(self) -> Iterator[NDArray[np.float32]]:
        assert self._chunks is not None
        return self._chunks

    def _generate(self) -> Iterator[NDArray[np.float32]]:
        """Yield (channels, n) float32 arrays; sample 0 is at time start_s."""
        stream = self._stream
        origin = _stream_start_s(stream)
        if self._start_s > 0:
            try:
                target = int((self._start_s + origin) / stream.time_base)
                self.container.seek(target, stream=stream, backward=True)
            except (av.FFmpegError, OverflowError, ZeroDivisionError, TypeError) as exc:
                log.debug("audio seek in %s failed (%s)", self.path, exc)
        resampler = av.AudioResampler(
            format="fltp", layout=self.layout, rate=self.rate
        )
        remaining = (
            None
            if self._end_s is None
            else round((self._end_s - self._start_s) * self.rate)
        )
        skip: int | None = None  # samples to drop before start_s; None: unknown yet
        decoded = self.container.decode(stream)
        done = False
        while not done and (remaining is None or remaining > 0):
            try:
                frame = next(decoded)
                outs = resampler.resample(frame)
            except StopIteration:
                frame = None
                outs = resampler.resample(None)
                done = True
            except av.FFmpegError as exc:
                self._damaged(exc)
                return
            if skip is None and frame is not None and frame.time is not None:
                skip = round((self._start_s - (float(frame.time) - origin)) * self.rate)
                if skip < 0:  # audio starts after the window: pad with silence
                    pad = np.zeros((self.channels, -skip), np.float32)
                    if remaining is not None:
                        pad = pad[:, :remaining]
                        remaining -= pad.shape[1]
                    yield pad
                    skip = 0
            for out in outs:
                arr = out.to_ndarray().astype(np.float32, copy=False)
                arr = arr.reshape(self.channels, -1)
                if skip:
                    cut = min(skip, arr.shape[1])
                    arr = arr[:, cut:]
                    skip -= cut
                if remaining is not None:
                    arr = arr[:, :remaining]
                    remaining -= arr.shape[1]
                if arr.shape[1]:
                    yield arr

    def can_copy(self, out_format: str) -> bool:
        """Whether the packets can go into ``out_format`` as they are.

        Only from the start of the file: the source's own priming packets (and
        the edit list the MP4 muxer writes for them) then keep the sound sample
        for sample. AAC from an MP4/MOV file carries its decoder setup in the
        stream header (not ADTS). Other cases are re-encoded.
        """
        if not self.present or out_format not in ("mp4", "mov") or self._start_s > 0:
            return False
        cc = self._stream.codec_context
        return (
            cc.name == "aac"
            and "mp4" in self.container.format.name.split(",")
            and bool(cc.extradata)
            and self._stream.time_base is not None
        )

    @property
    def stream(self) -> Any:
        """The source audio stream (a template for a copied output stream)."""
        return self._stream

    def packets(self) -> Iterator[Any]:
        """The stream's packets up to ``end_s``, for copying without re-encoding.

        Timestamps count from the stream's start; the encoder's priming packets
        keep their negative ones, which the MP4 muxer turns into an edit list.
        A packet that would end after ``end_s`` is left out, so the audio ends
        up to one AAC frame (~23 ms) early rather than late.
        """
        stream = self._stream
        tb = stream.time_base
        origin = stream.start_time or 0
        end = None if self._end_s is None else round(self._end_s / tb)
        try:
            for packet in self.container.demux(stream):
                if packet.pts is None or packet.duration is None:
                    continue  # the flush packet, or one the muxer cannot place
                packet.pts -= origin
                packet.dts = packet.pts
                if end is not None and packet.pts + packet.duration > end:
                    return
                yield packet
        except av.FFmpegError as exc:
            self._damaged(exc)

    def _damaged(self, exc: av.FFmpegError) -> None:
        """Say that the audio stops here (decoded or copied, the rest is silent)."""
        log.warning("audio of %s is damaged (%s); the rest is left silent", self.path, _reason(exc))


class VideoWriter:
    """Write RGB frames to an H.264 video, atomically, with optional audio.

    The file is written to a hidden temporary file next to ``path`` and moved onto
    ``path`` by :meth:`close`; on an exception inside ``with`` (or :meth:`abort`)
    the temporary file is deleted and nothing appears at ``path``.

    Parameters
    ----------
    path : Path
        Output file: .mp4 (default choice), .m4v, .mov or .mkv.
    size_wh : (int, int)
        Frame width and height; both must be even (yuv420p).
    fps : float
        Frame rate; the duration is frames / fps.
    audio_source : Path, optional
        File whose first audio stream is kept: AAC packets from an MP4/MOV file
        are copied into an MP4/MOV output, anything else is re-encoded to AAC. A
        file without audio gives a video without audio.
    audio_start_s, audio_end_s : float
        Window of ``audio_source`` to use; its start aligns with the first frame.
        The audio never runs longer than the video.
    crf, preset, tune : libx264 quality (0-51, lower is better), speed preset and
        optional tuning.
    params : str, optional
        Extra libx264 parameters, ``key=value`` pairs joined by ``:``.
    metadata : dict of str to str, optional
        Container metadata (e.g. ``title``, ``comment``).
    finalize : callable, optional
        Called with the finished temporary file before it is moved onto
        ``path`` (e.g. to sign it); if it raises, nothing appears at ``path``.
    """

    def __init__(
        self,
        path: Path | str,
        size_wh: tuple[int, int],
        fps: float,
        *,
        audio_source: Path | str | None = None,
        audio_start_s: float = 0.0,
        audio_end_s: float | None = None,
        crf: int = 18,
        preset: str = "veryfast",
        tune: str | None = None,
        params: str | None = None,
        metadata: dict[str, str] | None = None,
        finalize: Callable[[Path], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self._finalize = finalize
        width, height = (int(v) for v in size_wh)
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(
                "video size must be positive and even for yuv420p, "
                f"got {width}x{height}"
            )
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"frame rate must be > 0, got {fps}")
        if not 0 <= crf <= 51:
            raise ValueError(f"crf must be in 0..51, got {crf}")
        if audio_end_s is not None and audio_end_s <= audio_start_s:
            raise ValueError(
                f"audio end ({audio_end_s} s) must be after its start "
                f"({audio_start_s} s)"
            )
        suffix = self.path.suffix.lower()
        if suffix not in _OUT_FORMATS:
            raise OutputError(
                f"cannot write {self.path}: unsupported video type "
                f"{suffix or '(none)'}; "
                "use a name ending in .mp4, .mov or .mkv"
            )
        self.size_wh = (width, height)
        self.fps = float(fps)
        self._rate = Fraction(self.fps).limit_denominator(1001)
        self._frames = 0
        self._closed = False
        self._audio: _AudioSource | None = None
        self._abuf: list[NDArray[np.float32]] = []
        self._abuf_len = 0
        self._apts = 0
        self._audio_exhausted = False
        self._apackets: Iterator[Any] | None = None  # when the AAC is copied
        self._apacket: Any = None  # a copied packet that ends after the video so far

        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        self._tmp = tmp
        try:
            if audio_source is not None:
                audio = _AudioSource(Path(audio_source), audio_start_s, audio_end_s)
                self._audio = audio if audio.present else None
            fmt = _OUT_FORMATS[suffix]
            options = {"movflags": "+faststart"} if fmt in ("mp4", "mov") else {}
            try:
                self._container = av.open(
                    str(tmp), mode="w", format=fmt, options=options
                )
            except (av.FFmpegError, OSError) as exc:
                raise OutputError(
                    f"cannot write {self.path}: {_reason(exc)}; choose another -o"
                ) from exc
            for key, value in (metadata or {}).items():
                self._container.metadata[str(key)] = str(value)
            codec_options = {"crf": str(int(crf)), "preset": preset}
            if tune:
                codec_options["tune"] = tune
            if params:
                codec_options["x264-params"] = params
            vs = self._container.add_stream(
                "libx264", rate=self._rate, options=codec_options
            )
            vs.width, vs.height = width, height
            vs.pix_fmt = "yuv420p"
            vs.codec_context.time_base = 1 / self._rate
            # write() converts with OpenCV's BT.601 limited-range matrix; say so,
            # or players guess BT.709 for HD sizes and shift the colours. The
            # primaries and transfer are sRGB's (those of the portrait).
            cc = vs.codec_context
            cc.colorspace, cc.color_range = _BT601_MATRIX, _TV_RANGE
            cc.color_primaries, cc.color_trc = _BT709_PRIMARIES, _BT709_TRC
            self._vstream = vs
            self._astream = None
            if self._audio is not None and self._audio.can_copy(fmt):
                # Copying the AAC packets keeps the sound as it was and saves the
                # decode, resample and encode (0.9 ms of a 30 fps frame, measured).
                self._astream = self._container.add_stream_from_template(
                    self._audio.stream
                )
                self._apackets = self._audio.packets()
            elif self._audio is not None:
                self._astream = self._container.add_stream(
                    "aac", rate=self._audio.rate, layout=self._audio.layout
                )
                self._astream.codec_context.time_base = Fraction(1, self._audio.rate)
        except BaseException:
            container = getattr(self, "_container", None)
            if container is not None:
                with contextlib.suppress(av.FFmpegError, OSError):
                    container.close()
            self._discard()
            raise

    # ----------------------------------------------------------------- public

    @property
    def frames_written(self) -> int:
        """Number of frames written so far."""
        return self._frames

    def write(self, rgb: NDArray[np.uint8]) -> None:
        """Encode one frame.

        Parameters
        ----------
        rgb : ndarray of shape (H, W, 3), uint8
            Must match ``size_wh``.

        Raises
        ------
        ValueError
            If the array has the wrong shape or type, or the writer is closed.
        OutputError
            If the encoder or the disk fails.
        """
        if self._closed:
            raise ValueError(f"VideoWriter for {self.path} is already closed")
        arr = np.asarray(rgb)
        width, height = self.size_wh
        if arr.shape != (height, width, 3) or arr.dtype != np.uint8:
            raise ValueError(
                f"frame must be a ({height}, {width}, 3) uint8 array, "
                f"got {arr.shape} {arr.dtype}"
            )
        # OpenCV converts to I420 in a few tenths of a ms without the GIL; an rgb24
        # frame costs a copy plus swscale in the encoder (6 ms at 1080p, measured).
        yuv = cv2.cvtColor(arr, cv2.COLOR_RGB2YUV_I420)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = self._frames
        frame.time_base = 1 / self._rate
        try:
            for packet in self._vstream.encode(frame):
                self._container.mux(packet)
            self._frames += 1
            if self._astream is not None:
                # Encode audio only up to the current video time: the video may end
                # here, and audio must not run past it. The muxer interleaves.
                self._pump_audio(self._frames / self.fps, final=False)
        except (av.FFmpegError, OSError) as exc:
            raise OutputError(
                f"cannot write {self.path}: {_reason(exc)}; "
                "check free disk space or choose another -o"
            ) from exc

    def close(self) -> None:
        """Flush the encoders and move the finished file onto ``path``.

        Raises
        ------
        OutputError
            If no frame was written or the file cannot be finished.
        """
        if self._closed:
            return
        if self._frames == 0:
            self.abort()
            raise OutputError(
                f"cannot write {self.path}: no frames were written; "
                "check the input produced frames"
            )
        try:
            for packet in self._vstream.encode(None):
                self._container.mux(packet)
            if self._astream is not None:
                self._pump_audio(self._frames / self.fps, final=True)
            self._container.close()
            if self._finalize is not None:
                self._finalize(self._tmp)
        except (av.FFmpegError, OSError) as exc:
            self.abort()
            raise OutputError(
                f"cannot write {self.path}: {_reason(exc)}; "
                "check free disk space or choose another -o"
            ) from exc
        except BaseException:
            self.abort()
            raise
        if self._audio is not None:
            self._audio.close()
        self._closed = True
        self._atomic.__exit__(None, None, None)
        log.info(
            "wrote %s: %d frames at %.3f fps%s", self.path, self._frames, self.fps,
            " with audio" if self._astream is not None else "",
        )  # fmt: skip

    def abort(self) -> None:
        """Stop writing and delete the temporary file; nothing appears at ``path``."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(av.FFmpegError, OSError):
            self._container.close()
        self._discard()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # ---------------------------------------------------------------- private

    def _discard(self) -> None:
        self._closed = True
        if self._audio is not None:
            self._audio.close()
        with contextlib.suppress(_Abort):
            self._atomic.__exit__(_Abort, _Abort(), None)

    def _encode_audio(self, arr: NDArray[np.float32] | None) -> None:
        assert self._astream is not None and self._audio is not None
        if arr is None:
            packets = self._astream.encode(None)
        else:
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(arr), format="fltp", layout=self._audio.layout
            )
            frame.sample_rate = self._audio.rate
            frame.pts = self._apts
            frame.time_base = Fraction(1, self._audio.rate)
            self._apts += arr.shape[1]
            packets = self._astream.encode(frame)
        for packet in packets:
            self._container.mux(packet)

    def _copy_audio(self, until_s: float) -> None:
        """Mux the copied audio packets that end by ``until_s``."""
        assert self._apackets is not None and self._astream is not None
        limit = until_s + _EPS
        while True:
            packet = self._apacket
            if packet is None:
                packet = next(self._apackets, None)
                if packet is None:
                    self._audio_exhausted = True
                    return
            if float((packet.pts + packet.duration) * packet.time_base) > limit:
                self._apacket = packet
                return
            self._apacket = None
            packet.stream = self._astream
            self._container.mux(packet)

    def _pump_audio(self, until_s: float, *, final: bool) -> None:
        """Encode audio up to ``until_s`` (whole AAC frames unless ``final``)."""
        assert self._audio is not None
        if self._apackets is not None:
            if not self._audio_exhausted:
                self._copy_audio(until_s)
            return
        limit = round(until_s * self._audio.rate)
        while not self._audio_exhausted and self._apts + self._abuf_len < limit:
            try:
                chunk = next(self._audio.chunks())
            except StopIteration:
                self._audio_exhausted = True
                break
            self._abuf.append(chunk)
            self._abuf_len += chunk.shape[1]
        if not self._abuf_len and not final:
            return
        pending = (
            np.concatenate(self._abuf, axis=1)
            if self._abuf
            else np.zeros((self._audio.channels, 0), np.float32)
        )
        step = _AAC_FRAME
        pos = 0
        while pos + step <= pending.shape[1] and self._apts + step <= limit:
            self._encode_audio(pending[:, pos : pos + step])
            pos += step
        if final:
            tail = pending[:, pos : pos + max(0, limit - self._apts)]
            if tail.shape[1]:
                self._encode_audio(tail)
            self._encode_audio(None)
            self._abuf, self._abuf_len = [], 0
            return
        rest = pending[:, pos:]
        self._abuf = [rest] if rest.shape[1] else []
        self._abuf_len = rest.shape[1]
