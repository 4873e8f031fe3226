"""Portrait faces: which ladder step finds each face, and the human-face measures.

For every shared portrait (``../shared/media/sources``), ``skimage.data.astronaut()``
and synthetic variations of it, prints one row: the ladder step whose face is kept
(or why none is), the time the ladder took, and the measures of
:mod:`enliven.face.humanlike` for that face (for a refused face: the first one
found). A second table gives the range of each measure over every mesh every
ladder step finds on the portraits of people, and over every ``--stride``-th frame
of the shared driving clips; these ranges calibrate the limits in
``enliven.face.humanlike.LIMITS``.

Run::

    python benchmarks/bench_portraits.py              # portraits and clips
    python benchmarks/bench_portraits.py --no-clips   # portraits only (~5 s)

It prints markdown tables; it is not a test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from enliven.errors import NoFaceError
from enliven.face import make_tracker
from enliven.face.humanlike import LIMITS, judge, measure
from enliven.face.portrait import candidates, find_face, rotate_image
from enliven.io.image import load_image
from enliven.io.video import read_frames
from enliven.pipeline import fit_portrait

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
NOT_PEOPLE = ("animal_", "cartoon_alpaca")
FIELDS = [limit.field for limit in LIMITS]


def portraits() -> list[tuple[str, np.ndarray]]:
    """(name, RGB image at default output size) of every portrait to measure."""
    from skimage import data

    found = []
    if (MEDIA / "sources").is_dir():
        for path in sorted((MEDIA / "sources").iterdir()):
            found.append((path.name, fit_portrait(load_image(path), 2048)))
    a = data.astronaut()
    grey = cv2.cvtColor(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    found += [
        ("astronaut", a),
        ("astronaut turned 20 deg", rotate_image(a, 20.0)[0]),
        ("astronaut turned -20 deg", rotate_image(a, -20.0)[0]),
        ("astronaut turned 40 deg", rotate_image(a, 40.0)[0]),
        ("astronaut turned 110 deg", rotate_image(a, 110.0)[0]),
        ("astronaut 200 px", cv2.resize(a, (200, 200), interpolation=cv2.INTER_AREA)),
        ("astronaut 100 px", cv2.resize(a, (100, 100), interpolation=cv2.INTER_AREA)),
        ("astronaut 64 px", cv2.resize(a, (64, 64), interpolation=cv2.INTER_AREA)),
        ("astronaut mirrored", np.ascontiguousarray(a[:, ::-1])),
        ("astronaut grey", grey),
        ("astronaut 5% contrast", (a * 0.05 + 128).astype(np.uint8)),
        ("astronaut 512x400", cv2.resize(a, (512, 400), interpolation=cv2.INTER_AREA)),
        ("astronaut 400x512", cv2.resize(a, (400, 512), interpolation=cv2.INTER_AREA)),
    ]
    return found


def kept_row(name: str, rgb: np.ndarray, tracker) -> str:
    """One markdown row: the step kept, ms, verdict and measures."""
    started = time.perf_counter()
    try:
        found = find_face(rgb, tracker, name=name)
        step, verdict = found.rung, "human"
        values = measure(found.observation.landmarks)
    except NoFaceError as exc:
        step, verdict, values = "-", str(exc).split(" (")[0][:48], None
        first = next(
            ((r, o) for r, o in candidates(rgb, tracker) if o is not None), None
        )
        if first is not None:
            step = f"({first[0]})"
            verdict = "refused: " + judge(first[1].landmarks).reason.split(",")[0]
            values = measure(first[1].landmarks)
    ms = (time.perf_counter() - started) * 1000
    cells = [f"{getattr(values, f):.3f}" if values else "-" for f in FIELDS]
    h, w = rgb.shape[:2]
    return (
        f"| {name} | {w}x{h} | {step} | {ms:.0f} | {verdict} | "
        + " | ".join(cells)
        + " |"
    )


def ranges(tracker, clips: bool, stride: int) -> list[str]:
    """Markdown rows: min-max of each measure over human meshes."""
    groups: dict[str, list] = {"every step, portraits of people": []}
    for name, rgb in portraits():
        if name.startswith(NOT_PEOPLE):
            continue
        for _, obs in candidates(rgb, tracker):
            if obs is not None:
                groups["every step, portraits of people"].append(measure(obs.landmarks))
    if clips and (MEDIA / "driving").is_dir():
        key = f"driving clips, every {stride}th frame"
        groups[key] = []
        for clip in sorted((MEDIA / "driving").glob("*.mp4")):
            for frame in read_frames(clip, select=lambda k: k % stride == 0):
                boxes = tracker.detect(frame.rgb)
                if not boxes:
                    continue
                box = max(boxes, key=lambda b: b[2] * b[3])
                obs = tracker.landmarks_in_box(frame.rgb, box)
                if obs is not None:
                    groups[key].append(measure(obs.landmarks))
    rows = []
    for key, values in groups.items():
        cells = []
        for field in FIELDS:
            v = np.array([getattr(m, field) for m in values])
            cells.append(f"{v.min():.2f}-{v.max():.2f}")
        rows.append(f"| {key} ({len(values)} meshes) | " + " | ".join(cells) + " |")
    limits = " | ".join(f"{limit.low:g}-{limit.high:g}" for limit in LIMITS)
    rows.append(f"| limits (enliven.face.humanlike) | {limits} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-clips", action="store_true", help="skip the clips")
    parser.add_argument("--stride", type=int, default=12, help="clip frame stride")
    args = parser.parse_args(argv)
    tracker = make_tracker()
    print("| portrait | size | step kept | ms | verdict | " + " | ".join(FIELDS) + " |")
    print("|---|---|---|---:|---|" + "---:|" * len(FIELDS))
    for name, rgb in portraits():
        print(kept_row(name, rgb, tracker), flush=True)
    print()
    print("| human meshes | " + " | ".join(FIELDS) + " |")
    print("|---|" + "---|" * len(FIELDS))
    for row in ranges(tracker, not args.no_clips, args.stride):
        print(row, flush=True)
    tracker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
