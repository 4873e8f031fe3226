"""Developer look-see: animate portrait x driving pairs and write face contact sheets.

    python tools/look.py OUTDIR portrait.jpg driving.mp4 [portrait2 driving2 ...]

Writes OUTDIR/<portrait>__<driving>.png (driver | output close-ups, 6 columns).
Not a test; for looking at what the renderer does.
"""

from __future__ import annotations

import sys
from pathlib import Path

from enliven.api import animate
from enliven.pipeline import AnimateConfig


def main() -> None:
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    args = sys.argv[2:]
    for portrait, driving in zip(args[::2], args[1::2]):
        name = f"{Path(portrait).stem}__{Path(driving).stem}"
        result = animate(portrait, driving, out_dir / f"{name}.mp4", config=AnimateConfig(), preview=out_dir / f"{name}.png")
        print(name, result.frames, "frames", f"{result.seconds:.1f}s", "ref", result.reference_frame, "lost", result.frames_lost)


if __name__ == "__main__":
    main()
