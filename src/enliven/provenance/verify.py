"""``enliven verify``: does a file say it was made by Enliven, and can that be trusted?

Two independent proofs are checked: the signed C2PA manifest (stripped by most
re-encoders and uploads) and the invisible watermark in the pixels (which
survives re-encoding, resizing, cropping and trimming).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from enliven.errors import InputError
from enliven.provenance.manifest import ManifestReport, read_manifest

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify` found in one file."""

    path: Path
    manifest: ManifestReport
    watermark: Any | None  # enliven.provenance.watermark.Detection, when it ran

    @property
    def manifest_found(self) -> bool:
        """An Enliven manifest is present and verifies."""
        m = self.manifest
        return m.state == "valid" and "enliven" in (m.claim_generator or "").lower()

    @property
    def watermark_found(self) -> bool:
        return bool(self.watermark is not None and self.watermark.found)

    @property
    def found(self) -> bool:
        """Enliven's manifest or watermark is present."""
        return self.manifest_found or self.watermark_found

    @property
    def verdict(self) -> str:
        """One line a person can act on."""
        m, w = self.manifest, self.watermark
        if self.manifest_found and self.watermark_found:
            return "made by Enliven (AI-generated): signed manifest and watermark both present"
        if self.manifest_found:
            return "made by Enliven (AI-generated): signed manifest present, watermark not detected"
        if self.watermark_found:
            why = "tampered manifest" if m.state == "invalid" else "no manifest (stripped, e.g. by re-encoding)"
            return f"made by Enliven (AI-generated): watermark present; {why}"
        if m.state == "invalid":
            return "a C2PA manifest is present but does not verify; no Enliven watermark found"
        if w is None:
            return "no Enliven manifest; watermark not checked"
        return "no sign of Enliven: no manifest and no watermark (this does not prove the file is authentic)"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        w = self.watermark
        return {
            "path": str(self.path),
            "found": self.found,
            "verdict": self.verdict,
            "manifest": asdict(self.manifest),
            "watermark": None
            if w is None
            else {
                "found": w.found,
                "confidence_z": round(float(w.confidence), 3),
                "frames_used": w.frames_used,
                "payload": None
                if w.payload is None
                else {"version": ".".join(map(str, w.payload.version)), "job_id": w.payload.job_id},
                "bit_errors_corrected": w.bit_errors_corrected,
            },
        }


def verify(path: str | Path, *, max_seconds: float = 4.0) -> VerifyReport:
    """Check one file for Enliven's C2PA manifest and invisible watermark.

    Raises
    ------
    InputError : the file is missing or cannot be read as an image or video.
    """
    from enliven.provenance.watermark import detect_file

    path = Path(path)
    if not path.is_file():
        raise InputError(f"cannot verify {path}: file not found; check the path")
    try:
        manifest = read_manifest(path)
    except InputError as exc:  # not a format C2PA reads: the pixels may still tell
        manifest = ManifestReport("absent", None, [], None, [], None, None, [str(exc)])
    watermark = detect_file(path, max_seconds=max_seconds)
    log.info("verified %s: manifest %s, watermark %s", path, manifest.state, watermark.found)
    return VerifyReport(path, manifest, watermark)
