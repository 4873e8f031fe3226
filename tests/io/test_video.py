from __future__ import annotations

import logging
import types
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from enliven.errors import ConfigError, InputError, OutputError
from enliven.io.video import VideoInfo, VideoWriter, probe_video, read_frames

from .media import (
    decoded_audio,
    decoded_audio_seconds,
    flat_frame,
    psnr,
    smooth_frame,
    stream_durations,
    tone,
    write_clip,
    write_tone,
)

FPS = 25


def _levels(frames) -> list[int]:
    """Identify flat test frames by their grey level."""
    return [int(round(float(f.rgb.mean()))) for f in frames]


def _write(path: Path, frames, **kw) -> Path:
    h, w = frames[0].shape[:2]
    with VideoWriter(path, (w, h), kw.pop("fps", FPS), **kw) as writer:
        for f in frames:
            writer.write(f)
    return path


# ------------------------------------------------------------------ round trip


def test_round_trip_with_audio(tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "tone.mp4", seconds=1.2)
    src = [smooth_frame(i) for i in range(30)]
    out = tmp_path / "out.mp4"
    with VideoWriter(
        out, (64, 48), FPS, audio_source=tone, metadata={"comment": "made by test"}
    ) as writer:
        for f in src:
            writer.write(f)
        assert writer.frames_written == 30
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

    info = probe_video(out)
    assert isinstance(info, VideoInfo)
    assert (info.width, info.height) == (64, 48)
    assert info.fps == pytest.approx(25.0)
    assert info.frame_count == 30
    assert info.duration_s == pytest.approx(1.2, abs=1 / FPS)
    assert info.has_audio and info.video_codec == "h264" and info.rotation_deg == 0

    durations = stream_durations(out)
    assert durations["audio"] == pytest.approx(durations["video"], abs=1 / FPS)
    assert decoded_audio_seconds(out) == pytest.approx(1.2, abs=1 / FPS)

    frames = list(read_frames(out))
    assert [f.index for f in frames] == list(range(30))
    assert frames[-1].time_s == pytest.approx(29 / FPS)
    assert frames[0].rgb.shape == (48, 64, 3) and frames[0].rgb.dtype == np.uint8
    assert min(psnr(f.rgb, s) for f, s in zip(frames, src)) > 30

    with av.open(str(out)) as c:
        assert c.metadata.get("comment") == "made by test"
        assert c.streams.audio[0].codec_context.name == "aac"
        assert c.streams.audio[0].codec_context.sample_rate == 44100
    data = out.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # +faststart


def test_audio_longer_than_video_is_trimmed(tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "tone.m4a", seconds=1.25)  # 0.05 s longer
    out = _write(tmp_path / "o.mp4", [smooth_frame(i) for i in range(30)],
                 audio_source=tone)  # fmt: skip
    assert decoded_audio_seconds(out) == pytest.approx(1.2, abs=0.03)
    assert stream_durations(out)["audio"] <= 1.2 + 0.03


def test_audio_shorter_than_video_and_mono_kept(tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "tone.m4a", seconds=0.5, rate=22050, layout="mono")
    out = _write(tmp_path / "o.mp4", [smooth_frame(i) for i in range(30)],
                 audio_source=tone)  # fmt: skip
    assert decoded_audio_seconds(out) == pytest.approx(0.5, abs=0.05)
    with av.open(str(out)) as c:
        cc = c.streams.audio[0].codec_context
        assert (cc.sample_rate, cc.layout.nb_channels) == (22050, 1)


def test_audio_rate_aac_cannot_take_is_resampled(tmp_path: Path) -> None:
    src = write_tone(tmp_path / "odd.mkv", seconds=1.0, rate=37800,
                     codec="pcm_s16le")  # fmt: skip
    out = _write(tmp_path / "o.mp4", [smooth_frame(i) for i in range(25)],
                 audio_source=src)  # fmt: skip
    with av.open(str(out)) as c:
        assert c.streams.audio[0].codec_context.sample_rate == 48000
    assert decoded_audio_seconds(out) == pytest.approx(1.0, abs=0.03)


def test_source_without_audio_gives_video_only(tmp_path: Path) -> None:
    silent = write_clip(tmp_path / "silent.mp4", [smooth_frame(i) for i in range(5)])
    out = _write(tmp_path / "o.mp4", [smooth_frame(i) for i in range(5)],
                 audio_source=silent)  # fmt: skip
    assert not probe_video(out).has_audio


def test_ntsc_rate(tmp_path: Path) -> None:
    out = _write(tmp_path / "o.mp4", [smooth_frame(i) for i in range(30)],
                 fps=30000 / 1001)  # fmt: skip
    info = probe_video(out)
    assert info.fps == pytest.approx(29.97, abs=0.01)
    assert info.duration_s == pytest.approx(30 / (30000 / 1001), abs=0.01)
    assert len(list(read_frames(out))) == 30


# ------------------------------------------------------------------ VFR / CFR


def _expected_grid(pts_s: list[float], last_dur: float, fps: float) -> list[int]:
    """Reference: frame k shows the latest input frame with t <= (k + 0.5) / fps."""
    end = pts_s[-1] + last_dur
    out = []
    k = 0
    while (k + 0.5) / fps <= end + 1e-9:
        deadline = (k + 0.5) / fps + 1e-9
        out.append(max(i for i, t in enumerate(pts_s) if t <= deadline))
        k += 1
    return out


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_variable_frame_rate_gives_cfr_grid(tmp_path: Path, ext: str) -> None:
    pts_ms = [0, 40, 70, 130, 140, 150, 240, 250, 330, 420]
    levels = [20 + 22 * i for i in range(len(pts_ms))]
    path = write_clip(tmp_path / f"vfr.{ext}", [flat_frame(v) for v in levels],
                      pts_ms=pts_ms)  # fmt: skip
    with av.open(str(path)) as c:
        last = list(c.decode(video=0))[-1]
        last_dur = float(last.duration * last.time_base)
    frames = list(read_frames(path, fps=25))
    expected = _expected_grid([t / 1000 for t in pts_ms], last_dur, 25)
    assert [f.index for f in frames] == list(range(len(expected)))
    grid = [k / 25 for k in range(len(expected))]
    assert [f.time_s for f in frames] == pytest.approx(grid)
    got = _levels(frames)
    assert all(abs(g - levels[e]) <= 2 for g, e in zip(got, expected)), (got, expected)
    # Some input frames were dropped and some repeated.
    assert len(set(expected)) < len(pts_ms)
    assert len(set(expected)) < len(expected)


def test_resample_50_to_25_and_10(tmp_path: Path) -> None:
    levels = [10 + 9 * i for i in range(20)]
    path = write_clip(tmp_path / "c50.mp4", [flat_frame(v) for v in levels], fps=50)
    f25 = list(read_frames(path, fps=25))
    assert len(f25) == 10
    got = _levels(f25)  # slot k shows input frame 2k+1 (t = (k + 0.5) / 25)
    assert all(abs(g - levels[2 * k + 1]) <= 2 for k, g in enumerate(got)), got
    assert len(list(read_frames(path, fps=100))) == 40


# -------------------------------------------------------------------- rotation


def _marker_frame() -> np.ndarray:
    rgb = np.full((48, 64, 3), 40, np.uint8)
    rgb[:12, :12] = 250  # stored top-left
    return rgb


def _corner(rgb: np.ndarray) -> str:
    h, w = rgb.shape[:2]
    corners = {
        "tl": rgb[:8, :8], "tr": rgb[:8, w - 8:],
        "bl": rgb[h - 8:, :8], "br": rgb[h - 8:, w - 8:],
    }  # fmt: skip
    return max(corners, key=lambda k: corners[k].mean())


@pytest.mark.parametrize(
    ("kw", "rotation_deg", "corner"),
    [
        # PyAV's counter-clockwise display rotation
        ({"rotation": 90}, 270, "bl"),
        ({"rotation": -90}, 90, "tr"),
        ({"rotation": 180}, 180, "br"),
        # the matrix a phone writes for a portrait recording ("rotate=90"):
        # a=0, b=1, c=-1, d=0 in 16.16 fixed point
        ({"display_matrix": [0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30]}, 90, "tr"),
    ],
)
def test_rotation_metadata_gives_upright_frames(
    tmp_path: Path, kw: dict, rotation_deg: int, corner: str
) -> None:
    path = write_clip(tmp_path / "rot.mp4", [_marker_frame()] * 3, **kw)
    info = probe_video(path)
    assert info.rotation_deg == rotation_deg
    expect_shape = (64, 48, 3) if rotation_deg % 180 else (48, 64, 3)
    assert (info.height, info.width) == expect_shape[:2]
    frames = list(read_frames(path))
    assert len(frames) == 3
    assert frames[0].rgb.shape == expect_shape
    assert frames[0].rgb.flags.c_contiguous
    assert _corner(frames[0].rgb) == corner


# ------------------------------------------------------------------- trimming


def test_start_end_trim_frames_and_audio(tmp_path: Path) -> None:
    levels = [10 + 4 * i for i in range(50)]
    clip = write_clip(tmp_path / "drive.mp4", [flat_frame(v) for v in levels],
                      audio_s=2.05)  # fmt: skip
    frames = list(read_frames(clip, start_s=0.4, end_s=1.2))
    assert len(frames) == 20
    assert frames[0].index == 0 and frames[0].time_s == 0
    got = _levels(frames)
    assert all(abs(g - levels[10 + k]) <= 2 for k, g in enumerate(got)), got

    out = tmp_path / "out.mp4"
    with VideoWriter(out, (64, 48), FPS, audio_source=clip,
                     audio_start_s=0.4, audio_end_s=1.2) as writer:  # fmt: skip
        for f in frames:
            writer.write(f.rgb)
    assert probe_video(out).frame_count == 20
    assert decoded_audio_seconds(out) == pytest.approx(0.8, abs=0.03)

    tail = list(read_frames(clip, start_s=1.6))
    assert len(tail) == 10
    assert abs(_levels(tail)[0] - levels[40]) <= 2


@pytest.mark.parametrize("start_s", [0.0, 0.4, 0.733])
def test_audio_window_stays_in_sync(tmp_path: Path, start_s: float) -> None:
    rate = 44100
    clip = write_clip(tmp_path / "drive.mp4", [smooth_frame(i) for i in range(50)],
                      audio_s=2.05, audio_rate=rate)  # fmt: skip
    frames = [f.rgb for f in read_frames(clip, start_s=start_s, end_s=start_s + 0.8)]
    out = _write(tmp_path / "o.mp4", frames, audio_source=clip,
                 audio_start_s=start_s, audio_end_s=start_s + 0.8)  # fmt: skip
    got = decoded_audio(out)[2000:6000]
    first = round(start_s * rate) + 2000

    def score(lag: int) -> float:
        return float(np.dot(got, tone(len(got), rate, 1, t0=first + lag)[0]))

    best = max(range(-600, 601), key=score)
    assert abs(best) <= 2, best


def _packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(audio=0) if p.size]


def test_aac_from_mp4_is_copied_sample_exact(tmp_path: Path) -> None:
    rate = 44100
    clip = write_clip(tmp_path / "drive.mp4", [smooth_frame(i) for i in range(50)],
                      audio_s=2.05, audio_rate=rate)  # fmt: skip
    frames = [f.rgb for f in read_frames(clip, end_s=0.8)]
    out = _write(tmp_path / "o.mp4", frames, audio_source=clip, audio_end_s=0.8)

    # Copied, not re-encoded: the output's packets are the source's first ones.
    got_packets, source = _packets(out), _packets(clip)
    assert got_packets == source[: len(got_packets)]
    # The sound is the source's, sample for sample (the priming still skipped),
    # minus at most the last AAC frame, which would run past the video.
    got, want = decoded_audio(out), decoded_audio(clip)
    assert 0.8 * rate - 1024 <= len(got) <= 0.8 * rate
    np.testing.assert_array_equal(got, want[: len(got)])
    assert stream_durations(out)["audio"] <= 0.8


def test_audio_window_not_at_start_is_reencoded(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "drive.mp4", [smooth_frame(i) for i in range(50)],
                      audio_s=2.05)  # fmt: skip
    frames = [f.rgb for f in read_frames(clip, start_s=0.4, end_s=1.2)]
    out = _write(tmp_path / "o.mp4", frames, audio_source=clip,
                 audio_start_s=0.4, audio_end_s=1.2)  # fmt: skip
    assert not set(_packets(out)) & set(_packets(clip))


@pytest.mark.parametrize("suffix", [".mkv", ".mov"])
def test_audio_in_other_containers_stays_in_sync(tmp_path: Path, suffix: str) -> None:
    rate, start_s = 44100, 0.4
    clip = write_clip(tmp_path / "drive.mp4", [smooth_frame(i) for i in range(50)],
                      audio_s=2.05, audio_rate=rate)  # fmt: skip
    frames = [f.rgb for f in read_frames(clip, start_s=start_s, end_s=start_s + 0.8)]
    out = _write(tmp_path / f"o{suffix}", frames, audio_source=clip,
                 audio_start_s=start_s, audio_end_s=start_s + 0.8)  # fmt: skip
    got = decoded_audio(out)
    assert len(got) == pytest.approx(0.8 * rate, abs=1024)
    got = got[2000:6000]
    first = round(start_s * rate) + 2000
    best = max(range(-600, 601), key=lambda lag: float(
        np.dot(got, tone(len(got), rate, 1, t0=first + lag)[0])))  # fmt: skip
    assert abs(best) <= 2, best


def test_adts_aac_is_reencoded(tmp_path: Path) -> None:
    adts = write_tone(tmp_path / "tone.aac", seconds=1.2)
    out = _write(tmp_path / "o.mp4", [smooth_frame(i) for i in range(30)],
                 audio_source=adts)  # fmt: skip
    with av.open(str(out)) as c:
        assert c.streams.audio[0].codec_context.name == "aac"
    assert decoded_audio_seconds(out) == pytest.approx(1.2, abs=0.03)


def test_audio_window_shorter_than_video(tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "tone.m4a", seconds=1.2)
    out = _write(tmp_path / "o.mp4", [smooth_frame(i) for i in range(30)],
                 audio_source=tone, audio_start_s=0.2, audio_end_s=0.7)  # fmt: skip
    assert decoded_audio_seconds(out) == pytest.approx(0.5, abs=0.03)


def test_start_after_end_of_clip(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "c.mp4", [smooth_frame(i) for i in range(10)])
    with pytest.raises(InputError, match="choose an earlier start"):
        list(read_frames(clip, start_s=5.0))


def test_bad_window_arguments(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "c.mp4", [smooth_frame(i) for i in range(5)])
    with pytest.raises(ConfigError):
        read_frames(clip, start_s=-1)
    with pytest.raises(ConfigError):
        read_frames(clip, start_s=1.0, end_s=0.5)
    with pytest.raises(ConfigError):
        read_frames(clip, fps=0)


def test_read_frames_streams_lazily(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "c.mp4", [smooth_frame(i) for i in range(20)])
    it = read_frames(clip)
    assert isinstance(it, types.GeneratorType)
    first = next(it)
    assert first.index == 0
    it.close()


# --------------------------------------------------------------- containers


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("c.mov", "libx264"),
        ("c.mkv", "libx264"),
        ("c.webm", "libvpx"),
        ("c.webm", "libvpx-vp9"),
    ],
)
def test_other_containers(tmp_path: Path, name: str, codec: str) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"this PyAV build has no {codec} encoder")
    src = [smooth_frame(i) for i in range(12)]
    path = write_clip(tmp_path / name, src, codec=codec)
    info = probe_video(path)
    assert (info.width, info.height) == (64, 48)
    assert info.fps == pytest.approx(25.0)
    assert info.duration_s == pytest.approx(12 / 25, abs=1 / 25)
    frames = list(read_frames(path))
    assert len(frames) == 12
    assert min(psnr(f.rgb, s) for f, s in zip(frames, src)) > 25


def test_writer_mov_and_mkv(tmp_path: Path) -> None:
    for name in ("o.mov", "o.mkv"):
        out = _write(tmp_path / name, [smooth_frame(i) for i in range(10)])
        assert len(list(read_frames(out))) == 10


# ---------------------------------------------------------------- bad inputs


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.mp4: file not found"):
        probe_video(tmp_path / "nope.mp4")
    with pytest.raises(InputError, match="file not found"):
        read_frames(tmp_path / "nope.mp4")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        probe_video(tmp_path)


def test_text_file_named_mp4(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_text("hello\n" * 100)
    with pytest.raises(InputError, match=r"clip\.mp4: not a video file or damaged"):
        probe_video(path)
    with pytest.raises(InputError, match="re-export it as MP4/H.264"):
        list(read_frames(path))


def test_truncated_mp4_without_faststart(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "clip.mp4", [smooth_frame(i) for i in range(25)])
    data = path.read_bytes()
    assert data.find(b"moov") > data.find(b"mdat")  # index at the end
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="moov atom not found"):
        probe_video(path)


def test_truncated_mp4_with_faststart_yields_what_decodes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rng = np.random.default_rng(1)
    src = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(25)]
    path = write_clip(tmp_path / "clip.mp4", src,
                      options={"movflags": "+faststart"})  # fmt: skip
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING, logger="enliven.io.video"):
        frames = list(read_frames(path))
    assert 0 < len(frames) < 25
    assert "truncated" in caplog.text
    assert [f.index for f in frames] == list(range(len(frames)))


def test_zero_frame_mp4(tmp_path: Path) -> None:
    # The MP4 muxer drops a track without samples, so the file has no stream.
    path = tmp_path / "empty.mp4"
    c = av.open(str(path), mode="w")
    s = c.add_stream("libx264", rate=25)
    s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
    c.start_encoding()
    c.close()
    with pytest.raises(InputError, match="no video"):
        probe_video(path)
    with pytest.raises(InputError, match="no video"):
        list(read_frames(path))


def test_video_stream_without_decodable_frames(tmp_path: Path) -> None:
    path = tmp_path / "garbage.mp4"
    c = av.open(str(path), mode="w")
    s = c.add_stream("libx264", rate=25)
    s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
    c.start_encoding()
    for i in range(3):
        packet = av.Packet(b"\x00\x00\x00\x02\x09\xf0")  # an access unit delimiter
        packet.stream = s
        packet.pts = packet.dts = i * 512
        packet.time_base = s.time_base
        c.mux(packet)
    c.close()
    with pytest.raises(InputError, match="has no video frames that decode"):
        probe_video(path)
    with pytest.raises(InputError, match="has no video frames that decode"):
        list(read_frames(path))


def test_audio_only_file(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "voice.m4a", seconds=0.3)
    with pytest.raises(InputError, match="has no video stream"):
        probe_video(path)


# -------------------------------------------------------------------- writer


def test_odd_size_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even"):
        VideoWriter(tmp_path / "o.mp4", (63, 48), FPS)
    assert not list(tmp_path.iterdir())


def test_wrong_frame_shape(tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "o.mp4", (64, 48), FPS) as writer:
        writer.write(smooth_frame(0))
        with pytest.raises(ValueError, match=r"\(48, 64, 3\) uint8"):
            writer.write(np.zeros((64, 48, 3), np.uint8))
    assert probe_video(tmp_path / "o.mp4").frame_count == 1


def test_exception_inside_with_leaves_nothing(tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "tone.m4a", seconds=0.5)
    out = tmp_path / "o.mp4"
    with pytest.raises(RuntimeError, match="stop"):
        with VideoWriter(out, (64, 48), FPS, audio_source=tone) as writer:
            for i in range(5):
                writer.write(smooth_frame(i))
            raise RuntimeError("stop")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tone.m4a"]


def test_abort_and_no_frames(tmp_path: Path) -> None:
    writer = VideoWriter(tmp_path / "a.mp4", (64, 48), FPS)
    writer.write(smooth_frame(0))
    writer.abort()
    with pytest.raises(OutputError, match="no frames were written"):
        with VideoWriter(tmp_path / "b.mp4", (64, 48), FPS):
            pass
    assert not list(tmp_path.iterdir())


def test_unwritable_destinations(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputError, match=r"out\.mp4: .*not a directory; choose"):
        VideoWriter(tmp_path / "afile" / "out.mp4", (64, 48), FPS)
    with pytest.raises(OutputError, match="does not exist"):
        VideoWriter(tmp_path / "missing" / "out.mp4", (64, 48), FPS)
    with pytest.raises(OutputError, match=r"\.webm.*use a name ending in \.mp4"):
        VideoWriter(tmp_path / "out.webm", (64, 48), FPS)
    assert [p.name for p in tmp_path.iterdir()] == ["afile"]


def test_missing_audio_source_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        VideoWriter(tmp_path / "o.mp4", (64, 48), FPS, audio_source=tmp_path / "x.mp4")
    assert not list(tmp_path.iterdir())


def test_select_yields_only_the_chosen_indices(tmp_path):
    from enliven.io.video import read_frames

    from .media import smooth_frame, write_clip

    clip = write_clip(tmp_path / "c.mp4", [smooth_frame(i) for i in range(20)], fps=25)
    every = list(read_frames(clip))
    some = list(read_frames(clip, select=lambda k: k % 5 == 0))
    assert [f.index for f in some] == [0, 5, 10, 15]
    for f in some:
        assert np.array_equal(f.rgb, every[f.index].rgb)


def test_colours_survive_and_the_matrix_is_tagged(tmp_path: Path) -> None:
    """Frames go to the encoder as BT.601 limited-range I420 (OpenCV's matrix)
    and the stream says so; saturated colours come back within coding error."""
    bars = np.zeros((64, 96, 3), np.uint8)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255)]
    for k, colour in enumerate(colours):
        bars[:, 16 * k : 16 * (k + 1)] = colour
    path = _write(tmp_path / "bars.mp4", [bars] * 3, crf=0)
    with av.open(str(path)) as box:
        cc = box.streams.video[0].codec_context
        assert (cc.colorspace, cc.color_range) == (6, 1)  # smpte170m, tv range
    back = next(read_frames(path)).rgb
    centres = back[32, 8::16].astype(int)
    assert np.abs(centres - np.array(colours)).max() <= 6


def test_extra_x264_params_reach_the_encoder(tmp_path: Path) -> None:
    # x264 writes its settings into the stream (an SEI message): read them back.
    # 256² so that x264 would pick more than one thread of its own (it writes
    # threads=1 for tiny frames whatever it is told).
    frame = np.random.default_rng(0).integers(0, 256, (256, 256, 3), np.uint8)
    for params, expected in (
        (None, b" me=hex subme=2 "),
        ("me=dia:subme=1", b" me=dia subme=1 "),
        ("me=dia:subme=1:threads=1", b" threads=1 "),
    ):
        out = tmp_path / f"p{len(params or '')}.mp4"
        with VideoWriter(out, (256, 256), 25.0, preset="veryfast", params=params) as writer:
            for _ in range(3):
                writer.write(frame)
        assert expected in out.read_bytes()


def _tagged_clip(path: Path, rgb: np.ndarray, space: int, colour_range: int) -> Path:
    """Two lossless frames of ``rgb`` whose stream carries the given colour tags."""
    height, width = rgb.shape[:2]
    with av.open(str(path), "w") as box:
        stream = box.add_stream("libx264", rate=25, options={"crf": "0"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.colorspace, stream.codec_context.color_range = space, colour_range
        for k in range(2):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = k
            for packet in stream.encode(frame):
                box.mux(packet)
        for packet in stream.encode(None):
            box.mux(packet)
    return path


@pytest.mark.parametrize(("space", "colour_range", "fast"), [
    (6, 1, True), (5, 1, True), (2, 0, True), (1, 1, True),  # BT.601 x3, BT.709
    (9, 1, False), (1, 2, False),  # BT.2020 and full range: swscale
])  # fmt: skip
def test_frames_convert_with_their_own_matrix(tmp_path: Path, space: int, colour_range: int, fast: bool) -> None:
    # OpenCV converts the usual limited-range BT.601/709 frames (a BT.709 one
    # through a 3x3 correction); the rest go to swscale. Either way the colours
    # are swscale's, but for its one-level bias and chroma interpolation.
    from enliven.io.video import _fast_rgb

    rng = np.random.default_rng(0)
    rgb = cv2.GaussianBlur(rng.integers(0, 256, (64, 80, 3), np.uint8), (0, 0), 4)
    rgb = np.clip((rgb.astype(float) - 128) * 3 + 128, 0, 255).astype(np.uint8)
    clip = _tagged_clip(tmp_path / "tagged.mp4", rgb, space, colour_range)
    with av.open(str(clip)) as box:
        frame = next(box.decode(video=0))
        swscale = frame.to_ndarray(format="rgb24").astype(int)
        ours = _fast_rgb(frame)
    assert (ours is not None) == fast
    got = next(read_frames(clip)).rgb.astype(int)
    diff = got - swscale
    assert np.abs(diff).mean() < 1.6 and np.abs(diff).max() <= 4
    # No channel is shifted against another (a wrong matrix shifts hues).
    means = diff.mean(axis=(0, 1))
    assert means.max() - means.min() < 0.6


def test_fast_conversion_returns_our_own_colours_unbiased(tmp_path: Path) -> None:
    # Our writer's BT.601 I420 (crf 0) read back: no bias in any channel.
    rng = np.random.default_rng(1)
    rgb = cv2.GaussianBlur(rng.integers(0, 256, (64, 80, 3), np.uint8), (0, 0), 6)
    rgb = np.clip((rgb.astype(float) - 128) * 2 + 128, 0, 255).astype(np.uint8)
    path = _write(tmp_path / "own.mp4", [rgb] * 2, crf=0)
    diff = next(read_frames(path)).rgb.astype(int) - rgb
    assert np.abs(diff).mean() < 1.2
    assert np.abs(diff.mean(axis=(0, 1))).max() < 0.3


class _DamagedAfter:
    """An input container whose demuxer fails after ``good`` packets."""

    def __init__(self, container, good: int) -> None:
        self._container, self._good = container, good

    def __getattr__(self, name):
        return getattr(self._container, name)

    def demux(self, *args, **kwargs):
        for k, packet in enumerate(self._container.demux(*args, **kwargs)):
            if k == self._good:
                raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")
            yield packet


def test_copied_audio_that_turns_out_damaged_ends_in_silence_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import enliven.io.video as video

    rate = 44100
    clip = write_clip(tmp_path / "drive.mp4", [smooth_frame(i) for i in range(50)],
                      audio_s=2.05, audio_rate=rate)  # fmt: skip
    frames = [f.rgb for f in read_frames(clip, end_s=1.6)]
    opened = video._open_input
    monkeypatch.setattr(video, "_open_input", lambda path: _DamagedAfter(opened(path), good=20))
    with caplog.at_level(logging.WARNING, logger="enliven.io.video"):
        out = _write(tmp_path / "o.mp4", frames, audio_source=clip, audio_end_s=1.6)
    monkeypatch.undo()
    assert "audio of" in caplog.text and "damaged" in caplog.text
    assert len(list(read_frames(out))) == len(frames)  # the video is whole
    # The packets before the damage are the source's own (copied, not re-encoded).
    got_packets, source = _packets(out), _packets(clip)
    assert 10 <= len(got_packets) <= 20 and got_packets == source[: len(got_packets)]
    assert len(decoded_audio(out)) < 21 * 1024 < 1.6 * rate
