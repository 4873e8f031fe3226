"""Landmark topology of the MediaPipe face mesh with irises (478 points).

Index lists of the regions Enliven needs, and the 852 mesh triangles. The triangles
are read from the installed mediapipe package's source, where the tessellation is
listed edge by edge, three edges a triangle (the published frozenset loses that
order, so the file is parsed rather than imported).
"""

from __future__ import annotations

import ast
import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

N_LANDMARKS = 478
N_MESH = 468  # without the 10 iris points

# Face oval, clockwise from the top of the forehead (image coordinates).
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378,
    400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21,
    54, 103, 67, 109,
)  # fmt: skip

# Eyes: "right" and "left" are the subject's (right eye is on the image's left).
# Lid pairs run from the outer to the inner corner: (upper lid, lower lid).
RIGHT_EYE_CORNERS = (33, 133)
RIGHT_EYE_PAIRS = ((246, 7), (161, 163), (160, 144), (159, 145), (158, 153),
                   (157, 154), (173, 155))  # fmt: skip
LEFT_EYE_CORNERS = (263, 362)
LEFT_EYE_PAIRS = ((466, 249), (388, 390), (387, 373), (386, 374), (385, 380),
                  (384, 381), (398, 382))  # fmt: skip
# The mesh's rings round each eye, a point per lid pair (outer to inner corner,
# each point a neighbour of its pair's): the three rings above the upper lid
# (in a portrait: past its lashes, on its fold, on the brow's lower edge), then
# the ring under the lower lid.
RIGHT_LID_RINGS = ((247, 30, 29, 27, 28, 56, 190), (113, 225, 224, 223, 222, 221, 189),
                   (124, 46, 53, 52, 65, 55, 193), (25, 110, 24, 23, 22, 26, 112))  # fmt: skip
LEFT_LID_RINGS = ((467, 260, 259, 257, 258, 286, 414), (342, 445, 444, 443, 442, 441, 413),
                  (353, 276, 283, 282, 295, 285, 417), (255, 339, 254, 253, 252, 256, 341))  # fmt: skip
RIGHT_IRIS = (468, 469, 470, 471, 472)  # centre first
LEFT_IRIS = (473, 474, 475, 476, 477)

RIGHT_BROW = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107)
LEFT_BROW = (276, 283, 282, 295, 285, 300, 293, 334, 296, 336)

# Lips: corners, then (upper, lower) pairs from the image-left corner to the right.
MOUTH_CORNERS_INNER = (78, 308)
MOUTH_CORNERS_OUTER = (61, 291)
INNER_LIP_PAIRS = ((191, 95), (80, 88), (81, 178), (82, 87), (13, 14), (312, 317),
                   (311, 402), (310, 318), (415, 324))  # fmt: skip
OUTER_LIP_PAIRS = ((185, 146), (40, 91), (39, 181), (37, 84), (0, 17), (267, 314),
                   (269, 405), (270, 321), (409, 375))  # fmt: skip
# The upper lip, one column per lip pair (image-left to right), inner lip up to
# the outer: the inner lip, the two rings inside the lip, the outer lip.
UPPER_LIP_COLUMNS = ((191, 183, 184, 185), (80, 42, 74, 40), (81, 41, 73, 39),
                     (82, 38, 72, 37), (13, 12, 11, 0), (312, 268, 302, 267),
                     (311, 271, 303, 269), (310, 272, 304, 270), (415, 407, 408, 409))  # fmt: skip
# The skin between the nose and the upper lip, one chain per column (image-left
# to right): the outer upper lip, the ring above it, the nose's base.
PHILTRUM_CHAINS = ((40, 92, 206), (39, 165, 98), (37, 167, 97), (0, 164, 2),
                   (267, 393, 326), (269, 391, 327), (270, 322, 426))  # fmt: skip
# The lower lip and the skin under it, one column per lip pair (image-left to
# right), top down to the jaw's outline: the inner lip, the two rings inside the
# lip, the outer lip, the ring under the lip, the chin ring, two more rings and
# the face oval. The rings below the lip have fewer points, so two pairs of
# neighbouring columns share their lower parts.
LOWER_LIP_COLUMNS = ((95, 96, 77, 146, 43, 204, 211, 170, 149),
                     (88, 89, 90, 91, 106, 194, 32, 140, 176),
                     (178, 179, 180, 181, 182, 201, 208, 171, 148),
                     (87, 86, 85, 84, 83, 201, 208, 171, 148),
                     (14, 15, 16, 17, 18, 200, 199, 175, 152),
                     (317, 316, 315, 314, 313, 421, 428, 396, 377),
                     (402, 403, 404, 405, 406, 421, 428, 396, 377),
                     (318, 319, 320, 321, 335, 418, 262, 369, 400),
                     (324, 325, 307, 375, 273, 424, 431, 395, 378))  # fmt: skip

# Points that move little with expression: forehead, nose bridge, eye corners,
# temples, upper cheeks. Used for rigid head-pose fits.
STABLE = (
    10, 338, 297, 332, 109, 67, 103, 151, 9, 8, 168, 6, 197, 195, 5, 4, 33, 133,
    263, 362, 127, 356, 234, 454, 162, 389, 21, 251, 54, 284, 143, 372, 116, 345,
    226, 446, 130, 359, 25, 255, 110, 339, 31, 261,
)  # fmt: skip
NOSE_TIP = 4
CHIN = 152
FOREHEAD = 10


def eye_loop(pairs: tuple[tuple[int, int], ...], corners: tuple[int, int]) -> list[int]:
    """Closed contour of an eye: outer corner, upper lid, inner corner, lower lid."""
    return [corners[0], *(u for u, _ in pairs), corners[1], *(lo for _, lo in reversed(pairs))]


def inner_lip_loop() -> list[int]:
    """Closed contour of the inner lips (the mouth opening)."""
    return eye_loop(INNER_LIP_PAIRS, MOUTH_CORNERS_INNER)


def outer_lip_loop() -> list[int]:
    """Closed contour of the outer lips: a corner, the upper lip, the other
    corner, the lower lip back."""
    return eye_loop(OUTER_LIP_PAIRS, MOUTH_CORNERS_OUTER)


def strip_triangles(
    corners: tuple[int, int], pairs: tuple[tuple[int, int], ...]
) -> NDArray[np.int32]:
    """Triangles filling an opening (eye or mouth) between two lid/lip contours.

    A strip is robust to a closed opening: its triangles simply become thin.
    """
    tris: list[tuple[int, int, int]] = []
    first_u, first_l = pairs[0]
    tris.append((corners[0], first_u, first_l))
    for (u0, l0), (u1, l1) in zip(pairs[:-1], pairs[1:]):
        tris.append((u0, u1, l0))
        tris.append((u1, l1, l0))
    last_u, last_l = pairs[-1]
    tris.append((last_u, corners[1], last_l))
    return np.asarray(tris, dtype=np.int32)


def _connections_source() -> Path:
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or spec.origin is None:
        raise ImportError("mediapipe is not installed; pip install mediapipe==0.10.21")
    return (
        Path(spec.origin).parent / "python" / "solutions" / "face_mesh_connections.py"
    )


@lru_cache(maxsize=1)
def mesh_triangles() -> NDArray[np.int32]:
    """The 852 triangles of the face mesh, shape (852, 3), int32 vertex indices."""
    tree = ast.parse(_connections_source().read_text(encoding="utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "FACEMESH_TESSELATION"
            and isinstance(node.value, ast.Call)
        ):
            edges = [
                tuple(ast.literal_eval(e) for e in pair.elts)
                for pair in node.value.args[0].elts  # type: ignore[attr-defined]
            ]
            break
    else:  # pragma: no cover - depends on the installed mediapipe
        raise ImportError("FACEMESH_TESSELATION not found in mediapipe's sources")
    tris = np.asarray([edges[i][0] for i in range(len(edges))], dtype=np.int32)
    tris = tris.reshape(-1, 3)
    # Each group of three edges is a cycle (a, b), (b, c), (c, a).
    for i in range(0, len(edges), 3):
        if edges[i][1] != edges[i + 1][0] or edges[i + 2][1] != edges[i][0]:
            raise ImportError("unexpected FACEMESH_TESSELATION layout in mediapipe")
    return tris
