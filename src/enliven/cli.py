"""Command line: ``enliven animate|demo|verify|landmarks``.

Errors a user can fix print one line and exit 2; anything else is a bug and
shows a traceback (exit 1).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import replace

from enliven._version import __version__
from enliven.errors import ConfigError, EnlivenError

log = logging.getLogger("enliven")

GAIN_FIELDS = {"head": "head_gain", "eyes": "eyes_gain", "brows": "brows_gain", "mouth": "mouth_gain"}


def _parse_gains(text: str) -> dict[str, float]:
    """``head=0.5,mouth=1.2`` -> {"head_gain": 0.5, "mouth_gain": 1.2}."""
    gains: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in GAIN_FIELDS:
            raise ConfigError(f"--gain takes name=value pairs with names {', '.join(GAIN_FIELDS)}; got {part!r}")
        try:
            gains[GAIN_FIELDS[key.strip()]] = float(value)
        except ValueError as exc:
            raise ConfigError(f"--gain {key}: {value!r} is not a number") from exc
    return gains


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-size", type=int, default=2048, help="long side of the output in px (default 2048)")
    p.add_argument("--no-head", action="store_true", help="expressions only: keep the portrait's head still")
    p.add_argument("--full-turns", action="store_true",
                   help="do not ease head turns toward the side a turned portrait hides (it smears)")
    p.add_argument("--gain", default="", metavar="head=1,eyes=1,brows=1,mouth=1", help="per-region motion gains, 0..2")
    p.add_argument("--crf", type=int, default=18, help="H.264 quality, 0..51, lower is better (default 18)")
    p.add_argument("--sign-key", default=None, metavar="KEY.pem",
                   help="private key signing the C2PA manifest (default: a local key made on first use)")
    p.add_argument("--sign-cert", default=None, metavar="CERT.pem", help="certificate chain for --sign-key")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, errors only")
    p.add_argument("-v", "--verbose", action="store_true", help="log decisions and timings")


def _add_animate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("animate", help="animate a portrait with a driving video")
    p.add_argument("portrait", help="still portrait: JPEG, PNG or WebP")
    p.add_argument("driving", help="driving performance: MP4, MOV, WebM or MKV")
    p.add_argument("-o", "--output", required=True, help="output video (.mp4)")
    p.add_argument("--start", type=float, default=0.0, help="start of the driving clip to use, seconds")
    p.add_argument("--end", type=float, default=None, help="end of the driving clip to use, seconds")
    p.add_argument("--face", type=int, default=None, metavar="N", help="which portrait face, 0 = largest (default)")
    p.add_argument("--reference-frame", type=int, default=None, metavar="N",
                   help="driver frame that stands for the portrait (default: the closest in pose and expression)")
    p.add_argument("--preview", default=None, metavar="SHEET.png", help="also write a driver | output contact sheet")
    p.add_argument("--detail", type=float, default=1.0, metavar="0..1",
                   help="skin detail beyond the landmarks: creases, cheek and lip motion (default 1, 0 = off)")
    p.add_argument("--mouth", choices=("driver", "drawn"), default="driver",
                   help="mouth interior: the driver's, colour-matched (default), or drawn, for cartoons and anime")
    p.add_argument("--landmarks", default=None, metavar="POINTS.json",
                   help="the portrait's 478 face points (as written by enliven "
                        "landmarks) instead of finding them")  # fmt: skip
    _add_common(p)


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="animate the built-in example (no files needed)")
    p.add_argument("-o", "--output", default="enliven-demo.mp4", help="output video (default enliven-demo.mp4)")
    p.add_argument("--sheet", default="enliven-demo.png", help="contact sheet (default enliven-demo.png)")
    _add_common(p)


def _add_landmarks(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "landmarks", help="write a portrait's face points as JSON, to correct by hand"
    )
    p.add_argument("portrait", help="still portrait: JPEG, PNG or WebP")
    p.add_argument("-o", "--output", required=True, help="landmarks file (.json)")
    p.add_argument("--face", type=int, default=None, metavar="N",
                   help="which portrait face, 0 = largest (default)")  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true", help="errors only")
    p.add_argument("-v", "--verbose", action="store_true", help="log how it was found")


def _run_landmarks(args: argparse.Namespace) -> int:
    """Exit 0 when the file is written, also for a face that does not look human
    (a warning says so: the user is about to correct the points anyway)."""
    from enliven.api import landmarks
    from enliven.pipeline import AnimateConfig

    config = AnimateConfig(face_index=args.face)
    result = landmarks(args.portrait, args.output, config=config)
    if not result.human:
        print(f"enliven: warning: the face found does not look like a human face "
              f"({result.reason}); check the points", file=sys.stderr)  # fmt: skip
    if not args.quiet:
        print(f"wrote {result.output} (478 points, found by the {result.found_by} "
              "step)", file=sys.stderr)  # fmt: skip
    return 0


def _add_verify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check files for Enliven's signed manifest and invisible watermark")
    p.add_argument("files", nargs="+", help="videos or images to check")
    p.add_argument("--json", action="store_true", help="print one JSON report per file (a JSON list)")
    p.add_argument("--seconds", type=float, default=4.0, help="video seconds to read for the watermark (default 4)")
    p.add_argument("-q", "--quiet", action="store_true", help="verdicts only")
    p.add_argument("-v", "--verbose", action="store_true", help="log details")


def _run_verify(args: argparse.Namespace) -> int:
    """Exit 0: every file carries Enliven's manifest or watermark; 1: some file
    carries neither; 2: some file cannot be read."""
    import json

    from enliven.provenance.verify import verify

    reports, worst = [], 0
    for name in args.files:
        try:
            report = verify(name, max_seconds=args.seconds)
        except EnlivenError as exc:
            print(f"enliven: error: {exc}", file=sys.stderr)
            reports.append({"path": name, "error": str(exc)})
            worst = 2
            continue
        worst = max(worst, 0 if report.found else 1)
        reports.append(report.to_dict())
        if not args.json:
            print(f"{name}: {report.verdict}")
            if not args.quiet:
                m, w = report.manifest, report.watermark
                signer = f", signed by {m.signer}" if m.signer else ""
                print(f"  manifest: {m.state}{signer}; {', '.join(m.actions) or 'no actions'}")
                for issue in m.issues:
                    print(f"    {issue}")
                if w is not None:
                    payload = (
                        f"enliven {'.'.join(map(str, w.payload.version))}, job {w.payload.job_id:08x}"
                        if w.payload is not None
                        else "payload unreadable"
                    )
                    state = "found" if w.found else "not found"
                    print(f"  watermark: {state} (confidence z={w.confidence:.1f}, {w.frames_used} frames)"
                          + (f"; {payload}" if w.found else ""))  # fmt: skip
    if args.json:
        print(json.dumps(reports, indent=2, default=str))
    return worst


def _config(args: argparse.Namespace):  # -> AnimateConfig
    from pathlib import Path

    from enliven.pipeline import AnimateConfig

    config = AnimateConfig(
        max_size=args.max_size,
        crf=args.crf,
        sign_key=Path(args.sign_key) if args.sign_key else None,
        sign_cert=Path(args.sign_cert) if args.sign_cert else None,
    )
    gains = _parse_gains(args.gain)
    if args.no_head:
        gains["head_gain"] = 0.0
    retarget = replace(config.retarget, **gains, limit_reveal=not args.full_turns)
    extra = {}
    if args.command == "animate":
        extra = dict(start_s=args.start, end_s=args.end, face_index=args.face, reference_frame=args.reference_frame,
                     detail=args.detail, render=replace(config.render, mouth_style=args.mouth))  # fmt: skip
    return replace(config, retarget=retarget, **extra)


class _Progress:
    def __init__(self, quiet: bool, what: str) -> None:
        self.bar = None
        self.quiet = quiet
        self.what = what

    def __call__(self, done: int, total: int | None) -> None:
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="frame", desc=self.what, file=sys.stderr, dynamic_ncols=True)
        self.bar.total = max(total or 0, done)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _run_animate(args: argparse.Namespace) -> int:
    from enliven.api import animate

    progress = _Progress(args.quiet, "animating")
    try:
        result = animate(args.portrait, args.driving, args.output, config=_config(args),
                         on_progress=progress, preview=args.preview,
                         landmarks=args.landmarks)  # fmt: skip
    finally:
        progress.close()
    if not args.quiet:
        lost = f", face lost in {result.frames_lost} driving frames" if result.frames_lost else ""
        print(
            f"wrote {result.output} ({result.size_wh[0]}x{result.size_wh[1]}, {result.frames} frames at "
            f"{result.fps:.3g} fps, reference frame {result.reference_frame}{lost}) in {result.seconds:.1f} s",
            file=sys.stderr,
        )
        if result.preview:
            print(f"wrote {result.preview}", file=sys.stderr)
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from enliven.api import demo

    progress = _Progress(args.quiet, "demo")
    try:
        result = demo(args.output, args.sheet, config=_config(args), on_progress=progress)
    finally:
        progress.close()
    if not args.quiet:
        print(f"wrote {result.output} ({result.frames} frames) and {result.preview} in {result.seconds:.1f} s", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``enliven`` command."""
    parser = argparse.ArgumentParser(prog="enliven", description="Animate a still portrait with a driving performance video.")
    parser.add_argument("--version", action="version", version=f"enliven {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_animate(sub)
    _add_demo(sub)
    _add_verify(sub)
    _add_landmarks(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.ERROR if args.quiet else (logging.INFO if args.verbose else logging.WARNING)
    logging.basicConfig(level=level, format="enliven: %(message)s")
    warnings.simplefilter("default")
    logging.captureWarnings(True)
    runners = {"animate": _run_animate, "demo": _run_demo, "verify": _run_verify,
               "landmarks": _run_landmarks}  # fmt: skip
    if not args.verbose:
        _hide_native_logs()
    try:
        return runners[args.command](args)
    except EnlivenError as exc:
        print(f"enliven: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("enliven: interrupted; no output written", file=sys.stderr)
        return 130


def _hide_native_logs() -> None:
    """Keep mediapipe's C++ log lines (written straight to fd 2) off the terminal.

    Python's own stderr (progress bar, errors, tracebacks) moves to a duplicate of
    the real fd 2; fd 2 itself goes to /dev/null for the rest of the process, since
    mediapipe's threads also log while shutting down. ``-v`` keeps them.
    """
    try:
        if sys.stderr.fileno() != 2:
            return
    except (AttributeError, OSError, ValueError):
        return  # stderr is captured (tests): leave it alone
    sys.stderr.flush()
    saved_fd = os.dup(2)
    sys.stderr = os.fdopen(saved_fd, "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
