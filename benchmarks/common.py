"""Helpers shared by the sample-efficiency benchmarks, which are specs on `rlv sweep` and
`rlv report`: prepare data with `rlv collect`, run the grid with `rlv sweep` (resumable), aggregate
with rlv.experiments.report, and add the benchmark's own table (steps to a threshold, ratio to SAC); per-run
curves are kept in a CSV so the tables and plots can be made again without the run directories."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from rlv.experiments.plot import Curves
from rlv.experiments.report import report_curves
from rlv.experiments.report_options import ReportOptions
from rlv.experiments.stats import interval, iqm, ratio_interval, smooth, steps_to_reach
from rlv.logger import read_csv


def rlv_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "rlv", *args]


def run(command: list[str], log: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as handle:
        subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, check=True)


def run_parallel(jobs: list[tuple[list[str], Path]], workers: int) -> None:
    """Run (command, log) jobs `workers` at a time (each appends to its log); exits if one failed."""
    pending, running = list(jobs), []
    while pending or running:
        while pending and len(running) < workers:
            command, log = pending.pop(0)
            log.parent.mkdir(parents=True, exist_ok=True)
            handle = open(log, "a")  # noqa: SIM115 (closed when the process ends)
            running.append((subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT), handle, log))
        process, handle, log = running.pop(0)
        code = process.wait()
        handle.close()
        if code != 0:
            sys.exit(f"a job failed (exit {code}); see {log}")


def sweep(
    work: Path,
    methods: dict[str, tuple[str, list[str]]],
    seeds: int,
    options: list[str],
    workers: int,
    spec_file: str = "sweep_spec.json",
) -> dict[str, list[Path]]:
    """Run methods {name: (preset, options)} x seeds 0..seeds-1 with `rlv sweep` into
    work/METHOD/seed_S (`workers` trials at a time on a local Ray); finished runs are kept, killed
    ones resumed. The spec goes to work/`spec_file`. Exits if a trial failed."""
    spec = {
        "methods": {name: {"preset": preset, "options": extra} for name, (preset, extra) in methods.items()},
        "seeds": list(range(seeds)),
        "options": options,
    }
    work.mkdir(parents=True, exist_ok=True)
    (work / spec_file).write_text(json.dumps(spec, indent=2) + "\n")
    sweep_spec(work, work / spec_file, workers)
    return {name: [work / name / f"seed_{seed}" for seed in range(seeds)] for name in methods}


def sweep_spec(work: Path, spec: Path, workers: int) -> None:
    """`rlv sweep WORK --spec SPEC` (`workers` trials at a time); exits if a trial failed."""
    command = rlv_command("sweep", str(work), "--spec", str(spec), "--num-cpus", str(workers))
    if subprocess.run(command).returncode != 0:
        sys.exit(
            f"rlv sweep failed; fix the trials above and run this again (finished runs are kept): {work}"
        )


KEPT_SUFFIXES = (".json", ".csv", ".txt")
"""A run directory's files that `keep_finished` keeps: config, logs, summary (not checkpoints)."""


def copy_run(source: Path, target: Path, files: list[Path]) -> None:
    """Copy `files` of the run directory `source` into `target`, its summary.json (the mark of a
    finished run) last, so that a copy cut short never looks finished."""
    target.mkdir(parents=True, exist_ok=True)
    for file in sorted(files, key=lambda f: f == source / "summary.json"):
        shutil.copy2(file, target / file.name)


def keep_finished(work: Path, kept: Path) -> list[str]:
    """Copy the small files of each finished run work/METHOD/seed_S (one with a summary.json) to
    kept/METHOD/seed_S, where not kept before; returns the names of the newly kept runs. `kept` is
    committed, so a fresh checkout need not run them again (`restore_finished`)."""
    names = []
    for summary in sorted(work.glob("*/seed_*/summary.json")):
        run_dir = summary.parent
        target = kept / run_dir.parent.name / run_dir.name
        if (target / summary.name).exists():
            continue
        copy_run(run_dir, target, [f for f in run_dir.iterdir() if f.is_file() and f.suffix in KEPT_SUFFIXES])
        names.append(f"{run_dir.parent.name}/{run_dir.name}")
    return names


def restore_finished(kept: Path, work: Path) -> list[Path]:
    """Copy each run kept/METHOD/seed_S that work/ lacks back to work/METHOD/seed_S (a run already
    in work/, finished or not, is left alone); returns the restored run directories."""
    restored = []
    for summary in sorted(kept.glob("*/seed_*/summary.json")):
        target = work / summary.parent.parent.name / summary.parent.name
        if target.exists():
            continue
        copy_run(summary.parent, target, list(summary.parent.iterdir()))
        restored.append(target)
    return restored


def curve(run_dir: Path, metric: str = "eval/return") -> tuple[np.ndarray, np.ndarray]:
    rows = read_csv(run_dir / "eval.csv")
    return np.array([r["env_step"] for r in rows]), np.array([r[metric] for r in rows])


def run_curves(runs: dict[str, list[Path]], metric: str) -> Curves:
    """{method: [(env_steps, values) per run]} of the runs' eval.csv."""
    return {method: [curve(run_dir, metric) for run_dir in run_dirs] for method, run_dirs in runs.items()}


def steps_to(points: tuple[np.ndarray, np.ndarray], threshold: float, window: int) -> float:
    """First env step at which the smoothed curve reaches `threshold` (inf: never)."""
    steps, values = points
    reached = steps_to_reach(steps, smooth(values, window), threshold)
    return reached if np.isfinite(reached) else float("inf")


def ratio_text(needed: np.ndarray, sac_needed: np.ndarray, budget: int) -> str:
    """Ratio of the median steps a method's runs and SAC's runs need (`needed`: per run, inf where a
    run never got there), with its 95% bootstrap interval; an upper bound when SAC's median never
    got there within the budget."""
    steps, sac_steps = float(np.median(needed)), float(np.median(sac_needed))
    if not np.isfinite(steps):
        return "n/a (not reached)"
    if not np.isfinite(sac_steps):
        return f"< {steps / budget:.2f} (SAC: not within {budget})"
    point, low, high = ratio_interval(needed, sac_needed)
    return f"{point:.2f} [{low:.2f}, {high:.2f}]"


def iqm_curve(runs: list[tuple[np.ndarray, np.ndarray]], window: int) -> tuple[np.ndarray, np.ndarray]:
    """(env steps, IQM over runs of each run's `window`-eval trailing average), on the steps every
    run has evaluated (the shortest run's)."""
    length = min(len(steps) for steps, _ in runs)
    smoothed = np.array([smooth(values[:length], window) for _, values in runs])
    return runs[0][0][:length], np.array([iqm(smoothed[:, point]) for point in range(length)])


def budget_reaching(runs: list[tuple[np.ndarray, np.ndarray]], threshold: float, window: int) -> int | None:
    """First env step at which the IQM over `runs` of their `window`-eval average reaches
    `threshold` (the budget at which a method converges to it); None if it never does."""
    steps, values = iqm_curve(runs, window)
    reached = steps_to_reach(steps, values, threshold)
    return int(reached) if np.isfinite(reached) else None


def truncated(curves: Curves, budget: int) -> Curves:
    """The curves cut at env step `budget` (what runs of that budget would have logged)."""
    return {
        method: [(steps[steps <= budget], values[steps <= budget]) for steps, values in runs]
        for method, runs in curves.items()
    }


def steps_text(steps: object) -> str:
    return f"{steps:.0f}" if np.isfinite(float(steps)) else "not reached"


def write_rows(path: Path, rows: list[dict[str, object]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def read_rows(path: Path) -> dict[str, dict[str, str]]:
    """{method: row} of a table that `write_rows` wrote."""
    with open(path, newline="") as handle:
        return {row["method"]: row for row in csv.DictReader(handle)}


def write_curves(path: Path, runs: dict[str, list[Path]], metric: str) -> None:
    """One row per (method, seed, evaluation) of the runs' eval.csv."""
    write_curve_table(path, run_curves(runs, metric), metric)


def write_curve_table(path: Path, curves: Curves, metric: str) -> None:
    """One row per (method, seed, evaluation); seeds are the runs' positions."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["method", "seed", "env_step", metric.replace("/", "_")])
        for method, method_curves in curves.items():
            for seed, points in enumerate(method_curves):
                for step, value in zip(*points, strict=True):
                    writer.writerow([method, seed, int(step), f"{value:.4f}"])


def read_curves(path: Path) -> Curves:
    """{method: [(env_steps, values) per seed]} from a CSV that `write_curves` wrote."""
    by_run: dict[tuple[str, str], list[tuple[int, float]]] = {}
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for method, seed, step, value in reader:
            by_run.setdefault((method, seed), []).append((int(step), float(value)))
    curves: Curves = {}
    for (method, _), points in by_run.items():
        steps, values = zip(*points, strict=True)
        curves.setdefault(method, []).append((np.array(steps), np.array(values)))
    return curves


def summarise(
    curves: Curves, window: int, fixed_threshold: float, budget: int, name: str
) -> list[dict[str, object]]:
    """Per method (the first is the SAC baseline): the final value (mean of the last `window`
    evaluations) as IQM over seeds with a 95% stratified bootstrap CI (rliable), in column
    `final_{name}_iqm`; median steps to reach SAC's final IQM and `fixed_threshold`, how many runs
    reach each, and the ratio to SAC's own median steps with its 95% bootstrap interval."""
    finals = {m: np.array([values[-window:].mean() for _, values in rs]) for m, rs in curves.items()}
    baseline = next(iter(curves))
    thresholds = {"sac_final": iqm(finals[baseline]), "fixed": fixed_threshold}
    sac_needed = {
        key: np.array([steps_to(points, threshold, window) for points in curves[baseline]])
        for key, threshold in thresholds.items()
    }
    table = []
    for method, method_curves in curves.items():
        _, low, high = interval(finals[method])
        row: dict[str, object] = {
            "method": method,
            "seeds": len(method_curves),
            f"final_{name}_iqm": iqm(finals[method]),
            "ci_low": low,
            "ci_high": high,
        }
        for key, threshold in thresholds.items():
            needed = np.array([steps_to(points, threshold, window) for points in method_curves])
            row[f"threshold_{key}"] = threshold
            row[f"steps_to_{key}"] = float(np.median(needed))
            row[f"runs_reaching_{key}"] = int(np.isfinite(needed).sum())
            row[f"ratio_{key}"] = ratio_text(needed, sac_needed[key], budget)
        table.append(row)
    return table


def write_report(curves: Curves, out: Path, task: str, metric: str, window: int) -> list[Path]:
    """`rlv report`'s table, CSV, curves and performance profile of the benchmark's runs in `out`."""
    return report_curves({task: curves}, out, ReportOptions(metric=metric, final_window=window))


def replace_table(path: Path, lines: list[str]) -> None:
    """Put `lines` in place of the markdown table (the lines starting with '|') of a results text
    file, keeping the rest (how the data was made, wall time) as it was written."""
    old = path.read_text().splitlines()
    first = next(i for i, line in enumerate(old) if line.startswith("|"))
    last = max(i for i, line in enumerate(old) if line.startswith("|"))
    path.write_text("\n".join([*old[:first], *lines, *old[last + 1 :]]) + "\n")
