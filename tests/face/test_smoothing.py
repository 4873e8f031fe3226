import numpy as np

from enliven.face.smoothing import OneEuroFilter


def test_still_signal_loses_its_jitter():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff_hz=1.0, beta=0.0)
    noisy = 5.0 + rng.normal(0, 0.5, 300)
    out = np.array([f(np.array([x]), 1 / 30)[0] for x in noisy])
    # A first-order low-pass at 1 Hz sampled at 30 Hz keeps about 0.3 of white noise.
    assert np.std(out[30:]) < 0.4 * np.std(noisy[30:])
    assert abs(out[30:].mean() - 5.0) < 0.1


def _lag_frames(signal: np.ndarray, filtered: np.ndarray) -> int:
    lags = range(0, 6)
    errors = [np.abs(filtered[lag:] - signal[: len(signal) - lag]).mean() for lag in lags]
    return int(np.argmin(errors))


def test_fast_lips_are_not_delayed():
    # Rapid speech: the lip gap swings 0.3 eye distances at 4 Hz, sampled at 30 fps.
    fps = 30.0
    t = np.arange(0, 4, 1 / fps)
    gap = 0.15 + 0.15 * np.sin(2 * np.pi * 4 * t)
    f = OneEuroFilter(min_cutoff_hz=4.0, beta=8.0)
    out = np.array([f(np.array([g]), 1 / fps)[0] for g in gap])
    assert _lag_frames(gap, out) <= 1


def test_first_sample_passes_and_reset_forgets():
    f = OneEuroFilter()
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(f(x, 0.04), x)
    f(x + 10, 0.04)
    f.reset()
    np.testing.assert_array_equal(f(x, 0.04), x)
