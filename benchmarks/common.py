"""Helpers shared by the sample-efficiency benchmarks: run `rlv` subprocesses (resumable), read
evaluation curves, find when a curve reaches a threshold, write per-run CSVs and read them back."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np

from rlv.logger import read_csv
from rlv.plot import Curves
from rlv.stats import interval, iqm, smooth, steps_to_reach


def rlv_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "rlv", *args]


def run(command: list[str], log: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as handle:
        subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, check=True)


def train_job(work: Path, method: str, preset: str, seed: int, options: list[str]) -> Path:
    """Train (method, seed) with `rlv train PRESET --seed S --label METHOD OPTIONS...` into
    work/method/seed_S; a finished run is kept, a killed one resumed."""
    out = work / method / f"seed_{seed}"
    if (out / "summary.json").exists():
        return out
    log = work / "logs" / f"{method}_seed{seed}.log"
    if (out / "checkpoints").exists() and any((out / "checkpoints").iterdir()):
        run(rlv_command("train", "--resume", str(out), "--no-progress"), log)
        return out
    if out.exists():
        subprocess.run(["rm", "-rf", str(out)], check=True)
    command = rlv_command(
        "train", preset, "--seed", str(seed), "--label", method, "--out", str(out), "--no-progress", *options
    )
    run(command, log)
    return out


def curve(run_dir: Path, metric: str = "eval/return") -> tuple[np.ndarray, np.ndarray]:
    rows = read_csv(run_dir / "eval.csv")
    return np.array([r["env_step"] for r in rows]), np.array([r[metric] for r in rows])


def steps_to(run_dir: Path, threshold: float, window: int, metric: str = "eval/return") -> float:
    """First env step at which the run's smoothed evaluation metric reaches `threshold` (inf: never)."""
    steps, values = curve(run_dir, metric)
    reached = steps_to_reach(steps, smooth(values, window), threshold)
    return reached if np.isfinite(reached) else float("inf")


def ratio_text(steps: float, sac_steps: float, budget: int) -> str:
    """Method/SAC steps ratio; an upper bound when SAC never got there within the budget."""
    if not np.isfinite(steps):
        return "n/a (not reached)"
    if not np.isfinite(sac_steps):
        return f"< {steps / budget:.2f} (SAC: not within {budget})"
    return f"{steps / sac_steps:.2f}"


def steps_text(steps: object) -> str:
    return f"{steps:.0f}" if np.isfinite(float(steps)) else "not reached"


def write_rows(path: Path, rows: list[dict[str, object]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_curves(path: Path, runs: dict[str, list[Path]], metric: str) -> None:
    """One row per (method, seed, evaluation)."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["method", "seed", "env_step", metric.replace("/", "_")])
        for method, run_dirs in runs.items():
            for seed, run_dir in enumerate(run_dirs):
                for step, value in zip(*curve(run_dir, metric), strict=True):
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
    runs: dict[str, list[Path]], metric: str, window: int, fixed_threshold: float, budget: int, name: str
) -> list[dict[str, object]]:
    """Per method (the first is the SAC baseline): final `metric` (mean of the last `window`
    evaluations) as IQM over seeds with a 95% stratified bootstrap CI (rliable), in column `final_{name}_iqm`; median
    steps to reach SAC's final IQM and `fixed_threshold`, how many runs reach each, and the ratio
    to SAC's own steps."""
    finals = {m: np.array([curve(r, metric)[1][-window:].mean() for r in rs]) for m, rs in runs.items()}
    baseline = next(iter(runs))
    thresholds = {"sac_final": iqm(finals[baseline]), "fixed": fixed_threshold}
    sac_steps = {
        key: float(np.median([steps_to(r, threshold, window, metric) for r in runs[baseline]]))
        for key, threshold in thresholds.items()
    }
    table = []
    for method, run_dirs in runs.items():
        _, low, high = interval(finals[method])
        row: dict[str, object] = {
            "method": method,
            "seeds": len(run_dirs),
            f"final_{name}_iqm": iqm(finals[method]),
            "ci_low": low,
            "ci_high": high,
        }
        for key, threshold in thresholds.items():
            needed = np.array([steps_to(r, threshold, window, metric) for r in run_dirs])
            row[f"threshold_{key}"] = threshold
            row[f"steps_to_{key}"] = float(np.median(needed))
            row[f"runs_reaching_{key}"] = int(np.isfinite(needed).sum())
            row[f"ratio_{key}"] = ratio_text(float(np.median(needed)), sac_steps[key], budget)
        table.append(row)
    return table
