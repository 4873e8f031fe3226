"""Enliven: a still portrait performs a driving video, in real time on a CPU."""

from enliven._version import __version__
from enliven.errors import (
    ConfigError,
    EnlivenError,
    EnlivenWarning,
    InputError,
    ModelIntegrityError,
    NoFaceError,
    OutputError,
)

__all__ = [
    "AnimateConfig",
    "Animator",
    "ConfigError",
    "EnlivenError",
    "EnlivenWarning",
    "InputError",
    "ModelIntegrityError",
    "NoFaceError",
    "OutputError",
    "RenderConfig",
    "Result",
    "RetargetConfig",
    "TrackConfig",
    "__version__",
    "animate",
    "demo",
    "verify",
]

_LAZY = {
    "AnimateConfig": "enliven.pipeline",
    "Animator": "enliven.pipeline",
    "RenderConfig": "enliven.render.renderer",
    "RetargetConfig": "enliven.motion.retarget",
    "TrackConfig": "enliven.face.tracker",
    "Result": "enliven.api",
    "animate": "enliven.api",
    "demo": "enliven.api",
    "verify": "enliven.provenance.verify",
}


def __getattr__(name: str) -> object:
    """Import the heavy parts on first use, so ``import enliven`` stays instant."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'enliven' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
