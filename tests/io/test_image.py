from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from enliven.errors import InputError, OutputError
from enliven.io.image import load_image, read_png_text, save_png

from .media import smooth_frame


def _rgb(w: int = 64, h: int = 48) -> np.ndarray:
    return smooth_frame(3, w, h)


# ------------------------------------------------------------------ save / read


def test_png_round_trip_with_text(tmp_path: Path) -> None:
    rgb = _rgb()
    out = tmp_path / "still.png"
    text = {"enliven": "0.1", "Comment": "naïve ☺ émoji"}
    save_png(out, rgb, text=text)
    assert np.array_equal(load_image(out), rgb)
    assert read_png_text(out) == text
    assert [p.name for p in tmp_path.iterdir()] == ["still.png"]


def test_save_png_without_text(tmp_path: Path) -> None:
    out = tmp_path / "a.png"
    save_png(out, _rgb())
    assert read_png_text(out) == {}


def test_save_png_rejects_bad_arrays(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        save_png(tmp_path / "a.png", np.zeros((40, 40), np.uint8))
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        save_png(tmp_path / "a.png", np.zeros((40, 40, 3), np.float32))
    assert not list(tmp_path.iterdir())


def test_save_png_unwritable(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputError, match="choose another -o"):
        save_png(tmp_path / "afile" / "a.png", _rgb())


def test_read_png_text_of_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    Image.fromarray(_rgb()).save(path)
    with pytest.raises(InputError, match="not a PNG"):
        read_png_text(path)


# ------------------------------------------------------------------------ modes


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    rgb = np.zeros((40, 64, 3), np.uint8)
    rgb[:10, :10] = 255  # marker at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # display = stored rotated 90 degrees clockwise
    path = tmp_path / "phone.jpg"
    Image.fromarray(rgb).save(path, exif=exif, quality=95)
    out = load_image(path)
    assert out.shape == (64, 40, 3)
    assert out[:10, -10:].mean() > 200  # clockwise: top-left -> top-right
    assert out[:10, :10].mean() < 50


def test_grayscale(tmp_path: Path) -> None:
    gray = np.tile(np.arange(64, dtype=np.uint8)[None, :] * 4, (48, 1))
    path = tmp_path / "g.png"
    Image.fromarray(gray).save(path)
    out = load_image(path)
    assert out.shape == (48, 64, 3)
    assert np.array_equal(out[..., 0], gray) and np.array_equal(out[..., 2], gray)


def test_la_composited_over_white(tmp_path: Path) -> None:
    la = np.zeros((48, 64, 2), np.uint8)
    la[..., 0] = 0
    la[:, :32, 1] = 255  # left opaque black, right fully transparent
    path = tmp_path / "la.png"
    Image.fromarray(la, "LA").save(path)
    out = load_image(path)
    assert (out[:, :32] == 0).all()
    assert (out[:, 32:] == 255).all()


def test_rgba_half_alpha(tmp_path: Path) -> None:
    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 128
    path = tmp_path / "a.png"
    Image.fromarray(rgba).save(path)
    out = load_image(path)
    expected = np.rint(np.array([200, 0, 0]) * 128 / 255 + 255 * 127 / 255)
    assert np.abs(out[0, 0].astype(int) - expected).max() <= 1


@pytest.mark.parametrize("transparent", [False, True])
def test_palette(tmp_path: Path, transparent: bool) -> None:
    idx = np.zeros((48, 64), np.uint8)
    idx[:, 32:] = 1
    im = Image.fromarray(idx, "P")
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    path = tmp_path / "p.png"
    if transparent:
        im.save(path, transparency=1)
    else:
        im.save(path)
    out = load_image(path)
    assert tuple(out[0, 0]) == (255, 0, 0)
    assert tuple(out[0, 63]) == ((255, 255, 255) if transparent else (0, 0, 255))


def test_16bit_png(tmp_path: Path) -> None:
    g16 = np.tile(np.linspace(0, 65535, 64).astype(np.uint16)[None, :], (48, 1))
    path = tmp_path / "g16.png"
    Image.fromarray(g16).save(path)
    with Image.open(path) as im:
        assert im.mode.startswith("I")
    out = load_image(path)
    assert out.dtype == np.uint8
    assert np.array_equal(out[..., 1], (g16 >> 8).astype(np.uint8))


def test_float_tiff(tmp_path: Path) -> None:
    f = np.tile(np.linspace(0, 1, 64, dtype=np.float32)[None, :], (48, 1))
    path = tmp_path / "f.tif"
    Image.fromarray(f, "F").save(path)
    out = load_image(path)
    assert out[0, 0, 0] == 0 and out[0, -1, 0] == 255


def test_cmyk_and_bilevel(tmp_path: Path) -> None:
    cmyk = Image.new("CMYK", (64, 48), (0, 255, 255, 0))  # red
    cmyk.save(tmp_path / "c.jpg", quality=95)
    out = load_image(tmp_path / "c.jpg")
    assert out[..., 0].mean() > 200 and out[..., 1].mean() < 60
    bw = Image.new("1", (64, 48), 1)
    bw.save(tmp_path / "b.png")
    assert (load_image(tmp_path / "b.png") == 255).all()


# ----------------------------------------------------------------------- errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.png: file not found"):
        load_image(tmp_path / "nope.png")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        load_image(tmp_path)


def test_text_file_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "face.jpg"
    path.write_text("not an image\n" * 20)
    with pytest.raises(InputError, match=r"face\.jpg: not an image file or damaged"):
        load_image(path)


def test_truncated_png(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    path = tmp_path / "t.png"
    Image.fromarray(noise).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or damaged"):
        load_image(path)


def test_too_small(tmp_path: Path) -> None:
    path = tmp_path / "s.png"
    Image.fromarray(_rgb(64, 20)).save(path)
    with pytest.raises(InputError, match=r"64x20 is too small"):
        load_image(path)


def test_too_many_pixels(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.fromarray(_rgb()).save(path)
    with pytest.raises(InputError, match="megapixels"):
        load_image(path, max_pixels=1000)


@pytest.mark.parametrize("limit", [1000, 3000])  # Pillow's bomb error, warning
def test_pillow_decompression_bomb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    path = tmp_path / "bomb.png"
    Image.fromarray(_rgb()).save(path)  # 3072 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    with pytest.raises(InputError, match="too large"):
        load_image(path)


@pytest.mark.parametrize(("suffix", "fmt", "tolerance"), [(".webp", "WEBP", 0), (".jpg", "JPEG", 12)])
def test_webp_and_jpeg_portraits(tmp_path: Path, suffix: str, fmt: str, tolerance: int) -> None:
    rgb = _rgb()
    path = tmp_path / f"portrait{suffix}"
    options = {"lossless": True} if fmt == "WEBP" else {"quality": 95}
    Image.fromarray(rgb).save(path, fmt, **options)
    got = load_image(path)
    assert got.shape == rgb.shape and got.dtype == np.uint8
    assert np.abs(got.astype(int) - rgb).max() <= tolerance
