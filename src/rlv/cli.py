"""The `rlv` command line: one console script with subcommands, each a thin call into the library.

    rlv train [PRESET] [--option value ...]     train a run (presets: rlv presets)
    rlv train --resume RUN [--total-steps N]    continue a killed (or finished) run
    rlv collect --out DS [--quality R]          make an observation dataset with a scripted expert
    rlv eval RUN                                evaluate a run's newest checkpoint
    rlv plot RUN... --out FILE.png              learning curves across seeds
    rlv data info DS                            summarise a dataset
    rlv presets                                 list the named presets

Every user-fixable problem ends in one line `rlv: error: ...` on stderr and exit status 1.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import tyro

from rlv.config import PRESET_HELP, PRESETS, TrainConfig, get_preset
from rlv.errors import RlvError


@dataclass(frozen=True)
class ResumeArgs:
    """Continue a run from its newest checkpoint."""

    resume: Path
    """Run directory to continue."""
    total_steps: int | None = None
    """New total number of env steps (default: the run's own)."""
    progress: bool = True
    """Show a progress bar."""


@dataclass(frozen=True)
class CollectArgs:
    """Write an action-free observation dataset by rolling out a scripted policy."""

    out: Path
    """Dataset directory to create."""
    env: str = "acrobot"
    """Environment to collect in."""
    episodes: int = 250
    """Episodes to collect (the paper's Acrobot pools hold about 25,000 transitions)."""
    quality: float | None = None
    """Target average return; the expert's noise is calibrated to reach it (acrobot expert only).
    The paper's pools: -99, -79, -63."""
    noise: float | None = None
    """Probability of a uniform random action instead of the expert's (instead of --quality)."""
    policy: Literal["expert", "random"] = "expert"
    """Scripted beam-search expert (acrobot) or uniform random actions (any env)."""
    seed: int = 0
    """Seed of the rollouts and of the noise."""
    domain: str = "robot"
    """Visual domain recorded in meta.json."""
    overwrite: bool = False
    """Replace an existing dataset at --out."""
    progress: bool = True
    """Show progress bars."""


@dataclass(frozen=True)
class EvalArgs:
    """Evaluate a run's newest checkpoint with the deterministic policy."""

    run: Annotated[Path, tyro.conf.Positional]
    """Run directory."""
    episodes: int = 10
    """Evaluation episodes."""
    seed: int = 12345
    """Seed of the evaluation episodes."""
    checkpoint: Path | None = None
    """A specific checkpoint directory (default: the newest)."""


@dataclass(frozen=True)
class PlotArgs:
    """Plot evaluation curves of several runs, grouped by method (config label)."""

    runs: Annotated[tuple[Path, ...], tyro.conf.Positional]
    """Run directories."""
    out: Path = Path("curves.png")
    """Image to write (.png, .pdf, .svg)."""
    metric: str = "eval/return"
    """Column of eval.csv to plot (eval/return, eval/success, eval/length)."""
    title: str | None = None
    """Plot title."""


@dataclass(frozen=True)
class DataInfoArgs:
    """Summarise an observation dataset."""

    dataset: Annotated[Path, tyro.conf.Positional]
    """Dataset directory."""


def cmd_train(args: list[str]) -> None:
    from rlv.train import resume, train

    if "--resume" in args:
        parsed = tyro.cli(ResumeArgs, args=args, prog="rlv train --resume")
        summary = resume(parsed.resume, parsed.total_steps, parsed.progress)
        out = parsed.resume
    else:
        preset = args.pop(0) if args and not args[0].startswith("-") else None
        default = get_preset(preset) if preset else TrainConfig()
        description = "Train SAC or RLV. Optional first argument: a preset, one of: " + ", ".join(PRESETS)
        config = tyro.cli(
            TrainConfig, default=default, args=args, prog="rlv train [PRESET]", description=description
        )
        if not config.label:
            config = dataclasses.replace(config, label=config.algo)
        summary = train(config)
        out = config.out
    print(
        f"finished {out}: env steps {summary['env_step']}, eval/return {summary['eval/return']:.2f}, "
        f"eval/success {summary['eval/success']:.2f}"
    )


def cmd_collect(args: list[str]) -> None:
    from rlv.data.collect import collect_acrobot, collect_random
    from rlv.data.dataset import write_dataset
    from rlv.envs import make_env

    parsed = tyro.cli(CollectArgs, args=args, prog="rlv collect")
    if parsed.out.exists() and not parsed.overwrite:
        raise RlvError(f"{parsed.out}: already exists (use --overwrite or another --out)")
    if parsed.episodes < 1:
        raise RlvError(f"--episodes must be at least 1, got {parsed.episodes}")
    env = make_env(parsed.env, parsed.seed)
    if parsed.policy == "expert":
        if parsed.env != "acrobot":
            raise RlvError(f"no scripted expert for {parsed.env!r}; use --policy random")
        if parsed.quality is None and parsed.noise is None:
            raise RlvError("give --quality R (target average return) or --noise P")
        result = collect_acrobot(
            env, parsed.episodes, parsed.seed, parsed.quality, parsed.noise, progress=parsed.progress
        )
    else:
        result = collect_random(env, parsed.episodes, parsed.seed, progress=parsed.progress)
    meta = {
        "env": parsed.env,
        "domain": parsed.domain,
        "source": f"rlv collect --policy {parsed.policy}",
        "how_made": {
            "policy": parsed.policy,
            "noise": result.noise,
            "seed": parsed.seed,
            "target_return": parsed.quality,
            "command": "rlv collect " + " ".join(args),
        },
        "average_return": result.measured_return,
    }
    write_dataset(parsed.out, result.episodes, meta, overwrite=parsed.overwrite)
    transitions = sum(episode.length for episode in result.episodes)
    successes = np.mean([episode.success for episode in result.episodes])
    target = f" (asked {parsed.quality:g})" if parsed.quality is not None else ""
    print(
        f"wrote {parsed.out}: {len(result.episodes)} episodes, {transitions} transitions, "
        f"average return {result.measured_return:.2f}{target}, success rate {successes:.2f}, "
        f"noise {result.noise:.3f}"
    )


def cmd_eval(args: list[str]) -> None:
    from rlv.evaluate import evaluate_run

    parsed = tyro.cli(EvalArgs, args=args, prog="rlv eval")
    metrics = evaluate_run(parsed.run, parsed.episodes, parsed.seed, parsed.checkpoint)
    print(json.dumps(metrics, indent=2))


def cmd_plot(args: list[str]) -> None:
    from rlv.plot import plot_runs

    parsed = tyro.cli(PlotArgs, args=args, prog="rlv plot")
    if not parsed.runs:
        raise RlvError("rlv plot needs at least one run directory")
    print(f"wrote {plot_runs(list(parsed.runs), parsed.out, parsed.metric, parsed.title)}")


def cmd_data(args: list[str]) -> None:
    from rlv.data.info import dataset_summary

    if not args or args[0] != "info":
        raise RlvError("usage: rlv data info DS")
    parsed = tyro.cli(DataInfoArgs, args=args[1:], prog="rlv data info")
    print(dataset_summary(parsed.dataset))


def cmd_presets(args: list[str]) -> None:
    width = max(map(len, PRESETS))
    for name in PRESETS:
        print(f"{name:<{width}}  {PRESET_HELP.get(name, '')}")


COMMANDS: dict[str, Callable[[list[str]], None]] = {
    "train": cmd_train,
    "collect": cmd_collect,
    "eval": cmd_eval,
    "plot": cmd_plot,
    "data": cmd_data,
    "presets": cmd_presets,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `rlv` console script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"rlv: error: unknown command {args[0]!r}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    try:
        command(args[1:])
    except RlvError as error:
        print(f"rlv: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rlv: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
