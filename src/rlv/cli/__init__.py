"""The `rlv` command line: one console script with subcommands, each a thin call into the library.

    rlv train [PRESET] --out RUN [--option ...] train a run (presets: rlv presets)
    rlv train --resume RUN [--total-steps N]    continue a killed (or finished) run
    rlv collect --out DS [--quality R]          make an observation dataset with a scripted expert
    rlv collect --env pointmass --paired N      paired robot/human frames of the same states
    rlv collect --policy RUN --out DS           a dataset from a trained run's policy (any env)
    rlv pretrain --robot DS [--videos DS] --out F  pretrain an image encoder (rlv train --encoder F)
    rlv eval RUN                                evaluate a run's newest checkpoint
    rlv plot RUN... --out FILE.png              learning curves across seeds
    rlv sweep SWEEP --presets P... --seeds S... a grid of runs on Ray, resumable (rlv sweep --help)
    rlv report RUN_OR_SWEEP... --out DIR        IQM, bootstrap CIs, curves, performance profile
    rlv data import-video PATH... --out DS      videos / frame folders -> action-free dataset
    rlv data info DS                            summarise a dataset (or paired frames)
    rlv data preview DS --out sheet.png         contact sheet of a dataset's frames
    rlv data to-video DS --out clip.mp4         a dataset's episodes as a video
    rlv data merge A B... --out C               concatenate datasets
    rlv data split DS --train A --heldout B     train / held-out episodes
    rlv data from-minari ID --out DS            convert a local Minari dataset
    rlv data from-lerobot DIR --out DS          convert a local LeRobot (v2.x, v3.x) dataset
    rlv data from-run RUN --out DS              a run's replay (a window of env steps) as a dataset
    rlv presets                                 list the named presets and the methods
    rlv --version                               the installed version

`rlv COMMAND --help` lists a command's options. Every user-fixable problem ends in one line
`rlv: error: ...` on stderr and exit status 1.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rlv.cli.args import EvalArgs, PlotArgs, ReportArgs, ResumeArgs, SweepArgs
from rlv.command_line import parse, train_config
from rlv.errors import RlvError, did_you_mean
from rlv.files import is_disk_error
from rlv.presets import PRESET_HELP, PRESETS

HELP = ("-h", "--help")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a command, with what to run to continue (`hint`)."""

    def __init__(self, hint: str) -> None:
        super().__init__(hint)
        self.hint = hint


@contextlib.contextmanager
def resume_hint(run: Path) -> Iterator[None]:
    """Ctrl-C inside says how to resume `run` (once its directory holds a config.json)."""
    try:
        yield
    except KeyboardInterrupt as interrupt:
        if isinstance(interrupt, Interrupted) or not (run / "config.json").is_file():
            raise
        raise Interrupted(f"resume with: rlv train --resume {shlex.quote(str(run))}") from None


def cmd_train(args: list[str]) -> None:
    from rlv.train import resume, train

    if "--resume" in args:
        help_asked = any(arg in HELP for arg in args)  # also `--resume --help`: no RUN to read
        parsed = parse(ResumeArgs, ["--help"] if help_asked else args, "rlv train --resume")
        with resume_hint(parsed.resume):
            summary = resume(parsed.resume, parsed.total_steps, parsed.progress)
        out = parsed.resume
    else:
        config = train_config(args)
        with resume_hint(config.out):
            summary = train(config)
        out = config.out
    print(
        f"finished {out}: env steps {summary['env_step']}, eval/return {summary['eval/return']:.2f}, "
        f"eval/success {summary['eval/success']:.2f}"
    )


def cmd_collect(args: list[str]) -> None:
    from rlv.collect.commands import CollectArgs, collect_from_args

    parsed = parse(CollectArgs, args, "rlv collect")
    print(collect_from_args(parsed, "rlv collect " + " ".join(args)))


def cmd_pretrain(args: list[str]) -> None:
    from rlv.pretrain import PretrainConfig, pretrain, pretrain_report

    parsed = parse(PretrainConfig, args, "rlv pretrain")
    print(pretrain_report(pretrain(parsed), parsed.out))


def cmd_eval(args: list[str]) -> None:
    from rlv.evaluate import evaluate_run

    parsed = parse(EvalArgs, args, "rlv eval")
    metrics = evaluate_run(parsed.run, parsed.episodes, parsed.seed, parsed.checkpoint, parsed.video)
    print(json.dumps(metrics, indent=2))


def cmd_plot(args: list[str]) -> None:
    from rlv.experiments.plot import plot_runs

    parsed = parse(PlotArgs, args, "rlv plot")
    if not parsed.runs:
        raise RlvError("rlv plot needs at least one run directory")
    print(f"wrote {plot_runs(list(parsed.runs), parsed.out, parsed.metric, parsed.title)}")


def sweep_trials(parsed: SweepArgs) -> list[Any]:
    """The trials a `rlv sweep` command line asks for: its grid, else the recorded ones."""
    from rlv.experiments.sweep_spec import grid, parse_overrides, read_spec, recorded

    grid_given = bool(parsed.presets or parsed.options or parsed.override) or parsed.seeds != (0,)
    if parsed.resume and (grid_given or parsed.spec):
        raise RlvError("--resume continues the recorded trials; give it no --spec, --presets or grid options")
    if parsed.spec is not None:
        if grid_given:
            raise RlvError(
                "--spec: put seeds, options and overrides in the spec file, not on the command line"
            )
        return read_spec(parsed.spec)
    if parsed.presets:
        methods = {preset: (preset, []) for preset in parsed.presets}
        return grid(
            methods, list(parsed.seeds), shlex.split(parsed.options), parse_overrides(parsed.override)
        )
    if grid_given:
        raise RlvError("--seeds, --options and --override need --presets (or put them in a --spec file)")
    trials = list(recorded(parsed.sweep).values())
    if not trials:
        raise RlvError(f"{parsed.sweep}: no sweep.json to resume; give --presets or --spec")
    return trials


def cmd_sweep(args: list[str]) -> None:
    from rlv.experiments.sweep import other_options, run_sweep
    from rlv.experiments.sweep_spec import record

    parsed = parse(SweepArgs, args, "rlv sweep")
    trials = sweep_trials(parsed)
    sweep = parsed.sweep.resolve()
    for trial in trials:  # every command line parses before anything is written
        try:
            config = train_config(trial.train_args(sweep))
        except RlvError as error:
            raise RlvError(f"trial {trial.name}: {error}") from error
        differ = other_options(config, sweep / trial.name)
        if differ:
            raise RlvError(
                f"{sweep / trial.name} holds a run made with other options "
                f"(differs in: {', '.join(differ)}); use another sweep directory"
            )
    record(sweep, trials)
    failed = run_sweep(sweep, trials, parsed.resources)
    if failed:
        raise RlvError(
            f"{failed} of {len(trials)} trials failed (their FAILED lines above name the error and log)"
        )


def cmd_report(args: list[str]) -> None:
    from rlv.experiments.report import write_report

    parsed = parse(ReportArgs, args, "rlv report")
    if not parsed.paths:
        raise RlvError("rlv report needs at least one run or sweep directory")
    for path in write_report(list(parsed.paths), parsed.out, parsed.options):
        print(f"wrote {path}")
    print((parsed.out / "report.md").read_text(), end="")


def cmd_data(args: list[str]) -> None:
    from rlv.cli import data as commands

    names = list(commands.DATA_COMMANDS)
    if args and args[0] in HELP:
        print(commands.data_help())
        return
    if not args:
        raise RlvError(f"rlv data needs a command: {', '.join(names)} (rlv data --help describes them)")
    if args[0] not in commands.DATA_COMMANDS:
        raise RlvError(f"unknown data command {args[0]!r}{did_you_mean(args[0], names)}; commands: "
                       f"{', '.join(names)} (rlv data --help)")  # fmt: skip
    args_type, run = commands.DATA_COMMANDS[args[0]]
    print(run(parse(args_type, args[1:], f"rlv data {args[0]}")))


def cmd_presets(args: list[str]) -> None:
    from rlv.methods.registry import METHODS

    if args and args[0] in HELP:
        print("usage: rlv presets\n\nList the named presets (rlv train PRESET) and the registered methods "
              "(rlv train --algo NAME).\n")  # fmt: skip
    elif args:
        raise RlvError(f"rlv presets takes no arguments, got {shlex.join(args)}")
    width = max(map(len, [*PRESETS, *METHODS]))
    for name in PRESETS:
        print(f"{name:<{width}}  {PRESET_HELP.get(name, '')}")
    print("\nmethods (rlv train --algo NAME, options --NAME.*):")
    for name, spec in METHODS.items():
        print(f"{name:<{width}}  {spec.summary}")


def version() -> str:
    """The installed package's version (its metadata)."""
    try:
        return importlib.metadata.version("rlv")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


COMMANDS: dict[str, Callable[[list[str]], None]] = {
    "train": cmd_train,
    "collect": cmd_collect,
    "pretrain": cmd_pretrain,
    "eval": cmd_eval,
    "plot": cmd_plot,
    "sweep": cmd_sweep,
    "report": cmd_report,
    "data": cmd_data,
    "presets": cmd_presets,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `rlv` console script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in HELP:
        print(__doc__)
        return 0
    if args[0] in ("-V", "--version"):
        print(f"rlv {version()}")
        return 0
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"rlv: error: unknown command {args[0]!r}{did_you_mean(args[0], list(COMMANDS))}; "
              f"commands: {', '.join(COMMANDS)}", file=sys.stderr)  # fmt: skip
        return 1
    try:
        command(args[1:])
    except RlvError as error:
        print(f"rlv: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        if not is_disk_error(error):
            raise
        print(
            f"rlv: error: {error.filename or 'output'}: could not write ({error.strerror})", file=sys.stderr
        )
        return 1
    except KeyboardInterrupt as interrupt:
        hint = interrupt.hint if isinstance(interrupt, Interrupted) else ""
        print("rlv: interrupted" + (f"; {hint}" if hint else ""), file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
