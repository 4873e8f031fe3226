"""The quality benchmark's gaze gate and acceptance wording (benchmarks/quality_metrics.py, quality_report.py)."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from quality_metrics import OPEN_SHARE, gaze_on_open_eyes, open_eyed  # noqa: E402


def _signals(n: int) -> dict[str, np.ndarray]:
    return {name: np.full(n, value) for name, value in
            (("eye_right", 0.3), ("eye_left", 0.3), ("gaze_x", 0.0), ("gaze_y", 0.0))}  # fmt: skip


def test_gaze_is_compared_only_while_both_driver_eyes_are_open():
    driver, output = _signals(10), _signals(12)
    driver["eye_right"][3] = 0.0  # a blink
    driver["eye_left"][6] = 0.3 * OPEN_SHARE * 0.9  # a squint, past the share
    driver["eye_left"][7] = np.nan  # face lost
    assert open_eyed(driver).tolist() == [True] * 3 + [False] + [True] * 2 + [False, False] + [True] * 2
    gaze_on_open_eyes(driver, output)
    for signals in (driver, output):
        for name in ("gaze_x", "gaze_y"):
            assert np.isnan(signals[name][[3, 6, 7]]).all()
            assert not np.isnan(np.delete(signals[name][:10], [3, 6, 7])).any()
    assert not np.isnan(output["gaze_y"][10:]).any()  # past the driver: untouched
    assert not np.isnan(driver["eye_right"][:3]).any()  # other signals untouched


def test_a_lost_comparison_shows_both_unrounded_medians():
    from quality_report import beats_check

    summary = {
        "enliven": {"mouth_open": 0.93, "mouth_width": 0.9183},
        "point-warp": {"mouth_open": 0.89, "mouth_width": 0.9205},
    }
    what, _, measured, met = beats_check("every correlation", summary, ["mouth_open", "mouth_width"], True)
    assert met is False
    assert measured == "not on: mouth width (0.9183 vs 0.9205)"
    _, _, measured, met = beats_check("every correlation", summary, ["mouth_open"], True)
    assert met is True and measured == "all"


def _cross_row(identity, driver_identity):
    from quality_report import CrossRow

    return CrossRow("p", "c", "enliven", identity, {}, None, 1.0, 0.0, 0.0, 0, driver_identity)


def test_identity_checks_set_frames_over_the_threshold_beside_the_drivers_own_distance():
    from quality_report import identity_checks

    rows = [
        _cross_row([0.30, 0.62, 0.40], [0.35, 0.58, float("nan")]),
        _cross_row([0.65, 0.20], [0.61, 0.10]),
    ]
    (_, _, mean, mean_ok), (_, _, over, over_ok), (_, _, floor, floor_ok) = identity_checks(rows)
    assert mean == "p 0.434" and mean_ok is False
    assert over_ok is False
    assert over == "2 of 5 (max 0.650); the driver against its own reference frame at those frames: 0.580-0.610"
    assert floor_ok is None  # for scale only, never a verdict
    assert floor == "mean 0.410, 1 of 4 > 0.6 (max 0.610)"


def test_identity_checks_without_the_drivers_distances_say_only_what_was_measured():
    from quality_report import identity_checks

    checks = identity_checks([_cross_row([0.30, 0.62], [])])
    assert len(checks) == 2
    assert checks[1][2] == "1 of 2 (max 0.620)"


def test_identity_checks_show_the_open_shut_yardstick_for_scale_only():
    from quality_report import identity_checks

    rows = [_cross_row([0.30, 0.62], [])]
    assert len(identity_checks(rows, [])) == 2  # none measured: no row
    what, _, got, ok = identity_checks(rows, [0.40, 0.62, 0.44])[-1]
    assert "wide open" in what and ok is None
    assert got == "mean 0.487, 1 of 3 > 0.6 (max 0.620)"


def test_open_shut_distances_pair_a_wide_open_mouth_with_shut_ones_at_the_same_pose(astronaut_landmarks):
    from quality_metrics import open_shut_distances

    from enliven.motion.controls import Controls, apply_controls
    from enliven.motion.measures import mouth_opening
    from enliven.motion.pose import STABLE_INDEX, rotation_from_euler

    lm = np.asarray(astronaut_landmarks, np.float64)
    shut = apply_controls(lm, Controls(jaw=-mouth_opening(lm) / 0.32))
    wide = apply_controls(lm, Controls(jaw=1.2))
    assert mouth_opening(shut) < 0.05 < 0.3 < mouth_opening(wide)
    centre = shut[STABLE_INDEX].mean(axis=0)
    turned = (shut - centre) @ rotation_from_euler(25.0, 0.0, 0.0).T + centre
    lost = np.full_like(lm, np.nan)
    seq = np.stack([wide, shut, turned, lm, lost])
    desc = {k: np.full(128, float(k)) for k in range(5)}
    del desc[3]  # not sampled
    # Only (wide, shut): the turned one is another pose, the lost one has no face.
    assert open_shut_distances(desc, seq) == [np.linalg.norm(desc[0] - desc[1])]


def _r_row(method, clip, r):
    from quality_metrics import SIGNALS
    from quality_report import CrossRow

    return CrossRow("p", clip, method, [], {n: r if n == "roll" else None for n in SIGNALS}, None, 1.0, 0.0, 0.0, 0)


def test_pair_by_pair_comparison_counts_ahead_level_behind_and_tests_chance():
    from quality_report import beats_check, cross_summary, paired_table

    # Ten pairs: Enliven ahead by 0.02 on six, level on two, behind by 0.01 on two.
    diffs = [0.02] * 6 + [0.001, -0.002] + [-0.01] * 2
    rows = []
    for k, d in enumerate(diffs):
        rows += [_r_row("point-warp", f"c{k}", 0.9), _r_row("enliven", f"c{k}", 0.9 + d)]
    lines = paired_table(rows)
    line = next(x for x in lines if x.startswith("| roll"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[1:5] == ["10", "6", "2", "2"]
    assert float(cells[-1]) < 0.2  # mostly ahead
    # Swap the methods: the median is lost, and the verdict says how the pairs split.
    for r in rows:
        r.method = {"enliven": "point-warp", "point-warp": "enliven"}[r.method]
    _, _, measured, met = beats_check("x", cross_summary(rows), ["roll"], True, rows)
    assert met is False
    assert measured.endswith("pairs 2 ahead, 2 level, 6 behind)")


def test_the_drawn_target_row_scores_the_retargeted_landmarks_and_never_wins(astronaut_landmarks):
    """The ceiling row: the landmarks a renderer was asked to draw, scored
    against the driver like an output, shown beside the methods but never bold."""
    from types import SimpleNamespace

    from quality_report import CrossRow, cross_tables

    from enliven.motion.controls import Controls, apply_controls

    jaw = 0.5 + 0.5 * np.sin(np.linspace(0, 6 * np.pi, 60))
    driver = np.stack([apply_controls(astronaut_landmarks, Controls(jaw=j)) for j in jaw])
    late = np.concatenate([driver[:1].repeat(2, 0), driver[:-2]])  # a method 2 frames behind
    out = SimpleNamespace(landmarks=late, identity=[], flicker=0.0)
    row = CrossRow.of("p", "c", "enliven", out, SimpleNamespace(landmarks=driver), out, [], drawn=driver)
    assert row.drawn_r["mouth_open"] == 1.0
    assert 0.5 < row.r["mouth_open"] < 0.99
    assert row.drawn_r["yaw"] is None  # the driver does not turn: no r, as for the methods
    lines = cross_tables([row])
    drawn = next(x for x in lines if x.startswith("| *drawn target*"))
    mine = next(x for x in lines if x.startswith("| enliven"))
    assert "1.00" in drawn and "**" not in drawn
    assert f"**{row.r['mouth_open']:.2f}**" in mine
    # Without the target (older callers), no row and no sentence.
    row.drawn_r = {}
    assert not any("drawn target" in x.lower() for x in cross_tables([row]))
