"""The human-face check: the measures, their limits, and the shared portraits."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from enliven.errors import NoFaceError
from enliven.face.humanlike import LIMITS, MIRROR_PAIRS, judge, measure
from enliven.face.portrait import find_face, rotate_image

# The shared portraits of people (photos, paintings, 3-D cartoon, anime,
# sculpture): every one must pass. The animals are not people.
PEOPLE = (
    "anime_girl_01.png",
    "cartoon3d_boy_01.jpg",
    "painting_fullbody_smallface_01.jpg",
    "painting_monalisa_01.jpg",
    "painting_old_woman_01.png",
    "painting_sidepose_01.jpg",
    "painting_woman_dark_skin_01.png",
    "photo_man_beard_01.jpg",
    "photo_man_glasses_01.jpg",
    "photo_woman_01.jpg",
    "photo_woman_hand_01.jpg",
    "photo_woman_surprised_01.jpg",
    "sculpture_terracotta_01.jpg",
)


def _rotation(yaw_deg: float, roll_deg: float) -> np.ndarray:
    y, r = np.radians(yaw_deg), np.radians(roll_deg)
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return ry @ rz


def test_the_astronaut_passes_with_margin(astronaut_landmarks):
    verdict = judge(astronaut_landmarks)
    assert verdict.human and verdict.reason == ""
    values = verdict.measures.as_dict()
    for limit in LIMITS:
        margin = 0.1 * (limit.high - limit.low)
        value = values[limit.field]
        assert value < limit.high - margin, limit.field
        assert limit.low == 0 or value > limit.low + margin, limit.field


def test_measures_ignore_size_position_and_rigid_turns(astronaut_landmarks):
    base = measure(astronaut_landmarks).as_dict()
    moved = 2.5 * astronaut_landmarks @ _rotation(20, 35).T + np.array([40, -7, 3])
    for name, value in measure(moved).as_dict().items():
        assert value == pytest.approx(base[name], abs=1e-6), name


def test_mirror_pairs_are_pairs():
    flat = [k for pair in MIRROR_PAIRS for k in pair]
    assert len(flat) == len(set(flat))  # no point is in two pairs


@pytest.mark.parametrize(
    "variant",
    ["rotated 20 deg", "200 px", "mirrored", "gray"],
)
def test_variations_of_the_astronaut_pass(variant, astronaut, tracker):
    image = {
        "rotated 20 deg": lambda a: rotate_image(a, 20.0)[0],
        "200 px": lambda a: cv2.resize(a, (200, 200), interpolation=cv2.INTER_AREA),
        "mirrored": lambda a: np.ascontiguousarray(a[:, ::-1]),
        "gray": lambda a: cv2.cvtColor(
            cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB
        ),
    }[variant](astronaut)
    found = find_face(image, tracker)
    assert found.rung == "plain" and found.verdict.human


def test_irises_that_fill_the_eyes_are_refused(astronaut_landmarks):
    animal = astronaut_landmarks.copy()
    for centre, rim in ((468, slice(469, 473)), (473, slice(474, 478))):
        animal[rim] = animal[centre] + 1.4 * (animal[rim] - animal[centre])
    verdict = judge(animal)
    assert not verdict.human
    assert verdict.measures.iris_to_eye > 0.54
    assert "irises span" in verdict.reason and "human eyes measure" in verdict.reason


def test_a_mouth_far_below_the_eyes_is_refused(astronaut_landmarks):
    stretched = astronaut_landmarks * np.array([1.0, 2.5, 1.0])
    verdict = judge(stretched)
    assert not verdict.human and "mouth" in verdict.reason


def test_a_collapsed_mesh_is_refused():
    verdict = judge(np.zeros((478, 3)))
    assert not verdict.human and verdict.measures is None and verdict.reason


@pytest.mark.media
@pytest.mark.parametrize("name", PEOPLE)
def test_every_shared_portrait_of_a_person_passes(name, media_dir, tracker):
    from enliven.io.image import load_image
    from enliven.pipeline import fit_portrait

    image = fit_portrait(load_image(media_dir / "sources" / name), 2048)
    assert find_face(image, tracker, name=name).verdict.human


@pytest.mark.media
def test_the_dog_is_refused(media_dir, tracker):
    from enliven.io.image import load_image

    image = load_image(media_dir / "sources" / "animal_dog_01.jpg")
    with pytest.raises(NoFaceError, match=r"does not look like a human face.*irises"):
        find_face(image, tracker, name="animal_dog_01.jpg")
    found = find_face(image, tracker, human_only=False)
    assert found.verdict.measures.iris_to_eye > 0.56  # measured 0.58: a margin
