"""Visual domain shift: SAC vs RLV without alignment vs RLV with adversarial alignment (with or
without the inverse-model anchor on the encoder), from 48x48 pixels, with observation videos
rendered in the *human* domain (the agent sees the robot domain).

Collects the human-domain dataset (scripted expert, noise calibrated to --success-rate), paired
frames (--paired) and, as a no-shift reference, the same episodes rendered in the robot domain.
Runs every (method, seed) as its own `rlv train` process, --workers at a time (one torch thread
each); prints per method the final success rate (IQM over seeds, 95% bootstrap interval), the env
steps each needs to reach SAC's final success and a fixed success rate (median over seeds; ratio
to SAC), and the discriminator's final accuracy. Writes results/visual_domain_shift[_ENV].csv,
_runs.csv, .png, .txt. Interrupted? Run it again: finished runs are kept, killed runs resume.

    python benchmarks/visual_domain_shift.py                      # pointmass, the committed results
    CPU='--sac.batch-size 32 --rlv.obs-batch-size 32 --sac.conv-channels 8 16 16 --sac.conv-kernel 3'
    python benchmarks/visual_domain_shift.py --env push --steps 8000 --seeds 1 --noise 0.3 --paired 0 \
        --no-reference --eval-every 2000 --eval-episodes 5 --episodes 100 --workers 1 \
        --extra="$CPU --sac.init-alpha 0.1"
"""

from __future__ import annotations

import json
import shlex
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import common
import numpy as np
import tyro
from common import rlv_command, run, steps_text

from rlv.logger import read_csv
from rlv.plot import Curves, plot_curves

ROOT = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Args:
    env: str = "pointmass"
    """Task: pointmass (fast, numpy), push or drawer-open (Meta-World; needs the metaworld extra)."""
    steps: int = 10_000
    """Env steps per run."""
    seeds: int = 3
    """Seeds per method."""
    episodes: int = 200
    """Episodes of human-domain observation data."""
    success_rate: float = 0.8
    """Success rate of the observation data (the expert's noise is calibrated to it)."""
    noise: float | None = None
    """Instead of calibrating to --success-rate: the expert's noise level (saves the probe episodes)."""
    methods: tuple[str, ...] = ()
    """Run only these methods (default: all; sac is always run, it is the baseline)."""
    extra: str = ""
    """More `rlv train` options for every run, one string: --extra="--sac.batch-size 32"."""
    paired: int = 2000
    """Also run RLV + alignment + paired-frame loss with this many paired frames (0: skip)."""
    anchor_weight: float = 1.0
    """Also run RLV and RLV + alignment with the inverse-model loss on the encoder at this weight
    (--rlv.idm-encoder-weight; 0: skip)."""
    scale_free: bool = True
    """With the anchor: also run RLV + alignment (and + paired frames) with --rlv.scale-free-alignment."""
    reference: bool = True
    """Also run RLV on robot-domain videos (no domain shift): what the alignment could recover at best."""
    workers: int = 2
    """Runs in parallel (one per core)."""
    eval_every: int = 1000
    """Evaluation interval in env steps."""
    eval_episodes: int = 10
    """Episodes per evaluation."""
    final_window: int = 3
    """Final success = mean of the last this many evaluations; curves are smoothed over it too."""
    fixed_threshold: float = 0.8
    """A fixed success rate to reach, for a ratio that does not depend on where SAC ends."""
    work: Path = ROOT / "runs" / "visual"
    """Where datasets and run directories go (not committed; one subdirectory per env)."""
    results: Path = ROOT / "results"
    """Where the CSVs and the PNG go (committed)."""
    replot: bool = False
    """Only redraw the PNG from the committed per-run CSV (no data, no training), then exit."""


def collect(args: Args, work: Path, domain: str) -> Path:
    data = work / f"{domain}_data"
    if not (data / "meta.json").exists():
        quality = (
            ["--success-rate", str(args.success_rate)] if args.noise is None else ["--noise", str(args.noise)]
        )
        run(rlv_command("collect", "--env", args.env, "--domain", domain, *quality, "--episodes",
                        str(args.episodes), "--out", str(data), "--overwrite", "--no-progress"),
            work / "logs" / f"collect_{domain}.log")  # fmt: skip
    return data


def prepare_data(args: Args, work: Path) -> tuple[Path, Path | None]:
    data = collect(args, work, "human")
    pairs = None
    if args.paired:
        pairs = work / "pairs"
        if not (pairs / "meta.json").exists():
            run(rlv_command("collect", "--env", args.env, "--paired", str(args.paired), "--out", str(pairs),
                            "--overwrite", "--no-progress"), work / "logs" / "collect_pairs.log")  # fmt: skip
    return data, pairs


def final_accuracy(run_dir: Path) -> float:
    """Mean discriminator accuracy over the last 3 rows of train.csv (NaN without alignment)."""
    rows = [r for r in read_csv(run_dir / "train.csv") if np.isfinite(r.get("stat/domain_accuracy", np.nan))]
    return float(np.mean([r["stat/domain_accuracy"] for r in rows[-3:]])) if rows else float("nan")


def analyse(args: Args, runs: dict[str, list[Path]]) -> list[dict[str, object]]:
    """Per method: final success IQM and CI, steps to SAC's final and to a fixed success rate, and
    the discriminator's final accuracy (NaN without alignment)."""
    table = common.summarise(
        runs, "eval/success", args.final_window, args.fixed_threshold, args.steps, "success"
    )
    for row in table:
        accuracies = [final_accuracy(r) for r in runs[str(row["method"])]]
        row["final_domain_accuracy"] = (
            float(np.nanmean(accuracies)) if np.isfinite(accuracies).any() else np.nan
        )
    return table


def report(args: Args, table: list[dict[str, object]], measured_rate: float) -> str:
    sac = table[0]
    lines = [
        f"Visual domain shift on {args.env}: robot-domain agent, human-domain videos "
        f"({args.episodes} episodes, success rate {measured_rate:.2f}); {args.seeds} seeds x {args.steps} "
        f"env steps; final success = mean of the last {args.final_window} evaluations "
        f"({args.eval_episodes} episodes each); steps = median over seeds of the first step where the "
        f"{args.final_window}-eval moving average reaches the threshold",
        f"| method | final success IQM [95% CI] | steps to SAC's final ({sac['threshold_sac_final']:.2f}) "
        f"| ratio | steps to {args.fixed_threshold:.2f} | ratio | discriminator accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in table:
        accuracy = row["final_domain_accuracy"]
        seeds = row["seeds"]
        lines.append(
            f"| {row['method']} | {row['final_success_iqm']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}] "
            f"| {steps_text(row['steps_to_sac_final'])} ({row['runs_reaching_sac_final']}/{seeds} runs) "
            f"| {row['ratio_sac_final']} | {steps_text(row['steps_to_fixed'])} "
            f"({row['runs_reaching_fixed']}/{seeds} runs) | {row['ratio_fixed']} "
            f"| {'-' if not np.isfinite(accuracy) else f'{accuracy:.2f}'} |"
        )
    return "\n".join(lines)


def stem(args: Args) -> str:
    return "visual_domain_shift" if args.env == "pointmass" else f"visual_domain_shift_{args.env}"


def draw(args: Args, curves: Curves) -> Path:
    seeds = max(len(runs) for runs in curves.values())
    title = f"{args.env} from pixels, human-domain videos: {seeds} seeds, mean and 95% bootstrap CI"
    return plot_curves(curves, args.results / f"{stem(args)}.png", "eval/success", title)


def main(args: Args) -> None:
    if args.replot:
        print(f"wrote {draw(args, common.read_curves(args.results / f'{stem(args)}_runs.csv'))}")
        return
    started = time.perf_counter()
    work = args.work / args.env
    work.mkdir(parents=True, exist_ok=True)
    data, pairs = prepare_data(args, work)
    meta = json.loads((data / "meta.json").read_text())
    print(f"data ready after {time.perf_counter() - started:.0f} s: {meta['num_episodes']} human-domain "
          f"episodes, measured success rate {meta['success_rate']:.2f}", flush=True)  # fmt: skip
    schedule = ["--total-steps", str(args.steps), "--eval-every", str(args.eval_every),
                "--eval-episodes", str(args.eval_episodes), "--checkpoint-every", "5000",
                *shlex.split(args.extra)]  # fmt: skip
    with_data = ["--rlv.dataset", str(data)]
    jobs = [
        ("sac", f"{args.env}-sac", schedule),
        ("rlv", f"{args.env}-rlv", schedule + with_data),
        ("rlv_align", f"{args.env}-rlv-align", schedule + with_data),
    ]
    if pairs is not None:
        jobs.append(("rlv_align_paired", f"{args.env}-rlv-align-paired",
                     schedule + with_data + ["--rlv.paired-dataset", str(pairs)]))  # fmt: skip
    if args.anchor_weight:
        anchor = ["--rlv.idm-encoder-weight", str(args.anchor_weight)]
        jobs.append(("rlv_anchor", f"{args.env}-rlv", schedule + with_data + anchor))
        jobs.append(("rlv_align_anchor", f"{args.env}-rlv-align", schedule + with_data + anchor))
        if args.scale_free:
            scale_free = [*anchor, "--rlv.scale-free-alignment"]
            jobs.append(("rlv_align_sf_anchor", f"{args.env}-rlv-align", schedule + with_data + scale_free))
            if pairs is not None:
                paired_options = ["--rlv.paired-dataset", str(pairs), *scale_free]
                jobs.append(("rlv_align_paired_sf_anchor", f"{args.env}-rlv-align-paired",
                             schedule + with_data + paired_options))  # fmt: skip
    if args.reference:
        robot_data = collect(args, work, "robot")  # same seed and noise: the same episodes, robot-rendered
        jobs.append(("rlv_robot_videos", f"{args.env}-rlv", [*schedule, "--rlv.dataset", str(robot_data)]))
    if args.methods:
        jobs = [job for job in jobs if job[0] == "sac" or job[0] in args.methods]
    futures = {}
    with ThreadPoolExecutor(args.workers) as pool:
        for seed in range(args.seeds):
            for method, preset, options in jobs:
                futures[(method, seed)] = pool.submit(common.train_job, work, method, preset, seed, options)
        for (method, seed), future in futures.items():
            future.result()
            print(f"  done {method} seed {seed} at {time.perf_counter() - started:.0f} s", flush=True)
    runs = {method: [futures[(method, s)].result() for s in range(args.seeds)] for method, _, _ in jobs}
    table = analyse(args, runs)
    args.results.mkdir(parents=True, exist_ok=True)
    common.write_rows(args.results / f"{stem(args)}.csv", table)
    common.write_curves(args.results / f"{stem(args)}_runs.csv", runs, "eval/success")
    draw(args, common.read_curves(args.results / f"{stem(args)}_runs.csv"))
    extra = f"\nextra options: {args.extra}" if args.extra else ""
    text = (
        report(args, table, meta["success_rate"])
        + extra
        + f"\n\ntotal wall time {time.perf_counter() - started:.0f} s"
    )
    (args.results / f"{stem(args)}.txt").write_text(text + "\n")
    print("\n" + text)


if __name__ == "__main__":
    main(tyro.cli(Args))
