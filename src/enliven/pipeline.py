"""The streaming Animator: the only module that wires the stages together.

media in -> face tracking -> motion -> rendering -> provenance -> media out
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
from concurrent.futures import Future, wait
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TypeVar
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from enliven._version import __version__
from enliven.errors import ConfigError, InputError
from enliven.face import FaceTracker, TrackConfig, make_tracker
from enliven.face.eyelids import lash_line_landmarks
from enliven.face.lowerface import untangled_lower_face
from enliven.face.landmarks_file import add_depth
from enliven.face.portrait import find_face
from enliven.face.topology import N_LANDMARKS
from enliven.memory import release_free_memory
from enliven.motion.crown import CrownTracker
from enliven.motion.detail import DetailTracker
from enliven.motion.retarget import RetargetConfig, Retargeter, TargetShape
from enliven.provenance.watermark import Payload, Watermarker
from enliven.render.background import MediaPipeSegmenter, Segmenter
from enliven.render.renderer import RenderConfig, Renderer
from enliven.stages import in_thread, map_in_thread
from enliven.types import FaceObservation, VideoFrame

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Evidence:
    """What is measured in the driver's image beyond its landmarks, per clip:
    skin detail (flow and shading) and the crown's own move (either may be off)."""

    detail: DetailTracker | None = None
    crown: CrownTracker | None = None


@dataclass(frozen=True)
class AnimateConfig:
    """Everything a run can be told; CLI flags and the API build the same object."""

    track: TrackConfig = field(default_factory=TrackConfig)
    retarget: RetargetConfig = field(default_factory=RetargetConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    max_size: int = 2048  # px, long side of the output; larger portraits shrink
    detail: float = 1.0  # 0..1: flow and shading beyond the landmarks (0: off)
    follow_crown: bool = True  # the hair rings follow the driver's crown as seen in the image
    min_size: int = 384  # px, short side of the output; smaller portraits are upscaled
    # (max_size wins where the two disagree)
    # (below ~350 px the watermark does not survive a crf 28 re-encode: bench_watermark)
    face_index: int | None = None  # which portrait face (0 = largest); None: largest
    reference_frame: int | None = None  # driver frame standing for the portrait; None: chosen
    reference_samples: int = 60  # driver frames sampled when choosing the reference
    reference_window_s: float = 10.0  # the reference is chosen in the first seconds
    start_s: float = 0.0  # driving clip window start, seconds
    end_s: float | None = None  # driving clip window end, seconds; None: to the end
    crf: int = 18  # H.264 quality, 0..51 (lower is better)
    preset: str = "auto"  # libx264 speed preset; auto: veryfast (cheaper search) up to 1 MP, superfast above
    sign_key: Path | None = None  # PEM key signing the C2PA manifest; None: local key
    sign_cert: Path | None = None  # PEM certificate chain for sign_key

    def settings(self) -> dict[str, object]:
        """The settings a manifest records (everything but local key paths)."""
        record = asdict(self)
        record.pop("sign_key")
        record.pop("sign_cert")
        return record

    def encoder_options(self, size_wh: tuple[int, int]) -> dict[str, str | None]:
        """``preset``, ``tune`` and ``params`` (extra x264 parameters) for
        :class:`~enliven.io.video.VideoWriter`, for an output of ``size_wh``.

        A preset the user names is used as it is. ``auto`` chooses by size:

        - up to a megapixel, veryfast with a cheaper motion search
          (``me=dia:subme=1``): on 300 rendered 512² frames the encoder's CPU
          falls from 2.7 to 1.8 ms a frame at the same PSNR (+0.1 dB) and a file
          4% larger (a camera clip: -1.1 ms, -0.2 dB, +10%); and one encoder
          thread (``threads=1``): the other stages keep both cores busy, so
          x264's own threads only added CPU (2.1 -> 1.8 ms a frame, file -3%,
          +0.1 dB on the same frames; the 512² pass 66.7 -> 68.5 fps, median of
          six interleaved passes each, and steadier: 68.0-69.7 vs 62.3-69.5);
        - above, superfast with ``zerolatency``: veryfast costs ~2x superfast
          (36 vs 16 ms a 1080p frame on 2 cores) for ~half the file size at the
          same crf, and without lookahead buffers a 1080p encoder holds 71 MB
          instead of 159 MB (measured). Superfast already searches that way.
        """
        if self.preset != "auto":
            return {"preset": self.preset, "tune": None, "params": None}
        if size_wh[0] * size_wh[1] <= 1_000_000:
            return {"preset": "veryfast", "tune": None, "params": "me=dia:subme=1:threads=1"}
        return {"preset": "superfast", "tune": "zerolatency", "params": None}

    def __post_init__(self) -> None:
        if not 64 <= self.max_size <= 8192:
            raise ConfigError(f"max_size must be in [64, 8192], got {self.max_size}")
        if not 0.0 <= self.detail <= 1.0:
            raise ConfigError(f"detail must be in [0, 1], got {self.detail}")
        if not 16 <= self.min_size <= 8192:
            raise ConfigError(f"min_size must be in [16, 8192], got {self.min_size}")
        if self.face_index is not None and self.face_index < 0:
            raise ConfigError(f"face_index must be >= 0, got {self.face_index}")
        if self.reference_frame is not None and self.reference_frame < 0:
            raise ConfigError(f"reference_frame must be >= 0, got {self.reference_frame}")
        if self.start_s < 0:
            raise ConfigError(f"start_s must be >= 0, got {self.start_s}")
        if self.end_s is not None and self.end_s <= self.start_s:
            raise ConfigError(f"end_s ({self.end_s}) must be after start_s ({self.start_s})")
        if not 0 <= self.crf <= 51:
            raise ConfigError(f"crf must be in [0, 51], got {self.crf}")
        presets = ("auto", "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow")
        if self.preset not in presets:
            raise ConfigError(f"preset must be one of {', '.join(presets)}, got {self.preset!r}")
        if self.reference_samples < 1:
            raise ConfigError("reference_samples must be >= 1")


def fit_portrait(rgb: NDArray[np.uint8], max_size: int, min_size: int = 0) -> NDArray[np.uint8]:
    """The portrait at output size: even sides, the long side at most ``max_size``
    and, unless that forbids it, the short side at least ``min_size``."""
    h, w = rgb.shape[:2]
    fit_w, fit_h = _fitted_size((w, h), max_size, min_size)
    if (fit_w, fit_h) != (w, h):
        inter = cv2.INTER_AREA if fit_w < w else cv2.INTER_LANCZOS4
        rgb = cv2.resize(rgb, (fit_w, fit_h), interpolation=inter)
    return np.ascontiguousarray(rgb[: fit_h - fit_h % 2, : fit_w - fit_w % 2])


def _fitted_size(size_wh: tuple[int, int], max_size: int, min_size: int = 0) -> tuple[int, int]:
    """(width, height) of a portrait resized to a long side of at most ``max_size``
    and a short side of at least ``min_size`` (before the sides are made even)."""
    w, h = size_wh
    scale = min(max(1.0, min_size / min(h, w)), max_size / max(h, w))
    if scale == 1.0:
        return w, h
    return max(2, round(w * scale)), max(2, round(h * scale))


def fit_landmarks(
    points: NDArray[np.floating],
    size_wh: tuple[int, int],
    max_size: int,
    min_size: int = 0,
    *,
    inverse: bool = False,
) -> NDArray[np.float32]:
    """Points given in pixels of a ``size_wh`` portrait, moved to the pixels of
    ``fit_portrait(portrait, max_size, min_size)`` (z scales with x); ``inverse``: back."""
    fit_w, fit_h = _fitted_size(size_wh, max_size, min_size)
    sx, sy = fit_w / size_wh[0], fit_h / size_wh[1]
    scale = np.array([sx, sy, sx][: np.shape(points)[1]])
    if inverse:
        scale = 1.0 / scale
    return (np.asarray(points, np.float64) * scale).astype(np.float32)


def find_portrait_face(
    rgb: NDArray[np.uint8], tracker: FaceTracker, face_index: int | None, name: str
) -> FaceObservation:
    """The landmarks of the portrait's chosen face; NoFaceError if there is none,
    or if it does not look human (see :mod:`enliven.face.portrait`)."""
    return find_face(rgb, tracker, face_index, name).observation


def user_face(points: NDArray[np.floating], tracker: FaceTracker) -> FaceObservation:
    """The portrait's face from landmarks the user gave, (478, 2) or (478, 3), in
    pixels of the portrait; points without z get the astronaut's depth."""
    points = np.asarray(points, np.float32)
    if points.shape not in ((N_LANDMARKS, 2), (N_LANDMARKS, 3)):
        raise InputError(f"landmarks must be {N_LANDMARKS} x, y(, z) points")
    if not np.isfinite(points).all():
        raise InputError("landmarks must be finite numbers")
    if points.shape[1] == 2:
        from skimage import data

        reference = find_face(data.astronaut(), tracker, None, "the astronaut")
        points = add_depth(points, reference.observation.landmarks)
    x0, y0 = points[:, :2].min(axis=0)
    x1, y1 = points[:, :2].max(axis=0)
    box = (float(x0), float(y0), float(x1 - x0), float(y1 - y0))
    return FaceObservation(np.ascontiguousarray(points), box)


def _background(fn: Callable[..., T], *args: object) -> Future[T]:
    """Run ``fn(*args)`` in a daemon thread; its result (or error) in a Future."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # re-raised by future.result() in the caller
            future.set_exception(exc)

    threading.Thread(target=run, name="enliven-prepare", daemon=True).start()
    return future


def _done(value: T) -> Future[T]:
    """A Future that already holds ``value``."""
    future: Future[T] = Future()
    future.set_result(value)
    return future


def _version_tuple() -> tuple[int, int, int]:
    parts = [int(p) for p in __version__.split(".")[:3] if p.isdigit()]
    return (*parts, 0, 0, 0)[:3]  # type: ignore[return-value]


class Animator:
    """Animates one portrait, frame by frame.

    ``Animator(portrait).frames(driving_frames)`` yields output frames one at a
    time; it holds no more than one frame per stage, so it suits live use.

    Parameters
    ----------
    portrait : (H, W, 3) uint8 RGB image (already at output size, see
        :func:`fit_portrait`).
    config : the run's settings.
    tracker, segmenter : backends; default to the MediaPipe ones.
    name : how to name the portrait in messages.
    landmarks : the portrait's face given by the user instead of found: (478, 2)
        or (478, 3) points in pixels of ``portrait`` as passed (before it is
        fitted to ``config.max_size``); see :mod:`enliven.face.landmarks_file`.
    """

    def __init__(
        self,
        portrait: NDArray[np.uint8],
        config: AnimateConfig | None = None,
        *,
        tracker: FaceTracker | None = None,
        segmenter: Segmenter | None = None,
        name: str = "the portrait",
        job_id: int | None = None,
        landmarks: NDArray[np.floating] | None = None,
    ) -> None:
        self.config = config or AnimateConfig()
        self._own_tracker = tracker is None
        self.tracker = tracker or make_tracker("mediapipe", self.config.track)
        portrait = np.asarray(portrait)
        self.portrait = fit_portrait(portrait, self.config.max_size, self.config.min_size)
        if self.portrait.shape != portrait.shape:
            log.info("%s is %dx%d; the output is %dx%d", name, portrait.shape[1], portrait.shape[0], *self.size_wh)
        try:
            if landmarks is None:
                found = find_portrait_face(self.portrait, self.tracker, self.config.face_index, name)
                lids = lash_line_landmarks(self.portrait, found.landmarks)
                self.face = dataclasses.replace(found, landmarks=untangled_lower_face(lids))
            else:
                size_wh = (portrait.shape[1], portrait.shape[0])
                fitted = fit_landmarks(landmarks, size_wh, self.config.max_size, self.config.min_size)
                self.face = user_face(fitted, self.tracker)
        except BaseException:
            # A MediaPipe graph left open until interpreter exit can abort the
            # process ("terminate called without an active exception").
            if self._own_tracker:
                self.tracker.close()
            raise
        self.job_id = secrets.randbits(32) if job_id is None else job_id
        # The per-portrait preparation (segmentation, background plate, mesh,
        # watermark pattern) runs in the background while the caller goes on,
        # e.g. choosing the driver's reference frame; first use waits for it.
        self._prepared: Future[tuple[Renderer, Watermarker]] = _background(self._prepare, segmenter)
        self._renderer: Renderer | None = None
        self._watermarker: Watermarker | None = None
        self.retargeter: Retargeter | None = None
        self.evidence = Evidence()
        self.last_target: TargetShape | None = None
        self.frames_lost = 0
        self.frames_done = 0
        self._closed = False

    def _prepare(self, segmenter: Segmenter | None) -> tuple[Renderer, Watermarker]:
        own_segmenter = segmenter is None and self.config.render.background
        seg = MediaPipeSegmenter() if own_segmenter else segmenter
        try:
            renderer = Renderer(self.portrait, self.face.landmarks, self.config.render, seg)
        finally:
            if own_segmenter and seg is not None:
                seg.close()
        # Provenance: every frame carries the invisible mark (no option removes it).
        return renderer, Watermarker(self.size_wh, Payload(_version_tuple(), self.job_id))

    def _wait(self) -> None:
        if self._closed:
            raise RuntimeError("this Animator is closed")
        if self._renderer is None or self._watermarker is None:
            renderer, watermarker = self._prepared.result()
            if renderer.portrait.shape == self.portrait.shape:
                # The same pixels, kept once: the renderer's copy is the one it samples.
                self.portrait = renderer.portrait
            self._renderer = self._renderer or renderer
            self._watermarker = self._watermarker or watermarker

    @property
    def renderer(self) -> Renderer:
        """The renderer of this portrait (waits for the preparation)."""
        self._wait()
        assert self._renderer is not None
        return self._renderer

    @renderer.setter
    def renderer(self, renderer: Renderer) -> None:  # e.g. a baseline, for benchmarks
        self._wait()
        self._renderer = renderer

    @property
    def watermarker(self) -> Watermarker:
        self._wait()
        assert self._watermarker is not None
        return self._watermarker

    @property
    def size_wh(self) -> tuple[int, int]:
        """Output frame size (width, height)."""
        h, w = self.portrait.shape[:2]
        return w, h

    def start(
        self,
        reference: NDArray[np.floating] | None = None,
        reference_rgb: NDArray[np.uint8] | None = None,
    ) -> None:
        """Begin a new driving clip.

        ``reference`` is the driver's reference landmarks (None: the first frame
        with a face becomes the reference); ``reference_rgb``, that frame, lets
        detail beyond the landmarks be measured against it.
        """
        self.tracker.reset()
        self.retargeter = None
        self.evidence = Evidence()
        if reference is not None:
            self.retargeter = self._retargeter(reference)
            if reference_rgb is not None:
                self.evidence = self._evidence(self.retargeter, reference, reference_rgb)
        self.frames_lost = 0
        self.frames_done = 0
        # What the portrait's preparation and the reference search left free
        # goes back to the OS before the clip's own buffers are made (1080p:
        # the run's peak RSS 590 -> 540 MB, with the still mesh freed by reset).
        release_free_memory(collect=False)

    def _retargeter(self, reference: NDArray[np.floating]) -> Retargeter:
        retargeter = Retargeter(self.face.landmarks, reference, self.config.retarget)
        if retargeter.reveal_limit is not None:
            log.info("the portrait is turned %.0f° from the camera: turns toward the side it hides are eased into %.0f°",
                     abs(retargeter.portrait_yaw_deg), retargeter.reveal_limit)  # fmt: skip
        return retargeter

    def _evidence(self, retargeter: Retargeter, reference: NDArray[np.floating], rgb: NDArray[np.uint8]) -> Evidence:
        """The image measurements of a clip whose reference frame is ``rgb``."""
        detail = None if self.config.detail == 0.0 else DetailTracker(reference, rgb, self.config.detail)
        crown = CrownTracker(reference, rgb, retargeter.driver_to_portrait()) if self.config.follow_crown else None
        return Evidence(detail, crown)

    @property
    def detail(self) -> DetailTracker | None:
        """The skin-detail tracker of the current clip (None when off)."""
        return self.evidence.detail

    def target(self, rgb: NDArray[np.uint8], time_s: float) -> TargetShape:
        """Track one driving frame and retarget it onto the portrait."""
        return self.with_detail(rgb, *self.motion(rgb, time_s))

    def motion(
        self, rgb: NDArray[np.uint8], time_s: float
    ) -> tuple[TargetShape, FaceObservation | None, Evidence]:
        """The first half of :meth:`target`: tracking and retargeting.

        Returns the target without detail, the tracked face (None if lost) and
        the clip's :class:`Evidence` to pass to :meth:`with_detail`.
        """
        if self._closed:
            raise RuntimeError("this Animator is closed")
        obs = self.tracker.track(rgb)
        if self.retargeter is None:
            if obs is None:  # nothing to hold yet: the portrait as it is
                self.frames_lost += 1
                held = Retargeter(self.face.landmarks, self.face.landmarks, self.config.retarget).step(None, time_s)
                return held, None, Evidence()
            self.retargeter = self._retargeter(obs.landmarks)
            self.evidence = self._evidence(self.retargeter, obs.landmarks, rgb)
        if obs is None:
            self.frames_lost += 1
        return self.retargeter.step(obs, time_s, rgb), obs, self.evidence

    @staticmethod
    def with_detail(
        rgb: NDArray[np.uint8], target: TargetShape, obs: FaceObservation | None, evidence: Evidence
    ) -> TargetShape:
        """The second half of :meth:`target`: what the driver's image shows beyond
        its landmarks, skin detail and the crown (a stream runs it in a thread of
        its own)."""
        landmarks = None if obs is None else obs.landmarks
        field = None if evidence.detail is None else evidence.detail.measure(landmarks, rgb)
        crown = None if evidence.crown is None else evidence.crown.measure(landmarks, rgb)
        if field is None and crown is None:
            return target
        return dataclasses.replace(target, detail=field, crown=crown)

    def step(self, rgb: NDArray[np.uint8], time_s: float) -> NDArray[np.uint8]:
        """One driving frame in, one output frame out (RGB, output size)."""
        if self.retargeter is None and self.frames_done == 0:
            self.tracker.reset()
        self.last_target = self.target(rgb, time_s)
        out = self.mark(self.renderer.render(self.last_target))
        self.frames_done += 1
        return out

    def stream(
        self, frames: Iterable[VideoFrame], *, threads: bool = True
    ) -> Iterator[tuple[VideoFrame, TargetShape, NDArray[np.uint8]]]:
        """(driving frame, target, output frame) for each driving frame, in order.

        With ``threads``, decoding, tracking, detail, rendering and marking run in their
        own threads with two frames in flight between stages, so they overlap;
        the consumer (usually the encoder) runs in the calling thread. Call
        :meth:`start` first.
        """

        def track(frame: VideoFrame) -> tuple[VideoFrame, tuple[TargetShape, FaceObservation | None, Evidence]]:
            return frame, self.motion(frame.rgb, frame.time_s)

        def detail(item: tuple[VideoFrame, tuple[TargetShape, FaceObservation | None, Evidence]]) -> tuple[VideoFrame, TargetShape]:
            frame, moved = item
            return frame, self.with_detail(frame.rgb, *moved)

        def render(item: tuple[VideoFrame, TargetShape]) -> tuple[VideoFrame, TargetShape, NDArray[np.uint8]]:
            frame, target = item
            return frame, target, self.renderer.render(target)

        # A Renderer renders in two halves, maps then frame, in two threads (its
        # plans share no buffer with draw(), so they overlap; 512²: 52 -> 55-60
        # fps); a renderer with render() only (a baseline) renders in the second.
        def plan(item: tuple[VideoFrame, TargetShape]) -> tuple[VideoFrame, TargetShape, object]:
            frame, target = item
            renderer = self.renderer
            return frame, target, (renderer.plan(target) if hasattr(renderer, "plan") else None)

        def draw(item: tuple[VideoFrame, TargetShape, object]) -> tuple[VideoFrame, TargetShape, NDArray[np.uint8]]:
            frame, target, planned = item
            renderer = self.renderer
            rgb = renderer.draw(planned) if planned is not None else renderer.render(target)
            return frame, target, rgb

        def mark(item: tuple[VideoFrame, TargetShape, NDArray[np.uint8]]) -> tuple[VideoFrame, TargetShape, NDArray[np.uint8]]:
            frame, target, rgb = item
            return frame, target, self.mark(rgb)

        if not threads:
            for frame in frames:
                yield mark(render(detail(track(frame))))
                self.frames_done += 1
            return
        decoded = in_thread(frames, name="enliven-decode")
        tracked = map_in_thread(track, decoded, name="enliven-track")
        detailed = map_in_thread(detail, tracked, depth=1, name="enliven-detail")
        planned = map_in_thread(plan, detailed, depth=1, name="enliven-plan")
        rendered = map_in_thread(draw, planned, depth=1, name="enliven-draw")
        for item in map_in_thread(mark, rendered, name="enliven-mark"):
            self.frames_done += 1
            yield item

    def frames(
        self,
        driving_frames: Iterable[NDArray[np.uint8] | VideoFrame],
        *,
        fps: float = 30.0,
        reference: NDArray[np.floating] | None = None,
    ) -> Iterator[NDArray[np.uint8]]:
        """Yield one output frame per driving frame (arrays or VideoFrame)."""
        self.start(reference)
        for k, item in enumerate(driving_frames):
            if isinstance(item, VideoFrame):
                rgb, time_s = item.rgb, item.time_s
            else:
                rgb, time_s = np.asarray(item), k / fps
            yield self.step(rgb, time_s)

    def mark(self, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """The provenance stage: a copy of an output frame with the invisible mark."""
        return self.watermarker.mark(rgb)

    def close(self) -> None:
        """Free the backends this Animator made, once the background preparation
        is over (mediapipe aborts the process if it still runs at exit), and drop
        the per-portrait render state, so that what runs next (signing the
        output) does not stack its memory on top of the renderer's.

        ``face``, ``job_id`` and ``size_wh`` stay usable; rendering does not.
        """
        wait([self._prepared])
        if self._own_tracker and not self._closed:
            self.tracker.close()
        self._closed = True
        self._prepared = _done(None)
        self._renderer = self._watermarker = None
        self.evidence = Evidence()
        self.retargeter = None
        release_free_memory()

    def __enter__(self) -> Animator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
