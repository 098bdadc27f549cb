"""`rlv report`: aggregate finished runs per task and method with rliable (rlv.experiments.stats) into a
table, a CSV, learning curves with confidence bands and a performance profile.

A run's score is the mean of its last `final_window` evaluations of `metric`; a task is the run's
environment (config.env), a method its label (else its algo; runs of one label on different data
are kept apart: rlv.experiments.plot.method_names). Scores of different tasks are not
on one scale, so every task gets its own rows and plots."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from rliable import plot_utils

from rlv.errors import RlvError
from rlv.experiments.plot import Curves, load_curves, plot_curves, select_runs, warn_mixed_data
from rlv.experiments.report_options import ReportOptions
from rlv.experiments.stats import improvement, interval, performance_profile
from rlv.files import write_text_atomic


@dataclass(frozen=True)
class MethodRow:
    """One method's aggregate on one task; each estimate is (point, low, high)."""

    task: str
    method: str
    runs: int
    iqm: tuple[float, float, float]
    mean: tuple[float, float, float]
    improvement: tuple[float, float, float] | None
    """P(this method > baseline); None for the baseline itself."""


def final_scores(curves: Curves, window: int) -> dict[str, np.ndarray]:
    """{method: (runs,) scores}: the mean of each run's last `window` evaluations."""
    return {
        method: np.array([values[-window:].mean() for _, values in runs]) for method, runs in curves.items()
    }


def pick_baseline(methods: list[str], baseline: str | None) -> str:
    if baseline is not None:
        if baseline not in methods:
            raise RlvError(f"--baseline {baseline!r}: no such method (have {', '.join(methods)})")
        return baseline
    return "sac" if "sac" in methods else methods[0]


def aggregate(task: str, scores: dict[str, np.ndarray], options: ReportOptions) -> list[MethodRow]:
    """One row per method: IQM and mean with stratified bootstrap intervals, and the
    probability of improving on the baseline."""
    baseline = pick_baseline(list(scores), options.baseline if options.baseline in scores else None)
    settings = {"confidence": options.confidence, "reps": options.reps, "seed": options.seed}
    rows = []
    for method, values in scores.items():
        better = None if method == baseline else improvement(values, scores[baseline], **settings)
        rows.append(
            MethodRow(
                task=task,
                method=method,
                runs=len(values),
                iqm=interval(values, "iqm", **settings),
                mean=interval(values, "mean", **settings),
                improvement=better,
            )
        )
    return rows


def estimate_text(estimate: tuple[float, float, float], digits: int) -> str:
    point, low, high = estimate
    return f"{point:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def markdown(rows: list[MethodRow], options: ReportOptions, digits: int = 3) -> str:
    """The report as markdown: a header saying how scores were made, then a table per task."""
    percent = f"{options.confidence:.0%}"
    lines = [
        f"Score of a run: mean of its last {options.final_window} evaluations of {options.metric}. "
        f"Estimates across runs with {percent} stratified bootstrap confidence intervals "
        f"(rliable, {options.reps} resamples, seed {options.seed}); P(> baseline): probability that "
        "a run of the method beats a run of the baseline.",
    ]
    for task in dict.fromkeys(row.task for row in rows):
        task_rows = [row for row in rows if row.task == task]
        baseline = next(row.method for row in task_rows if row.improvement is None)
        lines += [
            "",
            f"## {task}",
            "",
            f"| method | runs | IQM [{percent} CI] | mean [{percent} CI] | P(> {baseline}) [{percent} CI] |",
            "|---|---|---|---|---|",
        ]
        for row in task_rows:
            better = "baseline" if row.improvement is None else estimate_text(row.improvement, 2)
            lines.append(
                f"| {row.method} | {row.runs} | {estimate_text(row.iqm, digits)} "
                f"| {estimate_text(row.mean, digits)} | {better} |"
            )
    return "\n".join(lines) + "\n"


def csv_text(rows: list[MethodRow]) -> str:
    """One CSV row per (task, method): every estimate with its interval."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    header = ["task", "method", "runs"]
    for name in ("iqm", "mean", "p_improvement"):
        header += [name, f"{name}_low", f"{name}_high"]
    writer.writerow(header)
    for row in rows:
        better = row.improvement or (float("nan"),) * 3
        values = [*row.iqm, *row.mean, *better]
        writer.writerow([row.task, row.method, row.runs, *(f"{value:.6g}" for value in values)])
    return buffer.getvalue()


def file_stem(task: str) -> str:
    """A task name as part of a file name (gym:Pendulum-v1 -> gym_Pendulum-v1)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", task)


def plot_profile(scores: dict[str, np.ndarray], out: Path, metric: str, options: ReportOptions) -> Path:
    """Performance profile: the fraction of runs scoring above tau, with its bootstrap band."""
    every = np.concatenate(list(scores.values()))
    taus = np.linspace(every.min(), every.max(), 101) if every.max() > every.min() else every[:1]
    profiles, bands = performance_profile(scores, taus, min(options.reps, 1000), options.seed)
    figure = Figure(figsize=(7, 4.5), dpi=120)
    axis = figure.subplots()
    plot_utils.plot_performance_profiles(
        profiles,
        taus,
        performance_profile_cis=bands,
        ax=axis,
        xlabel=f"score tau ({metric})",
        ylabel="fraction of runs with score > tau",
        legend=True,
    )
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    figure.savefig(tmp)
    tmp.replace(out)
    return out


def write_report(paths: list[Path], out: Path, options: ReportOptions) -> list[Path]:
    """Aggregate the finished runs under `paths` (run, sweep or parent directories, as `rlv plot`
    takes them; rlv.experiments.plot.select_runs) into `out` (see report_curves)."""
    if options.final_window < 1:
        raise RlvError(f"--final-window: must be at least 1, got {options.final_window}")
    records = select_runs(paths, keep_unfinished=False, command="report")
    warn_mixed_data(records)
    grouped = load_curves(records, options.metric)
    methods = {method for curves in grouped.values() for method in curves}
    if options.baseline is not None and options.baseline not in methods:
        raise RlvError(f"--baseline {options.baseline!r}: no such method (have {', '.join(sorted(methods))})")
    return report_curves(grouped, out, options)


def report_curves(grouped: dict[str, Curves], out: Path, options: ReportOptions) -> list[Path]:
    """Write report.md, report.csv, and per task curves_<task>.png and profile_<task>.png into
    `out` from {task: {method: [(env_steps, values) per run]}}. Returns the files written."""
    rows: list[MethodRow] = []
    written: list[Path] = []
    out.mkdir(parents=True, exist_ok=True)
    for task, curves in sorted(grouped.items()):
        scores = final_scores(curves, options.final_window)
        rows += aggregate(task, scores, options)
        title = f"{task}: {options.curve_statistic} and {options.confidence:.0%} stratified bootstrap CI"
        stem = file_stem(task)
        written.append(
            plot_curves(curves, out / f"curves_{stem}.png", options.metric, title, options.curve_statistic)
        )
        written.append(plot_profile(scores, out / f"profile_{stem}.png", options.metric, options))
    write_text_atomic(out / "report.md", markdown(rows, options))
    write_text_atomic(out / "report.csv", csv_text(rows))
    return [out / "report.md", out / "report.csv", *written]
