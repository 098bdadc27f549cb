"""Learning curves: mean (or IQM) and a stratified bootstrap confidence band across seeds (rliable),
one line per method; and the runs `rlv plot` and `rlv report` read (find_runs, select_runs: the
same paths, the same warnings, the same methods)."""

from __future__ import annotations

import textwrap
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from rlv.errors import RlvError, warn
from rlv.experiments.stats import curve_interval
from rlv.logger import read_csv
from rlv.methods.registry import load_config, method_options, method_spec

Curves = dict[str, list[tuple[np.ndarray, np.ndarray]]]
"""{method: [(env_steps, values) per run]}."""

SUMMARY_FILE = "summary.json"
"""Written last by a run: a run without it has not finished."""


@dataclass(frozen=True)
class RunRecord:
    """A run directory found by `find_runs`, with its config: its task (the env), its method's
    label, and the data its method trained on (the dataset directories its config names)."""

    path: Path
    task: str
    label: str
    seed: int
    data: tuple[str, ...]
    finished: bool

    @classmethod
    def read(cls, path: Path) -> RunRecord:
        config = load_config(path / "config.json")
        streams = method_spec(config.algo).streams(method_options(config))
        data = tuple(str(found) for found in (streams.observations, streams.paired) if found is not None)
        finished = (path / SUMMARY_FILE).is_file()
        return cls(path, config.env, config.label or config.algo, config.seed, data, finished)


def find_runs(paths: list[Path]) -> list[Path]:
    """Run directories under `paths` (what `rlv plot` and `rlv report` take): a path that is a run
    (config.json) is itself, another directory contributes every run below it (config.json and
    eval.csv: a sweep directory, a benchmark's work dir, a parent of run directories)."""
    runs: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            raise RlvError(f"{path}: no such run or sweep directory")
        if (path / "config.json").is_file():
            found = [path]
        else:
            found = sorted(p.parent for p in path.rglob("config.json") if (p.parent / "eval.csv").is_file())
        if not found:
            raise RlvError(f"{path}: no run directories in it (a run has config.json and eval.csv)")
        runs.extend(found)
    return runs


def select_runs(paths: list[Path], keep_unfinished: bool, command: str) -> list[RunRecord]:
    """The runs under `paths` that `rlv plot` (`keep_unfinished`: drawn as far as they got) and
    `rlv report` (they are left out) use, with the same warnings: unfinished runs, and runs of one
    method and task that share a seed (`warn_duplicate_seeds`). None left: an RlvError."""
    records = [RunRecord.read(path) for path in find_runs(paths)]
    for record in records:
        if not record.finished:
            fate = "drawn as far as it got" if keep_unfinished else "left out"
            warn(f"{record.path} has not finished (no {SUMMARY_FILE}); {fate}")
    kept = [record for record in records if record.finished or keep_unfinished]
    if not kept:
        raise RlvError(f"none of the runs has finished (no {SUMMARY_FILE}); nothing to {command}")
    warn_duplicate_seeds(kept)
    return kept


def method_names(records: list[RunRecord]) -> dict[Path, str]:
    """The method each run counts for within its task: its label, or, when runs of one label and
    task trained on different data, the label with the data's directory names (`rlv [q79]`)."""
    datasets: dict[tuple[str, str], set[tuple[str, ...]]] = defaultdict(set)
    for record in records:
        datasets[record.task, record.label].add(record.data)

    def name(record: RunRecord) -> str:
        if len(datasets[record.task, record.label]) == 1:
            return record.label
        short = [Path(found).name for found in record.data]
        others = {tuple(Path(f).name for f in data) for data in datasets[record.task, record.label]}
        shown = short if len(others) == len(datasets[record.task, record.label]) else record.data
        return f"{record.label} [{', '.join(shown) or 'no data'}]"

    return {record.path: name(record) for record in records}


def warn_duplicate_seeds(records: list[RunRecord]) -> None:
    """Warn (stderr) about runs of one method and task that share a seed, or a run given twice:
    each counts as a separate seed, but they are not independent samples."""
    names = method_names(records)
    seen: dict[tuple[str, str, int], Path] = {}
    for record in records:
        key = (record.task, names[record.path], record.seed)
        if key not in seen:
            seen[key] = record.path
            continue
        same = record.path.resolve() == seen[key].resolve()
        what = (
            f"{record.path} is given twice"
            if same
            else f"{seen[key]} and {record.path} have the same seed {record.seed}"
        )
        warn(f"{what} (method {key[1]}); both count towards n, but they are not independent seeds")


def warn_mixed_data(records: list[RunRecord]) -> None:
    """Say once per label and task that its runs trained on different data, and how they are shown."""
    names = method_names(records)
    split: dict[tuple[str, str], set[str]] = defaultdict(set)
    for record in records:
        if names[record.path] != record.label:
            split[record.task, record.label].add(names[record.path])
    for (task, label), shown in split.items():
        warn(
            f"runs labelled {label!r} on {task} trained on different data; they are kept apart as "
            f"{', '.join(sorted(shown))} (give each its own --label to name them)"
        )


def load_curves(records: list[RunRecord], metric: str) -> dict[str, Curves]:
    """{task: {method: [(env_steps, values) per run]}} read from each run's eval.csv."""
    names = method_names(records)
    curves: dict[str, Curves] = defaultdict(lambda: defaultdict(list))
    for record in records:
        rows = read_csv(record.path / "eval.csv")
        if not rows:
            raise RlvError(f"{record.path}/eval.csv: no evaluation rows yet")
        if metric not in rows[0]:
            raise RlvError(f"{record.path}/eval.csv: no column {metric!r} (have {', '.join(rows[0])})")
        steps = np.array([row["env_step"] for row in rows])
        values = np.array([row[metric] for row in rows])
        curves[record.task][names[record.path]].append((steps, values))
    return {task: dict(methods) for task, methods in curves.items()}


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


def plot_runs(paths: list[Path], out: Path, metric: str = "eval/return", title: str | None = None) -> Path:
    """Plot `metric` against env steps for the runs under `paths` (run, sweep or parent
    directories, as `rlv report` takes them), one line per method (and task, when the runs are of
    several), into `out` (PNG/PDF/SVG). Unfinished runs are drawn as far as they got."""
    records = select_runs(paths, keep_unfinished=True, command="plot")
    warn_mixed_data(records)
    grouped = load_curves(records, metric)
    if len(grouped) == 1:
        return plot_curves(next(iter(grouped.values())), out, metric, title)
    curves = {
        f"{method} on {task}": runs for task, methods in grouped.items() for method, runs in methods.items()
    }
    return plot_curves(curves, out, metric, title)


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
