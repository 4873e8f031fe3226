"""Read still images as upright RGB arrays and write PNGs with text chunks."""

from __future__ import annotations

from collections.abc import Callable

import logging
import warnings
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from enliven.errors import InputError, OutputError
from enliven.io.atomic import atomic_path

_BOMB = (Image.DecompressionBombError, Image.DecompressionBombWarning)

log = logging.getLogger(__name__)

MIN_SIDE = 32
"""Smallest accepted width or height of an input image, in pixels."""

_HINT = "re-save it as PNG or JPEG"


def _check_file(path: Path, what: str) -> None:
    if not path.exists():
        raise InputError(f"cannot read {what} {path}: file not found; check the path")
    if path.is_dir():
        raise InputError(
            f"cannot read {what} {path}: it is a directory, not a file; "
            "give the path of a file"
        )


def _over_white(rgba: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Composite an (H, W, 4) uint8 RGBA array over a white background."""
    rgb = rgba[..., :3].astype(np.float32)
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    out = rgb * alpha + 255.0 * (1.0 - alpha)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _gray_to_uint8(im: Image.Image) -> NDArray[np.uint8]:
    """Map a high-bit-depth single-channel image (I;16*, I, F) to uint8."""
    arr = np.asarray(im)
    if im.mode.startswith("I;16"):
        gray = (arr.astype(np.uint32) >> 8).astype(np.uint8)
    elif im.mode == "I":
        a = arr.astype(np.int64)
        if a.size and a.min() >= 0 and a.max() <= 255:
            gray = a.astype(np.uint8)
        else:
            # 16-bit data (what PNG/TIFF readers put in mode I): keep the top byte.
            gray = (np.clip(a, 0, 65535) >> 8).astype(np.uint8)
    else:  # "F"
        a = arr.astype(np.float64)
        finite = a[np.isfinite(a)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0, 1)
        if lo >= 0.0 and hi <= 1.0:
            scaled = a * 255.0
        elif lo >= 0.0 and hi <= 255.0:
            scaled = a
        else:
            scaled = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
        gray = np.clip(np.rint(np.nan_to_num(scaled)), 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2)


def _to_rgb(im: Image.Image) -> NDArray[np.uint8]:
    mode = im.mode
    if mode == "RGB":
        return np.asarray(im, dtype=np.uint8).copy()
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _gray_to_uint8(im)
    has_alpha = mode in ("RGBA", "RGBa", "LA", "La", "PA") or (
        mode in ("P", "L", "RGB") and "transparency" in im.info
    )
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.uint8)
        return _over_white(rgba)
    # 1, L, P, CMYK, YCbCr, LAB, HSV and friends.
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def load_image(path: Path | str, *, max_pixels: int = 64_000_000) -> NDArray[np.uint8]:
    """Load an image file as an upright RGB array.

    EXIF orientation is applied; transparency is composited over white;
    grayscale, palette, CMYK, 1-bit and 16-bit/float images are converted.

    Parameters
    ----------
    path : Path
        The image file (any format Pillow reads: JPEG, PNG, WebP, TIFF, BMP...).
    max_pixels : int
        Largest accepted width * height (guards against decompression bombs).

    Returns
    -------
    ndarray of shape (H, W, 3), uint8
        The image in RGB order.

    Raises
    ------
    InputError
        If the file is missing, not an image, damaged or truncated, larger than
        ``max_pixels`` or smaller than 32 pixels on a side.
    """
    path = Path(path)
    _check_file(path, "image")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(path)
        except UnidentifiedImageError as exc:
            raise InputError(
                f"cannot read image {path}: not an image file or damaged; {_HINT}"
            ) from exc
        except _BOMB as exc:
            raise InputError(
                f"cannot read image {path}: it is too large ({exc}); "
                "downscale it below 64 megapixels"
            ) from exc
        except OSError as exc:
            raise InputError(
                f"cannot read image {path}: {exc.strerror or exc}; "
                "check the file and its permissions"
            ) from exc
        with im:
            w, h = im.size
            if w * h > max_pixels:
                raise InputError(
                    f"cannot read image {path}: {w}x{h} is more than "
                    f"{max_pixels / 1e6:g} megapixels; downscale it first"
                )
            try:
                im.load()
            except _BOMB as exc:
                raise InputError(
                    f"cannot read image {path}: it is too large ({exc}); "
                    "downscale it below 64 megapixels"
                ) from exc
            except (OSError, SyntaxError, ValueError, EOFError) as exc:
                raise InputError(
                    f"cannot read image {path}: the file is truncated or damaged "
                    f"({exc}); {_HINT}"
                ) from exc
            try:
                upright = ImageOps.exif_transpose(im)
            except (OSError, SyntaxError, ValueError, KeyError, TypeError) as exc:
                log.warning(
                    "ignoring unreadable EXIF orientation of %s (%s)", path, exc
                )
                upright = im
            if upright is None:  # pragma: no cover - Pillow < 9.4 with in_place
                upright = im
            try:
                rgb = _to_rgb(upright)
            except (OSError, ValueError) as exc:
                raise InputError(
                    f"cannot read image {path}: unsupported pixel mode "
                    f"{upright.mode} ({exc}); {_HINT}"
                ) from exc
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise InputError(
            f"cannot use image {path}: {w}x{h} is too small (at least {MIN_SIDE} "
            "pixels on each side); use a larger image"
        )
    log.debug("loaded %s: %dx%d (mode %s)", path, w, h, upright.mode)
    return np.ascontiguousarray(rgb)


def save_png(
    path: Path | str,
    rgb: NDArray[np.uint8],
    *,
    text: dict[str, str] | None = None,
    finalize: Callable[[Path], None] | None = None,
) -> None:
    """Write an RGB array as a PNG, atomically, with optional text chunks.

    ``finalize`` is called with the finished temporary file before it is moved
    onto ``path`` (e.g. to sign it); if it raises, nothing appears at ``path``.

    Parameters
    ----------
    path : Path
        Destination file.
    rgb : ndarray of shape (H, W, 3), uint8
        The image.
    text : dict of str to str, optional
        Stored as tEXt chunks (iTXt when a value is not Latin-1).

    Raises
    ------
    ValueError
        If ``rgb`` is not an (H, W, 3) uint8 array or a key is not a valid PNG
        keyword (1-79 Latin-1 characters).
    OutputError
        If the file cannot be written.
    """
    path = Path(path)
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(
            f"save_png needs an (H, W, 3) uint8 array, got {arr.shape} {arr.dtype}"
        )
    info = PngInfo()
    for key, value in (text or {}).items():
        try:
            key.encode("latin-1")
        except UnicodeEncodeError as exc:
            raise ValueError(f"PNG text key {key!r} is not Latin-1") from exc
        if not 1 <= len(key) <= 79:
            raise ValueError(f"PNG text key {key!r} must be 1 to 79 characters")
        info.add_text(key, str(value))
    image = Image.fromarray(np.ascontiguousarray(arr))
    with atomic_path(path) as tmp:
        try:
            image.save(tmp, format="PNG", pnginfo=info)
            if finalize is not None:
                finalize(tmp)
        except OSError as exc:
            raise OutputError(
                f"cannot write {path}: {exc.strerror or exc}; "
                "check free disk space or choose another -o"
            ) from exc


def read_png_text(path: Path | str) -> dict[str, str]:
    """Read the tEXt, zTXt and iTXt chunks of a PNG.

    Parameters
    ----------
    path : Path
        A PNG file.

    Returns
    -------
    dict of str to str
        Keyword to text; empty if the file has none.

    Raises
    ------
    InputError
        If the file is missing, not a PNG or damaged.
    """
    path = Path(path)
    _check_file(path, "PNG")
    try:
        with Image.open(path) as im:
            if im.format != "PNG":
                raise InputError(
                    f"cannot read PNG {path}: it is a {im.format} file, not a PNG; "
                    "give a PNG written by enliven"
                )
            chunks = getattr(im, "text", {})
            return {str(k): str(v) for k, v in chunks.items()}
    except UnidentifiedImageError as exc:
        raise InputError(
            f"cannot read PNG {path}: not an image file or damaged; "
            "give a PNG written by enliven"
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(
            f"cannot read PNG {path}: the file is truncated or damaged ({exc}); "
            "give a PNG written by enliven"
        ) from exc
