"""The command line, end to end: demo, animate, and every kind of bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from enliven.cli import main
from enliven.io.image import read_png_text, save_png
from enliven.io.video import VideoWriter, probe_video

from .io.media import write_tone


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    code = main(["demo", "-o", str(folder / "demo.mp4"), "--sheet", str(folder / "demo.png"), "-q"])
    return code, folder


def test_demo_writes_a_video_and_a_contact_sheet(demo_run):
    code, folder = demo_run
    assert code == 0
    info = probe_video(folder / "demo.mp4")
    assert (info.width, info.height) == (512, 512)
    assert info.frame_count == 200 and info.fps == pytest.approx(25)
    assert "Synthetic" in read_png_text(folder / "demo.png")["Comment"]
    with av.open(str(folder / "demo.mp4")) as c:
        assert "Synthetic" in c.metadata.get("comment", "")
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"
    from enliven.provenance.manifest import read_manifest

    for name in ("demo.mp4", "demo.png"):
        report = read_manifest(folder / name)
        assert report.state == "valid", report.issues
        assert "c2pa.created" in report.actions
        assert report.digital_source_type.endswith("compositeWithTrainedAlgorithmicMedia")


@pytest.fixture(scope="module")
def driving_clip(demo_run, tmp_path_factory):
    """The demo video (a moving astronaut) with a tone as its audio, 2 s."""
    _, folder = demo_run
    tone = write_tone(tmp_path_factory.mktemp("tone") / "tone.m4a", seconds=3.0)
    clip = folder / "driving.mp4"
    from enliven.io.video import read_frames

    with VideoWriter(clip, (512, 512), 25, audio_source=tone) as writer:
        for frame in read_frames(folder / "demo.mp4", end_s=2.0):
            writer.write(frame.rgb)
    return clip


@pytest.fixture(scope="module")
def portrait(tmp_path_factory):
    from skimage import data

    path = tmp_path_factory.mktemp("portrait") / "portrait.png"
    save_png(path, data.astronaut()[:384, 64:448])
    return path


def test_animate_keeps_rate_duration_audio_and_portrait_size(driving_clip, portrait, tmp_path):
    out = tmp_path / "out.mp4"
    sheet = tmp_path / "sheet.png"
    code = main(["animate", str(portrait), str(driving_clip), "-o", str(out), "--preview", str(sheet), "-q"])
    assert code == 0
    info, drv = probe_video(out), probe_video(driving_clip)
    assert (info.width, info.height) == (384, 384)
    assert info.fps == pytest.approx(drv.fps)
    assert info.frame_count == drv.frame_count == 50
    assert info.has_audio
    with av.open(str(out)) as c:
        audio = c.streams.audio[0]
        assert audio.codec_context.name == "aac"
        assert float(audio.duration * audio.time_base) == pytest.approx(2.0, abs=0.1)
    assert sheet.is_file()
    from enliven.provenance.manifest import read_manifest

    report = read_manifest(out)
    assert report.state == "valid", report.issues
    titles = {i["title"]: i for i in report.ingredients}
    assert set(titles) == {portrait.name, driving_clip.name}
    import hashlib

    assert titles[portrait.name]["sha256"] == hashlib.sha256(portrait.read_bytes()).hexdigest()


def test_options_trim_and_gain(driving_clip, portrait, tmp_path):
    out = tmp_path / "out.mp4"
    code = main(["animate", str(portrait), str(driving_clip), "-o", str(out), "--start", "0.4", "--end", "1.2",
                 "--no-head", "--gain", "mouth=1.5,eyes=0.5", "--max-size", "256", "--face", "0", "-q"])  # fmt: skip
    assert code == 0
    info = probe_video(out)
    assert info.frame_count == 20 and max(info.width, info.height) == 256


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("enliven: error: ")
    return err[0]


def _gray_clip(path: Path, frames: int = 10) -> Path:
    with VideoWriter(path, (128, 128), 25) as writer:
        for _ in range(frames):
            writer.write(np.full((128, 128, 3), 120, np.uint8))
    return path


def _zero_frame_mp4(path: Path) -> Path:
    with av.open(str(path), "w") as c:
        stream = c.add_stream("libx264", rate=25)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
    return path


BAD = {
    "missing portrait": lambda t, p, d: ([str(t / "nope.jpg"), str(d)], "nope.jpg"),
    "missing driving": lambda t, p, d: ([str(p), str(t / "nope.mp4")], "nope.mp4"),
    "text named .jpg": lambda t, p, d: ([str(_write(t / "fake.jpg", b"hello, not an image\n")), str(d)], "fake.jpg"),
    "truncated mp4": lambda t, p, d: ([str(p), str(_write(t / "cut.mp4", d.read_bytes()[: d.stat().st_size // 3]))], "cut.mp4"),
    "zero-frame video": lambda t, p, d: ([str(p), str(_zero_frame_mp4(t / "empty.mp4"))], "empty.mp4"),
    "portrait without a face": lambda t, p, d: (
        [str(_save(t / "wall.png", np.full((300, 300, 3), 180, np.uint8))), str(d)], "wall.png"),
    "driving without a face": lambda t, p, d: ([str(p), str(_gray_clip(t / "gray.mp4"))], "gray.mp4"),
}  # fmt: skip


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _save(path: Path, rgb: np.ndarray) -> Path:
    save_png(path, rgb)
    return path


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_gets_one_line_exit_2_and_no_output(case, driving_clip, portrait, tmp_path, capsys):
    inputs, name = BAD[case](tmp_path, portrait, driving_clip)
    out = tmp_path / "out" / "result.mp4"
    out.parent.mkdir()
    code = main(["animate", *inputs, "-o", str(out), "-q"])
    assert code == 2
    assert name in _one_line_error(capsys)
    assert list(out.parent.iterdir()) == []


def test_unwritable_output_directory(driving_clip, portrait, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code = main(["animate", str(portrait), str(driving_clip), "-o", str(blocker / "out.mp4"), "-q"])
    assert code == 2
    assert "not" in _one_line_error(capsys)
    missing = tmp_path / "no" / "such" / "dir" / "out.mp4"
    assert main(["animate", str(portrait), str(driving_clip), "-o", str(missing), "-q"]) == 2
    assert "does not exist" in _one_line_error(capsys)


def test_output_equal_to_an_input_is_refused(driving_clip, portrait, capsys):
    before = driving_clip.read_bytes()
    assert main(["animate", str(portrait), str(driving_clip), "-o", str(driving_clip), "-q"]) == 2
    assert "same file" in _one_line_error(capsys)
    assert driving_clip.read_bytes() == before


def test_bad_gain_is_a_clear_error(driving_clip, portrait, tmp_path, capsys):
    assert main(["animate", str(portrait), str(driving_clip), "-o", str(tmp_path / "o.mp4"), "--gain", "nose=2"]) == 2
    assert "--gain" in _one_line_error(capsys)


def test_detail_out_of_range_is_a_clear_error(driving_clip, portrait, tmp_path, capsys):
    out = tmp_path / "o.mp4"
    assert main(["animate", str(portrait), str(driving_clip), "-o", str(out), "--detail", "1.5"]) == 2
    assert "detail must be in [0, 1]" in _one_line_error(capsys)
    assert not out.exists()


def test_version_and_module_entry_point():
    done = subprocess.run([sys.executable, "-m", "enliven", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("enliven ")


def _landmarks_file(path: Path, points: list, size=(384, 384)) -> Path:
    import json

    doc = {"format": "enliven-landmarks/1", "image_size": list(size), "points": points}
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture(scope="module")
def portrait_points(portrait, tmp_path_factory):
    """``enliven landmarks`` on the portrait: the file and its exit code."""
    path = tmp_path_factory.mktemp("points") / "points.json"
    return main(["landmarks", str(portrait), "-o", str(path), "-q"]), path


def test_landmarks_command_writes_a_file_animate_reads(
    portrait_points, portrait, driving_clip, tmp_path
):
    from enliven.face.landmarks_file import read_landmarks

    code, points = portrait_points
    assert code == 0
    assert read_landmarks(points, (384, 384)).shape == (478, 3)
    out = tmp_path / "out.mp4"
    args = ["animate", str(portrait), str(driving_clip), "-o", str(out), "-q"]
    assert main([*args, "--landmarks", str(points), "--end", "0.4"]) == 0
    assert probe_video(out).frame_count == 10


def _bad_points(good: list) -> dict[str, tuple[list, tuple[int, int], str]]:
    nan = [p[:] for p in good]
    nan[33][0] = float("nan")
    return {
        "too few points": (good[:468], (384, 384), "has 468 points"),
        "NaN": (nan, (384, 384), "point 33"),
        "other image size": (good, (768, 768), "are for a 768x768 image"),
        "outside": ([[p[0] + 2000, p[1], p[2]] for p in good], (384, 384), "outside"),
    }


@pytest.mark.parametrize(
    "case", ["too few points", "NaN", "other image size", "outside"]
)
def test_bad_landmarks_get_one_line_exit_2_and_no_output(
    case, portrait_points, portrait, driving_clip, tmp_path, capsys
):
    import json

    good = json.loads(portrait_points[1].read_text())["points"]
    points, size, expected = _bad_points(good)[case]
    bad = _landmarks_file(tmp_path / "bad.json", points, size)
    out = tmp_path / "out" / "result.mp4"
    out.parent.mkdir()
    args = ["animate", str(portrait), str(driving_clip), "-o", str(out), "-q"]
    assert main([*args, "--landmarks", str(bad)]) == 2
    line = _one_line_error(capsys)
    assert "bad.json" in line and expected in line
    assert list(out.parent.iterdir()) == []


def test_landmarks_command_refuses_a_non_json_output(portrait, tmp_path, capsys):
    assert main(["landmarks", str(portrait), "-o", str(tmp_path / "p.txt")]) == 2
    assert ".json" in _one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


def test_mouth_style_and_full_turns_reach_the_config():
    from enliven.cli import _config, build_parser

    args = build_parser().parse_args(["animate", "p.png", "d.mp4", "-o", "o.mp4", "--mouth", "drawn"])
    assert _config(args).render.mouth_style == "drawn"
    args = build_parser().parse_args(["animate", "p.png", "d.mp4", "-o", "o.mp4"])
    assert _config(args).render.mouth_style == "driver"
    assert _config(args).retarget.limit_reveal
    args = build_parser().parse_args(["animate", "p.png", "d.mp4", "-o", "o.mp4", "--full-turns"])
    assert not _config(args).retarget.limit_reveal
