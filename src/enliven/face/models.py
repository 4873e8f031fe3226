"""Checksums of the model files Enliven loads from the mediapipe wheel.

Models come only from installed wheels, never from the network. Each file is
checked against its known sha256 before first use; a changed file raises
:class:`~enliven.errors.ModelIntegrityError`.
"""

from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path

from enliven.errors import ModelIntegrityError

# sha256 of the files in mediapipe==0.10.21 (modules/…), read from the wheel.
MODEL_SHA256: dict[str, str] = {
    "face_detection/face_detection_full_range_sparse.tflite":
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    "face_detection/face_detection_short_range.tflite":
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    "face_landmark/face_landmark_with_attention.tflite":
        "e06a804e0144f9929eda782122916b35d60c697c3c9344013ca2bbe76a6ce2b4",
    "face_landmark/face_landmark.tflite":
        "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
    "selfie_segmentation/selfie_segmentation.tflite":
        "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
    "selfie_segmentation/selfie_segmentation_landscape.tflite":
        "a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
}  # fmt: skip


def models_dir() -> Path:
    """The ``modules`` folder of the installed mediapipe wheel."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or spec.origin is None:
        raise ModelIntegrityError(
            "mediapipe is not installed; reinstall enliven (pip install enliven)"
        )
    return Path(spec.origin).parent / "modules"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_model(path: Path, expected_sha256: str) -> None:
    """Raise ModelIntegrityError unless ``path`` exists and has the given sha256."""
    if not path.is_file():
        raise ModelIntegrityError(
            f"model file {path} is missing; reinstall mediapipe==0.10.21"
        )
    actual = sha256_file(path)
    if actual != expected_sha256:
        raise ModelIntegrityError(
            f"model file {path} has been changed (sha256 {actual[:12]}…, expected "
            f"{expected_sha256[:12]}…); reinstall mediapipe==0.10.21"
        )


@lru_cache(maxsize=None)
def verify_installed_model(relative: str) -> Path:
    """Check one of :data:`MODEL_SHA256`'s files in the installed wheel, once."""
    path = models_dir() / relative
    verify_model(path, MODEL_SHA256[relative])
    return path
