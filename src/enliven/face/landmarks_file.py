"""Landmarks files: a portrait's 478 face-mesh points as JSON, read and written.

When the tracker misplaces a portrait's face (or refuses it as not human), give
Enliven the points yourself: ``enliven landmarks portrait.jpg -o points.json``
writes the tracker's points, fix them by hand, then ``enliven animate
portrait.jpg driver.mp4 -o out.mp4 --landmarks points.json``.

Format ``enliven-landmarks/1``::

    {
      "format": "enliven-landmarks/1",
      "image_size": [512, 512],
      "points": [[253.1, 170.4, -10.2], [254.0, 151.9, -21.7], ...]
    }

- ``image_size``: [width, height] of the portrait as stored on disk (EXIF
  orientation applied), before any resizing; it must match the portrait.
- ``points``: 478 points in MediaPipe Face Mesh order: the 468 mesh points, then
  the irises, 468-472 the subject's right iris (centre first, then four points
  on its rim) and 473-477 the left one. x, y in pixels of that image, origin at
  its top-left corner, y down; z, optional, is depth in the same pixel units,
  smaller is nearer the camera (MediaPipe's convention). Points without z get
  the depth of a reference face fitted to them.
- Other keys are ignored (notes are welcome).

A bare JSON list of 478 ``[x, y]`` or ``[x, y, z]`` points is also accepted
(then the image size is not checked). Every point must be finite and lie in the
image; a face cut by the image border may reach beyond it by at most half the
face's size. Any problem is an :class:`~enliven.errors.InputError` of one line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from enliven.errors import InputError, OutputError
from enliven.face.topology import N_LANDMARKS
from enliven.io.atomic import atomic_path

FORMAT = "enliven-landmarks/1"
MIN_FACE_PX = 8.0  # points spanning less than this look normalised (0..1)
BEYOND_BORDER = 0.5  # how far a cut face may leave the image, in face sizes


def read_landmarks(
    path: Path | str, image_size_wh: tuple[int, int]
) -> NDArray[np.float32]:
    """The points of a landmarks file, checked against the portrait's size.

    Returns
    -------
    ndarray of shape (478, 2) or (478, 3), float32
        x, y (and z when the file has it) in pixels of the portrait on disk.

    Raises
    ------
    InputError
        The file is missing, not JSON, not in the format above, or its points
        are the wrong number, not finite or outside the image.
    """
    path = Path(path)
    data = _load_json(path)
    if isinstance(data, dict):
        points = _from_object(data, path, image_size_wh)
    elif isinstance(data, list):
        points = data
    else:
        raise InputError(
            f"landmarks {path}: expected an object with format, image_size and "
            f"points, or a list of {N_LANDMARKS} points; got {_short(data)}"
        )
    array = _as_array(points, path)
    _check_placement(array, path, image_size_wh)
    return array


def _load_json(path: Path) -> object:
    if not path.is_file():
        raise InputError(
            f"cannot read landmarks {path}: file not found; check the path"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read landmarks {path}: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"landmarks {path} is not valid JSON (line {exc.lineno}, column "
            f"{exc.colno}: {exc.msg})"
        ) from exc


def _from_object(
    data: dict[str, object], path: Path, image_size_wh: tuple[int, int]
) -> object:
    if data.get("format") != FORMAT:
        raise InputError(
            f"landmarks {path}: format is {_short(data.get('format'))}, "
            f"expected {json.dumps(FORMAT)}"
        )
    size = data.get("image_size")
    if (
        not isinstance(size, list)
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in size)
    ):
        raise InputError(
            f"landmarks {path}: image_size must be [width, height] in pixels, "
            f"got {_short(size)}"
        )
    if tuple(size) != tuple(image_size_wh):
        w, h = image_size_wh
        raise InputError(
            f"landmarks {path} are for a {size[0]}x{size[1]} image but the portrait "
            f"is {w}x{h}; give points in pixels of the portrait as stored on disk"
        )
    if "points" not in data:
        raise InputError(f"landmarks {path}: no 'points' list")
    return data["points"]


def _as_array(points: object, path: Path) -> NDArray[np.float32]:
    if not isinstance(points, list):
        raise InputError(f"landmarks {path}: points must be a list of [x, y, z]")
    if len(points) != N_LANDMARKS:
        raise InputError(
            f"landmarks {path} has {len(points)} points; Enliven needs "
            f"{N_LANDMARKS} (MediaPipe Face Mesh order, irises at 468-477)"
        )
    width = len(points[0]) if isinstance(points[0], list) else None
    for k, point in enumerate(points):
        if (
            not isinstance(point, list)
            or len(point) not in (2, 3)
            or len(point) != width
        ):
            raise InputError(
                f"landmarks {path}: point {k} is {_short(point)}; every point must be "
                "[x, y], or every point [x, y, z]"
            )
    for k, point in enumerate(points):
        for value in point:
            if not _is_number(value) or not math.isfinite(value):
                raise InputError(
                    f"landmarks {path}: point {k} is {_short(point)}; every coordinate "
                    "must be a finite number"
                )
    return np.asarray(points, dtype=np.float64).astype(np.float32)


def _short(value: object, limit: int = 40) -> str:
    """``value`` as JSON (floats of a point rounded), cut to ``limit`` characters."""
    if isinstance(value, list):
        value = [
            round(v, 2) if isinstance(v, float) and math.isfinite(v) else v
            for v in value
        ]
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_placement(
    points: NDArray[np.float32], path: Path, image_size_wh: tuple[int, int]
) -> None:
    w, h = image_size_wh
    xy = points[:, :2].astype(np.float64)
    face = float((xy.max(axis=0) - xy.min(axis=0)).max())
    if face < MIN_FACE_PX:
        raise InputError(
            f"landmarks {path}: the points span only {face:.2g} px; they look "
            "normalised to 0..1, give pixels of the portrait"
        )
    margin = BEYOND_BORDER * face
    outside = (xy[:, 0] < -margin) | (xy[:, 0] > w + margin)
    outside |= (xy[:, 1] < -margin) | (xy[:, 1] > h + margin)
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        raise InputError(
            f"landmarks {path}: point {k} (x={xy[k, 0]:.1f}, y={xy[k, 1]:.1f}) lies "
            f"outside the {w}x{h} portrait"
        )


def write_landmarks(
    path: Path | str,
    landmarks: NDArray[np.floating],
    image_size_wh: tuple[int, int],
    **notes: str,
) -> None:
    """Write (478, 3) landmarks in pixels of a ``image_size_wh`` portrait as an
    ``enliven-landmarks/1`` file, one point a line, atomically.

    ``notes`` become extra keys (e.g. which step found the face); readers ignore
    them.
    """
    points = np.asarray(landmarks, np.float64)
    if points.shape != (N_LANDMARKS, 3) or not np.isfinite(points).all():
        raise ValueError(f"write_landmarks needs ({N_LANDMARKS}, 3) finite points")
    head = {"format": FORMAT, "image_size": [int(v) for v in image_size_wh], **notes}
    fields = [
        f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in head.items()
    ]
    rows = ",\n".join(f"    [{x:.2f}, {y:.2f}, {z:.2f}]" for x, y, z in points.tolist())
    fields.append(f'  "points": [\n{rows}\n  ]')
    text = "{\n" + ",\n".join(fields) + "\n}\n"
    with atomic_path(path) as tmp:
        try:
            tmp.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise OutputError(
                f"cannot write {path}: {exc.strerror or exc}; choose another -o"
            ) from exc


def add_depth(
    points_xy: NDArray[np.floating], reference: NDArray[np.floating]
) -> NDArray[np.float32]:
    """(478, 2) points with z taken from a (478, 3) ``reference`` face, scaled by
    the least-squares 2-D similarity that maps the reference's x, y onto them."""
    src = np.asarray(reference, np.float64)
    dst = np.asarray(points_xy, np.float64)[:, :2]
    a = src[:, 0] + 1j * src[:, 1]
    b = dst[:, 0] + 1j * dst[:, 1]
    a0, b0 = a - a.mean(), b - b.mean()
    scale = abs(np.vdot(a0, b0) / max(np.vdot(a0, a0).real, 1e-12))
    z = (src[:, 2] - src[:, 2].mean()) * scale
    return np.column_stack([dst, z]).astype(np.float32)
