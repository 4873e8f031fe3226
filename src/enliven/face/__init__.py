"""Finding and tracking faces: the 478-point mesh behind a small Protocol."""

from enliven.face.tracker import FaceTracker, TrackConfig, choose_face

__all__ = ["FaceTracker", "TrackConfig", "choose_face", "make_tracker"]


def make_tracker(name: str = "mediapipe", config: TrackConfig | None = None) -> FaceTracker:
    """Build a tracker backend by name (imports it lazily)."""
    if name == "mediapipe":
        from enliven.face.mediapipe import MediaPipeTracker

        return MediaPipeTracker(config)
    raise ValueError(f"unknown face tracker {name!r}; known: mediapipe")
