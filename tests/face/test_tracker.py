import warnings

import cv2
import numpy as np
import pytest

from enliven.errors import ConfigError, EnlivenWarning, NoFaceError
from enliven.face import TrackConfig, choose_face


def test_choose_face_takes_the_largest_and_warns_when_several():
    boxes = [(0, 0, 10, 10), (50, 50, 40, 40), (100, 0, 20, 20)]
    with pytest.warns(EnlivenWarning, match="3 faces"):
        assert choose_face(boxes, None, "p.jpg") == (50, 50, 40, 40)
    assert choose_face(boxes, 2, "p.jpg") == (0, 0, 10, 10)
    with pytest.raises(NoFaceError, match="has 3 face"):
        choose_face(boxes, 3, "p.jpg")
    with pytest.raises(NoFaceError, match="no face found in p.jpg"):
        choose_face([], None, "p.jpg")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        choose_face(boxes[:1], None, "p.jpg")


def test_config_is_validated():
    with pytest.raises(ConfigError, match="crop_scale"):
        TrackConfig(crop_scale=0.5)


def test_portrait_landmarks_lie_on_the_face(astronaut, astronaut_landmarks):
    lm = astronaut_landmarks
    assert lm.shape == (478, 3)
    # The astronaut's face is roughly x 170..280, y 60..190 in the 512x512 image.
    assert 160 < lm[:, 0].min() and lm[:, 0].max() < 290
    assert 50 < lm[:, 1].min() and lm[:, 1].max() < 200
    # Irises sit between the eye corners.
    assert lm[33, 0] < lm[468, 0] < lm[133, 0]


def test_small_face_in_a_large_frame_is_tracked(astronaut, tracker):
    # A face about 5% of the frame width (67 px of 1280): the mesh's own detector
    # needs 13%.
    face = cv2.resize(astronaut[20:250, 130:330], (160, 184), interpolation=cv2.INTER_AREA)
    canvas = np.full((720, 1280, 3), 90, np.uint8)
    canvas[500:684, 1000:1160] = face
    tracker.reset()
    found = [tracker.track(canvas) for _ in range(3)]
    tracker.reset()
    assert all(obs is not None for obs in found)
    lm = found[-1].landmarks
    assert 1000 <= lm[4, 0] <= 1160 and 500 <= lm[4, 1] <= 684


def test_no_face_gives_none(tracker):
    blank = np.full((256, 256, 3), 128, np.uint8)
    tracker.reset()
    assert tracker.track(blank) is None
    assert tracker.detect(blank) == []


def test_tracking_asks_the_short_range_detector_when_full_range_finds_nothing(astronaut, tracker):
    class Blind:
        def process(self, rgb):
            return type("Result", (), {"detections": None})()

    full = tracker._detector
    tracker._detector = Blind()
    try:
        assert tracker.detect(astronaut) == []  # the portrait path: full range only
        tracker.reset()
        obs = tracker.track(astronaut)
    finally:
        tracker._detector = full
        tracker.reset()
    assert obs is not None
    x, y, w, h = obs.box_xywh
    assert 150 < x + w / 2 < 300 and 50 < y + h / 2 < 250  # the astronaut's face


def test_reset_frees_the_still_mesh_and_a_still_still_works(astronaut, tracker, astronaut_landmarks):
    # The still-image graph is not needed while a clip is tracked (~20 MB at
    # 1080p): reset() frees it, the next still makes it again.
    box = tracker.detect(astronaut)[0]
    tracker.landmarks_in_box(astronaut, box)
    tracker.reset()
    assert tracker._still_mesh is None
    again = tracker.landmarks_in_box(astronaut, box)
    assert again is not None
    assert np.abs(again.landmarks[:, :2] - astronaut_landmarks[:, :2]).max() < 3.0
