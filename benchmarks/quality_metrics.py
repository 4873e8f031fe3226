"""Quality metrics for ``bench_quality.py``: pure functions of frames and landmarks.

Units: images are (H, W, 3) uint8 RGB; landmarks are (478, 3) float arrays in
pixels (MediaPipe's layout); a landmark *sequence* is (T, 478, 3) with NaN rows
for frames in which the face was not found. "IOD" is the inter-ocular distance,
:func:`enliven.motion.measures.eye_distance` (outer eye corners).
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from enliven.face import topology as topo
from enliven.motion import measures
from enliven.motion.pose import euler_deg, fit_stable

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), pixels

# The per-frame signals correlated between driver and output, and a typical
# range of each over an expressive clip (IOD units, eye-width units or degrees).
# A driver whose signal has a standard deviation under NEUTRAL_SHARE of that
# range barely uses it in the clip: its r would be noise, so it is not reported.
SIGNAL_RANGE = {
    "mouth_open": 0.30,  # inner-lip gap / IOD
    "mouth_width": 0.20,  # mouth-corner distance / IOD
    "eye_right": 0.25,  # lid gap / eye width
    "eye_left": 0.25,
    "brow": 0.10,  # brow height / IOD
    "gaze_x": 0.20,  # iris offset / eye width
    "gaze_y": 0.10,
    "yaw": 20.0,  # degrees, change from the first frame
    "pitch": 15.0,
    "roll": 10.0,
}
SIGNALS = tuple(SIGNAL_RANGE)
NEUTRAL_SHARE = 0.1
MAX_LAG = 5  # frames searched either way for the lip lag
OPEN_SHARE = 0.75  # an eye is open at this share of its median opening


# --------------------------------------------------------------- image metrics


def luma(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """BT.601 luma (0..255) of an RGB image."""
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    return rgb.astype(np.float32) @ weights


def psnr(a: NDArray[np.uint8], b: NDArray[np.uint8], mask: NDArray[np.bool_]) -> float:
    """PSNR in dB over the pixels where ``mask`` is true (all channels)."""
    diff = a.astype(np.float64)[mask] - b.astype(np.float64)[mask]
    mse = float((diff**2).mean()) if diff.size else float("nan")
    return float("inf") if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def l1(a: NDArray[np.uint8], b: NDArray[np.uint8], mask: NDArray[np.bool_]) -> float:
    """Mean absolute difference (0..255 levels) over the pixels of ``mask``."""
    diff = np.abs(a.astype(np.float32)[mask] - b.astype(np.float32)[mask])
    return float(diff.mean()) if diff.size else float("nan")


def ssim(a: NDArray[np.uint8], b: NDArray[np.uint8], mask: NDArray[np.bool_]) -> float:
    """Mean SSIM of the lumas over ``mask`` (Wang et al. 2004; Gaussian 11x11, 1.5)."""
    x, y = luma(a).astype(np.float64), luma(b).astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(img: NDArray[np.float64]) -> NDArray[np.float64]:
        return cv2.GaussianBlur(img, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    num = (2 * mx * my + c1) * (2 * cxy + c2)
    den = (mx * mx + my * my + c1) * (vx + vy + c2)
    values = (num / den)[mask]
    return float(values.mean()) if values.size else float("nan")


def pad_box(
    landmarks: NDArray[np.floating], share: float, size_wh: tuple[int, int]
) -> Box:
    """The landmarks' bounding box grown by ``share`` of its size on each side."""
    x0, y0 = landmarks[:, :2].min(axis=0)
    x1, y1 = landmarks[:, :2].max(axis=0)
    dx, dy = (x1 - x0) * share, (y1 - y0) * share
    w, h = size_wh
    return (
        max(0, int(x0 - dx)),
        max(0, int(y0 - dy)),
        min(w, math.ceil(x1 + dx)),
        min(h, math.ceil(y1 + dy)),
    )


@dataclass(frozen=True)
class ImageScores:
    """Self-reenactment scores of one frame against the ground truth."""

    psnr: float
    ssim: float
    l1: float
    face_psnr: float
    face_ssim: float
    face_l1: float


def image_scores(
    out: NDArray[np.uint8],
    truth: NDArray[np.uint8],
    valid: NDArray[np.bool_],
    face: Box,
) -> ImageScores:
    """PSNR, SSIM, L1 on the frame and on the face box, over ``valid`` pixels."""
    x0, y0, x1, y1 = face
    crop = (slice(y0, y1), slice(x0, x1))
    a, b, m = out[crop], truth[crop], valid[crop]
    return ImageScores(
        psnr(out, truth, valid),
        ssim(out, truth, valid),
        l1(out, truth, valid),
        psnr(a, b, m),
        ssim(a, b, m),
        l1(a, b, m),
    )


# ------------------------------------------------------------ landmark metrics


def sequence(landmarks: list[NDArray[np.floating] | None]) -> NDArray[np.float64]:
    """Per-frame landmarks (None = not found) as a (T, 478, 3) array, NaN for None."""
    out = np.full((len(landmarks), 478, 3), np.nan)
    for k, lm in enumerate(landmarks):
        if lm is not None:
            out[k] = lm
    return out


def found(seq: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Which frames of a sequence have a face."""
    return ~np.isnan(seq[:, 0, 0])


def iod(seq: NDArray[np.float64]) -> NDArray[np.float64]:
    """Inter-ocular distance per frame (NaN where lost)."""
    return np.array(
        [
            measures.eye_distance(lm) if ok else np.nan
            for lm, ok in zip(seq, found(seq), strict=True)
        ]
    )


def landmark_distance(
    out: NDArray[np.float64], truth: NDArray[np.float64]
) -> tuple[float, float]:
    """Mean L2 distance of the 478 landmarks (x, y), in IOD of ``truth`` and in px.

    Averaged over frames in which both faces were found.
    """
    both = found(out) & found(truth)
    if not both.any():
        return float("nan"), float("nan")
    dist = np.linalg.norm(out[both, :, :2] - truth[both, :, :2], axis=2).mean(axis=1)
    return float((dist / iod(truth)[both]).mean()), float(dist.mean())


def signals(seq: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    """Per-frame expression and pose signals of a landmark sequence (NaN where lost).

    Pose is the rotation from the first frame with a face (rigid points,
    :func:`enliven.motion.pose.fit_stable`) as yaw, pitch, roll in degrees.
    """
    ok = found(seq)
    out = {name: np.full(len(seq), np.nan) for name in SIGNALS}
    if not ok.any():
        return out
    first = seq[int(np.argmax(ok))]
    for k in np.flatnonzero(ok):
        lm = seq[k]
        expr = measures.Expression.of(lm)
        yaw, pitch, roll = euler_deg(fit_stable(first, lm).rotation)
        values = {
            "mouth_open": expr.mouth_open,
            "mouth_width": expr.mouth_width,
            "eye_right": expr.eye_right,
            "eye_left": expr.eye_left,
            "brow": expr.brow,
            "gaze_x": expr.gaze_x,
            "gaze_y": expr.gaze_y,
            "yaw": yaw,
            "pitch": pitch,
            "roll": roll,
        }
        for name, value in values.items():
            out[name][k] = value
    return out


def open_eyed(driver: dict[str, NDArray[np.float64]]) -> NDArray[np.bool_]:
    """Frames in which both of the driver's eyes are open: each at least
    OPEN_SHARE of its median opening in the clip.

    Gaze is read from the iris against the lids, so while an eye closes it
    follows the lids, not the eye: on the shared drivers "gaze y" shifts by
    0.02-0.04 eye widths in blinks, two to four times its open-eye spread.
    Gaze is compared only on these frames.
    """
    ok = np.ones(len(driver["eye_right"]), bool)
    for name in ("eye_right", "eye_left"):
        values = driver[name]
        if np.isnan(values).all():
            return ~ok
        ok &= values >= OPEN_SHARE * np.nanmedian(values)  # NaN compares False
    return ok


def gaze_on_open_eyes(
    driver: dict[str, NDArray[np.float64]], output: dict[str, NDArray[np.float64]]
) -> None:
    """Set gaze to NaN, in both, on frames where the driver's eyes are not open."""
    closed = ~open_eyed(driver)
    for signals_ in (driver, output):
        for name in ("gaze_x", "gaze_y"):
            values = signals_[name].copy()
            n = min(len(values), len(closed))
            values[:n][closed[:n]] = np.nan
            signals_[name] = values


def varies(driver: NDArray[np.float64], name: str) -> bool:
    """Whether the driver uses signal ``name`` enough in the clip for r to mean much."""
    values = driver[~np.isnan(driver)]
    return (
        values.size > 10 and float(values.std()) >= NEUTRAL_SHARE * SIGNAL_RANGE[name]
    )


def pearson(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """Pearson r over frames where both are defined; 0 if one side is constant."""
    both = ~np.isnan(a) & ~np.isnan(b)
    if both.sum() < 3:
        return float("nan")
    x, y = a[both] - a[both].mean(), b[both] - b[both].mean()
    den = math.sqrt(float((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / den) if den > 0 else 0.0


def lip_lag(
    driver: NDArray[np.float64], output: NDArray[np.float64], max_lag: int = MAX_LAG
) -> tuple[int, float]:
    """Frames by which ``output`` trails ``driver`` (positive = output late), and its r.

    The lag in -max_lag..max_lag that maximises the Pearson r of
    ``driver[t]`` and ``output[t + lag]``.
    """
    best, best_r = 0, -2.0
    n = len(driver)
    for lag in range(-max_lag, max_lag + 1):
        lo, hi = max(0, -lag), min(n, n - lag)
        if hi - lo < 10:
            continue
        r = pearson(driver[lo:hi], output[lo + lag : hi + lag])
        if not math.isnan(r) and r > best_r:
            best, best_r = lag, r
    return best, best_r


def jitter(seq: NDArray[np.float64]) -> float:
    """Landmark jitter of a sequence, in IOD per frame squared.

    Every frame is aligned to the first frame with a face by a similarity fit on
    the rigid points (removing head pose); jitter is the median, over frames, of
    the mean over the 478 landmarks of the norm of the second temporal
    difference ``p[t+1] - 2 p[t] + p[t-1]`` (x, y), divided by the first frame's
    IOD. Triples with a lost frame are skipped. Real motion adds to it too, but
    the median over frames mostly sees tracker noise and render shimmer.
    """
    ok = found(seq)
    if ok.sum() < 3:
        return float("nan")
    first = seq[int(np.argmax(ok))]
    aligned = np.full_like(seq, np.nan)
    for k in np.flatnonzero(ok):
        aligned[k] = fit_stable(seq[k], first).apply(seq[k])
    second = aligned[2:, :, :2] - 2 * aligned[1:-1, :, :2] + aligned[:-2, :, :2]
    per_frame = np.linalg.norm(second, axis=2).mean(axis=1)
    per_frame = per_frame[~np.isnan(per_frame)]
    if not per_frame.size:
        return float("nan")
    return float(np.median(per_frame) / measures.eye_distance(first))


# -------------------------------------------------------------- still background


def background_region(
    person: NDArray[np.float32], landmarks: NDArray[np.floating]
) -> NDArray[np.bool_]:
    """Pixels of a portrait that are background and far from the person.

    ``person`` is the selfie segmentation (0..1) of the portrait. Background is
    ``person < 0.5`` outside the person mask grown by a quarter IOD and outside
    the landmarks' convex hull grown by one IOD (so hair that the segmentation
    misses, and the soft edge where hair may follow the head, stay out).
    """
    h, w = person.shape
    unit = max(4, round(measures.eye_distance(landmarks)))
    body = (person >= 0.5).astype(np.uint8)
    body = cv2.dilate(
        body, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (unit // 2 + 1,) * 2)
    )
    face = np.zeros((h, w), np.uint8)
    hull = cv2.convexHull(np.round(landmarks[:, :2]).astype(np.int32))
    cv2.fillConvexPoly(face, hull, 1)
    face = cv2.dilate(
        face, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * unit + 1,) * 2)
    )
    return (person < 0.5) & (body == 0) & (face == 0)


def frame_change(
    a: NDArray[np.uint8], b: NDArray[np.uint8], region: NDArray[np.bool_]
) -> float:
    """Mean absolute luma change (0..255 levels) between two frames over ``region``."""
    return float(np.abs(luma(a)[region] - luma(b)[region]).mean())


# -------------------------------------------------------------------- identity


def dlib_models() -> Path | None:
    """The folder of face_recognition_models' .dat files, or None if not installed.

    The package's own helpers import ``pkg_resources`` (gone from setuptools >= 81),
    so its folder is found without importing it.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    return folder if folder.is_dir() else None


class Identity:
    """dlib's 128-D face descriptor (ResNet, 5-point alignment) of tracked faces.

    dlib's own detector misses painted and cartoon faces, so the face rectangle
    comes from our tracker's landmarks: brows to chin, face-oval sides (close to
    the rectangles dlib's detector gives on photos).
    """

    def __init__(self, models: Path) -> None:
        import dlib

        self._shape = dlib.shape_predictor(
            str(models / "shape_predictor_5_face_landmarks.dat")
        )
        self._net = dlib.face_recognition_model_v1(
            str(models / "dlib_face_recognition_resnet_model_v1.dat")
        )
        self._rectangle = dlib.rectangle

    @classmethod
    def load(cls) -> tuple[Identity | None, str]:
        """The model, or None and the reason it is missing."""
        models = dlib_models()
        if importlib.util.find_spec("dlib") is None or models is None:
            return None, (
                "dlib or face_recognition_models is not installed "
                "(pip install -e '.[bench]'); the identity columns are skipped"
            )
        return cls(models), ""

    def descriptor(
        self, rgb: NDArray[np.uint8], landmarks: NDArray[np.floating]
    ) -> NDArray[np.float64]:
        """The 128-D descriptor of the face with these landmarks."""
        x0, _ = landmarks[:, :2].min(axis=0)
        x1, y1 = landmarks[:, :2].max(axis=0)
        top = landmarks[list(topo.RIGHT_BROW + topo.LEFT_BROW), 1].min()
        rect = self._rectangle(int(x0), int(top), int(x1), int(y1))
        image = np.ascontiguousarray(rgb)
        return np.asarray(
            self._net.compute_face_descriptor(image, self._shape(image, rect))
        )


def identity_distance(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """Euclidean distance of two descriptors (dlib: same person below about 0.6)."""
    return float(np.linalg.norm(a - b))


# Mouth openings (inner-lip gap / IOD) read as wide open and as shut, and the
# largest head turn between two frames compared, for open_shut_distances.
WIDE_OPEN, SHUT, SAME_POSE_DEG = 0.30, 0.05, 10.0


def open_shut_distances(
    descriptors: dict[int, NDArray[np.float64]], seq: NDArray[np.float64]
) -> list[float]:
    """One real person's identity distance between a wide-open mouth and a shut one.

    Every pair of frames of ``descriptors`` (frame index -> dlib descriptor;
    ``seq`` the clip's landmark sequence) with the mouth at least ``WIDE_OPEN``
    open in one and at most ``SHUT`` in the other, and the head turned at most
    ``SAME_POSE_DEG`` between them. A portrait caught with its mouth wide open
    (a shout) and animated to talk and close is that far from itself when
    rendered faithfully: a yardstick for its identity distance.
    """
    from enliven.motion.pose import rotation_angle_deg

    frames = [k for k in sorted(descriptors) if k < len(seq) and not np.isnan(seq[k, 0, 0])]
    opening = {k: measures.mouth_opening(seq[k]) for k in frames}
    wide = [k for k in frames if opening[k] >= WIDE_OPEN]
    shut = [k for k in frames if opening[k] <= SHUT]
    return [
        identity_distance(descriptors[a], descriptors[b])
        for a in wide
        for b in shut
        if rotation_angle_deg(fit_stable(seq[a], seq[b]).rotation) <= SAME_POSE_DEG
    ]
