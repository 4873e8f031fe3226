"""Find the face of a still portrait, trying harder when the plain way fails.

The plain way is the full-range detector, then the face mesh on a crop around
the chosen face. Small, dim, tilted or stylised portraits can defeat it, so a
short, fixed ladder of retries follows; the first face found that also looks
human (:mod:`enliven.face.humanlike`) is kept:

1. ``plain``       detector, then mesh on a crop around the face
2. ``upscaled``    the same on the image upscaled to 512 px (small images only)
3. ``contrast``    the same after CLAHE on the lightness (L of Lab)
4. ``rotated±15``, ``rotated±30``  the same on the image turned in its plane;
   the landmarks are turned back
5. ``crop-detect`` the detector again on a square crop around the detected
   face (or the image centre, when nothing was detected), where it looks larger
6. ``centre-mesh`` the mesh alone (with its own short-range detector) on the
   centred square crop; kept only if the full-range detector confirms a face
   there once the crop around it is turned upright (the mesh's own detector
   also fires on cats' eyes and upside-down faces)

A step costs a detector and a mesh pass, 10-40 ms on 2 cores; all the steps
together measured 90-370 ms on the shared portraits (most for the 1080x1438 cat,
where nothing is found). Only a failed plain step pays for them. The ladder is
deterministic: same image, same step, same landmarks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from enliven.errors import NoFaceError
from enliven.face.humanlike import Verdict, judge
from enliven.face.topology import LEFT_EYE_CORNERS, RIGHT_EYE_CORNERS
from enliven.face.tracker import FaceTracker, choose_face
from enliven.types import FaceObservation

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = RIGHT_EYE_CORNERS[0], LEFT_EYE_CORNERS[0]

UPSCALE_BELOW = 512  # px, long side; smaller portraits are retried at this size
ROTATIONS_DEG = (15.0, -15.0, 30.0, -30.0)  # in-plane turns tried, in this order
CLAHE_CLIP = 2.0  # CLAHE clip limit (OpenCV units); 8x8 tiles
CROP_SCALE = 3.0  # side of the crop around a detection / the detection's side


@dataclass(frozen=True)
class PortraitFace:
    """The face chosen in a portrait and how it was found.

    observation : landmarks (478, 3) in pixels of the portrait, and their box.
    rung : the ladder step that found it (``"plain"`` when nothing extra was
        needed; ``"user"`` for landmarks given by the user).
    verdict : the human-face check of the landmarks (None when not checked).
    """

    observation: FaceObservation
    rung: str
    verdict: Verdict | None = None


def _box_of(landmarks: NDArray[np.floating]) -> Box:
    x0, y0 = landmarks[:, :2].min(axis=0)
    x1, y1 = landmarks[:, :2].max(axis=0)
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


def _observation(landmarks: NDArray[np.floating]) -> FaceObservation:
    points = np.ascontiguousarray(landmarks, dtype=np.float32)
    return FaceObservation(points, _box_of(points))


def _pick(boxes: list[Box], face_index: int | None) -> Box | None:
    """The ``face_index``-th largest box (largest if None), or None."""
    ordered = sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)
    k = face_index or 0
    return ordered[k] if k < len(ordered) else None


def _square(rgb: NDArray[np.uint8], x0: int, y0: int, side: int) -> NDArray[np.uint8]:
    """A ``side`` square of ``rgb`` from (x0, y0), zero-padded where it leaves it."""
    h, w = rgb.shape[:2]
    out = np.zeros((side, side, 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
    return out


def rotate_image(
    rgb: NDArray[np.uint8], angle_deg: float
) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
    """``rgb`` turned counter-clockwise by ``angle_deg`` on a canvas that holds it
    all, and the 2x3 affine map from original to turned pixels."""
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    out_w, out_h = int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin))
    m[0, 2] += out_w / 2 - w / 2
    m[1, 2] += out_h / 2 - h / 2
    turned = cv2.warpAffine(rgb, m, (out_w, out_h), flags=cv2.INTER_LINEAR)
    return turned, m


def map_points(
    landmarks: NDArray[np.floating], affine: NDArray[np.floating]
) -> NDArray[np.float32]:
    """Landmarks with x, y moved by a 2x3 affine map (rotation + scale); z scaled
    by the map's scale."""
    out = np.array(landmarks, dtype=np.float64)
    a = np.asarray(affine, np.float64)
    out[:, :2] = out[:, :2] @ a[:, :2].T + a[:, 2]
    out[:, 2] *= float(np.sqrt(abs(np.linalg.det(a[:, :2]))))
    return out.astype(np.float32)


class _Ladder:
    """The retries, as named steps over one image (see the module docstring)."""

    def __init__(
        self,
        rgb: NDArray[np.uint8],
        tracker: FaceTracker,
        face_index: int | None,
        name: str,
    ) -> None:
        self.rgb = np.ascontiguousarray(rgb)
        self.tracker = tracker
        self.face_index = face_index
        self.name = name
        self.boxes: list[Box] = []  # what the plain detector found
        self.chosen: Box | None = None  # and the face chosen among them

    def rungs(self) -> Iterator[tuple[str, Callable[[], FaceObservation | None]]]:
        yield "plain", self.plain
        if max(self.rgb.shape[:2]) < UPSCALE_BELOW:
            yield "upscaled", self.upscaled
        yield "contrast", self.contrast
        for angle in ROTATIONS_DEG:
            yield f"rotated{angle:+.0f}", lambda a=angle: self.rotated(a)
        yield "crop-detect", self.crop_detect
        yield "centre-mesh", self.centre_mesh

    def _mesh(self, rgb: NDArray[np.uint8], box: Box | None) -> FaceObservation | None:
        if box is None:
            return None
        obs = self.tracker.landmarks_in_box(rgb, box)
        return None if obs is None else _observation(obs.landmarks)

    def _detect_and_mesh(self, rgb: NDArray[np.uint8]) -> FaceObservation | None:
        return self._mesh(rgb, _pick(self.tracker.detect(rgb), self.face_index))

    def plain(self) -> FaceObservation | None:
        self.boxes = self.tracker.detect(self.rgb)
        if not self.boxes:
            return None
        # choose_face warns about several faces and refuses a --face out of range.
        self.chosen = choose_face(self.boxes, self.face_index, self.name)
        return self._mesh(self.rgb, self.chosen)

    def upscaled(self) -> FaceObservation | None:
        scale = UPSCALE_BELOW / max(self.rgb.shape[:2])
        big = cv2.resize(
            self.rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC
        )
        obs = self._detect_and_mesh(big)
        back = np.array([[1 / scale, 0, 0], [0, 1 / scale, 0]])
        return None if obs is None else _observation(map_points(obs.landmarks, back))

    def contrast(self) -> FaceObservation | None:
        lab = cv2.cvtColor(self.rgb, cv2.COLOR_RGB2LAB)
        clahe = cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=(8, 8))
        lab[..., 0] = clahe.apply(lab[..., 0])
        return self._detect_and_mesh(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB))

    def rotated(self, angle_deg: float) -> FaceObservation | None:
        turned, affine = rotate_image(self.rgb, angle_deg)
        obs = self._detect_and_mesh(turned)
        if obs is None:
            return None
        return _observation(
            map_points(obs.landmarks, cv2.invertAffineTransform(affine))
        )

    def crop_detect(self) -> FaceObservation | None:
        h, w = self.rgb.shape[:2]
        if self.chosen is not None:
            x, y, bw, bh = self.chosen
            side = int(np.ceil(max(bw, bh) * CROP_SCALE))
            x0, y0 = round(x + bw / 2 - side / 2), round(y + bh / 2 - side / 2)
        else:
            side = min(h, w)
            x0, y0 = (w - side) // 2, (h - side) // 2
        box = _pick(self.tracker.detect(_square(self.rgb, x0, y0, side)), None)
        if box is None:
            return None
        return self._mesh(self.rgb, (box[0] + x0, box[1] + y0, box[2], box[3]))

    def centre_mesh(self) -> FaceObservation | None:
        h, w = self.rgb.shape[:2]
        side = min(h, w)
        x0, y0 = (w - side) // 2, (h - side) // 2
        # A box as large as the crop: the tracker meshes the whole square.
        obs = self._mesh(_square(self.rgb, x0, y0, side), (0.0, 0.0, side, side))
        if obs is None:
            return None
        shift = np.array([[1.0, 0.0, x0], [0.0, 1.0, y0]])
        return self._redetect(map_points(obs.landmarks, shift))

    def _redetect(self, guess: NDArray[np.float32]) -> FaceObservation | None:
        """The mesh's own detector also fires on animals' eyes and fur, so its face
        is kept only if the full-range detector sees a face there too, on a square
        crop around it turned upright; the mesh is then fitted in that face's box.
        """
        x, y, bw, bh = _box_of(guess)
        side = int(np.ceil(2.0 * max(bw, bh)))
        if side < 16:
            return None
        x0, y0 = round(x + bw / 2 - side / 2), round(y + bh / 2 - side / 2)
        eyes = guess[LEFT_EYE_OUTER, :2] - guess[RIGHT_EYE_OUTER, :2]
        roll_deg = float(np.degrees(np.arctan2(eyes[1], eyes[0])))
        upright, affine = rotate_image(_square(self.rgb, x0, y0, side), roll_deg)
        centre = np.array(upright.shape[1::-1]) / 2
        boxes = [b for b in self.tracker.detect(upright) if _contains(b, centre)]
        obs = self._mesh(upright, _pick(boxes, None))
        if obs is None:
            return None
        back = cv2.invertAffineTransform(affine)
        back[:, 2] += (x0, y0)
        return _observation(map_points(obs.landmarks, back))


def _contains(box: Box, point: NDArray[np.floating]) -> bool:
    x, y, w, h = box
    return bool(x <= point[0] <= x + w and y <= point[1] <= y + h)


def candidates(
    rgb: NDArray[np.uint8],
    tracker: FaceTracker,
    face_index: int | None = None,
    name: str = "the portrait",
) -> Iterator[tuple[str, FaceObservation | None]]:
    """Each ladder step's name and the face it finds (None: nothing), lazily.

    Raises
    ------
    NoFaceError
        From the plain step, when ``face_index`` asks for more faces than the
        detector finds.
    """
    ladder = _Ladder(rgb, tracker, face_index, name)
    for rung, step in ladder.rungs():
        yield rung, step()


def find_face(
    rgb: NDArray[np.uint8],
    tracker: FaceTracker,
    face_index: int | None = None,
    name: str = "the portrait",
    *,
    human_only: bool = True,
) -> PortraitFace:
    """The portrait's face: that of the first ladder step whose face looks human.

    With ``human_only=False`` the first face found is kept whatever it looks
    like (its verdict says what is wrong with it).

    Raises
    ------
    NoFaceError
        No step finds a face, or (``human_only``) no face found looks human; the
        message says which measure failed and how to override it.
    """
    started = time.perf_counter()
    refused: str | None = None  # why the first face found is not human
    ladder = _Ladder(rgb, tracker, face_index, name)
    for rung, step in ladder.rungs():
        obs = step()
        if obs is None:
            continue
        verdict = judge(obs.landmarks)
        if verdict.human or not human_only:
            found = PortraitFace(obs, rung, verdict)
            _log_found(found, name, started)
            return found
        log.info("%s: the %s step's face is refused: %s", name, rung, verdict.reason)
        refused = refused or verdict.reason
    if refused is not None:
        raise NoFaceError(
            f"the face found in {name} does not look like a human face "
            f"({refused}); pass --landmarks to override"
        )
    if ladder.boxes:
        raise NoFaceError(
            f"a face was detected in {name} but its landmarks could not be found; "
            "try a sharper, more frontal portrait, or pass --landmarks"
        )
    raise NoFaceError(
        f"no face found in {name}; use a clear, roughly frontal portrait "
        "(face at least 40 px tall), or pass --landmarks"
    )


def _log_found(found: PortraitFace, name: str, started: float) -> None:
    ms = (time.perf_counter() - started) * 1000
    if found.rung == "plain":
        log.info("%s: face found in %.0f ms", name, ms)
    else:
        log.info("%s: face found by the %s step in %.0f ms", name, found.rung, ms)
