"""Untangle the portrait's rings under the lower lip where the face mesh folds them.

On a mouth opened wide (a shout) the face mesh lays the rings under the lower
lip round the open mouth's rim and pulls some of them up over the lip:
``photo_woman_surprised_01``'s ring under the lip sits 13 px above her outer
lip's edge at the middle, and her chin ring 5 px above it. Each band of the
mesh samples the picture between its rings, so a fold draws the lip a second
and third time below itself: closed, her lower lip rendered tall and
tongue-coloured, and a face tracker read it as open.

Along each column from the outer lower lip down to the jaw's outline, a run of
points folded back (by more than ``_FOLD`` eye-centre distances), or lying
inside the outer lip's outline (by more than ``_ON_LIP`` px: up the sides of an
open mouth the rings fold sideways to the columns, over the lip), is spread
evenly between the points in order on either side; other columns are left as
they are. Of the 14 shared portraits three change: the shout (8 points), and 3
points each of Vermeer's turned lower lip and the cartoon alpaca's. User-given
landmarks are left alone.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from enliven.face import topology as topo

_OUTER_LIP = 3  # index, in each lower-lip column, of the outer lip's edge
# How far a point may sit behind an earlier one before it counts as folded, in
# distances between the eye centres: the mesh's rings touch at the mouth's
# corners, where the old woman's and Vermeer's corner rings sit 0.9 and 2.1 px
# (0.010 and 0.017) behind the lip's edge and look right; spreading them moved
# them 10 px. The shout's folds are 0.11-0.13.
_FOLD = 0.02
# The skin's rings under the lip lie outside the outer lip's loop; the face mesh
# puts some inside it by up to 4 px round a shout's lower lip (seen sideways to
# the columns, where the lip runs up the sides of the opening) and by up to 2.8
# px on Vermeer's turned lower lip. A point deeper inside than this (px) is moved.
_ON_LIP = 0.25


def _in_order(s: NDArray[np.float64], tolerance: float) -> NDArray[np.bool_]:
    """Which of the projections ``s`` (first and last kept) are no more than
    ``tolerance`` behind any earlier kept one, nor past the last."""
    keep = np.zeros(len(s), bool)
    keep[0] = keep[-1] = True
    last = s[0]
    for k in range(1, len(s) - 1):
        if last - tolerance <= s[k] <= s[-1] + tolerance:
            keep[k] = True
            last = max(last, s[k])
    return keep


def _on_lip(xy: NDArray[np.float64], lip: NDArray[np.float32]) -> NDArray[np.bool_]:
    """Which points of a column (the outer lip's own, first, excepted) lie inside
    the outer lip's loop by more than ``_ON_LIP`` px: skin rings drawn over the lip."""
    inside = np.array([cv2.pointPolygonTest(lip, (float(x), float(y)), True) > _ON_LIP for x, y in xy])
    inside[0] = False
    return inside


def untangled_lower_face(landmarks: NDArray[np.floating]) -> NDArray[np.float32]:
    """A copy of ``landmarks`` whose rings under the lower lip run in order from the
    lip down to the jaw's outline, each column's folded points spread evenly."""
    lm = np.asarray(landmarks, np.float64).copy()
    eyes = [lm[list(corners), :2].mean(axis=0) for corners in (topo.RIGHT_EYE_CORNERS, topo.LEFT_EYE_CORNERS)]
    tolerance = _FOLD * float(np.linalg.norm(eyes[0] - eyes[1]))
    placed: set[int] = set()  # points an earlier column has settled (the rings share points)
    lip = lm[topo.outer_lip_loop(), :2].astype(np.float32)
    for column in topo.LOWER_LIP_COLUMNS:
        col = np.asarray(column[_OUTER_LIP:], np.intp)
        xy = lm[col, :2]
        chord = xy[-1] - xy[0]
        length = float(np.linalg.norm(chord))
        if length < 1e-6:
            continue
        s = (xy - xy[0]) @ (chord / length)
        keep = _in_order(s, tolerance) & ~_on_lip(xy, lip)
        keep |= np.array([int(p) in placed for p in col])  # never move another column's point
        placed.update(int(p) for p in col)
        if keep.all():
            continue
        good = np.flatnonzero(keep)
        for k in np.flatnonzero(~keep):
            lo = good[good < k].max()
            hi = good[good > k].min()
            f = (k - lo) / (hi - lo)
            lm[col[k]] = (1.0 - f) * lm[col[lo]] + f * lm[col[hi]]
    return lm.astype(np.float32)
