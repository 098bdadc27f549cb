"""Learning curves: mean (or IQM) and a stratified bootstrap confidence band across seeds (rliable),
one line per method."""

from __future__ import annotations

import sys
import textwrap
from collections import defaultdict
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from rlv.errors import RlvError
from rlv.experiments.stats import curve_interval
from rlv.logger import read_csv
from rlv.methods.registry import load_config

Curves = dict[str, list[tuple[np.ndarray, np.ndarray]]]
"""{method: [(env_steps, values) per run]}."""


def method_label(run: Path) -> str:
    """The method a run belongs to: its config label, else its algo."""
    config = load_config(run / "config.json")
    return config.label or config.algo


def warn_duplicate_seeds(runs: list[Path]) -> None:
    """Warn (stderr) about runs of one method that share a seed, or a run given twice: the plot
    counts each as a separate seed, but they are not independent samples."""
    seen: dict[tuple[str, int], Path] = {}
    for run in runs:
        config = load_config(Path(run) / "config.json")
        key = (config.label or config.algo, config.seed)
        if key in seen:
            same = Path(run).resolve() == seen[key].resolve()
            what = f"{run} is given twice" if same else f"{seen[key]} and {run} have the same seed {key[1]}"
            print(
                f"rlv: warning: {what} (method {key[0]}); both count towards n, but they are "
                "not independent seeds",
                file=sys.stderr,
            )
        else:
            seen[key] = Path(run)


def load_curves(runs: list[Path], metric: str) -> Curves:
    """{method: [(env_steps, values) per run]} read from each run's eval.csv."""
    curves: dict[str, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    warn_duplicate_seeds(runs)
    for run in runs:
        rows = read_csv(Path(run) / "eval.csv")
        if not rows:
            raise RlvError(f"{run}/eval.csv: no evaluation rows yet")
        if metric not in rows[0]:
            raise RlvError(f"{run}/eval.csv: no column {metric!r} (have {', '.join(rows[0])})")
        steps = np.array([row["env_step"] for row in rows])
        values = np.array([row[metric] for row in rows])
        curves[method_label(Path(run))].append((steps, values))
    return curves


def band(
    curves: list[tuple[np.ndarray, np.ndarray]],
    statistic: str = "mean",
    confidence: float = 0.95,
    reps: int = 1000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Common steps, `statistic` over runs at each step, and its stratified bootstrap interval
    (rliable), truncated to the shortest run."""
    length = min(len(steps) for steps, _ in curves)
    steps = curves[0][0][:length]
    values = np.stack([v[:length] for _, v in curves])  # (runs, points)
    estimate, low, high = curve_interval(values, statistic, confidence, reps, seed)
    return steps, estimate, low, high


LINE_STYLES = ("-", "--", "-.", ":")


def plot_runs(runs: list[Path], out: Path, metric: str = "eval/return", title: str | None = None) -> Path:
    """Plot `metric` against env steps for `runs`, grouped by method, into `out` (PNG/PDF/SVG)."""
    return plot_curves(load_curves(runs, metric), out, metric, title)


def plot_curves(
    curves: Curves,
    out: Path,
    metric: str = "eval/return",
    title: str | None = None,
    statistic: str = "mean",
    marks: dict[str, float] | None = None,
) -> Path:
    """Plot {method: [(env_steps, values) per run]} as `statistic` lines (mean or iqm) with
    95% stratified bootstrap bands into `out`; `marks` {label: env step} are vertical lines.
    Line styles cycle as well as colours, so methods whose curves coincide stay distinguishable;
    a long title wraps instead of running off the figure. Written atomically."""
    figure = Figure(figsize=(7, 4.5), dpi=120)
    axis = figure.subplots()
    for index, (method, method_curves) in enumerate(sorted(curves.items())):
        steps, estimate, low, high = band(method_curves, statistic)
        style = LINE_STYLES[index % len(LINE_STYLES)]
        line = axis.plot(steps, estimate, style, label=f"{method} (n={len(method_curves)})")[0]
        axis.fill_between(steps, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    for label, step in (marks or {}).items():
        axis.axvline(step, color="0.4", linestyle=":", linewidth=1, label=label)
    axis.set_xlabel("environment steps")
    axis.set_ylabel(metric)
    axis.set_title(
        textwrap.fill(title or f"{metric}: {statistic} and 95% stratified bootstrap CI across seeds", 70)
    )
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    figure.savefig(tmp)
    tmp.replace(out)
    return out
