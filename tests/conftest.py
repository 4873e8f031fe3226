"""Shared fixtures: the astronaut portrait, a tracker, and the shared real media."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media"


@pytest.fixture(scope="session")
def media_dir() -> Path:
    """../shared/media, or skip with a reason."""
    if not (MEDIA / "driving").is_dir() or not (MEDIA / "sources").is_dir():
        pytest.skip(f"shared media not found at {MEDIA} (tests on real clips need it)")
    return MEDIA


@pytest.fixture(scope="session")
def tracker():
    from enliven.face import make_tracker

    t = make_tracker()
    yield t
    t.close()


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def astronaut_landmarks(astronaut, tracker) -> np.ndarray:
    boxes = tracker.detect(astronaut)
    obs = tracker.landmarks_in_box(astronaut, boxes[0])
    assert obs is not None
    return obs.landmarks.astype(np.float64)


def settled_target(source: np.ndarray, driver: np.ndarray, frames: int = 30):
    """The TargetShape after ``frames`` steps of a still driver (smoothing settled)."""
    from enliven.motion.retarget import Retargeter
    from enliven.types import FaceObservation

    r = Retargeter(source, source)
    t = None
    for k in range(frames):
        t = r.step(FaceObservation(np.asarray(driver, np.float32), (0, 0, 1, 1)), k / 30)
    return t


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(autouse=True, scope="session")
def _private_config_dir(tmp_path_factory):
    """Signing keys made by tests go to a temporary folder, not ~/.config."""
    import os

    old = os.environ.get("ENLIVEN_CONFIG_DIR")
    os.environ["ENLIVEN_CONFIG_DIR"] = str(tmp_path_factory.mktemp("enliven-config"))
    yield
    if old is None:
        os.environ.pop("ENLIVEN_CONFIG_DIR", None)
    else:
        os.environ["ENLIVEN_CONFIG_DIR"] = old
