"""Sample efficiency on continuous Acrobot: SAC vs RLV with observation data of three qualities.

A spec on `rlv sweep` and `rlv report`: collects the three datasets (`rlv collect`), runs
{sac, rlv_q99, rlv_q79, rlv_q63} x seeds with `rlv sweep` into --work (--workers trials at a time,
one torch thread each), then prints per method: final return (IQM over seeds, 95% stratified
bootstrap interval, rliable), env steps to reach SAC's final return and a fixed return, and the
ratio to SAC's own steps. Writes a CSV per method, a CSV per run, a PNG of the curves, a .txt of
the table and `rlv report`'s files (results/acrobot_sample_efficiency_report/). Interrupted? Run it
again (or `rlv sweep WORK --resume`): finished runs are kept, killed runs resume.

The budget where SAC converges (issue 12): SAC runs first, to --steps; the table is made at the
first evaluation where SAC's IQM over seeds (of the --final-window average) reaches --converged
(-85), every curve cut there, and the other methods run only to that budget (their runs of that
length log exactly what a longer run would up to it: nothing in a run depends on its total steps).
SAC never reaching it: every method runs to --steps and the table is at --steps.

    python benchmarks/acrobot_sample_efficiency.py               # the committed results
    python benchmarks/acrobot_sample_efficiency.py --steps 5000 --seeds 2   # a quick look
    python benchmarks/acrobot_sample_efficiency.py --replot      # tables and plots from the runs CSV
    python benchmarks/acrobot_sample_efficiency.py --methods bco_q79 gaifo_q79 --keep-committed
                                     # two baselines beside the committed SAC and RLV rows

Method names: `sac`, `sac_rlpd`, and KIND_DATA with KIND one of rlv, rlv_rlpd, bco, gaifo and DATA a
dataset name (q<-R> for --qualities, n<P> for --noises), e.g. rlv_q79 or gaifo_n0.00390625.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import common
import tyro
from common import rlv_command, run, steps_text

from rlv.envs.acrobot import ACROBOT_HORIZON
from rlv.experiments.plot import Curves, plot_curves
from rlv.presets import get_preset

STEM = "acrobot_sample_efficiency"

ROOT = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Args:
    steps: int = 20_000
    """Env steps per run."""
    seeds: int = 5
    """Seeds per method."""
    qualities: tuple[int, ...] = (-99, -79, -63)
    """Average returns of the observation datasets (the paper's three replay pools); the expert's noise
    is calibrated to each. -63 is beyond the expert (about -66 is its best, and `rlv collect` refuses
    it): q63 is collected at UNREACHABLE_POOLS' noise instead (see there)."""
    noises: tuple[float, ...] = ()
    """Expert noise levels (probability of a random action) of further datasets, rlv_n<noise>: for
    pools named by the noise instead of a target return (e.g. 0.00390625 for the best pool)."""
    episodes: int = 250
    """Episodes per observation dataset (about 20,000 transitions)."""
    workers: int = 2
    """Runs in parallel (one per core): the CPUs of the sweep's local Ray."""
    eval_every: int = 1000
    """Evaluation interval in env steps."""
    final_window: int = 3
    """Final return = mean of the last this many evaluations; curves are smoothed over it too."""
    fixed_threshold: float = -90.0
    """A fixed return to reach (the goal reached within 90 steps on average), for a ratio that does not
    depend on where SAC ends."""
    converged: float | None = -85.0
    """The return at which SAC counts as converged: the table is made at the budget where SAC's IQM
    over seeds (of the --final-window average) first reaches it, every curve cut there, as runs of
    that budget would have logged them; None: only at --steps."""
    others_to_converged: bool = True
    """Run SAC first (to --steps), then the other methods only to the budget where SAC converged
    (--converged; --steps if it never does): the table at that budget is the same, at a fraction of
    the compute. --no-others-to-converged runs every method to --steps."""
    work: Path = ROOT / "runs" / "acrobot"
    """Where datasets and run directories go (not committed)."""
    results: Path = ROOT / "results"
    """Where the CSVs and the PNG go (committed)."""
    methods: tuple[str, ...] = ()
    """Methods to run (names above); none: sac and rlv on every dataset of --qualities and --noises."""
    keep_committed: bool = False
    """Keep the committed per-run rows of the methods not run now (seeded runs are deterministic), so
    new methods join the table without rerunning the others; SAC stays the baseline."""
    finished_only: bool = False
    """Only make the tables and plots from the runs of --work that have finished (a sweep still
    under way: to commit what is done so far), then exit; runs nothing."""
    train_options: str = ""
    """Further `rlv train` options for every method run now, as one string (e.g.
    --train-options=--sac.compile); recorded in the .txt header."""
    replot: bool = False
    """Only remake the tables and plots from the committed per-run CSV (no data, no training), then exit."""


def make_dataset(args: Args, name: str, target: list[str], seed: int) -> Path:
    """work/data_NAME: `rlv collect` with `target` (--quality R or --noise P), made once."""
    path = args.work / f"data_{name}"
    if not (path / "meta.json").exists():
        command = rlv_command("collect", "--out", str(path), *target, "--episodes", str(args.episodes),
                              "--seed", str(seed), "--overwrite", "--no-progress")  # fmt: skip
        run(command, args.work / "logs" / f"collect_{name}.log")
    return path


PRESETS = {
    "rlv": "acrobot-rlv",
    "rlv_rlpd": "acrobot-rlv-rlpd",
    "bco": "acrobot-bco",
    "gaifo": "acrobot-gaifo",
}
"""Methods that read a dataset: name prefix -> preset (its dataset option is --<algo>.dataset)."""


UNREACHABLE_POOLS = {-63: 0.00390625}
"""Qualities the scripted expert cannot reach -> the noise their pool is collected at. Before
`rlv collect` refused unreachable targets, its bisection for -63 ended at the least noise it tries,
1/256 (measured -65.8); its final collection was the seeded rollout that the same noise and seed
repeat, so the committed rlv_q63 rows stay reproducible and the default command runs."""


def quality_target(quality: int) -> list[str]:
    """`rlv collect` options of the pool of average return `quality`."""
    if quality in UNREACHABLE_POOLS:
        return ["--noise", str(UNREACHABLE_POOLS[quality])]
    return ["--quality", str(quality)]


def dataset_recipes(args: Args) -> dict[str, tuple[list[str], int]]:
    """{dataset name: (`rlv collect` target options, seed)}: qR per quality, nP per noise level."""
    recipes = {f"q{-q}": (quality_target(q), -q) for q in args.qualities}
    for index, noise in enumerate(args.noises):
        recipes[f"n{noise:g}"] = (["--noise", str(noise)], 1000 + index)
    return recipes


def method_grid(args: Args) -> dict[str, tuple[str, str | None]]:
    """{method: (preset, dataset name or None)} of --methods (default: sac + rlv per dataset)."""
    recipes = dataset_recipes(args)
    names = args.methods or ("sac", *(f"rlv_{data}" for data in recipes))
    grid: dict[str, tuple[str, str | None]] = {}
    for name in names:
        if name in ("sac", "sac_rlpd"):
            grid[name] = (f"acrobot-{name.replace('_', '-')}", None)
            continue
        kind, _, data = name.rpartition("_")
        if kind not in PRESETS or data not in recipes:
            sys.exit(f"--methods: {name!r} is not sac, sac_rlpd or KIND_DATA with KIND in "
                     f"{sorted(PRESETS)} and DATA in {sorted(recipes)}")  # fmt: skip
        grid[name] = (PRESETS[kind], data)
    return grid


def make_datasets(args: Args, names: set[str]) -> dict[str, Path]:
    """{dataset name: directory} of the datasets `names`, collected once."""
    recipes = dataset_recipes(args)
    return {name: make_dataset(args, name, *recipes[name]) for name in sorted(names)}


def method_runs(
    grid: dict[str, tuple[str, str | None]], datasets: dict[str, Path]
) -> dict[str, tuple[str, list[str]]]:
    """{method: (preset, options)} for `common.sweep`."""
    runs = {}
    for method, (preset, data) in grid.items():
        algo = get_preset(preset).algo
        runs[method] = (preset, [] if data is None else [f"--{algo}.dataset", str(datasets[data])])
    return runs


def merged_curves(args: Args, fresh: Curves) -> Curves:
    """`fresh` curves, with SAC first, plus (with --keep-committed) the committed runs of the
    methods not run now."""
    committed_path = args.results / f"{STEM}_runs.csv"
    kept = common.read_curves(committed_path) if args.keep_committed and committed_path.exists() else {}
    merged = {method: runs for method, runs in kept.items() if method not in fresh} | fresh
    if "sac" not in merged:
        sys.exit("the table needs the sac baseline: add sac to --methods or use --keep-committed")
    return {"sac": merged["sac"], **{m: runs for m, runs in merged.items() if m != "sac"}}


def table_lines(args: Args, table: list[dict[str, object]]) -> list[str]:
    sac = table[0]
    lines = [
        "| method | final return IQM [95% CI] | steps to SAC's final ({:.1f}) | ratio [95% CI] "
        "| steps to {:.0f} | ratio [95% CI] |".format(sac["threshold_sac_final"], args.fixed_threshold),
        "|---|---|---|---|---|---|",
    ]
    for row in table:
        lines.append(
            f"| {row['method']} | {row['final_return_iqm']:.1f} [{row['ci_low']:.1f}, {row['ci_high']:.1f}] "
            f"| {steps_text(row['steps_to_sac_final'])} "
            f"({row['runs_reaching_sac_final']}/{row['seeds']} runs) "
            f"| {row['ratio_sac_final']} | {steps_text(row['steps_to_fixed'])} "
            f"({row['runs_reaching_fixed']}/{row['seeds']} runs) | {row['ratio_fixed']} |"
        )
    return lines


def notes(args: Args, table: list[dict[str, object]]) -> list[str]:
    """How to read the table when SAC's final return is at (or near) the floor."""
    floor = -float(ACROBOT_HORIZON)  # the return of an episode that never reaches the goal
    sac_final = float(table[0]["threshold_sac_final"])
    if sac_final <= floor:
        return [
            f"note: SAC's final return is the floor ({floor:.0f}: the goal is never reached), so every "
            "method meets it at the first evaluation and that ratio says nothing; the fixed threshold "
            f"{args.fixed_threshold:.0f} is the informative comparison."
        ]
    if sac_final < floor + 5:
        return [
            f"note: SAC's final return {sac_final:.1f} is barely above the floor ({floor:.0f}: the goal is "
            "never reached), so 'steps to SAC's final' measures when a method first reaches the goal at "
            f"all; the fixed threshold {args.fixed_threshold:.0f} is the more informative comparison."
        ]
    return []


def converged_budget(args: Args, curves: Curves) -> tuple[int | None, str]:
    """(the env step where SAC's IQM first reaches --converged, or None; a line that says so)."""
    if args.converged is None:
        return None, ""
    budget = common.budget_reaching(curves["sac"], args.converged, args.final_window)
    iqm_text = f"SAC's IQM over seeds (of the {args.final_window}-eval average)"
    if budget is None:
        return None, f"{iqm_text} never reaches {args.converged:.0f} within {args.steps} env steps."
    return budget, f"{iqm_text} first reaches {args.converged:.0f} at {budget} env steps."


def publish(args: Args, curves: Curves) -> list[str]:
    """Write the table CSV (rows at SAC's converged budget, if any, then at the full budget), the
    PNG and `rlv report`'s files from the per-run curves; return the tables as text lines."""
    budget, budget_line = converged_budget(args, curves)
    lines, rows = [budget_line] if budget_line else [], []
    budgets = [budget] if budget is not None and budget < args.steps else []
    shortest = min(int(steps[-1]) for runs in curves.values() for steps, _ in runs)
    budgets += [args.steps] if shortest >= args.steps else []  # every method ran to --steps
    for steps in budgets:
        cut = common.truncated(curves, steps)
        table = common.summarise(cut, args.final_window, args.fixed_threshold, steps, "return")
        rows += [{"budget": steps, **row} for row in table]
        lines += [f"At {steps} env steps:"] if len(budgets) > 1 else []
        lines += table_lines(args, table) + notes(args, table)
    common.write_rows(args.results / f"{STEM}.csv", rows)
    draw(args, curves, budget)
    reported = common.truncated(curves, budgets[0])
    common.write_report(
        reported, args.results / f"{STEM}_report", "acrobot", "eval/return", args.final_window
    )
    return lines


def regenerate(args: Args) -> None:
    """Tables and plots again from the committed per-run CSV; the .txt keeps its other lines."""
    lines = publish(args, common.read_curves(args.results / f"{STEM}_runs.csv"))
    tables = [i for i, line in enumerate(lines) if line.startswith("|")]
    common.replace_table(args.results / f"{STEM}.txt", lines[tables[0] : tables[-1] + 1])
    print("\n".join(lines))


def draw(args: Args, curves: Curves, budget: int | None) -> Path:
    seeds = max(len(runs) for runs in curves.values())
    title = f"Continuous Acrobot, {seeds} seeds, mean and 95% stratified bootstrap CI"
    marks = {} if budget is None else {f"SAC's IQM reaches {args.converged:.0f}": budget}
    return plot_curves(curves, args.results / f"{STEM}.png", "eval/return", title, marks=marks)


def schedule(args: Args, steps: int) -> list[str]:
    """`rlv train` options of every run: the budget, evaluation and checkpoint intervals, --train-options."""
    budget = ["--total-steps", str(steps), "--eval-every", str(args.eval_every), "--checkpoint-every", "5000"]
    return budget + shlex.split(args.train_options)


def sweep_methods(
    args: Args, methods: dict[str, tuple[str, list[str]]]
) -> tuple[dict[str, list[Path]], list[str]]:
    """Run `methods` with `rlv sweep`: all to --steps, or (--others-to-converged) SAC first and the
    others to the budget where SAC's IQM reached --converged. Returns the runs and header lines."""
    if not (args.others_to_converged and args.converged is not None):
        return common.sweep(args.work, methods, args.seeds, schedule(args, args.steps), args.workers), []
    first = {name: spec for name, spec in methods.items() if name == "sac"}
    runs = (
        common.sweep(args.work, first, args.seeds, schedule(args, args.steps), args.workers) if first else {}
    )
    budget = (
        converged_budget(args, merged_curves(args, common.run_curves(runs, "eval/return")))[0] or args.steps
    )
    others = {name: spec for name, spec in methods.items() if name != "sac"}
    if others:
        runs |= common.sweep(
            args.work, others, args.seeds, schedule(args, budget), args.workers, "sweep_spec_others.json"
        )
    if budget == args.steps:
        return runs, [f"SAC's IQM did not reach {args.converged:.0f}: every method ran to {args.steps}"]
    return runs, [f"sac ran to {args.steps} env steps, the others to {budget}: SAC's IQM reached it there"]


def run_grid(
    args: Args, grid: dict[str, tuple[str, str | None]], started: float
) -> tuple[dict[str, list[Path]], list[str]]:
    """Make the datasets and run the grid; returns the runs and the results' header lines."""
    args.work.mkdir(parents=True, exist_ok=True)
    datasets = make_datasets(args, {data for _, data in grid.values() if data is not None})
    header = [f"datasets ready after {time.perf_counter() - started:.0f} s"]
    for name, path in datasets.items():
        meta = json.loads((path / "meta.json").read_text())
        header.append(
            f"  {name}: measured average return {meta['average_return']:.1f}, "
            f"{meta['num_transitions']} transitions ({path})"
        )
    if args.train_options:
        header.append(f"  rlv train options of every run now: {args.train_options}")
    print("\n".join(header), flush=True)
    runs, header_budget = sweep_methods(args, method_runs(grid, datasets))
    return runs, header + header_budget


def finished_runs(
    args: Args, grid: dict[str, tuple[str, str | None]]
) -> tuple[dict[str, list[Path]], list[str]]:
    """The finished runs (summary.json) of the grid's methods in --work, and a header line."""
    found = {m: sorted((args.work / m).glob("seed_*/summary.json")) for m in grid}
    runs = {m: [summary.parent for summary in found[m]] for m in grid if found[m]}
    counts = ", ".join(f"{m} {len(found[m])}/{args.seeds}" for m in grid)
    return runs, [f"finished runs only, the sweep in {args.work} is under way: {counts}"]


def main(args: Args) -> None:
    if args.replot:
        regenerate(args)
        return
    started = time.perf_counter()
    grid = method_grid(args)
    runs, header = finished_runs(args, grid) if args.finished_only else run_grid(args, grid, started)
    args.results.mkdir(parents=True, exist_ok=True)
    curves = merged_curves(args, common.run_curves(runs, "eval/return"))
    common.write_curve_table(args.results / f"{STEM}_runs.csv", curves, "eval/return")
    lines = publish(args, common.read_curves(args.results / f"{STEM}_runs.csv"))
    if args.keep_committed:
        header.append(f"  runs now: {', '.join(grid)}; kept from the committed runs CSV: "
                      f"{', '.join(m for m in curves if m not in grid) or 'none'}")  # fmt: skip
    title = (
        f"Acrobot sample efficiency: {args.seeds} seeds x {args.steps} env steps; final return = mean "
        f"of the last {args.final_window} evaluations (5 episodes each); steps = median over seeds of the "
        f"first step where the {args.final_window}-eval moving average reaches the threshold"
    )
    text = "\n".join(
        [*header, "", title, *lines, "", f"total wall time {time.perf_counter() - started:.0f} s"]
    )
    (args.results / f"{STEM}.txt").write_text(text + "\n")
    print("\n" + text)


if __name__ == "__main__":
    main(tyro.cli(Args))
