"""The typed arguments of the `rlv` subcommands other than `rlv data` (cli/data.py) and
`rlv collect` (collect/options.py), and the help annotations they share."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from rlv.errors import RlvError
from rlv.experiments.report_options import ReportOptions
from rlv.experiments.sweep_spec import SweepResources


def default_or_none(label: str) -> str:
    """A default's help hint that never reads `(default: )` (an empty tuple shows as nothing)."""
    return f"(default: {label or 'none'})"


ONE_OR_MORE = tyro.conf.arg(help_behavior_hint="(one or more)")
"""Help hint of a positional list that must not be empty (tyro would show `(default: )`)."""
TWO_OR_MORE = tyro.conf.arg(help_behavior_hint="(two or more)")
EMPTY_DEFAULT = tyro.conf.arg(help_behavior_hint=default_or_none)
"""Help hint of an option whose default is an empty tuple: `(default: none)`."""


@dataclass(frozen=True)
class ResumeArgs:
    """Continue a run from its newest checkpoint."""

    resume: Path
    """Run directory to continue."""
    total_steps: int | None = None
    """New total number of env steps (default: the run's own)."""
    progress: bool = True
    """Show a progress bar."""


EVAL_EPISODES = 10
"""`rlv eval`'s episodes when neither --episodes nor --eval-episodes is given."""
EVAL_NAMES = {"--episodes": "episodes", "--eval-episodes": "eval_episodes"}
"""The two names of `rlv eval`'s episode count, and their fields."""


@dataclass(frozen=True)
class EvalArgs:
    """Evaluate a run's newest checkpoint with the deterministic policy."""

    run: Annotated[Path, tyro.conf.Positional]
    """Run directory."""
    episodes: Annotated[
        int | None, tyro.conf.arg(metavar="INT", help_behavior_hint=f"(default: {EVAL_EPISODES})")
    ] = None
    """Evaluation episodes, at least 1."""
    eval_episodes: Annotated[
        int | None, tyro.conf.arg(metavar="INT", help_behavior_hint="(default: --episodes)")
    ] = None
    """The same as --episodes, by the name rlv train gives them."""
    seed: int = 12345
    """Seed of the evaluation episodes."""
    checkpoint: Path | None = None
    """A specific checkpoint directory (default: the newest)."""
    video: Path | None = None
    """Also write the episodes as a video (.gif, .mp4, .webm), captioned: episode, step, return, success."""

    def __post_init__(self) -> None:
        """`episodes` becomes the count asked for under either name; a count below 1, or both
        names at once, is an error naming the option as typed."""
        given = {name: count for name, count in EVAL_NAMES.items() if getattr(self, count) is not None}
        if len(given) > 1:
            raise RlvError("--episodes and --eval-episodes are the same option; give one of them")
        for name, count in given.items():
            value = getattr(self, count)
            if type(value) is not int or value < 1:
                raise RlvError(f"{name}: must be at least 1, got {value}")
            object.__setattr__(self, "episodes", value)  # frozen: set once, while being made
        if not given:
            object.__setattr__(self, "episodes", EVAL_EPISODES)


@dataclass(frozen=True)
class PlotArgs:
    """Plot evaluation curves of runs, one line per method (config label) and task, mean and 95%
    stratified bootstrap band across seeds; unfinished runs are drawn as far as they got."""

    runs: Annotated[tuple[Path, ...], tyro.conf.Positional, ONE_OR_MORE]
    """Run directories, sweep directories, or any directories with runs below them (as rlv report)."""
    out: Path = Path("curves.png")
    """Image to write (.png, .pdf, .svg)."""
    metric: str = "eval/return"
    """Column of eval.csv to plot (eval/return, eval/success, eval/length)."""
    title: str | None = None
    """Plot title."""


@dataclass(frozen=True)
class ReportArgs:
    """Aggregate finished runs per task and method (rliable: IQM, stratified bootstrap confidence
    intervals, probability of improvement, performance profiles) into a table, a CSV and plots."""

    paths: Annotated[tuple[Path, ...], tyro.conf.Positional, ONE_OR_MORE]
    """Run directories, sweep directories, or any directories with runs below them."""
    out: Path = Path("report")
    """Directory for report.md, report.csv, curves_<task>.png and profile_<task>.png."""
    options: Annotated[ReportOptions, tyro.conf.OmitArgPrefixes, tyro.conf.arg(name="scoring")] = (
        dataclasses.field(default_factory=ReportOptions)
    )
    """How runs are scored and aggregated."""


@dataclass(frozen=True)
class SweepArgs:
    """Run a grid of presets (or a spec file's methods) x override sets x seeds on Ray, one run
    directory per trial (SWEEP/LABEL/seed_S). Run it again, or with --resume, to continue: finished
    trials are kept, killed ones resume from their checkpoints."""

    sweep: Annotated[Path, tyro.conf.Positional]
    """Sweep directory: the trials' run directories, logs/ and sweep.json (the trials asked of it)."""
    spec: Path | None = None
    """JSON spec file with methods, seeds, options and overrides (docs/cli.md), instead of --presets."""
    presets: Annotated[tuple[str, ...], EMPTY_DEFAULT] = ()
    """Presets to run, each a method named after it (rlv presets lists them)."""
    seeds: tuple[int, ...] = (0,)
    """Seeds of every method."""
    options: str = ""
    """rlv train options for every trial, one string: --options='--total-steps 20000'."""
    override: Annotated[tuple[str, ...], EMPTY_DEFAULT] = ()
    """Override sets, another axis of the grid: NAME=OPTIONS ... (labels become PRESET+NAME)."""
    resume: bool = False
    """Continue every trial recorded in SWEEP/sweep.json (no grid options needed)."""
    resources: Annotated[SweepResources, tyro.conf.OmitArgPrefixes, tyro.conf.arg(name="ray")] = (
        dataclasses.field(default_factory=SweepResources)
    )
    """Ray cluster and per-trial resources."""
