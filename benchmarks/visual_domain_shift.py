"""Visual domain shift: SAC vs RLV without domain transfer vs RLV with the transfer losses of the
`-rlv-align` presets (and, optionally, other transfer variants and the HumanLike setting), from 48x48
pixels, with observation videos rendered in the *human* domain (the agent sees the robot domain).

Collects the human-domain dataset (scripted expert, noise calibrated to --success-rate), paired
frames (--paired) and, as a no-shift reference, the same episodes rendered in the robot domain.
A spec on `rlv sweep` and `rlv report`: runs every (method, seed) with `rlv sweep` into
--work/ENV (--workers trials at a time, one torch thread each); prints per method the final success
rate (IQM over seeds, 95% stratified bootstrap interval, rliable), the env steps each needs to
reach SAC's final success and a fixed success rate (median over seeds; ratio to SAC), and the
discriminator's final accuracy. Writes results/visual_domain_shift[_ENV].csv, _runs.csv, .png, .txt
and `rlv report`'s files (_report/). Interrupted? Run it again (or `rlv sweep WORK/ENV --resume`):
finished runs are kept, killed runs resume. --replot remakes the tables and plots from the
committed per-run CSV (the diagnostics columns, which need the runs' train.csv, are kept).

    python benchmarks/visual_domain_shift.py --seeds 5          # pointmass, the committed results
    python benchmarks/visual_domain_shift.py --seeds 3 --methods sac_humanlike rlv_humanlike \
        --results benchmarks/results/humanlike                   # the HumanLike rows
    CPU='--sac.batch-size 32 --rlv.obs-batch-size 32 --sac.conv-channels 8 16 16 --sac.conv-kernel 3'
    python benchmarks/visual_domain_shift.py --env push --steps 8000 --seeds 1 --noise 0.3 \
        --eval-every 2000 --eval-episodes 5 --episodes 100 --workers 1 \
        --extra="$CPU --sac.init-alpha 0.1 --rlv.paired-batch-size 32"
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

import common
import numpy as np
import tyro
from common import rlv_command, run, steps_text

from rlv.experiments.plot import Curves, plot_curves
from rlv.logger import read_csv
from rlv.presets import get_preset

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
    methods: tuple[str, ...] = ("rlv", "rlv_align", "rlv_robot_videos")
    """Methods to run besides sac (always run: the baseline). Known: rlv, rlv_align,
    rlv_contrastive, rlv_align_adversarial, sac_humanlike, rlv_humanlike, rlv_humanlike_anchor
    (HumanLike + the inverse-model anchor), rlv_align_zero_actions (the transfer losses with zero
    actions on video rows: do the labels matter?), rlv_robot_videos, and the imitation-from-observation
    baselines on the same robot-domain videos: bco_robot_videos, gaifo_robot_videos."""
    extra: str = ""
    """More `rlv train` options for every run, one string: --extra="--sac.batch-size 32"."""
    paired: int = 2000
    """Paired frames for the methods that use them (rlv_align, rlv_contrastive)."""
    workers: int = 2
    """Runs in parallel (one per core): the CPUs of the sweep's local Ray."""
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
    baseline_runs: Path | None = None
    """Take SAC's curves from this per-run CSV (e.g. the committed results/visual_domain_shift_runs.csv)
    instead of running SAC again: seeded runs of the same code and options are identical, so new methods
    can join a committed baseline. Its diagnostics show as '-'."""
    replot: bool = False
    """Only remake the tables and plots from the committed per-run CSV (no data, no training), then exit."""


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


def prepare_data(args: Args, work: Path) -> tuple[Path, Path]:
    data = collect(args, work, "human")
    pairs = work / "pairs"
    if not (pairs / "meta.json").exists():
        run(rlv_command("collect", "--env", args.env, "--paired", str(args.paired), "--out", str(pairs),
                        "--overwrite", "--no-progress"), work / "logs" / "collect_pairs.log")  # fmt: skip
    return data, pairs


def options_for(preset: str, options: list[str]) -> list[str]:
    """`options` without the `--rlv.*` ones (and their values) for a preset of another method: the
    shared --extra may carry RLV batch sizes, which only RLV runs have."""
    if get_preset(preset).algo == "rlv":
        return options
    kept: list[str] = []
    dropping = False
    for token in options:
        if token.startswith("--"):
            dropping = token.startswith("--rlv.")
        if not dropping:
            kept.append(token)
    return kept


def method_jobs(
    args: Args, work: Path, data: Path, pairs: Path, schedule: list[str]
) -> list[tuple[str, str, list[str]]]:
    """(method, preset, options) of every known method; the reference collects its data on demand."""
    with_data = [*schedule, "--rlv.dataset", str(data)]
    with_pairs = [*with_data, "--rlv.paired-dataset", str(pairs)]
    contrastive = [
        "--rlv.contrastive-weight",
        "1",
        "--rlv.paired-weight",
        "0",
        "--rlv.idm-encoder-weight",
        "1",
    ]
    jobs = [
        ("sac", f"{args.env}-sac", schedule),
        ("rlv", f"{args.env}-rlv", with_data),
        ("rlv_align", f"{args.env}-rlv-align", with_pairs),
        ("rlv_contrastive", f"{args.env}-rlv", with_pairs + contrastive),
        ("rlv_align_adversarial", f"{args.env}-rlv-align-adversarial", with_data),
        ("sac_humanlike", f"{args.env}-sac-humanlike", schedule),
        ("rlv_humanlike", f"{args.env}-rlv-humanlike", with_data),
        ("rlv_humanlike_anchor", f"{args.env}-rlv-humanlike", [*with_data, "--rlv.idm-encoder-weight", "1"]),
        ("rlv_align_zero_actions", f"{args.env}-rlv-align", [*with_pairs, "--rlv.action-source", "zero"]),
    ]
    robot_video_methods = {
        "rlv_robot_videos": "rlv",
        "bco_robot_videos": "bco",
        "gaifo_robot_videos": "gaifo",
    }
    if robot_video_methods.keys() & set(
        args.methods
    ):  # same seed and noise: the same episodes, robot-rendered
        robot_data = collect(args, work, "robot")
        for name, algo in robot_video_methods.items():
            jobs.append((name, f"{args.env}-{algo}", [*schedule, f"--{algo}.dataset", str(robot_data)]))
    return jobs


def final_metric(run_dir: Path, key: str) -> float:
    """Mean of `key` over the last 3 rows of train.csv that have it (NaN: never logged)."""
    rows = [r for r in read_csv(run_dir / "train.csv") if np.isfinite(r.get(key, np.nan))]
    return float(np.mean([r[key] for r in rows[-3:]])) if rows else float("nan")


DIAGNOSTICS = {
    "final_domain_accuracy": "stat/domain_accuracy",
    "final_label_mse": "stat/idm_obs_action_mse",
    "final_label_chance_mse": "stat/obs_action_chance_mse",
    "final_feature_std": "stat/feature_std",
}
"""Training diagnostics reported per method: column -> train.csv metric (mean over seeds of the
last 3 logged rows; NaN where the method does not log it)."""


def run_diagnostics(runs: dict[str, list[Path]]) -> dict[str, dict[str, float]]:
    """{method: {column: mean over seeds of the final training diagnostic}} (NaN: not logged)."""
    table = {}
    for method, run_dirs in runs.items():
        table[method] = {}
        for column, key in DIAGNOSTICS.items():
            values = [final_metric(r, key) for r in run_dirs]
            table[method][column] = float(np.nanmean(values)) if np.isfinite(values).any() else np.nan
    return table


def committed_diagnostics(path: Path) -> dict[str, dict[str, float]]:
    """The diagnostics columns of a committed table (they need train.csv, which is not committed)."""
    return {m: {c: float(row[c]) for c in DIAGNOSTICS} for m, row in common.read_rows(path).items()}


def analyse(args: Args, curves: Curves, diagnostics: dict[str, dict[str, float]]) -> list[dict[str, object]]:
    """Per method: final success IQM and CI, steps to SAC's final and to a fixed success rate, and
    the final training diagnostics (discriminator accuracy, label quality, feature spread)."""
    table = common.summarise(curves, args.final_window, args.fixed_threshold, args.steps, "success")
    for row in table:
        row.update(diagnostics[str(row["method"])])
    return table


def header(args: Args, measured_rate: float) -> str:
    return (
        f"Visual domain shift on {args.env}: robot-domain agent, human-domain videos "
        f"({args.episodes} episodes, success rate {measured_rate:.2f}); {args.seeds} seeds x {args.steps} "
        f"env steps; final success = mean of the last {args.final_window} evaluations "
        f"({args.eval_episodes} episodes each); steps = median over seeds of the first step where the "
        f"{args.final_window}-eval moving average reaches the threshold"
    )


def table_lines(args: Args, table: list[dict[str, object]]) -> list[str]:
    sac = table[0]
    lines = [
        f"| method | final success IQM [95% CI] | steps to SAC's final ({sac['threshold_sac_final']:.2f}) "
        f"| ratio [95% CI] | steps to {args.fixed_threshold:.2f} | ratio [95% CI] | discriminator accuracy "
        "| label MSE (chance) | feature std |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in table:
        accuracy, label, chance = (float(row[k]) for k in DIAGNOSTICS if k != "final_feature_std")
        seeds = row["seeds"]
        lines.append(
            f"| {row['method']} | {row['final_success_iqm']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}] "
            f"| {steps_text(row['steps_to_sac_final'])} ({row['runs_reaching_sac_final']}/{seeds} runs) "
            f"| {row['ratio_sac_final']} | {steps_text(row['steps_to_fixed'])} "
            f"({row['runs_reaching_fixed']}/{seeds} runs) | {row['ratio_fixed']} "
            f"| {number(accuracy)} | {number(label, 3)} ({number(chance, 3)}) "
            f"| {number(float(row['final_feature_std']), 3)} |"
        )
    return lines


def number(value: float, digits: int = 2) -> str:
    return "-" if not np.isfinite(value) else f"{value:.{digits}f}"


def stem(args: Args) -> str:
    return "visual_domain_shift" if args.env == "pointmass" else f"visual_domain_shift_{args.env}"


def draw(args: Args, curves: Curves) -> Path:
    seeds = max(len(runs) for runs in curves.values())
    title = (
        f"{args.env} from pixels, human-domain videos: {seeds} seeds, mean and 95% stratified bootstrap CI"
    )
    return plot_curves(curves, args.results / f"{stem(args)}.png", "eval/success", title)


def publish(args: Args, curves: Curves, diagnostics: dict[str, dict[str, float]]) -> list[str]:
    """Write the table CSV, the PNG and `rlv report`'s files; return the table's lines."""
    table = analyse(args, curves, diagnostics)
    common.write_rows(args.results / f"{stem(args)}.csv", table)
    draw(args, curves)
    common.write_report(
        curves, args.results / f"{stem(args)}_report", args.env, "eval/success", args.final_window
    )
    return table_lines(args, table)


def regenerate(args: Args) -> None:
    """Tables and plots again from the committed per-run CSV; the .txt keeps its other lines."""
    curves = common.read_curves(args.results / f"{stem(args)}_runs.csv")
    lines = publish(args, curves, committed_diagnostics(args.results / f"{stem(args)}.csv"))
    common.replace_table(args.results / f"{stem(args)}.txt", lines)
    print("\n".join(lines))


def main(args: Args) -> None:
    if args.replot:
        regenerate(args)
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
    jobs = [
        (name, preset, options_for(preset, options))
        for name, preset, options in method_jobs(args, work, data, pairs, schedule)
        if name in args.methods or (name == "sac" and args.baseline_runs is None)
    ]
    runs = common.sweep(
        work, {name: (preset, options) for name, preset, options in jobs}, args.seeds, [], args.workers
    )
    args.results.mkdir(parents=True, exist_ok=True)
    fresh = common.run_curves(runs, "eval/success")
    diagnostics = run_diagnostics(runs)
    if args.baseline_runs is not None:
        fresh = {"sac": common.read_curves(args.baseline_runs)["sac"][: args.seeds], **fresh}
        diagnostics["sac"] = dict.fromkeys(DIAGNOSTICS, np.nan)
    common.write_curve_table(args.results / f"{stem(args)}_runs.csv", fresh, "eval/success")
    curves = common.read_curves(args.results / f"{stem(args)}_runs.csv")
    lines = publish(args, curves, diagnostics)
    extra = [f"extra options: {args.extra}"] if args.extra else []
    if args.baseline_runs is not None:
        extra.append(f"sac: the runs in {args.baseline_runs.name}, not run again")
    text = "\n".join(
        [
            header(args, meta["success_rate"]),
            *lines,
            *extra,
            "",
            f"total wall time {time.perf_counter() - started:.0f} s",
        ]
    )
    (args.results / f"{stem(args)}.txt").write_text(text + "\n")
    print("\n" + text)


if __name__ == "__main__":
    main(tyro.cli(Args))
