"""An always-on invisible watermark: a keyed spread-spectrum pattern in luma.

Design
------
*Pattern.* A keyed square tile, ``_TILE`` pixels on a side at the *canonical
scale* (frame height ``_CANON_H``, so ``_TILES_PER_HEIGHT`` tiles per frame height),
is repeated over the frame. Its spectrum lives only in a mid band of spatial
frequencies (``_BAND_CYCLES`` cycles per tile, i.e. wavelengths of 4-16 canonical
pixels: 8-32 pixels on a 512-pixel-high frame), away from the horizontal and
vertical frequency axes (where block-coding artefacts and frame edges put their
energy). The tile is a sum of ``_CODED_BITS`` keyed carriers, each a random-phase
pattern over the whole band, made exactly orthonormal, and each multiplied by
+1 or -1 by one coded bit. The tile is defined relative to the frame height, so
a uniform resize keeps it at the same relative scale; the same luma value is
added to R, G and B (so Y changes by that value and chroma not at all).

*Payload.* 88 bits: 16-bit product magic, version (3 x 8 bits), 32-bit job id
and a CRC-16 of those; 6 zero tail bits; a rate-1/2, constraint-length-7
convolutional code (generators 171, 133 octal) gives 188 coded bits, decoded by
soft-decision Viterbi. The first 32 coded bits depend only on the magic, so
they are known to the detector and serve as a synchronisation template.

*Detection.* Frames are averaged in luma (the static mark adds up, moving
content and coding noise average out). For each scale in a search range (a crop
or a pad changes the tile size relative to the frame height), the average is
resized so the tile is ``_TILE`` pixels, high-passed, tapered at its borders and
folded (summed modulo the tile), which turns any crop or translation into a
cyclic shift of the tile. The folded tile is whitened in the frequency domain
(divided by a locally smoothed power spectrum: a matched filter for coloured
noise). The synchronisation template is correlated at every cyclic shift (one
FFT per scale); the best candidates, and every shift at the nominal scale, are
scored with the full statistic and refined over a finer scale grid.

*Statistic and threshold.* At a (scale, shift), each carrier's whitened
correlation ``z_i`` is N(0, 1) under H0 (unmarked input); with the exact
covariance ``G`` of the ``z_i`` (computed from the same whitening), ``q = z' G^-1 z``
is chi-square with ``_CODED_BITS`` degrees of freedom, whatever the signs of the
bits. The search looks at ``_SEARCH_TESTS`` (scale, shift) pairs, so the
family-wise p-value is ``min(1, p * _SEARCH_TESTS)`` (Bonferroni; conservative,
since neighbouring tests are correlated). A mark is reported found when that
p-value is at most ``FALSE_POSITIVE_RATE`` = 1e-6, i.e. when ``confidence`` (the
one-sided standard-normal quantile of the family-wise p-value) is at least 4.753.
A payload is reported only when its CRC and magic check as well.
"""

from __future__ import annotations

import binascii
import hashlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy import special, stats

from enliven.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_KEY = b"enliven/watermark/v1"
"""Key of the project's public mark (anyone holding it can detect the mark)."""

DEFAULT_STRENGTH = 1.6
"""Default RMS of the added luma pattern, in 8-bit code values (PSNR about 44 dB)."""

FALSE_POSITIVE_RATE = 1e-6
"""Family-wise probability of reporting a mark in unmarked media."""

MAGIC = 0xE11E
"""16-bit product id of Enliven at the head of every payload."""

_TILES_PER_HEIGHT = 2
_TILE = 128  # tile side at the canonical scale, pixels
_CANON_H = _TILES_PER_HEIGHT * _TILE  # canonical frame height, pixels
_BAND_CYCLES = (8.0, 31.0)  # radial band of the pattern, cycles per tile
_AXIS_GAP = 2  # bins with |kx| or |ky| below this are left empty
_INFO_BITS = 88
_TAIL_BITS = 6
_CODED_BITS = 2 * (_INFO_BITS + _TAIL_BITS)
_KNOWN_CODED = 32  # coded bits fixed by the magic (sync template)
_CODE_POLYS = (0o171, 0o133)

_WORK_H = 512  # detector accumulates frames at most this high
_SCALE_RANGE = (0.8, 1.4)  # tile size relative to nominal that the search covers
_COARSE_STEP = 0.012  # log-scale step of the synchronisation search
_FINE_STEP = 0.002  # log-scale step of the refinement (defines the test family)
_SEARCH_TESTS = (
    int(math.ceil(math.log(_SCALE_RANGE[1] / _SCALE_RANGE[0]) / _FINE_STEP)) + 1
) * _TILE * _TILE
_HIGHPASS_SIGMA = 8.0  # canonical pixels
_TAPER = 8  # canonical pixels of cosine taper at the borders
_SMOOTH_BINS = 7  # side of the box that smooths the noise spectrum
_CANDIDATES = 4  # sync peaks refined with the full statistic


def _z_from_logp(logp: float) -> float:
    """One-sided standard-normal quantile of a p-value given as its log."""
    return float(-special.ndtri_exp(min(logp, math.log(0.5))))


Z_THRESHOLD = _z_from_logp(math.log(FALSE_POSITIVE_RATE))
"""``confidence`` at or above which a mark is reported found (about 4.753)."""


# ------------------------------------------------------------------- payload


@dataclass(frozen=True)
class Payload:
    """What the mark says: Enliven (implied magic), its version and a job id.

    version : (major, minor, patch), each 0..255.
    job_id : 0 .. 2**32 - 1.
    """

    version: tuple[int, int, int]
    job_id: int

    def __post_init__(self) -> None:
        if len(self.version) != 3 or not all(0 <= int(v) <= 255 for v in self.version):
            raise ConfigError(
                f"version must be three integers in 0..255, got {self.version}"
            )
        if not 0 <= int(self.job_id) < 2**32:
            raise ConfigError(f"job_id must be in 0..2**32-1, got {self.job_id}")

    def to_bits(self) -> NDArray[np.uint8]:
        """The 88 information bits, most significant first."""
        body = MAGIC.to_bytes(2, "big") + bytes(self.version)
        body += int(self.job_id).to_bytes(4, "big")
        crc = binascii.crc_hqx(body, 0xFFFF).to_bytes(2, "big")
        return np.unpackbits(np.frombuffer(body + crc, np.uint8))

    @classmethod
    def from_bits(cls, bits: NDArray[np.uint8]) -> Payload | None:
        """Parse 88 bits; ``None`` unless the magic and the CRC check."""
        raw = np.packbits(np.asarray(bits, np.uint8)).tobytes()
        body, crc = raw[:9], raw[9:11]
        if int.from_bytes(body[:2], "big") != MAGIC:
            return None
        if binascii.crc_hqx(body, 0xFFFF).to_bytes(2, "big") != crc:
            return None
        version = (body[2], body[3], body[4])
        return cls(version=version, job_id=int.from_bytes(body[5:9], "big"))


def _parity(x: NDArray[np.int64]) -> NDArray[np.int64]:
    x = x.copy()
    for shift in (4, 2, 1):
        x ^= x >> shift
    return x & 1


# Trellis of the convolutional code. State: the last 6 inputs, newest in bit 5.
_STATES = 64
_REG = np.arange(128)  # (input << 6) | state
_OUT = np.stack([_parity(_REG & p) for p in _CODE_POLYS], axis=1)  # (128, 2)
_EVEN = np.arange(0, 128, 2)


def _encode(info: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Convolutional encoding of ``info`` followed by the zero tail."""
    bits = np.concatenate([np.asarray(info, np.int64), np.zeros(_TAIL_BITS, np.int64)])
    out = np.empty((bits.size, 2), np.uint8)
    state = 0
    for t, u in enumerate(bits):
        reg = (int(u) << 6) | state
        out[t] = _OUT[reg]
        state = reg >> 1
    return out.reshape(-1)


def _viterbi(soft: NDArray[np.float64]) -> NDArray[np.uint8]:
    """Soft-decision Viterbi decoding; ``soft > 0`` means coded bit 0."""
    steps = soft.size // 2
    pairs = soft.reshape(steps, 2)
    signs = 1.0 - 2.0 * _OUT  # (128, 2)
    metric = np.full(_STATES, -np.inf)
    metric[0] = 0.0
    choices = np.empty((steps, _STATES), np.int64)  # winning register per next state
    for t in range(steps):
        cand = metric[_REG & 63] + signs @ pairs[t]  # (128,)
        # Registers 2s and 2s + 1 both lead to next state s.
        even, odd = cand[0::2], cand[1::2]
        take_odd = odd > even
        metric = np.where(take_odd, odd, even)
        choices[t] = _EVEN + take_odd
    state = 0  # the zero tail ends the trellis in state 0
    bits = np.empty(steps, np.uint8)
    for t in range(steps - 1, -1, -1):
        reg = choices[t, state]
        bits[t] = reg >> 6
        state = reg & 63
    return bits[: steps - _TAIL_BITS]


# ------------------------------------------------------------------- pattern


@dataclass(frozen=True)
class _Carriers:
    """Keyed carriers on the band bins of a ``_TILE`` x ``_TILE`` tile.

    ky, kx : int arrays of the (signed) bin frequencies, cycles per tile; kx > 0,
        so each bin stands for itself and its complex conjugate.
    spectra : complex128 (_CODED_BITS, bins); each row is the rfft2 of a real
        carrier with unit energy (sum of squares over the tile); the carriers are
        orthonormal.
    """

    ky: NDArray[np.int64]
    kx: NDArray[np.int64]
    spectra: NDArray[np.complex128]


def _keyed_uniform(key: bytes, label: bytes, count: int) -> NDArray[np.float64]:
    """``count`` uniform numbers in (0, 1) from SHAKE-256 (stable forever)."""
    raw = hashlib.shake_256(b"enliven-wm\0" + label + b"\0" + key).digest(4 * count)
    words = np.frombuffer(raw, ">u4").astype(np.float64)
    return (words + 0.5) / 2.0**32


_CARRIER_CACHE: dict[bytes, _Carriers] = {}


def _carriers(key: bytes) -> _Carriers:
    if key in _CARRIER_CACHE:
        return _CARRIER_CACHE[key]
    ky_all = np.fft.fftfreq(_TILE, 1.0 / _TILE).astype(np.int64)
    kx_all = np.arange(_TILE // 2 + 1)
    ky, kx = (a.ravel() for a in np.meshgrid(ky_all, kx_all, indexing="ij"))
    radius = np.hypot(ky, kx)
    keep = (
        (radius >= _BAND_CYCLES[0])
        & (radius <= _BAND_CYCLES[1])
        & (np.abs(ky) >= _AXIS_GAP)
        & (kx >= _AXIS_GAP)
    )
    ky, kx = ky[keep], kx[keep]
    bins = ky.size
    # Gaussian real vectors (Box-Muller on keyed uniforms), then Gram-Schmidt
    # with a positive diagonal, which makes the result unique.
    u = _keyed_uniform(key, b"carriers", 4 * _CODED_BITS * bins).reshape(2, -1)
    gauss = np.sqrt(-2.0 * np.log(u[0])) * np.cos(2.0 * np.pi * u[1])
    q, r = np.linalg.qr(gauss.reshape(2 * bins, _CODED_BITS))
    q *= np.sign(np.diag(r))
    vectors = q.T  # (_CODED_BITS, 2 * bins), orthonormal rows
    # A real tile with rfft2 coefficients X on bins with kx > 0 has energy
    # (2 / T^2) * sum |X|^2, so X = T / sqrt(2) * (re + i im) gives unit energy.
    spectra = (vectors[:, :bins] + 1j * vectors[:, bins:]) * (_TILE / math.sqrt(2.0))
    carriers = _Carriers(ky=ky, kx=kx, spectra=spectra)
    _CARRIER_CACHE[key] = carriers
    return carriers


def _tile(spectrum: NDArray[np.complex128], ky: NDArray[np.int64],
          kx: NDArray[np.int64], side: int) -> NDArray[np.float64]:
    """The real tile of ``side`` pixels whose band bins are ``spectrum``."""
    grid = np.zeros((side, side // 2 + 1), np.complex128)
    ok = (np.abs(ky) < side / 2) & (kx < side / 2)  # drop what a small tile can't hold
    grid[ky[ok] % side, kx[ok]] = spectrum[ok]
    return np.fft.irfft2(grid, s=(side, side))


def _pattern(key: bytes, payload: Payload, size_wh: tuple[int, int]) -> NDArray[np.float64]:
    """The mark at ``size_wh`` with unit RMS per tile: the keyed tile, repeated."""
    width, height = size_wh
    carriers = _carriers(key)
    signs = 1.0 - 2.0 * _encode(payload.to_bits())
    spectrum = signs @ carriers.spectra
    period = height / _TILES_PER_HEIGHT
    side = max(int(math.ceil(period - 1e-9)), 16)
    tile = _tile(spectrum, carriers.ky, carriers.kx, side)
    tile /= tile.std()
    reps = (int(math.ceil(height / side)) + 1, int(math.ceil(width / side)) + 1)
    tiled = np.tile(tile, reps)
    if side == period:
        return tiled[:height, :width]
    scale = period / side  # shrink a slightly larger tile to the exact period
    matrix = np.array([[scale, 0.0, 0.0], [0.0, scale, 0.0]])
    return cv2.warpAffine(tiled, matrix, (width, height), flags=cv2.INTER_LINEAR)


# ------------------------------------------------------------------- embedding


class Watermarker:
    """Adds the mark to frames of one size; build once per output size.

    Parameters
    ----------
    size_wh : (int, int)
        Width and height of the frames to mark.
    payload : Payload
        What the mark says.
    strength : float
        RMS of the added luma pattern in 8-bit code values (before clipping);
        the default gives a PSNR of about 44 dB.
    key : bytes
        Pattern key; the detector needs the same key.

    Raises
    ------
    ConfigError
        If the size or the strength is out of range.
    """

    def __init__(
        self,
        size_wh: tuple[int, int],
        payload: Payload,
        *,
        strength: float = DEFAULT_STRENGTH,
        key: bytes = DEFAULT_KEY,
    ) -> None:
        width, height = (int(v) for v in size_wh)
        if width < 16 or height < 16:
            raise ConfigError(f"size_wh must be at least 16x16, got {width}x{height}")
        if not 0 < strength <= 16:
            raise ConfigError(f"strength must be in (0, 16], got {strength}")
        self.size_wh = (width, height)
        self.payload = payload
        levels = np.rint(_pattern(key, payload, self.size_wh) * strength)
        levels = np.clip(levels, -255, 255).astype(np.int16)
        # Saturating add then subtract of the positive and negative parts is the
        # cheapest clipped signed add for uint8 (two cv2 calls, no temporaries).
        self._plus = np.repeat(np.clip(levels, 0, 255).astype(np.uint8)[..., None], 3, 2)
        self._minus = np.repeat(np.clip(-levels, 0, 255).astype(np.uint8)[..., None], 3, 2)
        log.debug("watermark pattern %dx%d, rms %.2f", width, height, levels.std())

    def mark(self, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """Return a marked copy of ``rgb`` ((H, W, 3) uint8 of ``size_wh``).

        The input is not modified.

        Raises
        ------
        ValueError
            If the frame has another shape or type.
        """
        width, height = self.size_wh
        if rgb.shape != (height, width, 3) or rgb.dtype != np.uint8:
            raise ValueError(
                f"frame must be a ({height}, {width}, 3) uint8 array, "
                f"got {rgb.shape} {rgb.dtype}"
            )
        out = cv2.add(rgb, self._plus)
        return cv2.subtract(out, self._minus, dst=out)


# ------------------------------------------------------------------- detection


@dataclass(frozen=True)
class Detection:
    """What :class:`WatermarkDetector` found.

    found : the mark is present (family-wise false-positive rate 1e-6).
    payload : the decoded payload when its magic and CRC check, else ``None``
        (a mark can be found whose payload is too damaged to read).
    confidence : one-sided standard-normal quantile (z-score) of the family-wise
        p-value that unmarked media scores this high; ``found`` is
        ``confidence >= Z_THRESHOLD`` (4.753); 0 when that p-value is >= 0.5.
    frames_used : frames averaged.
    bit_errors_corrected : coded bits whose hard decision differed from the
        decoded codeword (errors the code corrected); ``None`` without a payload.
    statistic_z : the chi-square statistic at the best (scale, shift) as a
        one-sided z-score *before* the correction for the search (compare with
        ``TEST_Z_THRESHOLD``).
    scale : tile size found, relative to the nominal size for the frame height
        (1.25 after cropping 10 % from each side).
    """

    found: bool
    payload: Payload | None
    confidence: float
    frames_used: int
    bit_errors_corrected: int | None
    statistic_z: float = 0.0
    scale: float = 1.0


TEST_Z_THRESHOLD = _z_from_logp(math.log(FALSE_POSITIVE_RATE / _SEARCH_TESTS))
"""``statistic_z`` at or above which a mark is found (the Bonferroni threshold)."""


@dataclass(frozen=True)
class _Fold:
    """Whitened band of the folded tile at one scale."""

    scale: float
    spectrum: NDArray[np.complex128]  # F / N on the band bins
    inv_noise: NDArray[np.float64]  # 1 / N on the band bins


@dataclass(frozen=True)
class _Score:
    logp: float  # log p-value of the chi-square statistic (one test)
    z: NDArray[np.float64]  # per-carrier whitened correlations
    shift: tuple[int, int]
    scale: float


class WatermarkDetector:
    """Accumulates frames of one video (or one image) and looks for the mark.

    Parameters
    ----------
    key : bytes
        Pattern key used by the :class:`Watermarker`.
    """

    def __init__(self, key: bytes = DEFAULT_KEY) -> None:
        self._carriers = _carriers(key)
        car = self._carriers
        known = 1.0 - 2.0 * _encode(Payload((0, 0, 0), 0).to_bits())[:_KNOWN_CODED]
        self._sync = known @ car.spectra[:_KNOWN_CODED]
        self._sum: NDArray[np.float64] | None = None
        self._frames = 0
        self._input_hw: tuple[int, int] | None = None

    @property
    def frames_used(self) -> int:
        """Frames accumulated so far."""
        return self._frames

    def add(self, rgb: NDArray[np.uint8]) -> None:
        """Accumulate one (H, W, 3) uint8 RGB frame; every frame has the same size.

        Raises
        ------
        ValueError
            If the frame is not (H, W, 3) uint8 or its size differs from the first.
        """
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"frame must be (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}")
        if self._input_hw is None:
            self._input_hw = rgb.shape[:2]
        elif rgb.shape[:2] != self._input_hw:
            raise ValueError(
                f"frame size {rgb.shape[1]}x{rgb.shape[0]} differs from the first "
                f"frame's {self._input_hw[1]}x{self._input_hw[0]}"
            )
        gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        height = gray.shape[0]
        luma = gray.astype(np.float32)
        if height > _WORK_H:
            f = _WORK_H / height
            luma = cv2.resize(luma, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        if self._sum is None:
            self._sum = luma.astype(np.float64)
        else:
            self._sum += luma
        self._frames += 1

    # ----------------------------------------------------------------- search

    def _fold(self, mean: NDArray[np.float32], scale: float) -> _Fold | None:
        """Resize so the tile is ``_TILE`` px at ``scale``, high-pass, fold, whiten."""
        f = _CANON_H / (scale * mean.shape[0])
        image = cv2.resize(
            mean, None, fx=f, fy=f,
            interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR,
        )  # fmt: skip
        height, width = image.shape
        if min(height, width) < 4 * _TAPER:
            return None
        image = image - cv2.GaussianBlur(image, (0, 0), _HIGHPASS_SIGMA)
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(_TAPER) + 0.5) / _TAPER)
        wy = np.ones(height, np.float32)
        wy[:_TAPER], wy[-_TAPER:] = ramp, ramp[::-1]
        wx = np.ones(width, np.float32)
        wx[:_TAPER], wx[-_TAPER:] = ramp, ramp[::-1]
        image *= wy[:, None] * wx[None, :]
        ny, nx = -(-height // _TILE), -(-width // _TILE)
        padded = np.zeros((ny * _TILE, nx * _TILE), np.float32)
        padded[:height, :width] = image
        folded = padded.reshape(ny, _TILE, nx, _TILE).sum(axis=(0, 2))
        spectrum = np.fft.rfft2(folded.astype(np.float64))
        power = np.fft.fftshift(np.abs(spectrum) ** 2, axes=0)
        power = cv2.blur(power, (_SMOOTH_BINS, _SMOOTH_BINS), borderType=cv2.BORDER_REFLECT)
        power = np.fft.ifftshift(power, axes=0)
        car = self._carriers
        noise = power[car.ky % _TILE, car.kx] + 1e-12
        band = spectrum[car.ky % _TILE, car.kx]
        return _Fold(scale=scale, spectrum=band / noise, inv_noise=1.0 / noise)

    def _surface(self, fold: _Fold, template: NDArray[np.complex128]) -> NDArray[np.float64]:
        """Normalised correlation of ``template`` with the fold at every cyclic shift."""
        car = self._carriers
        grid = np.zeros(template.shape[:-1] + (_TILE, _TILE // 2 + 1), np.complex128)
        grid[..., car.ky % _TILE, car.kx] = fold.spectrum * np.conj(template)
        sigma = np.sqrt(0.5 * (np.abs(template) ** 2 * fold.inv_noise).sum(-1))
        surf = np.fft.irfft2(grid, s=(_TILE, _TILE)) * (_TILE * _TILE / 2.0)
        return surf / sigma[..., None, None]

    def _score(self, fold: _Fold, shift: tuple[int, int]) -> _Score:
        """Chi-square test of all carriers at one shift, with their exact covariance."""
        car = self._carriers
        dy, dx = shift
        phase = np.exp(2j * np.pi * (car.ky * dy + car.kx * dx) / _TILE)
        weighted = car.spectra * np.sqrt(fold.inv_noise)
        gram = 0.5 * (weighted @ weighted.conj().T).real
        sigma = np.sqrt(np.diag(gram))
        z = (np.conj(car.spectra) @ (fold.spectrum * phase)).real / sigma
        gram /= sigma[:, None] * sigma[None, :]
        q = float(z @ np.linalg.solve(gram, z))
        logp = float(stats.chi2.logsf(q, _CODED_BITS))
        return _Score(logp=logp, z=z, shift=(dy % _TILE, dx % _TILE), scale=fold.scale)

    def result(self) -> Detection:
        """Search the accumulated frames for the mark and decode its payload."""
        if self._sum is None:
            return Detection(False, None, 0.0, 0, None)
        mean = (self._sum / self._frames).astype(np.float32)
        lo, hi = (math.log(v) for v in _SCALE_RANGE)
        coarse = np.exp(np.arange(lo, hi + 1e-9, _COARSE_STEP))
        peaks: list[tuple[float, float, tuple[int, int]]] = []
        best: _Score | None = None
        for scale in coarse:
            fold = self._fold(mean, float(scale))
            if fold is None:
                continue
            surf = self._surface(fold, self._sync)
            idx = int(np.argmax(surf))
            peaks.append((float(surf.flat[idx]), float(scale), divmod(idx, _TILE)))
        # The nominal scale (no crop) gets the full statistic at every shift.
        fold = self._fold(mean, 1.0)
        if fold is not None:
            chi = (self._surface(fold, self._carriers.spectra) ** 2).sum(0)
            idx = int(np.argmax(chi))
            best = self._refine(mean, 1.0, divmod(idx, _TILE), steps=0)
        peaks.sort(reverse=True)
        for _, scale, shift in peaks[:_CANDIDATES]:
            score = self._refine(mean, scale, shift, steps=int(_COARSE_STEP / _FINE_STEP))
            if best is None or score.logp < best.logp:
                best = score
        if best is None:
            return Detection(False, None, 0.0, self._frames, None)
        return self._decide(best)

    def _refine(self, mean: NDArray[np.float32], scale: float, shift: tuple[int, int],
                steps: int) -> _Score:
        best: _Score | None = None
        for k in range(-steps, steps + 1):
            s = scale * math.exp(k * _FINE_STEP)
            fold = self._fold(mean, s)
            if fold is None:
                continue
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    score = self._score(fold, (shift[0] + dy, shift[1] + dx))
                    if best is None or score.logp < best.logp:
                        best = score
        assert best is not None
        return best

    def _decide(self, best: _Score) -> Detection:
        family_logp = best.logp + math.log(_SEARCH_TESTS)
        confidence = max(0.0, _z_from_logp(family_logp))
        found = family_logp <= math.log(FALSE_POSITIVE_RATE)
        payload, corrected = None, None
        if found:
            bits = _viterbi(best.z)
            payload = Payload.from_bits(bits)
            if payload is not None:
                coded = _encode(bits)
                corrected = int(((best.z < 0) != coded.astype(bool)).sum())
        return Detection(
            found=found, payload=payload, confidence=confidence,
            frames_used=self._frames, bit_errors_corrected=corrected,
            statistic_z=_z_from_logp(best.logp), scale=best.scale,
        )  # fmt: skip
