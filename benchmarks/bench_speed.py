"""Speed benchmark: per-stage cost, end-to-end fps, I/O floor and peak memory.

Measures, on this machine and with default settings (``AnimateConfig()``):

1. Per-stage median and p95 milliseconds per frame -- decode, track, retarget,
   render, encode -- timed separately by replicating ``Animator.step`` by hand,
   for two outputs: 512x512 (512x512 portrait) and 1080p (1920x1080 portrait),
   both driven by the same 512x512 clip. Also the sum of the medians, the
   end-to-end fps (frames / wall time of the whole loop, writer open and close
   included) and the one-off preparation (Animator construction + reference
   choice), reported separately.
2. The I/O floor: decode + encode of the same frames with nothing in between
   (the driving frame resized to the output size), and the ratio of end-to-end
   to floor milliseconds per frame.
3. Peak RSS of each case; every case runs in a fresh (spawned) process.

Inputs: ``../shared/media`` (``sources/photo_woman_01.jpg`` and
``driving/talk_expressive_01.mp4``) next to the repository when present; else
``skimage.data.astronaut()`` and a driving clip made by ``enliven.api.demo``.
The 1080p portrait is the same portrait resized to 1080x1080 and padded to
1920x1080 by reflection. Outputs go to a temporary directory that is deleted.

Run::

    python benchmarks/bench_speed.py                 # all cases, 300 frames
    python benchmarks/bench_speed.py --frames 100 --case 512
    python benchmarks/bench_speed.py --markdown docs/PERFORMANCE.md

It prints markdown tables; it is not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PASSES = 3  # timed passes per throughput case; the median is reported, the spread in the notes
STAGES = ("decode", "track", "retarget", "detail", "render", "mark", "encode")
MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
PORTRAIT = MEDIA / "sources" / "photo_woman_01.jpg"
DRIVING = MEDIA / "driving" / "talk_expressive_01.mp4"
CASES = {  # case -> (kind, portrait key)
    "512": ("animate", "512"),
    "1080p": ("animate", "1080p"),
    "floor-512": ("floor", "512"),
    "floor-1080p": ("floor", "1080p"),
    "pointwarp-512": ("pointwarp", "512"),
    "pointwarp-1080p": ("pointwarp", "1080p"),
    "live": ("live", "512"),
    "startup": ("startup", "512"),
    "memory-1min": ("memory", "60"),
    "memory-10min": ("memory", "600"),
}
CHOICES = {
    "512": ["512"],
    "1080p": ["1080p"],
    "floor": ["floor-512", "floor-1080p"],
    "pointwarp": ["pointwarp-512", "pointwarp-1080p"],
    "live": ["live"],
    "startup": ["startup"],
    "memory": ["memory-1min", "memory-10min"],
    "quick": [c for c in CASES if not c.startswith("memory")],
    "all": list(CASES),
}


@dataclass
class Inputs:
    """The media the cases read."""

    portraits: dict[str, Path]  # "512" / "1080p" -> image file
    driving: Path
    description: str


@dataclass
class CaseResult:
    """What one case measured (times in seconds)."""

    case: str
    size_wh: tuple[int, int]
    frames: int
    wall_s: float
    stages: dict[str, list[float]] = field(default_factory=dict)
    prep_s: dict[str, float] = field(default_factory=dict)
    close_s: float = 0.0
    frames_lost: int = 0
    peak_rss_mb: float = 0.0
    threaded_wall_s: float | None = None  # the same frames through Animator.stream
    extra: dict[str, float] = field(default_factory=dict)  # case-specific figures
    passes_s: list[float] = field(default_factory=list)  # wall s of each timed pass (median used)

    @property
    def e2e_ms_per_frame(self) -> float:
        """Production-path ms per frame (threaded), else the serial loop's."""
        wall = self.threaded_wall_s if self.threaded_wall_s is not None else self.wall_s
        return 1000.0 * wall / max(self.frames, 1)

    @property
    def ms_per_frame(self) -> float:
        return 1000.0 * self.wall_s / max(self.frames, 1)

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else float("nan")


# ----------------------------------------------------------------------- inputs


def make_1080p(portrait: Path, out: Path) -> Path:
    """The portrait resized to 1080x1080 and reflected out to 1920x1080."""
    import cv2

    from enliven.io.image import load_image

    rgb = cv2.resize(load_image(portrait), (1080, 1080), interpolation=cv2.INTER_CUBIC)
    wide = cv2.copyMakeBorder(rgb, 0, 0, 420, 420, cv2.BORDER_REFLECT_101)
    cv2.imwrite(str(out), cv2.cvtColor(wide, cv2.COLOR_RGB2BGR))
    return out


def prepare_inputs(tmp: Path) -> Inputs:
    """Real media when present, else the astronaut and a demo-made clip."""
    if PORTRAIT.is_file() and DRIVING.is_file():
        portrait, driving = PORTRAIT, DRIVING
        what = f"portrait `{PORTRAIT.name}`, driving `{DRIVING.name}` (../shared/media)"
    else:
        from skimage import data

        import cv2
        from enliven.api import demo

        portrait = tmp / "astronaut.png"
        cv2.imwrite(str(portrait), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
        driving = demo(output=tmp / "driving.mp4", sheet=None).output
        what = "portrait `skimage.data.astronaut()`, driving clip made by `enliven.api.demo`"
    big = make_1080p(portrait, tmp / "portrait_1080p.png")
    return Inputs({"512": portrait, "1080p": big}, driving, what)


# ------------------------------------------------------------------------ cases


def peak_rss_mb() -> float:
    """Peak resident set size of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def clip_window(driving: Path, frames: int) -> tuple[float, float | None]:
    """The driving clip's fps and the end time that keeps ``frames`` frames."""
    from enliven.io.video import probe_video

    info = probe_video(driving)
    end_s = frames / info.fps if frames < info.frame_count else None
    return info.fps, end_s


def timed_frames(driving: Path, end_s: float | None, fps: float):
    """Yield (frame, seconds its decoding took) from ``read_frames``."""
    from enliven.io.video import read_frames

    source = iter(read_frames(driving, end_s=end_s, fps=fps))
    while True:
        start = time.perf_counter()
        frame = next(source, None)
        if frame is None:
            return
        yield frame, time.perf_counter() - start


def run_animate(portrait: Path, driving: Path, frames: int, tmp: Path, case: str) -> CaseResult:
    """``enliven animate`` by hand, every stage timed on its own."""
    from enliven.api import find_reference
    from enliven.io.image import load_image
    from enliven.io.video import VideoWriter
    from enliven.pipeline import AnimateConfig, Animator

    fps, end_s = clip_window(driving, frames)
    config = AnimateConfig(end_s=end_s)  # defaults, but only the first `frames` frames
    image = load_image(portrait)
    t0 = time.perf_counter()
    animator = Animator(image, config, name=portrait.name)
    t1 = time.perf_counter()
    reference = find_reference(driving, animator.face, animator.tracker, config, fps)
    t2 = time.perf_counter()
    # The production path first: the frames through Animator.stream, whose stages
    # overlap in threads, encoded in this thread as enliven.animate does. Its
    # peak memory is what `enliven animate` needs; the serial loop after it
    # (per-stage timings only) would add its own allocations to the peak.
    # Warm up first (numba's cached code, MediaPipe's video graph, the encoder),
    # as the serial loop did for this pass when it ran first: throughput is timed
    # warm; the time to the first frame is the startup case's.
    threaded_pass(animator, reference, driving, fps, min(1.0, end_s or 1.0), tmp / f"{case}-warm.mp4")
    # Peak memory of one run, as `enliven animate` makes (warm-up plus one pass);
    # the further passes, in the same process, are reported apart.
    walls = [threaded_pass(animator, reference, driving, fps, end_s, tmp / f"{case}-threaded.mp4")[0]]
    production_peak = peak_rss_mb()
    walls += [threaded_pass(animator, reference, driving, fps, end_s, tmp / f"{case}-threaded.mp4")[0] for _ in range(PASSES - 1)]
    threaded_wall_s = float(np.median(walls))
    peak_after_passes = peak_rss_mb()
    times: dict[str, list[float]] = {s: [] for s in STAGES}
    lost = 0
    start = time.perf_counter()
    writer = VideoWriter(
        tmp / f"{case}.mp4", animator.size_wh, fps, audio_source=driving,
        audio_end_s=end_s, crf=config.crf, **config.encoder_options(animator.size_wh),
    )  # fmt: skip
    animator.start(reference.landmarks, reference.rgb)
    retargeter = animator.retargeter
    assert retargeter is not None
    for frame, decode_s in timed_frames(driving, end_s, fps):
        b = time.perf_counter()
        obs = animator.tracker.track(frame.rgb)
        c = time.perf_counter()
        lost += obs is None
        target = retargeter.step(obs, frame.time_s, frame.rgb)
        d = time.perf_counter()
        target = animator.with_detail(frame.rgb, target, obs, animator.evidence)
        d2 = time.perf_counter()
        out = animator.renderer.render(target)
        e = time.perf_counter()
        out = animator.mark(out)
        e2 = time.perf_counter()
        writer.write(out)
        f = time.perf_counter()
        spans = (decode_s, c - b, d - c, d2 - d, e - d2, e2 - e, f - e2)
        for stage, span in zip(STAGES, spans, strict=True):
            times[stage].append(span)
    closing = time.perf_counter()
    writer.close()
    wall = time.perf_counter() - start
    serial = CaseResult(
        case, animator.size_wh, writer.frames_written, wall, times,
        {"animator": t1 - t0, "reference": t2 - t1},
        wall - (closing - start), lost,
    )  # fmt: skip
    serial.threaded_wall_s = threaded_wall_s
    serial.passes_s = walls
    serial.extra["peak_rss_mb"] = production_peak
    serial.extra["peak_after_passes_mb"] = peak_after_passes
    animator.close()
    return serial


def threaded_pass(
    animator, reference, driving: Path, fps: float, end_s: float | None, out: Path, on_target=None
) -> tuple[float, int]:
    """Wall seconds and frames of ``driving`` through ``Animator.stream`` into an encoder.

    ``on_target``, if given, gets each frame's retargeted landmarks (what the
    renderer was asked to draw).
    """
    from enliven.io.video import VideoWriter, read_frames

    config = animator.config
    start = time.perf_counter()
    with VideoWriter(
        out, animator.size_wh, fps, audio_source=driving, audio_end_s=end_s, crf=config.crf,
        **config.encoder_options(animator.size_wh),
    ) as writer:  # fmt: skip
        animator.start(reference.landmarks, reference.rgb)
        for _, target, frame in animator.stream(read_frames(driving, end_s=end_s, fps=fps)):
            writer.write(frame)
            if on_target is not None:
                on_target(target.landmarks)
    return time.perf_counter() - start, writer.frames_written


def run_floor(portrait: Path, driving: Path, frames: int, tmp: Path, case: str) -> CaseResult:
    """Decode and encode only: the driving frame resized to the output size."""
    from enliven.io.image import load_image
    from enliven.pipeline import AnimateConfig, fit_portrait

    config = AnimateConfig()
    height, width = fit_portrait(load_image(portrait), config.max_size).shape[:2]
    fps, end_s = clip_window(driving, frames)
    times: dict[str, list[float]] = {"decode": [], "resize": [], "encode": []}
    walls = []
    for _ in range(PASSES):
        wall, close_s, written = _floor_pass(driving, tmp / f"{case}.mp4", (width, height), fps, end_s, config, times)
        walls.append(wall)
    return CaseResult(
        case, (width, height), written, float(np.median(walls)), times, close_s=close_s, passes_s=walls,
    )


def _floor_pass(driving, out, size_wh, fps, end_s, config, times):
    """One decode-resize-encode pass; (wall s, close s, frames written)."""
    import cv2

    from enliven.io.video import VideoWriter

    width, height = size_wh
    start = time.perf_counter()
    writer = VideoWriter(
        out, (width, height), fps, audio_source=driving,
        audio_end_s=end_s, crf=config.crf, **config.encoder_options((width, height)),
    )  # fmt: skip
    for frame, decode_s in timed_frames(driving, end_s, fps):
        b = time.perf_counter()
        rgb = frame.rgb
        if rgb.shape[:2] != (height, width):
            rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_LINEAR)
        c = time.perf_counter()
        writer.write(rgb)
        d = time.perf_counter()
        for stage, span in zip(times, (decode_s, c - b, d - c)):
            times[stage].append(span)
    closing = time.perf_counter()
    writer.close()
    wall = time.perf_counter() - start
    return wall, wall - (closing - start), writer.frames_written


def _prepared(portrait: Path, driving: Path, frames: int):
    from enliven.api import find_reference
    from enliven.io.image import load_image
    from enliven.pipeline import AnimateConfig, Animator

    fps, end_s = clip_window(driving, frames)
    config = AnimateConfig(end_s=end_s)
    animator = Animator(load_image(portrait), config, name=portrait.name)
    reference = find_reference(driving, animator.face, animator.tracker, config, fps)
    return animator, reference, fps, end_s, config


def run_pointwarp(portrait: Path, driving: Path, frames: int, tmp: Path, case: str) -> CaseResult:
    """The 2D point-warp baseline through the same threaded stream and encoder."""
    from enliven.render.pointwarp import PointWarpRenderer

    animator, reference, fps, end_s, config = _prepared(portrait, driving, frames)
    animator.renderer = PointWarpRenderer(animator.portrait, animator.face.landmarks, config.render.work_size)
    threaded_pass(animator, reference, driving, fps, min(1.0, end_s or 1.0), tmp / f"{case}-warm.mp4")
    passes = [threaded_pass(animator, reference, driving, fps, end_s, tmp / f"{case}.mp4") for _ in range(PASSES)]
    animator.close()
    walls = [w for w, _ in passes]
    return CaseResult(case, animator.size_wh, passes[0][1], float(np.median(walls)), passes_s=walls)


def run_live(portrait: Path, driving: Path, frames: int, tmp: Path, case: str) -> CaseResult:
    """Live use: ``Animator.step`` latency, one decoded frame in to one RGB frame out."""
    from enliven.io.video import read_frames

    animator, reference, fps, end_s, _ = _prepared(portrait, driving, frames)
    animator.start(reference.landmarks, reference.rgb)
    latency: list[float] = []
    for frame in read_frames(driving, end_s=end_s, fps=fps):
        t0 = time.perf_counter()
        animator.step(frame.rgb, frame.time_s)
        latency.append(time.perf_counter() - t0)
    animator.close()
    return CaseResult(case, animator.size_wh, len(latency), sum(latency), stages={"latency": latency})


def run_startup(portrait: Path, driving: Path, frames: int, tmp: Path, case: str) -> CaseResult:
    """``enliven --version`` and time to the first output frame of ``enliven animate``."""
    import subprocess

    exe = [sys.executable, "-m", "enliven"]
    version_s = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([*exe, "--version"], check=True, capture_output=True)
        version_s.append(time.perf_counter() - t0)
    probe = (
        "import sys, time; from enliven.api import animate; "
        "hit = []; "
        "cb = lambda done, total: hit or hit.append(time.time()); "
        f"animate({str(portrait)!r}, {str(driving)!r}, {str(tmp / 'startup.mp4')!r}, on_progress=cb); "
        "print(hit[0])"
    )
    first_s = []
    for _ in range(3):
        t0 = time.time()
        done = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
        first_s.append(float(done.stdout.strip().splitlines()[-1]) - t0)
    extra = {"version_s": float(np.median(version_s)), "first_frame_s": float(np.median(first_s))}
    return CaseResult(case, (0, 0), 0, 0.0, extra=extra)


def make_long_clip(driving: Path, seconds: float, out: Path) -> Path:
    """The driving clip looped (forwards, backwards) to ``seconds``, with its audio."""
    from enliven.io.video import VideoWriter, probe_video, read_frames

    info = probe_video(driving)
    frames = [f.rgb for f in read_frames(driving, end_s=min(info.duration_s, 5.0))]
    loop = frames + frames[::-1]
    total = round(seconds * info.fps)
    with VideoWriter(out, (info.width - info.width % 2, info.height - info.height % 2), info.fps, preset="ultrafast") as writer:
        for k in range(total):
            rgb = loop[k % len(loop)]
            writer.write(np.ascontiguousarray(rgb[: rgb.shape[0] - rgb.shape[0] % 2, : rgb.shape[1] - rgb.shape[1] % 2]))
    return out


def run_memory(portrait: Path, driving: Path, seconds: str, tmp: Path, case: str) -> CaseResult:
    """Peak RSS of a whole ``enliven.animate`` run on a long clip made here."""
    from enliven.api import animate

    clip = tmp / f"{case}-driving.mp4"  # made beforehand, in another process
    if not clip.is_file():
        make_long_clip(driving, float(seconds), clip)
    rss_before = peak_rss_mb()
    start = time.perf_counter()
    result = animate(portrait, clip, tmp / f"{case}.mp4")
    wall = time.perf_counter() - start
    output_mb = (tmp / f"{case}.mp4").stat().st_size / 1e6
    clip.unlink()
    (tmp / f"{case}.mp4").unlink()
    return CaseResult(case, result.size_wh, result.frames, wall, extra={"rss_before_mb": rss_before, "output_mb": output_mb})


def run_case(case: str, inputs: Inputs, frames: int, tmp: Path) -> CaseResult:
    """One case, meant to run in a fresh process; peak RSS taken at its end."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    kind, key = CASES[case]
    if kind == "memory":
        result = run_memory(inputs.portraits["512"], inputs.driving, key, tmp, case)
    else:
        run = {"animate": run_animate, "floor": run_floor, "pointwarp": run_pointwarp,
               "live": run_live, "startup": run_startup}[kind]  # fmt: skip
        result = run(inputs.portraits[key], inputs.driving, frames, tmp, case)
    # The production path's peak where a case measured it, else the whole case's.
    result.peak_rss_mb = result.extra.pop("peak_rss_mb", None) or peak_rss_mb()
    return result


def run_isolated(case: str, inputs: Inputs, frames: int, tmp: Path) -> CaseResult:
    """``run_case`` in its own spawned process, so peak memory does not mix."""
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(run_case, case, inputs, frames, tmp).result()


# ----------------------------------------------------------------------- report


def ms(values: list[float], q: float) -> float:
    return 1000.0 * float(np.percentile(values, q)) if values else float("nan")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    for dist in {"numpy": ["numpy"], "opencv": ["opencv-contrib-python",
                 "opencv-contrib-python-headless", "opencv-python",
                 "opencv-python-headless"]}.get(module, [module]):  # fmt: skip
        try:
            return dist_version(dist)
        except PackageNotFoundError:
            continue
    return "absent"


def header(inputs: Inputs, frames: int) -> list[str]:
    from enliven.pipeline import AnimateConfig

    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return [
        "# Enliven speed benchmark",
        "",
        f"- Machine: {cpu_model()}, {cores} logical cores ({usable} usable)",
        f"- Python {platform.python_version()}, numpy {version('numpy')}, "
        f"opencv {version('opencv')}, mediapipe {version('mediapipe')}, "
        f"av {version('av')}, numba {version('numba')}, enliven {version('enliven')}",
        f"- Date: {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"- Inputs: {inputs.description}; at most {frames} frames; "
        "default `AnimateConfig()` (crf 18, preset auto: veryfast with me=dia:subme=1 up to 1 MP, superfast with zerolatency above; "
        f"work_size {AnimateConfig().render.work_size})",
        "",
    ]


def stage_table(results: dict[str, CaseResult]) -> list[str]:
    cases = [c for c in ("512", "1080p") if c in results]
    if not cases:
        return []
    cols = " | ".join(
        f"{c} ({results[c].size_wh[0]}×{results[c].size_wh[1]}) median | p95" for c in cases
    )
    lines = [
        "## Per-stage time (ms per frame)",
        "",
        f"| stage | {cols} |",
        "|---|" + "---:|---:|" * len(cases),
    ]
    for stage in STAGES:
        cells = " | ".join(
            f"{ms(results[c].stages[stage], 50):.2f} | {ms(results[c].stages[stage], 95):.2f}"
            for c in cases
        )
        lines.append(f"| {stage} | {cells} |")
    sums = " | ".join(
        f"**{sum(ms(results[c].stages[s], 50) for s in STAGES):.2f}** | —" for c in cases
    )
    lines.append(f"| sum of medians | {sums} |")
    lines.append("")
    return lines


def summary_table(results: dict[str, CaseResult]) -> list[str]:
    lines = [
        "## End to end, I/O floor and memory",
        "",
        "| case | output | frames | prep s (animator + reference) | serial loop ms/frame "
        "| end-to-end ms/frame (threads) | end-to-end fps | floor ms/frame | floor fps "
        "| end-to-end / floor | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in ("512", "1080p"):
        floor = results.get(f"floor-{case}")
        r = results.get(case)
        if r is None and floor is None:
            continue
        ref = r or floor
        assert ref is not None
        out = f"{ref.size_wh[0]}×{ref.size_wh[1]}"
        fl_ms = f"{floor.ms_per_frame:.1f}" if floor else "—"
        fl_fps = f"{floor.fps:.1f}" if floor else "—"
        if r is not None:
            prep = f"{sum(r.prep_s.values()):.2f} ({r.prep_s['animator']:.2f} + {r.prep_s['reference']:.2f})"
            ratio = f"{r.e2e_ms_per_frame / floor.ms_per_frame:.2f}×" if floor else "—"
            lines.append(
                f"| {case} | {out} | {r.frames} | {prep} | {r.ms_per_frame:.1f} | "
                f"{r.e2e_ms_per_frame:.1f} | {1000 / r.e2e_ms_per_frame:.1f} | {fl_ms} | "
                f"{fl_fps} | {ratio} | {r.peak_rss_mb:.0f} |"
            )
        if floor is not None:
            lines.append(
                f"| floor-{case} | {out} | {floor.frames} | — | {floor.ms_per_frame:.1f} | "
                f"{floor.ms_per_frame:.1f} | {floor.fps:.1f} | {fl_ms} | {fl_fps} | 1.0× | "
                f"{floor.peak_rss_mb:.0f} |"
            )
    lines.append("")
    return lines


def targets_table(results: dict[str, CaseResult]) -> list[str]:
    """The performance issue's targets against what this run measured."""
    rows = []

    def fps_of(case: str) -> float | None:
        r = results.get(case)
        return None if r is None else 1000.0 / r.e2e_ms_per_frame

    for case, goal in (("512", 60.0), ("1080p", 30.0)):
        fps = fps_of(case)
        if fps is not None:
            rows.append((f"end to end, {case} output", f">= {goal:.0f} fps", f"{fps:.1f} fps", fps >= goal))
        floor, r = results.get(f"floor-{case}"), results.get(case)
        if floor is not None and r is not None:
            ratio = r.e2e_ms_per_frame / floor.ms_per_frame
            rows.append((f"ratio to the I/O floor, {case}", "<= 2x (aim, 512)" if case == "512" else "report",
                         f"{ratio:.2f}x", ratio <= 2.0 if case == "512" else None))  # fmt: skip
        pw = results.get(f"pointwarp-{case}")
        if pw is not None and r is not None:
            rows.append((f"ratio to the 2D point-warp baseline, {case}", "report",
                         f"{r.e2e_ms_per_frame / pw.ms_per_frame:.2f}x ({pw.fps:.1f} fps baseline)", None))  # fmt: skip
    live = results.get("live")
    if live is not None:
        lat = live.stages["latency"]
        rows.append(("live latency median", "<= 35 ms", f"{ms(lat, 50):.1f} ms", ms(lat, 50) <= 35))
        rows.append(("live latency p95", "<= 50 ms", f"{ms(lat, 95):.1f} ms", ms(lat, 95) <= 50))
    start = results.get("startup")
    if start is not None:
        v, f = start.extra["version_s"], start.extra["first_frame_s"]
        rows.append(("`enliven --version`", "<= 0.3 s", f"{v:.2f} s", v <= 0.3))
        rows.append(("first output frame after start", "<= 2 s", f"{f:.2f} s", f <= 2.0))
    peaks = [results[c].peak_rss_mb for c in ("512", "1080p", "memory-1min", "memory-10min") if c in results]
    if peaks:
        rows.append(("peak RSS (largest case)", "<= 600 MB", f"{max(peaks):.0f} MB", max(peaks) <= 600))
    short, long = results.get("memory-1min"), results.get("memory-10min")
    if short is not None and long is not None:
        growth = long.peak_rss_mb / short.peak_rss_mb - 1.0
        rows.append(("peak RSS, 10-min vs 1-min clip", "within 5%",
                     f"{short.peak_rss_mb:.0f} -> {long.peak_rss_mb:.0f} MB ({100 * growth:+.1f}%)",
                     abs(growth) <= 0.05))  # fmt: skip
    if not rows:
        return []
    lines = ["## Targets", "", "| what | target | measured | met |", "|---|---|---|---|"]
    for what, goal, got, met in rows:
        mark = "—" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {what} | {goal} | {got} | {mark} |")
    return [*lines, ""]


def notes(results: dict[str, CaseResult]) -> list[str]:
    lines = []
    for case, r in results.items():
        if r.case.startswith(("live", "startup", "memory", "pointwarp")):
            if r.case.startswith("memory"):
                size = r.extra.get("output_mb")
                lines.append(
                    f"- {case}: {r.frames} frames in {r.wall_s:.0f} s, peak RSS {r.peak_rss_mb:.0f} MB"
                    + (f", signed output {size:.0f} MB" if size is not None else "")
                )
            continue
        detail = ", ".join(
            f"{s} {ms(v, 50):.2f}/{ms(v, 95):.2f}" for s, v in r.stages.items()
        ) if r.case.startswith("floor") else f"faces lost in {r.frames_lost} frames"
        lines.append(
            f"- {case}: writer close/flush {1000 * r.close_s:.0f} ms (in loop time); {detail}"
        )
    for case, r in results.items():
        if r.passes_s:
            each = " / ".join(f"{1000 * w / max(r.frames, 1):.1f}" for w in r.passes_s)
            lines.append(f"- {case}: {len(r.passes_s)} timed passes, ms per frame: {each} (the median is reported)")
        if "peak_after_passes_mb" in r.extra:
            lines.append(
                f"- {case}: peak RSS {r.peak_rss_mb:.0f} MB for one run (warm-up and a pass, as `enliven animate`), "
                f"{r.extra['peak_after_passes_mb']:.0f} MB after all {len(r.passes_s) + 1} passes in one process"
            )
    lines += [
        "",
        "Stage times are wall-clock around each call in one serial loop (median/p95 over "
        "frames); `encode` is `VideoWriter.write` (libx264 buffers frames, the flush at close "
        "is in the loop time only). Floor rows give decode/resize/encode median/p95 ms. "
        f"End-to-end, floor and point-warp throughput is the median of {PASSES} timed passes "
        "(after a warm-up pass, but for the floor); this shared 2-core machine varies by several percent between "
        "passes and more between runs minutes apart (the passes are listed above). "
        "Each case ran in a fresh spawned process.",
        "",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="frames of the driving clip to use")
    parser.add_argument("--case", choices=list(CHOICES), default="all")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    args = parser.parse_args(argv)
    if args.frames < 1:
        parser.error("--frames must be >= 1")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="enliven-bench-") as name:
        tmp = Path(name)
        inputs = prepare_inputs(tmp)
        print(f"inputs: {inputs.description}", file=sys.stderr)
        results: dict[str, CaseResult] = {}
        for case in CHOICES[args.case]:
            kind, key = CASES[case]
            if kind == "memory":  # the long clip is made outside the measured process
                print(f"making the {key} s clip for {case} ...", file=sys.stderr, flush=True)
                with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
                    pool.submit(make_long_clip, inputs.driving, float(key), tmp / f"{case}-driving.mp4").result()
            print(f"running case {case} ...", file=sys.stderr, flush=True)
            results[case] = run_isolated(case, inputs, args.frames, tmp)
    total = time.perf_counter() - started
    lines = header(inputs, args.frames) + targets_table(results) + stage_table(results)
    lines += summary_table(results)
    lines += notes(results) + [f"Benchmark run time: {total:.0f} s.", ""]
    text = "\n".join(lines)
    print(text)
    if args.markdown is not None:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
