"""One-Euro filtering of landmark tracks (Casiez et al., CHI 2012).

The cutoff frequency rises with speed, so slow jitter is removed while fast
motion (speech) passes with little lag.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray


def _alpha(cutoff_hz: NDArray[np.float64] | float, dt_s: float) -> NDArray[np.float64]:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz, dtype=np.float64))
    return 1.0 / (1.0 + tau / dt_s)


class OneEuroFilter:
    """Vectorised One-Euro filter over an array of any shape.

    Parameters
    ----------
    min_cutoff_hz : cutoff at rest; lower removes more jitter. Scalar or an array
        broadcastable to the signal (per-landmark cutoffs).
    beta : how fast the cutoff rises with speed (per unit of the signal per second).
    d_cutoff_hz : cutoff of the speed estimate; scalar or per element, like
        ``min_cutoff_hz``.
    """

    def __init__(
        self,
        min_cutoff_hz: float | NDArray[np.float64] = 1.0,
        beta: float | NDArray[np.float64] = 0.05,
        d_cutoff_hz: float | NDArray[np.float64] = 1.0,
    ) -> None:
        self.min_cutoff_hz = np.asarray(min_cutoff_hz, dtype=np.float64)
        self.beta = np.asarray(beta, dtype=np.float64)
        self.d_cutoff_hz = np.asarray(d_cutoff_hz, dtype=np.float64)
        self._x: NDArray[np.float64] | None = None
        self._dx: NDArray[np.float64] | None = None

    def reset(self) -> None:
        """Forget the history; the next sample passes unchanged."""
        self._x = None
        self._dx = None

    def __call__(self, x: NDArray[np.floating], dt_s: float) -> NDArray[np.float64]:
        """Filter one sample taken ``dt_s`` seconds after the previous one."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._dx is None:
            self._x = x.copy()
            self._dx = np.zeros_like(x)
            return x.copy()
        dt_s = max(dt_s, 1e-6)
        dx = (x - self._x) / dt_s
        a_d = _alpha(self.d_cutoff_hz, dt_s)
        self._dx = self._dx + a_d * (dx - self._dx)
        cutoff = self.min_cutoff_hz + self.beta * np.abs(self._dx)
        a = _alpha(cutoff, dt_s)
        self._x = self._x + a * (x - self._x)
        return self._x.copy()
