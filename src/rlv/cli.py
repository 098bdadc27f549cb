"""The `rlv` command line: one console script with subcommands, each a thin call into the library.

    rlv train [PRESET] [--option value ...]     train a run (presets: rlv presets)
    rlv train --resume RUN [--total-steps N]    continue a killed (or finished) run
    rlv collect --out DS [--quality R]          make an observation dataset with a scripted expert
    rlv collect --env pointmass --paired N      paired robot/human frames of the same states
    rlv eval RUN                                evaluate a run's newest checkpoint
    rlv plot RUN... --out FILE.png              learning curves across seeds
    rlv data import-video PATH... --out DS      videos / frame folders -> action-free dataset
    rlv data info DS                            summarise a dataset (or paired frames)
    rlv data preview DS --out sheet.png         contact sheet of a dataset's frames
    rlv data to-video DS --out clip.mp4         a dataset's episodes as a video
    rlv data merge A B... --out C               concatenate datasets
    rlv data split DS --train A --heldout B     train / held-out episodes
    rlv data from-minari ID --out DS            convert a local Minari dataset
    rlv data from-lerobot DIR --out DS          convert a local LeRobot (v2.x, v3.x) dataset
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
    """Write an action-free observation dataset (or paired frames) by rolling out a scripted policy."""

    out: Path
    """Dataset directory to create."""
    env: str = "acrobot"
    """Environment to collect in (acrobot, pointmass, push, drawer-open, gym:<id> with --policy random)."""
    episodes: int = 250
    """Episodes to collect (the paper's Acrobot pools hold about 25,000 transitions)."""
    quality: float | None = None
    """Target average return; the expert's noise is calibrated to reach it.
    The paper's Acrobot pools: -99, -79, -63."""
    success_rate: float | None = None
    """Target success rate in [0, 1]; the expert's noise is calibrated to reach it (instead of --quality)."""
    noise: float | None = None
    """Probability of a uniform random action instead of the expert's (instead of a target)."""
    policy: Literal["expert", "random"] = "expert"
    """The task's scripted expert, or uniform random actions (any env)."""
    seed: int = 0
    """Seed of the rollouts and of the noise."""
    domain: str = "robot"
    """Visual domain: robot (the agent's camera); image tasks: human, or humanlike (robot, human scene)."""
    paired: int | None = None
    """Instead of a dataset, write this many paired frames (one state in both domains) for the
    paired feature loss (--rlv.paired-dataset). Noise: --noise, default 0.3."""
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
    video: Path | None = None
    """Also write the evaluation episodes as a video: .gif, .mp4 or .webm (frames upscaled 4x)."""


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
        if preset and preset.endswith("-paired") and config.rlv.paired_dataset is None:
            raise RlvError(
                f"preset {preset} needs paired frames: --rlv.paired-dataset DIR (rlv collect --paired N)"
            )
        summary = train(config)
        out = config.out
    print(
        f"finished {out}: env steps {summary['env_step']}, eval/return {summary['eval/return']:.2f}, "
        f"eval/success {summary['eval/success']:.2f}"
    )


def cmd_collect(args: list[str]) -> None:
    from rlv.data.collect import collect_from_args

    parsed = tyro.cli(CollectArgs, args=args, prog="rlv collect")
    print(collect_from_args(parsed, "rlv collect " + " ".join(args)))


def cmd_eval(args: list[str]) -> None:
    from rlv.evaluate import evaluate_run

    parsed = tyro.cli(EvalArgs, args=args, prog="rlv eval")
    metrics = evaluate_run(parsed.run, parsed.episodes, parsed.seed, parsed.checkpoint, parsed.video)
    print(json.dumps(metrics, indent=2))


def cmd_plot(args: list[str]) -> None:
    from rlv.plot import plot_runs

    parsed = tyro.cli(PlotArgs, args=args, prog="rlv plot")
    if not parsed.runs:
        raise RlvError("rlv plot needs at least one run directory")
    print(f"wrote {plot_runs(list(parsed.runs), parsed.out, parsed.metric, parsed.title)}")


def cmd_data(args: list[str]) -> None:
    from rlv.data import commands

    usage = "usage: rlv data {" + ",".join(commands.DATA_COMMANDS) + "} ... (rlv data COMMAND --help)"
    if not args or args[0] not in commands.DATA_COMMANDS:
        raise RlvError(usage)
    args_type, run = commands.DATA_COMMANDS[args[0]]
    print(run(tyro.cli(args_type, args=args[1:], prog=f"rlv data {args[0]}")))


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
