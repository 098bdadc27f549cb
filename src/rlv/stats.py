"""Aggregate statistics across seeds: IQM with bootstrap intervals, steps to reach a threshold."""

from __future__ import annotations

import numpy as np


def iqm(values: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50% of values (Agarwal et al. 2021)."""
    values = np.sort(np.asarray(values, dtype=np.float64).ravel())
    n = len(values)
    if n == 0:
        return float("nan")
    low, high = int(np.floor(0.25 * n)), int(np.ceil(0.75 * n))
    return float(values[low:high].mean()) if high > low else float(values.mean())


def bootstrap_ci(
    values: np.ndarray,
    statistic: object = iqm,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over the seeds in `values`."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    stats = np.array([statistic(values[rng.integers(0, len(values), len(values))]) for _ in range(resamples)])
    alpha = (1.0 - confidence) / 2.0
    return float(np.quantile(stats, alpha)), float(np.quantile(stats, 1.0 - alpha))


def steps_to_reach(steps: np.ndarray, curve: np.ndarray, threshold: float) -> float:
    """First step at which `curve` (values at `steps`) reaches `threshold`; NaN if never."""
    hits = np.flatnonzero(np.asarray(curve) >= threshold)
    return float(np.asarray(steps)[hits[0]]) if len(hits) else float("nan")


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average over `window` points (window 1 returns the values)."""
    values = np.asarray(values, dtype=np.float64)
    if window <= 1 or len(values) == 0:
        return values
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    out = np.empty_like(values)
    for i in range(len(values)):
        start = max(0, i + 1 - window)
        out[i] = (cumulative[i + 1] - cumulative[start]) / (i + 1 - start)
    return out
