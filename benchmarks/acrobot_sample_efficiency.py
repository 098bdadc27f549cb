"""Sample efficiency on continuous Acrobot: SAC vs RLV with observation data of three qualities.

Runs every (method, seed) as its own `rlv train` process, two at a time (one torch thread each),
then prints per method: final return (IQM over seeds, 95% bootstrap interval), env steps to reach
SAC's final return, and the ratio to SAC's own steps. Writes a CSV per method, a CSV per run and a
PNG of the curves. Interrupted? Run it again: finished runs are kept, killed runs resume.

    python benchmarks/acrobot_sample_efficiency.py               # the committed results
    python benchmarks/acrobot_sample_efficiency.py --steps 5000 --seeds 2   # a quick look
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import common
import tyro
from common import rlv_command, run, steps_text

from rlv.envs.acrobot import ACROBOT_HORIZON
from rlv.plot import Curves, plot_curves

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
    fixed_threshold: float = -90.0
    """A fixed return to reach (the goal reached within 90 steps on average), for a ratio that does not
    depend on where SAC ends."""
    work: Path = ROOT / "runs" / "acrobot"
    """Where datasets and run directories go (not committed)."""
    results: Path = ROOT / "results"
    """Where the CSVs and the PNG go (committed)."""
    replot: bool = False
    """Only redraw the PNG from the committed per-run CSV (no data, no training), then exit."""


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
    options = [
        "--total-steps",
        str(args.steps),
        "--eval-every",
        str(args.eval_every),
        "--checkpoint-every",
        "5000",
    ]
    if dataset is not None:
        options += ["--rlv.dataset", str(dataset)]
    return common.train_job(args.work, method, preset, seed, options)


def analyse(args: Args, runs: dict[str, list[Path]]) -> list[dict[str, object]]:
    """Per method: final return IQM and CI; median steps to SAC's final IQM and to a fixed return."""
    return common.summarise(
        runs, "eval/return", args.final_window, args.fixed_threshold, args.steps, "return"
    )


def print_table(args: Args, table: list[dict[str, object]]) -> None:
    sac = table[0]
    print(
        f"\nAcrobot sample efficiency: {args.seeds} seeds x {args.steps} env steps; final return = mean "
        f"of the last {args.final_window} evaluations (5 episodes each); steps = median over seeds of the "
        f"first "
        f"step where the {args.final_window}-eval moving average reaches the threshold"
    )
    print(
        "| method | final return IQM [95% CI] | steps to SAC's final ({:.1f}) | ratio | steps to {:.0f} "
        "| ratio |".format(sac["threshold_sac_final"], args.fixed_threshold)
    )
    print("|---|---|---|---|---|---|")
    for row in table:
        print(
            f"| {row['method']} | {row['final_return_iqm']:.1f} [{row['ci_low']:.1f}, {row['ci_high']:.1f}] "
            f"| {steps_text(row['steps_to_sac_final'])} "
            f"({row['runs_reaching_sac_final']}/{row['seeds']} runs) "
            f"| {row['ratio_sac_final']} | {steps_text(row['steps_to_fixed'])} "
            f"({row['runs_reaching_fixed']}/{row['seeds']} runs) | {row['ratio_fixed']} |"
        )
    floor = -float(ACROBOT_HORIZON)  # the return of an episode that never reaches the goal
    sac_final = float(sac["threshold_sac_final"])
    if sac_final <= floor:
        print(
            f"note: SAC's final return is the floor ({floor:.0f}: the goal is never reached), so every "
            "method meets it at the first evaluation and that ratio says nothing; the fixed threshold "
            f"{args.fixed_threshold:.0f} is the informative comparison."
        )
    elif sac_final < floor + 5:
        print(
            f"note: SAC's final return {sac_final:.1f} is barely above the floor ({floor:.0f}: the goal is "
            "never reached), so 'steps to SAC's final' measures when a method first reaches the goal at "
            f"all; the fixed threshold {args.fixed_threshold:.0f} is the more informative comparison."
        )


def draw(args: Args, curves: Curves) -> Path:
    seeds = max(len(runs) for runs in curves.values())
    title = f"Continuous Acrobot, {seeds} seeds, mean and 95% bootstrap CI"
    return plot_curves(curves, args.results / "acrobot_sample_efficiency.png", "eval/return", title)


def main(args: Args) -> None:
    if args.replot:
        print(f"wrote {draw(args, common.read_curves(args.results / 'acrobot_sample_efficiency_runs.csv'))}")
        return
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
    common.write_rows(args.results / "acrobot_sample_efficiency.csv", table)
    common.write_curves(args.results / "acrobot_sample_efficiency_runs.csv", runs, "eval/return")
    draw(args, common.read_curves(args.results / "acrobot_sample_efficiency_runs.csv"))
    print_table(args, table)
    print(f"\ntotal wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main(tyro.cli(Args))
