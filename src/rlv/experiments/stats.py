"""Aggregate statistics across seeds, computed with rliable (Agarwal et al., *Deep RL at the Edge of
the Statistical Precipice*, NeurIPS 2021): interquartile mean (IQM), stratified bootstrap confidence
intervals, performance profiles, the probability of improvement and a bootstrap interval for a ratio of
median steps. Also two curve helpers that
are not statistics: the first step a curve reaches a threshold, and a trailing moving average.

Scores are matrices of shape (runs, tasks) as rliable expects; a single task is (runs, 1)."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator

import numpy as np
from rliable import library, metrics

Statistic = Callable[[np.ndarray], float]
"""A function of a (runs, tasks) score matrix."""

STATISTICS: dict[str, Statistic] = {
    "iqm": metrics.aggregate_iqm,
    "mean": metrics.aggregate_mean,
}
"""The aggregate statistics a report can show, by name. (rliable's median is the median over tasks
of per-task means: with one task it is the mean, so it is not offered.)"""


@contextlib.contextmanager
def seeded_numpy(seed: int) -> Iterator[np.random.RandomState]:
    """rliable's stratified bootstrap draws from NumPy's global generator: seed it for the body
    (so intervals are reproducible) and put the caller's global state back afterwards. arch's
    notice that rliable passes its seed the old way (FutureWarning) is silenced here."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "random_state is deprecated", FutureWarning)
            yield np.random.RandomState(seed)
    finally:
        np.random.set_state(saved)


def as_matrix(values: np.ndarray) -> np.ndarray:
    """Scores as a float (runs, tasks) matrix: a 1-D array of per-run scores is one task."""
    values = np.asarray(values, dtype=np.float64)
    return values[:, None] if values.ndim == 1 else values


def iqm(values: np.ndarray) -> float:
    """Interquartile mean (25% trimmed mean) of the scores, over runs and tasks."""
    return float(metrics.aggregate_iqm(as_matrix(values)))


def interval(
    values: np.ndarray,
    statistic: str = "iqm",
    confidence: float = 0.95,
    reps: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(point estimate, low, high) of `statistic` over (runs, tasks) scores, with a stratified
    bootstrap percentile interval (runs resampled within each task)."""
    scores = as_matrix(values)
    function = STATISTICS[statistic]
    with seeded_numpy(seed) as state:
        points, intervals = library.get_interval_estimates(
            {"x": scores},
            lambda x: np.array([function(x)]),
            reps=reps,
            confidence_interval_size=confidence,
            random_state=state,
        )
    return float(points["x"][0]), float(intervals["x"][0, 0]), float(intervals["x"][1, 0])


def curve_interval(
    values: np.ndarray,
    statistic: str = "mean",
    confidence: float = 0.95,
    reps: int = 1000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`statistic` across runs at every point of (runs, points) curves, with stratified bootstrap
    intervals: three arrays of shape (points,): estimate, low, high."""
    curves = np.asarray(values, dtype=np.float64)[:, None, :]  # (runs, 1 task, points)
    function = STATISTICS[statistic]

    def per_point(x: np.ndarray) -> np.ndarray:
        return np.array([function(x[:, :, point]) for point in range(x.shape[2])])

    with seeded_numpy(seed) as state:
        points, intervals = library.get_interval_estimates(
            {"x": curves}, per_point, reps=reps, confidence_interval_size=confidence, random_state=state
        )
    return points["x"], intervals["x"][0], intervals["x"][1]


def improvement(
    values_x: np.ndarray, values_y: np.ndarray, confidence: float = 0.95, reps: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """P(X > Y): the probability that a run of X beats a run of Y on a task (averaged over tasks),
    with a stratified bootstrap interval (each method's runs resampled independently)."""
    pair = (as_matrix(values_x), as_matrix(values_y))
    with seeded_numpy(seed) as state:
        points, intervals = library.get_interval_estimates(
            {"x": pair},
            lambda x, y: np.array([metrics.probability_of_improvement(x, y)]),
            reps=reps,
            confidence_interval_size=confidence,
            random_state=state,
        )
    return float(points["x"][0]), float(intervals["x"][0, 0]), float(intervals["x"][1, 0])


def performance_profile(
    scores: dict[str, np.ndarray], taus: np.ndarray, reps: int = 1000, seed: int = 0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Run-score distributions: per method, the fraction of runs scoring above each tau (taus,),
    and its stratified bootstrap interval (2, taus)."""
    matrices = {method: as_matrix(values) for method, values in scores.items()}
    with seeded_numpy(seed):
        return library.create_performance_profile(matrices, taus, reps=reps)


def median_ratio(steps_x: np.ndarray, steps_y: np.ndarray) -> float:
    """median(X) / median(Y) of the env steps two methods' runs need to reach a return; inf marks a
    run that never got there. inf when X's median is (X not shown to get there, however Y does);
    0 when only Y's median is (X gets there, Y not within the budget)."""
    median_x, median_y = float(np.median(steps_x)), float(np.median(steps_y))
    if not np.isfinite(median_x):
        return float("inf")
    return median_x / median_y if np.isfinite(median_y) else 0.0


def ratio_interval(
    steps_x: np.ndarray, steps_y: np.ndarray, confidence: float = 0.95, reps: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """(point, low, high) of `median_ratio` of the steps X and Y need (arrays of shape (runs,), inf
    where a run never got there), with a stratified bootstrap interval: each method's runs
    resampled independently (rliable's StratifiedIndependentBootstrap). The bounds are the replicates
    at the tail ranks themselves (no interpolation between replicates), so an infinite replicate
    gives an infinite bound rather than NaN."""
    pair = (as_matrix(steps_x), as_matrix(steps_y))
    with seeded_numpy(seed) as state:
        bootstrap = library.StratifiedIndependentBootstrap(*pair, random_state=state)
        replicates = bootstrap.apply(lambda x, y: np.array([median_ratio(x, y)]), reps)[:, 0]
    tail = 100 * (1 - confidence) / 2
    low = float(np.percentile(replicates, tail, method="lower"))
    high = float(np.percentile(replicates, 100 - tail, method="higher"))
    return median_ratio(*pair), low, high


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
