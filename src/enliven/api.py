"""The Python API: ``animate`` a portrait with a driving clip, or run the demo."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from enliven.errors import InputError, NoFaceError, OutputError
from enliven.face import FaceTracker, make_tracker
from enliven.face.landmarks_file import read_landmarks, write_landmarks
from enliven.face.portrait import find_face
from enliven.io.image import load_image, save_png
from enliven.io.sheet import contact_sheet, draw_landmarks, face_crop, sample_indices
from enliven.io.video import VideoWriter, probe_video, read_frames
from enliven.motion.controls import apply_controls, demo_performance
from enliven.motion.retarget import Retargeter, TargetShape, reference_index
from enliven.pipeline import AnimateConfig, Animator, fit_landmarks, fit_portrait
from enliven.provenance import provenance_tags
from enliven.provenance.keys import SigningIdentity, load_or_create_identity
from enliven.provenance.manifest import sign_file
from enliven.types import FaceObservation

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, "int | None"], None]
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov")  # what C2PA can sign
SHEET_COLUMNS = 6


@dataclass(frozen=True)
class Result:
    """What a run made."""

    output: Path
    frames: int
    fps: float
    size_wh: tuple[int, int]
    frames_lost: int  # driving frames in which the face was not found
    reference_frame: int | None  # the driver frame used as the reference
    seconds: float
    preview: Path | None = None


def _check_output(output: Path, inputs: list[Path]) -> None:
    if output.suffix.lower() not in VIDEO_SUFFIXES:
        raise OutputError(f"cannot write {output}: use a .mp4 output name (H.264 MP4)")
    for path in inputs:
        if path.exists() and output.exists() and os.path.samefile(path, output):
            raise OutputError(f"output {output} is the same file as input {path}; choose another -o")
        if output.resolve() == path.resolve():
            raise OutputError(f"output {output} is the same file as input {path}; choose another -o")
    _check_writable(output)


def _check_writable(output: Path) -> None:
    folder = output.parent if str(output.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write {output}: directory {folder} does not exist; create it or choose another -o")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".enliven-check-", delete=True):
            pass
    except OSError as exc:
        raise OutputError(f"cannot write {output}: directory {folder} is not writable; choose another -o") from exc


@dataclass(frozen=True)
class DriverReference:
    """The driver frame standing for the portrait: its index, landmarks and pixels."""

    index: int
    landmarks: NDArray[np.float32]
    rgb: NDArray[np.uint8]


def find_reference(
    driving: Path,
    portrait: FaceObservation,
    tracker: FaceTracker,
    config: AnimateConfig,
    fps: float,
) -> DriverReference:
    """The driver frame standing for the portrait.

    By default the sampled frame, among the first ``config.reference_window_s``
    seconds that faces the camera as the portrait does and best matches its
    expression (:func:`enliven.motion.retarget.reference_index`);
    ``config.reference_frame`` forces one.
    """
    tracker.reset()
    window = {"start_s": config.start_s, "end_s": config.end_s}
    if config.reference_frame is not None:
        for frame in read_frames(driving, **window):
            if frame.index == config.reference_frame:
                tracker.reset()
                obs = tracker.track(frame.rgb)
                if obs is None:
                    raise NoFaceError(f"no face in frame {frame.index} of {driving.name}; choose another --reference-frame")
                return DriverReference(frame.index, obs.landmarks, frame.rgb)
        raise InputError(f"--reference-frame {config.reference_frame} is past the end of {driving.name}")
    # Only the start of a long clip is searched, so the first frame comes quickly.
    end_s = config.start_s + config.reference_window_s
    window["end_s"] = end_s if config.end_s is None else min(end_s, config.end_s)
    scanned = round((window["end_s"] - config.start_s) * fps)
    stride = max(1, scanned // config.reference_samples)
    indices: list[int] = []
    faces: list[NDArray[np.float32]] = []
    for frame in read_frames(driving, **window, select=lambda k: k % stride == 0):
        obs = tracker.track(frame.rgb)
        if obs is not None:
            indices.append(frame.index)
            faces.append(obs.landmarks)
    if not faces:
        raise NoFaceError(f"no face found in any frame of {driving.name}; use a clip that shows a face clearly")
    # The choice needs the driver's typical face over all samples, so no picture
    # is held while sampling: the chosen one is decoded again (up to 0.3 s for
    # 10 s of 512x512 H.264, 1 s for 10 s of 1080x1920 HEVC).
    best, pose, score = reference_index(portrait.landmarks, faces)
    index = indices[best]
    again = next(read_frames(driving, **window, select=lambda k: k == index), None)
    if again is None:  # it decoded a moment ago: the file changed or decodes unevenly
        raise InputError(f"frame {index} of {driving.name} did not decode a second time; is the file being written?")
    rgb = again.rgb
    log.info("reference frame %d (distance %.2f, head %.0f° from the portrait's)", index, score, pose)
    return DriverReference(index, faces[best], rgb)


def choose_reference(
    driving: Path,
    portrait: FaceObservation,
    tracker: FaceTracker,
    config: AnimateConfig,
    fps: float,
) -> tuple[int, NDArray[np.float32]]:
    """The index and landmarks of :func:`find_reference`'s frame."""
    ref = find_reference(driving, portrait, tracker, config, fps)
    return ref.index, ref.landmarks


def animate(
    portrait: str | os.PathLike[str],
    driving: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    config: AnimateConfig | None = None,
    on_progress: ProgressFn | None = None,
    preview: str | os.PathLike[str] | None = None,
    landmarks: str | os.PathLike[str] | None = None,
) -> Result:
    """Animate ``portrait`` with the performance in ``driving``; write ``output``.

    The output is an H.264 MP4 at the portrait's resolution (long side at most
    ``config.max_size``), at the driving clip's frame rate and duration, with its
    audio. It is written atomically: a failed run leaves nothing behind.
    ``landmarks`` is a landmarks file (:mod:`enliven.face.landmarks_file`) giving
    the portrait's face instead of finding it.

    Raises
    ------
    InputError, NoFaceError : an input is missing, unreadable or has no face (or
        no face that looks human), or the landmarks file is invalid.
    OutputError : the output cannot be written there.
    """
    config = config or AnimateConfig()
    started = time.perf_counter()
    portrait_path, driving_path, output_path = Path(portrait), Path(driving), Path(output)
    preview_path = Path(preview) if preview is not None else None
    _check_output(output_path, [portrait_path, driving_path])
    if preview_path is not None:
        _check_writable(preview_path)
    info = probe_video(driving_path)
    image = load_image(portrait_path)
    landmarks_path = Path(landmarks) if landmarks is not None else None
    points = None
    if landmarks_path is not None:
        points = read_landmarks(landmarks_path, (image.shape[1], image.shape[0]))
    identity = load_or_create_identity(config.sign_key, config.sign_cert)
    end_s = info.duration_s if config.end_s is None else min(config.end_s, info.duration_s)
    if end_s <= config.start_s:
        raise InputError(f"--start {config.start_s} is past the end of {driving_path.name} ({info.duration_s:.2f} s)")
    total = max(1, round((end_s - config.start_s) * info.fps))
    name = portrait_path.name
    with Animator(image, config, name=name, landmarks=points) as animator:
        del image  # the Animator keeps the pixels it needs (1080p: 6 MB less)
        ref = find_reference(driving_path, animator.face, animator.tracker, config, info.fps)
        ref_index = ref.index
        ingredients = {"portrait": portrait_path, "driving": driving_path}
        if landmarks_path is not None:
            ingredients["landmarks"] = landmarks_path
        settings = {**config.settings(), "reference_frame": ref_index, "watermark_job_id": f"{animator.job_id:08x}"}
        tags = provenance_tags(ingredients, settings)
        sign = _signer(ingredients, settings, identity)
        wanted = set(sample_indices(total, SHEET_COLUMNS)) if preview_path else set()
        pairs: list[tuple[NDArray[np.uint8], NDArray[np.uint8]]] = []
        with VideoWriter(
            output_path,
            animator.size_wh,
            info.fps,
            audio_source=driving_path,
            audio_start_s=config.start_s,
            audio_end_s=config.end_s,
            crf=config.crf,
            **config.encoder_options(animator.size_wh),
            metadata=tags,
            finalize=sign(output_path.name),
        ) as writer:
            animator.start(ref.landmarks, ref.rgb)
            frames = read_frames(driving_path, start_s=config.start_s, end_s=config.end_s, fps=info.fps)
            for frame, target, out in animator.stream(frames):
                writer.write(out)
                if frame.index in wanted:
                    pairs.append(_sheet_pair(frame.rgb, out, target, animator))
                if on_progress is not None:
                    on_progress(frame.index + 1, total)
            frames = writer.frames_written
            if frames == 0:
                raise InputError(f"{driving_path.name} has no video frames in the chosen window")
            if animator.frames_lost == frames:
                raise NoFaceError(f"no face found in any frame of {driving_path.name}; use a clip that shows a face clearly")
            # Free the render state before the writer closes and signs the file,
            # so that signing's memory does not stack on the renderer's.
            animator.close()
        lost = animator.frames_lost
    if lost:
        log.warning("face lost in %d of %d driving frames (motion held, then eased back)", lost, frames)
    if preview_path is not None and pairs:
        save_png(
            preview_path,
            _marked(contact_sheet(pairs), animator.job_id),
            text={"Comment": tags["comment"], "Description": tags["description"]},
            finalize=sign(preview_path.name),
        )
    return Result(output_path, frames, info.fps, animator.size_wh, lost, ref_index, time.perf_counter() - started, preview_path)


def _sheet_pair(
    driver: NDArray[np.uint8], out: NDArray[np.uint8], target: TargetShape, animator: Animator
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Face close-ups of a driver frame and its output, for contact sheets."""
    drv = driver if target.driver is None else face_crop(driver, target.driver.box_xywh)
    return _thumb(drv), _thumb(face_crop(out, animator.face.box_xywh))


def _thumb(rgb: NDArray[np.uint8], height: int = 256) -> NDArray[np.uint8]:
    import cv2

    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA)


def _marked(rgb: NDArray[np.uint8], job_id: int) -> NDArray[np.uint8]:
    """An image with the invisible watermark of this job (sides made even)."""
    from enliven.pipeline import _version_tuple
    from enliven.provenance.watermark import Payload, Watermarker

    h, w = rgb.shape[:2]
    return Watermarker((w, h), Payload(_version_tuple(), job_id)).mark(np.ascontiguousarray(rgb))


def _signer(
    ingredients: dict[str, Path | None], settings: dict[str, object], identity: SigningIdentity
) -> Callable[[str], Callable[[Path], None]]:
    """``sign(title)`` -> a finaliser that embeds the signed C2PA manifest."""

    def for_title(title: str) -> Callable[[Path], None]:
        def finalize(tmp: Path) -> None:
            sign_file(tmp, ingredients=ingredients, settings=settings, identity=identity, title=title)

        return finalize

    return for_title


def demo(
    output: str | os.PathLike[str] = "enliven-demo.mp4",
    sheet: str | os.PathLike[str] | None = "enliven-demo.png",
    *,
    config: AnimateConfig | None = None,
    fps: float = 25.0,
    duration_s: float = 8.0,
    on_progress: ProgressFn | None = None,
) -> Result:
    """Animate ``skimage.data.astronaut()`` with the built-in performance.

    Needs no media files: the performance (nod, turns of about 25° each way,
    talking, a smile, blinks, a wink and raised brows) is made from expression
    controls applied to the portrait's own landmarks.
    """
    from skimage import data

    config = config or AnimateConfig()
    started = time.perf_counter()
    output_path = Path(output)
    sheet_path = Path(sheet) if sheet is not None else None
    _check_output(output_path, [])
    if sheet_path is not None:
        _check_writable(sheet_path)
    image = data.astronaut()
    total = int(round(fps * duration_s))
    identity = load_or_create_identity(config.sign_key, config.sign_cert)
    with Animator(image, config, name="the astronaut") as animator:
        source = animator.face.landmarks
        retargeter = Retargeter(source, source, config.retarget)
        ingredients: dict[str, Path | None] = {"portrait": None, "driving": None}
        settings = {**config.settings(), "demo": True, "watermark_job_id": f"{animator.job_id:08x}"}
        tags = provenance_tags(ingredients, settings)
        sign = _signer(ingredients, settings, identity)
        wanted = set(sample_indices(total, SHEET_COLUMNS))
        pairs = []
        with VideoWriter(output_path, animator.size_wh, fps, crf=config.crf, **config.encoder_options(animator.size_wh), metadata=tags, finalize=sign(output_path.name)) as writer:
            for k, (time_s, controls) in enumerate(demo_performance(fps, duration_s)):
                driver = apply_controls(source, controls).astype(np.float32)
                target = retargeter.step(FaceObservation(driver, animator.face.box_xywh), time_s)
                out = animator.mark(animator.renderer.render(target))
                writer.write(out)
                if k in wanted:
                    box = animator.face.box_xywh
                    pairs.append(
                        (_thumb(face_crop(draw_landmarks(animator.size_wh, driver), box)), _thumb(face_crop(out, box)))
                    )
                if on_progress is not None:
                    on_progress(k + 1, total)
            frames = writer.frames_written
    if sheet_path is not None:
        save_png(
            sheet_path,
            _marked(contact_sheet(pairs, labels=("performance", "output")), animator.job_id),
            text={"Comment": tags["comment"]},
            finalize=sign(sheet_path.name),
        )
    return Result(output_path, frames, fps, animator.size_wh, 0, None, time.perf_counter() - started, sheet_path)


@dataclass(frozen=True)
class LandmarksResult:
    """What :func:`landmarks` wrote and how the face was found."""

    output: Path
    found_by: str  # the ladder step that found the face (see enliven.face.portrait)
    human: bool  # whether the face passed the human-face check
    reason: str  # why it did not ("" when it did)


def landmarks(
    portrait: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    config: AnimateConfig | None = None,
) -> LandmarksResult:
    """Write the tracker's landmarks of ``portrait``'s face as an
    ``enliven-landmarks/1`` JSON file, to correct by hand and pass back with
    ``animate(..., landmarks=...)``.

    The face is found as :func:`animate` finds it (same ladder, same
    ``config.max_size`` and ``config.face_index``), then written in pixels of the
    portrait as stored. A face that does not look human is written all the same;
    the result says so.

    Raises
    ------
    InputError, NoFaceError : the portrait is unreadable or has no face at all.
    OutputError : the output cannot be written there.
    """
    config = config or AnimateConfig()
    portrait_path, output_path = Path(portrait), Path(output)
    if output_path.suffix.lower() != ".json":
        raise OutputError(f"cannot write {output_path}: use a .json output name")
    if output_path.resolve() == portrait_path.resolve():
        raise OutputError(
            f"output {output_path} is the portrait itself; choose another -o"
        )
    _check_writable(output_path)
    image = load_image(portrait_path)
    size_wh = (image.shape[1], image.shape[0])
    tracker = make_tracker("mediapipe", config.track)
    fitted = fit_portrait(image, config.max_size, config.min_size)
    try:
        found = find_face(
            fitted, tracker, config.face_index, portrait_path.name, human_only=False
        )
    finally:
        tracker.close()
    points = fit_landmarks(
        found.observation.landmarks, size_wh, config.max_size, config.min_size,
        inverse=True,
    )
    write_landmarks(output_path, points, size_wh, found_by=found.rung)
    verdict = found.verdict
    human = verdict is None or verdict.human
    reason = "" if verdict is None else verdict.reason
    return LandmarksResult(output_path, found.rung, human, reason)


__all__ = [
    "DriverReference",
    "LandmarksResult",
    "Result",
    "animate",
    "choose_reference",
    "demo",
    "find_reference",
    "landmarks",
    "replace",
]
