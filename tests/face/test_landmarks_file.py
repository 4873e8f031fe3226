"""Landmarks files: the JSON format, its round trip and every validation error."""

from __future__ import annotations

import json

import numpy as np
import pytest

from enliven.errors import InputError
from enliven.face.landmarks_file import (
    FORMAT,
    add_depth,
    read_landmarks,
    write_landmarks,
)

SIZE = (512, 512)


def _write(path, data) -> str:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


def _doc(points, size=SIZE) -> dict:
    return {"format": FORMAT, "image_size": list(size), "points": points}


def _error(path) -> str:
    with pytest.raises(InputError) as info:
        read_landmarks(path, SIZE)
    message = str(info.value)
    assert "\n" not in message and message.startswith(("landmarks ", "cannot read"))
    return message


def test_round_trip_keeps_the_points(tmp_path, astronaut_landmarks):
    path = tmp_path / "points.json"
    write_landmarks(path, astronaut_landmarks, SIZE, found_by="plain")
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT and data["image_size"] == [512, 512]
    assert data["found_by"] == "plain" and len(data["points"]) == 478
    # One point a line, for editing by hand.
    assert len(path.read_text().splitlines()) > 478
    back = read_landmarks(path, SIZE)
    assert back.shape == (478, 3) and back.dtype == np.float32
    np.testing.assert_allclose(back, astronaut_landmarks, atol=0.006)


@pytest.mark.parametrize("width", [2, 3])
def test_a_bare_list_of_points_is_accepted(tmp_path, astronaut_landmarks, width):
    points = astronaut_landmarks[:, :width].round(1).tolist()
    back = read_landmarks(_write(tmp_path / "p.json", points), SIZE)
    assert back.shape == (478, width)
    np.testing.assert_allclose(back, np.asarray(points), atol=1e-4)


def test_extra_keys_are_ignored(tmp_path, astronaut_landmarks):
    data = {**_doc(astronaut_landmarks.tolist()), "note": "nose moved by hand"}
    assert read_landmarks(_write(tmp_path / "p.json", data), SIZE).shape == (478, 3)


def _bad_cases(lm: list[list[float]]) -> dict[str, tuple[object, str]]:
    nan = [row[:] for row in lm]
    nan[5][1] = float("nan")
    outside = [row[:] for row in lm]
    outside[152] = [900.0, 200.0, 0.0]
    text = [row[:] for row in lm]
    text[7][0] = "12"
    mixed = [row[:] for row in lm]
    mixed[3] = mixed[3][:2]
    return {
        "468 points": (_doc(lm[:468]), "has 468 points; Enliven needs 478"),
        "479 points": ([*lm, lm[0]], "has 479 points"),
        "NaN": (_doc(nan), "point 5 is [223.41, NaN, -23.49]; every coordinate"),
        "outside": (_doc(outside), "point 152 (x=900.0, y=200.0) lies outside"),
        "other image size": (_doc(lm, (1024, 1024)), "are for a 1024x1024 image but"),
        "bad image size": (
            _doc(lm, ("512", 512)),
            "image_size must be [width, height]",
        ),
        "wrong format": ({**_doc(lm), "format": "mediapipe"}, 'format is "mediapipe"'),
        "no points": ({"format": FORMAT, "image_size": [512, 512]}, "no 'points'"),
        "normalised": (_doc((np.asarray(lm) / 512).tolist()), "look normalised"),
        "text coordinate": (_doc(text), "point 7 is"),
        "mixed widths": (_doc(mixed), "point 3 is"),
        "not a list": ({**_doc(lm), "points": "all"}, "points must be a list"),
        "a number": (42, "got 42"),
        "not JSON": ("{points: [", "is not valid JSON (line 1"),
    }


def test_every_kind_of_bad_file_is_one_clear_line(tmp_path, astronaut_landmarks):
    lm = astronaut_landmarks.tolist()
    for name, (data, expected) in _bad_cases(lm).items():
        path = _write(tmp_path / f"{name}.json", data)
        assert expected in _error(path), name
    assert "file not found" in _error(tmp_path / "missing.json")


def test_a_face_cut_by_the_border_may_leave_the_image_a_little(
    tmp_path, astronaut_landmarks
):
    lm = astronaut_landmarks.copy()
    lm[:, 1] += 512 - lm[:, 1].max() + 30  # the chin 30 px below the bottom edge
    assert (
        read_landmarks(_write(tmp_path / "cut.json", _doc(lm.tolist())), SIZE)
        is not None
    )


def test_write_refuses_bad_arrays(tmp_path):
    with pytest.raises(ValueError, match="478, 3"):
        write_landmarks(tmp_path / "p.json", np.zeros((468, 3)), SIZE)


def test_add_depth_scales_the_reference_depth(astronaut_landmarks):
    ref = astronaut_landmarks.astype(np.float64)
    points = ref[:, :2] * 2.0 + np.array([30.0, -10.0])
    out = add_depth(points, ref)
    np.testing.assert_allclose(out[:, :2], points, atol=1e-3)
    np.testing.assert_allclose(
        out[:, 2], (ref[:, 2] - ref[:, 2].mean()) * 2.0, atol=1e-3
    )
