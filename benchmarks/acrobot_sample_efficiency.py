"""Sample efficiency on continuous Acrobot: SAC vs RLV with observation data of three qualities.

Runs every (method, seed) as its own `rlv train` process, two at a time (one torch thread each),
then prints per method: final return (IQM over seeds, 95% bootstrap interval), env steps to reach
SAC's final return, and the ratio to SAC's own steps. Writes a CSV per method, a CSV per run and a
PNG of the curves. Interrupted? Run it again: finished runs are kept, killed runs resume.

    python benchmarks/acrobot_sample_efficiency.py               # the committed results
    python benchmarks/acrobot_sample_efficiency.py --steps 5000 --seeds 2   # a quick look
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro

from rlv.logger import read_csv
from rlv.plot import plot_runs
from rlv.stats import bootstrap_ci, iqm, smooth, steps_to_reach

ROOT = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Args:
    steps: int = 20_000
    """Env steps per run."""
    seeds: int = 5
    """Seeds per method."""
    qualities: tuple[int, ...] = (-99, -79, -63)
    """Average returns of the observation datasets (the paper's three replay pools)."""
    episodes: int = 250
    """Episodes per observation dataset (about 20,000 transitions)."""
    workers: int = 2
    """Runs in parallel (one per core)."""
    eval_every: int = 1000
    """Evaluation interval in env steps."""
    final_window: int = 3
    """Final return = mean of the last this many evaluations; curves are smoothed over it too."""
    work: Path = ROOT / "runs" / "acrobot"
    """Where datasets and run directories go (not committed)."""
    results: Path = ROOT / "results"
    """Where the CSVs and the PNG go (committed)."""


def rlv_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "rlv", *args]


def run(command: list[str], log: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as handle:
        subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, check=True)


def make_dataset(args: Args, quality: int) -> Path:
    path = args.work / f"data_q{-quality}"
    if not (path / "meta.json").exists():
        run(
            rlv_command(
                "collect",
                "--out",
                str(path),
                "--quality",
                str(quality),
                "--episodes",
                str(args.episodes),
                "--seed",
                str(-quality),
                "--overwrite",
                "--no-progress",
            ),
            args.work / "logs" / f"collect_q{-quality}.log",
        )
    return path


def train_job(args: Args, method: str, preset: str, seed: int, dataset: Path | None) -> Path:
    out = args.work / method / f"seed_{seed}"
    if (out / "summary.json").exists():
        return out
    log = args.work / "logs" / f"{method}_seed{seed}.log"
    if (out / "checkpoints").exists() and any((out / "checkpoints").iterdir()):
        run(rlv_command("train", "--resume", str(out), "--no-progress"), log)
        return out
    if out.exists():
        subprocess.run(["rm", "-rf", str(out)], check=True)
    command = rlv_command(
        "train",
        preset,
        "--seed",
        str(seed),
        "--total-steps",
        str(args.steps),
        "--eval-every",
        str(args.eval_every),
        "--label",
        method,
        "--out",
        str(out),
        "--no-progress",
        "--checkpoint-every",
        "5000",
    )
    if dataset is not None:
        command += ["--rlv.dataset", str(dataset)]
    run(command, log)
    return out


def curve(run_dir: Path, window: int) -> tuple[np.ndarray, np.ndarray]:
    rows = read_csv(run_dir / "eval.csv")
    return np.array([r["env_step"] for r in rows]), np.array([r["eval/return"] for r in rows])


def analyse(args: Args, runs: dict[str, list[Path]]) -> list[dict[str, object]]:
    finals = {
        m: np.array([curve(r, args.final_window)[1][-args.final_window :].mean() for r in rs])
        for m, rs in runs.items()
    }
    threshold = iqm(finals["sac"])

    def steps_needed(run_dir: Path) -> float:
        steps, values = curve(run_dir, args.final_window)
        reached = steps_to_reach(steps, smooth(values, args.final_window), threshold)
        return reached if np.isfinite(reached) else float("inf")

    needed = {m: np.array([steps_needed(r) for r in rs]) for m, rs in runs.items()}
    sac_steps = float(np.median(needed["sac"]))
    table = []
    for method in runs:
        low, high = bootstrap_ci(finals[method])
        median_steps = float(np.median(needed[method]))
        table.append(
            {
                "method": method,
                "seeds": len(runs[method]),
                "final_return_iqm": iqm(finals[method]),
                "ci_low": low,
                "ci_high": high,
                "steps_to_sac_final": median_steps,
                "runs_reaching": int(np.isfinite(needed[method]).sum()),
                "ratio_to_sac": median_steps / sac_steps if np.isfinite(median_steps) else float("inf"),
            }
        )
    return table


def main(args: Args) -> None:
    started = time.perf_counter()
    args.work.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(args.workers) as pool:
        datasets = dict(
            zip(args.qualities, pool.map(lambda q: make_dataset(args, q), args.qualities), strict=True)
        )
    print(f"datasets ready after {time.perf_counter() - started:.0f} s", flush=True)
    for quality, path in datasets.items():
        meta = json.loads((path / "meta.json").read_text())
        print(
            f"  quality {quality}: measured average return {meta['average_return']:.1f}, "
            f"{meta['num_transitions']} transitions ({path})",
            flush=True,
        )
    jobs = [("sac", "acrobot-sac", None)] + [
        (f"rlv_q{-q}", "acrobot-rlv", datasets[q]) for q in args.qualities
    ]
    futures = {}
    with ThreadPoolExecutor(args.workers) as pool:
        for seed in range(args.seeds):
            for method, preset, dataset in jobs:
                futures[(method, seed)] = pool.submit(train_job, args, method, preset, seed, dataset)
        for (method, seed), future in futures.items():
            future.result()
            print(f"  done {method} seed {seed} at {time.perf_counter() - started:.0f} s", flush=True)
    runs = {method: [futures[(method, s)].result() for s in range(args.seeds)] for method, _, _ in jobs}
    table = analyse(args, runs)
    args.results.mkdir(parents=True, exist_ok=True)
    with open(args.results / "acrobot_sample_efficiency.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    with open(args.results / "acrobot_sample_efficiency_runs.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["method", "seed", "env_step", "eval_return"])
        for method, run_dirs in runs.items():
            for seed, run_dir in enumerate(run_dirs):
                for step, value in zip(*curve(run_dir, 1), strict=True):
                    writer.writerow([method, seed, int(step), f"{value:.2f}"])
    plot_runs(
        [r for rs in runs.values() for r in rs],
        args.results / "acrobot_sample_efficiency.png",
        title=f"Continuous Acrobot, {args.seeds} seeds, mean and 95% bootstrap CI",
    )
    print(
        f"\nAcrobot sample efficiency ({args.seeds} seeds, {args.steps} env steps, "
        f"final = mean of last {args.final_window} evals; threshold = SAC's final IQM "
        f"{table[0]['final_return_iqm']:.1f})"
    )
    print(
        "| method | final return IQM [95% CI] | env steps to SAC's final (median) "
        "| runs reaching | ratio to SAC |"
    )
    print("|---|---|---|---|---|")
    for row in table:
        print(
            f"| {row['method']} | {row['final_return_iqm']:.1f} "
            f"[{row['ci_low']:.1f}, {row['ci_high']:.1f}] | "
            f"{row['steps_to_sac_final']:.0f} | {row['runs_reaching']}/{row['seeds']} | "
            f"{row['ratio_to_sac']:.2f} |"
        )
    print(f"\ntotal wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main(tyro.cli(Args))
