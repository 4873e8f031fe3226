"""``enliven verify`` and ``enliven.verify`` on outputs, re-encoded copies and others."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import enliven
from enliven.cli import main
from enliven.io.video import VideoWriter, read_frames


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("verify")
    enliven.demo(folder / "demo.mp4", folder / "demo.png", duration_s=3.0)
    return folder


def test_an_output_carries_both_proofs(demo_files):
    report = enliven.verify(demo_files / "demo.mp4")
    assert report.manifest_found and report.watermark_found
    assert report.watermark.payload is not None
    assert report.watermark.payload.version[:2] == tuple(int(p) for p in enliven.__version__.split(".")[:2])
    assert report.to_dict()["manifest"]["settings"]["watermark_job_id"] == f"{report.watermark.payload.job_id:08x}"
    sheet = enliven.verify(demo_files / "demo.png")
    assert sheet.manifest_found and sheet.watermark_found


@pytest.mark.parametrize(("size", "crf"), [(512, 28), (256, 18)])
def test_a_reencoded_or_halved_copy_keeps_the_watermark_only(demo_files, tmp_path, capsys, size, crf):
    copy = tmp_path / "copy.mp4"
    with VideoWriter(copy, (size, size), 25, crf=crf) as writer:  # no manifest
        for frame in read_frames(demo_files / "demo.mp4", end_s=2.0):
            writer.write(cv2.resize(frame.rgb, (size, size), interpolation=cv2.INTER_AREA))
    report = enliven.verify(copy)
    assert report.manifest.state == "absent"
    assert report.watermark_found
    assert report.watermark.payload is not None
    assert main(["verify", str(copy), "-q"]) == 0
    assert "watermark present" in capsys.readouterr().out


def test_unmarked_media_is_not_claimed(tmp_path, capsys):
    clip = tmp_path / "plain.mp4"
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8), (0, 0), 3)
    with VideoWriter(clip, (128, 128), 25) as writer:
        for k in range(30):
            writer.write(np.roll(base, k, axis=1))
    assert main(["verify", str(clip), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out[0]["found"] is False and out[0]["manifest"]["state"] == "absent"


def test_unreadable_files_exit_2(tmp_path, capsys):
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video")
    assert main(["verify", str(junk)]) == 2
    assert "junk.mp4" in capsys.readouterr().err
    assert main(["verify", str(tmp_path / "missing.png")]) == 2
