"""The paper's vision experiment on one pipeline: pretrain the encoder offline, then RL on its frozen
features, on push (or drawer-open) with human-domain videos. Only the data differs between rows:

- sac: SAC, encoder pretrained on the robot's frames only (no videos): "from scratch";
- sac_video_encoder: SAC, encoder pretrained on the robot frames + the human videos (+ pairs):
  what the videos give the representation alone;
- rlv: RLV with that encoder and the human videos (the paper's method);
- rlv_robot_videos: RLV with robot-domain videos of the same episodes, its encoder pretrained on
  them (the no-shift reference).
- with --variants ROW=OPTIONS: rows of rlv's runs with more `rlv train` options (e.g. clipped labels,
  or an inverse model that also fits the pretraining's robot frames).

Data (made once into --work/NAME, reused): --robot-episodes in the robot domain, of the random
policy or, with --robot-noise below 1, of the scripted expert taking a random action with that
probability (the only env interaction before RL: its steps are added to every curve's x axis); NAME
is ENV, or ENV_robot-noiseX with --robot-noise X < 1, and names the results too. --video-episodes
of the scripted expert with --noise rendered in the human domain and, same seeds, in the robot
domain, and --paired frames. Then three `rlv pretrain` encoders, then `rlv sweep` of the four rows
(--seeds for sac and rlv, --reference-seeds for the other two; with --reference-seeds 0 the
robot-domain videos and their encoder are not made; finished runs are kept, killed runs resume: run
this again). Each finished run's config and logs are copied to
results/vision_NAME_run_logs, with the three encoder files (committed; `--keep-only` copies what has
finished so far and exits): a fresh checkout restores them instead of pretraining and running again,
once the datasets it makes are the ones the encoders saw (same fingerprints: collection is seeded; a
mismatch stops with one line). Prints and writes results/vision_NAME.txt, .csv, _runs.csv, .png: final
success (IQM over seeds, 95% stratified bootstrap CI), env steps to reach SAC's final success and a
fixed rate (median over seeds, ratio to SAC), runs that never succeed, the encoders' held-out scores.

    python benchmarks/vision_pretrained.py                     # push, the committed results
    python benchmarks/vision_pretrained.py --env drawer-open --seeds 3 --reference-seeds 0
    python benchmarks/vision_pretrained.py --env drawer-open --seeds 3 --reference-seeds 0 \
        --robot-noise 0.5 --eval-episodes 1               # pretrained on noisy-expert robot frames
    python benchmarks/vision_pretrained.py --env drawer-open --seeds 3 --reference-seeds 0 \
        --robot-noise 0.5 --eval-episodes 1 --variants rlv_clip=--rlv.clip-labels \
        "rlv_clip_idm_data=--rlv.clip-labels --rlv.idm-dataset {robot_data}"  # + two rows
    python benchmarks/vision_pretrained.py --replot            # tables and plot from _runs.csv
    python benchmarks/vision_pretrained.py --keep-only         # keep the runs finished so far
"""

from __future__ import annotations

import json
import re
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import common
import numpy as np
import tyro
from common import rlv_command, steps_text
from vision_kept import check_encoders, keep_encoders, relocate_runs, restore_encoders

from rlv.experiments.plot import Curves, plot_curves

ROOT = Path(__file__).resolve().parent
ROWS = ("sac", "sac_video_encoder", "rlv", "rlv_robot_videos")


@dataclass(frozen=True)
class Args:
    env: str = "push"
    """Task: push or drawer-open (the paper's versions)."""
    steps: int = 100_000
    """RL env steps per run (the robot frames of pretraining come on top)."""
    seeds: int = 5
    """Seeds of sac (no videos) and rlv (human videos)."""
    reference_seeds: int = 3
    """Seeds of sac_video_encoder and rlv_robot_videos (0: leave them out)."""
    robot_episodes: int = 100
    """Robot-domain episodes before RL: the encoders' robot frames with actions."""
    robot_noise: float = 1.0
    """Policy of those episodes: the scripted expert taking a random action with this probability
    (1.0: the random policy alone). Below 1 the data, runs and results get their own name."""
    video_episodes: int = 200
    """Episodes of the scripted expert, rendered as human-domain (and robot-domain) videos."""
    noise: float = 0.1
    """The expert's noise (probability of a random action) in the videos."""
    paired: int = 2000
    """Paired frames for the video encoders' paired InfoNCE (0: none)."""
    pretrain: str = "--updates 3000 --temporal-weight 0 --contrastive-weight 1"
    """`rlv pretrain` options of the video encoders (default: the inverse-model anchor and paired
    InfoNCE, the transfer probe's best on push: results/transfer_probe_push.txt)."""
    robot_pretrain: str = "--updates 3000"
    """`rlv pretrain` options of the robot-only encoder (default: the inverse-model anchor and
    temporal contrast, its best without videos: the anchor alone collapses on random frames)."""
    eval_every: int = 5000
    """Evaluation interval in RL env steps."""
    eval_episodes: int = 10
    """Episodes per evaluation."""
    final_window: int = 3
    """Final success = mean of the last this many evaluations; curves are smoothed over it too."""
    fixed_threshold: float = 0.5
    """A fixed success rate to reach, for a ratio that does not depend on where SAC ends."""
    extra: str = ""
    """More `rlv train` options for every run, one string."""
    variants: tuple[str, ...] = ()
    """More RLV rows, each `ROW=OPTIONS` (e.g. `rlv_clip=--rlv.clip-labels`): the rlv row's run with
    these `rlv train` options added, --seeds seeds, started before rlv's (ROW: letters, digits, _);
    `{robot_data}` in OPTIONS is the pretraining's robot frames (e.g. for --rlv.idm-dataset)."""
    workers: int = 2
    """Runs in parallel (one core each)."""
    work: Path = ROOT / "runs" / "vision"
    """Datasets, encoders and run directories (not committed; one subdirectory per env)."""
    results: Path = ROOT / "results"
    """Where the tables and the plot go (committed)."""
    replot: bool = False
    """Only remake the tables and the plot from the committed per-run CSV, then exit."""
    keep_only: bool = False
    """Only copy the finished runs' configs and logs to results/vision_NAME_run_logs, then exit."""

    def __post_init__(self) -> None:
        if not 0 <= self.robot_noise <= 1:
            sys.exit(f"--robot-noise must be in [0, 1], got {self.robot_noise}")
        for variant in self.variants:
            row, _, options = variant.partition("=")
            if not re.fullmatch(r"\w+", row) or row in ROWS or not options.strip():
                sys.exit(f"--variants: {variant!r} is not ROW=OPTIONS with a new row name and options")

    @property
    def variant_rows(self) -> dict[str, list[str]]:
        """{row: its extra `rlv train` options} of --variants."""
        return {row: shlex.split(options) for row, _, options in (v.partition("=") for v in self.variants)}

    @property
    def rows(self) -> tuple[str, ...]:
        """Every row's name, in the tables' order: the variants after rlv."""
        return (*ROWS[:3], *self.variant_rows, *ROWS[3:])

    @property
    def name(self) -> str:
        """The data's, runs' and results' name: the env, with the robot noise when it is below 1."""
        return self.env if self.robot_noise >= 1 else f"{self.env}_robot-noise{self.robot_noise:g}"

    @property
    def robot_data(self) -> str:
        """The robot frames' directory in the work directory (the kept encoders record its name)."""
        return "robot_random" if self.robot_noise >= 1 else "robot_expert"

    @property
    def robot_policy(self) -> str:
        """What made the robot frames, in words."""
        return "the random policy" if self.robot_noise >= 1 else f"the expert with noise {self.robot_noise:g}"


def prepare_data(args: Args, work: Path) -> dict[str, Path]:
    """The datasets (made `workers` at a time where missing): robot frames, human and robot videos of
    the same episodes, pairs."""
    videos = ["--policy", "expert", "--noise", str(args.noise), "--episodes", str(args.video_episodes)]
    robot_policy = ["--policy", "random"]
    if args.robot_noise < 1:
        robot_policy = ["--policy", "expert", "--noise", str(args.robot_noise), "--domain", "robot"]
    options = {
        "robot": (args.robot_data, [*robot_policy, "--episodes", str(args.robot_episodes), "--seed", "100"]),
        "human": ("human_videos", [*videos, "--domain", "human"]),
    }
    if args.reference_seeds:
        options["robot_videos"] = ("robot_videos", [*videos, "--domain", "robot"])
    if args.paired:
        options["pairs"] = ("pairs", ["--paired", str(args.paired)])
    jobs = [
        (rlv_command("collect", "--env", args.env, *extra, "--out", str(work / name), "--overwrite",
                     "--no-progress"), work / "logs" / f"collect_{name}.log")
        for name, extra in options.values()
        if not (work / name / "meta.json").exists()
    ]  # fmt: skip
    common.run_parallel(jobs, args.workers)
    return {key: work / name for key, (name, _) in options.items()}


def pretrain(args: Args, work: Path, data: dict[str, Path]) -> dict[str, Path]:
    """The encoders: robot frames only; + human videos; + robot videos when the reference rows run
    (pairs with videos)."""
    options = shlex.split(args.pretrain)
    pairs = ["--paired-dataset", str(data["pairs"])] if "pairs" in data else []
    inputs = {
        "encoder_robot": shlex.split(args.robot_pretrain),
        "encoder_human": [*options, "--videos", str(data["human"]), *pairs],
    }
    if "robot_videos" in data:
        inputs["encoder_robot_videos"] = [*options, "--videos", str(data["robot_videos"]), *pairs]
    encoders = {name: work / f"{name}.pt" for name in inputs}
    jobs = [
        (rlv_command("pretrain", "--robot", str(data["robot"]), *extra, "--out", str(encoders[name]),
                     "--no-progress"), work / "logs" / f"{name}.log")
        for name, extra in inputs.items()
        if not encoders[name].exists()
    ]  # fmt: skip
    common.run_parallel(jobs, args.workers)
    return encoders


def rows(args: Args, data: dict[str, Path], encoders: dict[str, Path]) -> dict[str, tuple[str, list[str]]]:
    """{row: (preset, options)} of the four rows (three without robot-domain videos) and the
    variants, in the order their trials start (a seed's variants before its rlv run)."""
    schedule = ["--total-steps", str(args.steps), "--eval-every", str(args.eval_every), "--eval-episodes",
                str(args.eval_episodes), "--checkpoint-every", "10000", *shlex.split(args.extra)]  # fmt: skip
    frozen = lambda name: ["--encoder", str(encoders[name]), "--encoder-mode", "frozen"]  # noqa: E731
    jobs = {
        "sac": (f"{args.env}-sac", [*schedule, *frozen("encoder_robot")]),
        "sac_video_encoder": (f"{args.env}-sac", [*schedule, *frozen("encoder_human")]),
        "rlv": (
            f"{args.env}-rlv",
            [*schedule, *frozen("encoder_human"), "--rlv.dataset", str(data["human"])],
        ),
    }
    preset, options = jobs.pop("rlv")
    for row, extra in args.variant_rows.items():
        jobs[row] = (
            preset,
            [*options, *(word.replace("{robot_data}", str(data["robot"])) for word in extra)],
        )
    jobs["rlv"] = (preset, options)
    if "robot_videos" in data:
        jobs["rlv_robot_videos"] = (
            f"{args.env}-rlv",
            [*schedule, *frozen("encoder_robot_videos"), "--rlv.dataset", str(data["robot_videos"])],
        )
    return jobs


def sweep(args: Args, work: Path, jobs: dict[str, tuple[str, list[str]]]) -> None:
    """Every row's first `reference_seeds` seeds, then sac's and rlv's remaining ones."""
    shared = min(args.seeds, args.reference_seeds)
    if shared:
        common.sweep(work, jobs, shared, [], args.workers)
    main_rows = {name: options for name, options in jobs.items() if name not in ROWS[1::2]}
    if args.seeds > shared:
        spec = {"methods": {n: {"preset": p, "options": o} for n, (p, o) in main_rows.items()},
                "seeds": list(range(shared, args.seeds))}  # fmt: skip
        (work / "sweep_more_seeds.json").write_text(json.dumps(spec, indent=2) + "\n")
        common.sweep_spec(work, work / "sweep_more_seeds.json", args.workers)


def offset_curves(curves: Curves, offset: int) -> Curves:
    """The curves with the pretraining's env steps added to the x axis."""
    return {name: [(steps + offset, values) for steps, values in runs] for name, runs in curves.items()}


def never_succeed(curves: Curves) -> dict[str, int]:
    """Per row: runs whose every evaluation scored no success."""
    return {name: sum(not np.any(values > 0) for _, values in runs) for name, runs in curves.items()}


def table_lines(args: Args, table: list[dict[str, object]], curves: Curves) -> list[str]:
    sac, never = table[0], never_succeed(curves)
    lines = [
        f"| row | final success IQM [95% CI] "
        f"| steps to SAC's final ({float(sac['threshold_sac_final']):.2f}) "
        f"| ratio [95% CI] | steps to {args.fixed_threshold:.2f} | ratio [95% CI] | runs never succeeding |",
        "|---|---|---|---|---|---|---|",
    ]
    sac_never = float(sac["threshold_sac_final"]) <= 0  # every run reaches 0 at its first evaluation
    for row in table:
        seeds = row["seeds"]
        to_sac_final = (  # two cells: steps and ratio
            "n/a (SAC's final success is 0) | n/a"
            if sac_never
            else f"{steps_text(row['steps_to_sac_final'])} ({row['runs_reaching_sac_final']}/{seeds} runs) "
            f"| {row['ratio_sac_final']}"
        )
        lines.append(
            f"| {row['method']} | {row['final_success_iqm']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}] "
            f"| {to_sac_final} | {steps_text(row['steps_to_fixed'])} "
            f"({row['runs_reaching_fixed']}/{seeds} runs) | {row['ratio_fixed']} "
            f"| {never[str(row['method'])]}/{seeds} |"
        )
    return lines


def encoder_lines(encoders: dict[str, Path]) -> list[str]:
    """One line per encoder: its held-out scores (from the file's metadata)."""
    from rlv.encoders import load_encoder

    lines = []
    for name, path in encoders.items():
        scores = load_encoder(path).meta["scores"]
        lines.append(f"{name}: " + ", ".join(f"{key} {value:.4f}" for key, value in sorted(scores.items())))
    return lines


def publish(args: Args, curves: Curves, offset: int) -> list[str]:
    """Write the table CSV, the plot and `rlv report`'s files; return the table's lines."""
    stem = f"vision_{args.name}"
    budget = args.steps + offset
    table = common.summarise(curves, args.final_window, args.fixed_threshold, budget, "success")
    common.write_rows(args.results / f"{stem}.csv", table)
    seeds = max(len(runs) for runs in curves.values())
    title = (
        f"{args.env} from pixels on frozen pretrained encoders, human-domain videos: up to {seeds} "
        f"seeds, mean and 95% stratified bootstrap CI (x: env steps incl. {offset} pretraining frames)"
    )
    plot_curves(curves, args.results / f"{stem}.png", "eval/success", title)
    common.write_report(curves, args.results / f"{stem}_report", args.env, "eval/success", args.final_window)
    return table_lines(args, table, curves)


ENCODERS = ("encoder_robot", "encoder_human", "encoder_robot_videos")


def kept_runs(kept: Path, rows: tuple[str, ...]) -> dict[str, list[Path]]:
    """{row: its finished runs in `kept`, by seed}, for the `rows` (in that order) with any."""
    runs = {
        row: sorted((s.parent for s in kept.glob(f"{row}/seed_*/summary.json")),
                    key=lambda run: int(run.name.removeprefix("seed_")))
        for row in rows
    }  # fmt: skip
    return {row: row_runs for row, row_runs in runs.items() if row_runs}


def write_results(args: Args, work: Path, kept: Path, started: float) -> None:
    """Tables, plot and per-run CSV of every finished run in `kept` (all of them when the sweep is
    done; those so far otherwise); the datasets' metadata comes from `work`."""
    stem = f"vision_{args.name}"
    robot = json.loads((work / args.robot_data / "meta.json").read_text())
    offset = robot["num_transitions"]
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"{stem}.json").write_text(json.dumps({"pretraining_env_steps": offset}) + "\n")
    runs = kept_runs(kept, args.rows)
    fresh = offset_curves(common.run_curves(runs, "eval/success"), offset)
    common.write_curve_table(args.results / f"{stem}_runs.csv", fresh, "eval/success")
    curves = common.read_curves(args.results / f"{stem}_runs.csv")
    videos = json.loads((work / "human_videos" / "meta.json").read_text())
    header = (
        f"{args.env} from 48x48 pixels, frozen pretrained encoders: {args.steps} RL env steps per run + "
        f"{offset} robot frames for pretraining (x axis: both; {args.robot_policy}, success rate "
        f"{robot['success_rate']:.2f}); human videos: "
        f"{videos['num_episodes']} episodes of the expert with noise {args.noise} "
        f"(success rate {videos['success_rate']:.2f}); "
        f"pretrain: robot-only encoder {args.robot_pretrain}, video encoders {args.pretrain} "
        f"(+ {args.paired} paired frames); "
        f"final success = mean of the last {args.final_window} evaluations "
        f"({args.eval_episodes} episodes each)"
    )
    planned = dict.fromkeys(args.rows, args.seeds) | dict.fromkeys(ROWS[1::2], args.reference_seeds)
    planned = {row: seeds for row, seeds in planned.items() if seeds}
    missing = [f"{row} {len(runs.get(row, []))}/{seeds}" for row, seeds in planned.items()
               if len(runs.get(row, [])) < seeds]  # fmt: skip
    lines = [header, *publish(args, curves, offset), "", "encoders' held-out scores:"]
    made = {name: kept / "encoders" / f"{name}.pt" for name in ENCODERS}
    lines += encoder_lines({name: path for name, path in made.items() if path.exists()})
    if args.extra:
        lines.append(f"extra options: {args.extra}")
    lines += [f"row {row}: rlv's options + {shlex.join(extra)}" for row, extra in args.variant_rows.items()]
    if any("{robot_data}" in variant for variant in args.variants):
        lines.append("({robot_data}: the robot frames the encoders were pretrained on, counted above)")
    if missing:
        lines += ["", f"IN PROGRESS: runs finished so far (of those planned): {', '.join(missing)}"]
    lines += ["", f"wall time of this invocation {time.perf_counter() - started:.0f} s"]
    (args.results / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(args: Args) -> None:
    stem = f"vision_{args.name}"
    if args.replot:
        curves = common.read_curves(args.results / f"{stem}_runs.csv")
        offset = json.loads((args.results / f"{stem}.json").read_text())["pretraining_env_steps"]
        lines = publish(args, curves, offset)
        common.replace_table(args.results / f"{stem}.txt", lines)
        print("\n".join(lines))
        return
    started = time.perf_counter()
    work = args.work.resolve() / args.name
    kept = args.results / f"{stem}_run_logs"
    if args.keep_only:
        keep_encoders(work, kept)
        newly_kept = common.keep_finished(work, kept)
        print(f"kept {len(newly_kept)} finished runs in {kept}: {', '.join(newly_kept) or 'none new'}")
        write_results(args, work, kept, started)
        return
    work.mkdir(parents=True, exist_ok=True)
    data = prepare_data(args, work)
    restore_encoders(kept, work)
    encoders = pretrain(args, work, data)
    keep_encoders(work, kept)
    print(f"data and encoders ready after {time.perf_counter() - started:.0f} s", flush=True)
    restored = common.restore_finished(kept, work)
    if restored:
        print(f"restored {len(restored)} finished runs from {kept}", flush=True)
    check_encoders(work)
    relocate_runs(work)
    sweep(args, work, rows(args, data, encoders))
    common.keep_finished(work, kept)
    write_results(args, work, kept, started)


if __name__ == "__main__":
    main(tyro.cli(Args))
