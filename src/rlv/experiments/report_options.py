"""Options of `rlv report` (kept apart from rlv.experiments.report so that parsing them does not import
rliable and matplotlib)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class ReportOptions:
    """How runs are scored and aggregated."""

    metric: str = "eval/return"
    """Column of eval.csv to aggregate (eval/return, eval/success, ...)."""
    final_window: int = 3
    """A run's score: the mean of its last this many evaluations."""
    baseline: str | None = None
    """Method the probability of improvement compares against (default: sac if present, else the first)."""
    reps: int = 2000
    """Bootstrap resamples per interval."""
    confidence: float = 0.95
    """Coverage of the confidence intervals."""
    seed: int = 0
    """Seed of the bootstrap resampling (reports are reproducible)."""
    curve_statistic: Literal["iqm", "mean"] = "iqm"
    """Statistic drawn in the curves plot: iqm or mean (band: its bootstrap interval)."""
