import dataclasses

import cv2
import numpy as np

from enliven.face import topology as topo
from enliven.motion.measures import eye_distance
from enliven.render import seam
from enliven.render.renderer import RenderConfig, Renderer

from ..conftest import settled_target

PAIRS = np.asarray(topo.INNER_LIP_PAIRS)


def _closed(lm: np.ndarray) -> np.ndarray:
    shut = lm.copy()
    shut[PAIRS[:, 1]] = shut[PAIRS[:, 0]]
    return shut


def _lips_with_seam(lm: np.ndarray, shape, lips: int, line: int | None) -> np.ndarray:
    """A grey picture: lips of level ``lips`` around the mouth's line, and the
    line itself (2 px) at level ``line``."""
    img = np.full(shape, 200, np.uint8)
    cv2.fillPoly(img, [np.round(lm[topo.outer_lip_loop(), :2]).astype(np.int32)], (lips,) * 3)
    if line is not None:
        cv2.polylines(img, [np.round(seam.midline(lm)).astype(np.int32)], False, (line,) * 3, 2, cv2.LINE_AA)
    return img


def test_driver_ratios_read_the_seam_against_the_lips_beside_it(astronaut, astronaut_landmarks):
    lm = _closed(astronaut_landmarks)
    dark = seam.driver_ratios(_lips_with_seam(lm, astronaut.shape, 150, 90), lm)
    assert dark.shape == (seam.SAMPLES,)
    middle = dark[seam.SAMPLES // 4 : -seam.SAMPLES // 4]
    assert np.all(np.abs(middle - 0.6) < 0.08), middle  # 90 / 150
    plain = seam.driver_ratios(_lips_with_seam(lm, astronaut.shape, 150, None), lm)
    assert np.all(plain[seam.SAMPLES // 4 : -seam.SAMPLES // 4] > 0.95)
    # A gap (cavity) darker than any seam counts as the darkest seam.
    gap = seam.driver_ratios(_lips_with_seam(lm, astronaut.shape, 150, 10), lm)
    assert np.all(gap >= seam.MIN_RATIO)


def test_draw_darkens_the_line_to_its_ratio_and_never_lightens(astronaut, astronaut_landmarks):
    lm = _closed(astronaut_landmarks)
    plain = _lips_with_seam(lm, astronaut.shape, 150, None)
    out = plain.copy()
    seam.draw(out, lm, 0.6, np.ones(len(seam.midline(lm))))
    share = seam.line_share(out, lm)
    assert np.allclose(share, 0.6, atol=0.06), share
    far = np.ones(out.shape[:2], bool)
    far[cv2.dilate(cv2.fillPoly(np.zeros(out.shape[:2], np.uint8), [np.round(lm[topo.outer_lip_loop(), :2]).astype(np.int32)], 1), np.ones((9, 9), np.uint8)) > 0] = False
    assert np.array_equal(out[far], plain[far])  # only the mouth changes
    # A line already darker than asked for stays as it is.
    darker = _lips_with_seam(lm, astronaut.shape, 150, 40)
    again = darker.copy()
    seam.draw(again, lm, 0.6, np.ones(len(seam.midline(lm))))
    assert np.abs(again.astype(int) - darker.astype(int)).max() <= 1
    # Weight 0 leaves it alone.
    none = plain.copy()
    seam.draw(none, lm, 0.6, np.zeros(len(seam.midline(lm))))
    assert np.array_equal(none, plain)


def _shout(lm: np.ndarray) -> np.ndarray:
    shout = lm.copy()
    below = sorted({k for column in topo.LOWER_LIP_COLUMNS for k in column})
    shout[below, 1] += 0.3 * eye_distance(lm)
    return shout


def test_a_closing_shout_shows_a_seam_out_to_its_corners(astronaut, astronaut_landmarks):
    """A portrait caught shouting has no closed-lip seam anywhere; closed, its
    lips met as skin toward the corners and the mouth read narrower than the
    target (photo_woman_surprised_01 under pout_kiss_01)."""
    lm = astronaut_landmarks
    shout = _shout(lm)
    portrait = astronaut.copy()
    # Flat lips round a pale interior: closed, the lips meet with no dark line.
    cv2.fillPoly(portrait, [np.round(shout[topo.outer_lip_loop(), :2]).astype(np.int32)], (190, 100, 100))
    cv2.fillPoly(portrait, [np.round(shout[topo.inner_lip_loop(), :2]).astype(np.int32)], (200, 140, 140))
    config = RenderConfig(background=False, mouth_interior=False)
    target = settled_target(shout, _closed(lm))
    on = Renderer(portrait, shout, config).render(target)
    off = Renderer(portrait, shout, dataclasses.replace(config, lip_seam=False)).render(target)
    share_on, share_off = seam.line_share(on, target.landmarks), seam.line_share(off, target.landmarks)
    ends = np.r_[0:6, seam.SAMPLES - 6 : seam.SAMPLES]
    assert share_off[ends].mean() > 0.9, share_off[ends]  # no line toward the corners without it
    assert np.all(share_on <= seam.DEFAULT_RATIO + 0.1), share_on  # no driver picture: the default seam
    changed = np.abs(on.astype(int) - off.astype(int)).max(axis=2) > 0
    ys, xs = np.nonzero(changed)
    box = target.landmarks[topo.outer_lip_loop(), :2]
    assert xs.min() >= box[:, 0].min() - 3 and xs.max() <= box[:, 0].max() + 3
    assert ys.min() >= box[:, 1].min() - 3 and ys.max() <= box[:, 1].max() + 3


def test_a_portrait_whose_lips_meet_keeps_its_own_seam(astronaut, astronaut_landmarks):
    """Where nothing of the portrait's opening is hidden, its own lips and seam
    are drawn as they are: the seam is not touched."""
    lm = _closed(astronaut_landmarks)  # lips together (the picture's smile aside)
    config = RenderConfig(background=False)
    for driver in (lm, _shout(lm)):
        target = settled_target(lm, driver)
        on = Renderer(astronaut, lm, config).render(target)
        off = Renderer(astronaut, lm, dataclasses.replace(config, lip_seam=False)).render(target)
        assert np.array_equal(on, off)
