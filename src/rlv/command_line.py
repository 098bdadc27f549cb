"""Command lines into typed values (tyro): the parser every `rlv` subcommand uses, and the config an
`rlv train [PRESET] --out RUN [--option value ...]` command line asks for (also what a sweep's
trials hold)."""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import io
import sys
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import tyro

from rlv.config import TrainConfig
from rlv.errors import RlvError, did_you_mean
from rlv.methods.registry import METHODS, with_algo
from rlv.presets import PRESETS, get_preset

T = TypeVar("T")

RESUME_USAGE = "rlv train --resume RUN [--total-steps N] [--no-progress]"
"""How a run is continued (parsed apart from the train options: see rlv.cli)."""


def parse(kind: type[T], args: list[str], prog: str, elsewhere: Mapping[str, str] | None = None,
          **options: Any) -> T:  # fmt: skip
    """`tyro.cli`, with a parse error turned into one RlvError line (tyro prints a box and exits
    with status 2); `--help` goes through unchanged. `elsewhere`: options of other commands or
    methods that are not `kind`'s, each with the phrase that says whose it is."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            return tyro.cli(kind, args=args, prog=prog, **options)
    except SystemExit as exit_:
        if exit_.code in (0, None):
            sys.stderr.write(captured.getvalue())
            raise
        message = explain_error(captured.getvalue(), kind, args, elsewhere or {})
        raise RlvError(f"{message} (see {prog} --help)") from None


def explain_error(box: str, kind: type, args: list[str], elsewhere: Mapping[str, str]) -> str:
    """One line for a tyro error box: unknown options by name (never the values after them), with
    what they may have meant; missing options by name; otherwise the box's own text."""
    title = next((line for line in box.splitlines() if line.strip()), "")
    if "Unrecognized options" in title or "Required options" in title:
        known = option_names(kind)
        unknown = unknown_options(args, known)
        if unknown:  # first: a typo of a required option is why it is missing
            return "; ".join(explain_option(name, known, elsewhere) for name in unknown)
        firsts = [line.split()[0] for line in box_lines(box) if line.strip()]
        missing = [name for name in firsts if name in known]
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            return f"{' and '.join(dict.fromkeys(missing))} {verb} required"
    return parse_error(box)


def box_lines(box: str) -> list[str]:
    """The lines of a tyro error box without its frame (Unicode or ASCII rules)."""
    return [line.strip().strip("│┃╭╮╰╯|").strip() for line in box.splitlines()[1:]]


def parse_error(box: str) -> str:
    """The message of a tyro error box on one line: its first block of text after the title (the
    box is drawn with Unicode or ASCII rules, depending on the terminal)."""
    body: list[str] = []
    for line in box_lines(box):
        if line and set(line) <= set("-─━ "):
            if body:
                break
            continue
        body.append(line)
    text = " ".join(" ".join(body).split())
    return text or "could not parse the command line"


def unknown_options(args: list[str], known: list[str]) -> list[str]:
    """The option names on a command line that `known` lacks (`--name=value` by its name); values,
    negative numbers and everything after `--` are not option names."""
    found: list[str] = []
    for arg in args:
        if arg == "--":
            break
        name = arg.split("=", 1)[0]
        if not arg.startswith("-") or " " in arg or is_number(arg) or name in known:
            continue
        found.append(name)
    return list(dict.fromkeys(found))


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def explain_option(name: str, known: list[str], elsewhere: Mapping[str, str]) -> str:
    """What an unknown option is: another method's (or command's), or a typo of a known one."""
    if name in elsewhere:
        return f"{name} is {elsewhere[name]}"
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    if close:
        return f"unrecognized option {name}; did you mean {close[0]}?"
    close = difflib.get_close_matches(name, list(elsewhere), n=1, cutoff=0.75)
    if close:
        return f"unrecognized option {name}; did you mean {close[0]} ({elsewhere[close[0]]})?"
    return f"unrecognized option {name}"


def option_names(kind: type, prefix: str = "") -> list[str]:
    """Every option tyro makes of the dataclass `kind` (`--name`, `--no-name` of booleans, aliases,
    nested dataclasses as `--field.name` unless their prefix is omitted); positionals have none."""
    names = [] if prefix else ["-h", "--help"]
    hints = typing.get_type_hints(kind, include_extras=True)
    for item in dataclasses.fields(kind):
        base, marks = hints[item.name], ()
        if typing.get_origin(base) is typing.Annotated:
            base, marks = base.__origin__, base.__metadata__
        if any(mark is tyro.conf.Positional for mark in marks):
            continue
        if dataclasses.is_dataclass(base):
            omit = any(mark is tyro.conf.OmitArgPrefixes for mark in marks)
            names += option_names(typing.cast(type, base), prefix if omit else f"{prefix}{item.name}.")
            continue
        flag = item.name.replace("_", "-")
        names.append(f"--{prefix}{flag}")
        if base is bool:
            names.append(f"--{prefix}no-{flag}")
        names += [alias for mark in marks for alias in getattr(mark, "aliases", None) or ()]
    return names


def train_config(args: list[str]) -> TrainConfig:
    """The config an `rlv train [PRESET] --out RUN [--option value ...]` command line asks for (its
    label: --label, else `default_label`); a bad option, or none of --out, is an RlvError."""
    args = list(args)
    preset = args.pop(0) if args and not args[0].startswith("-") else None
    default = preset_config(preset) if preset else TrainConfig()
    algo = algo_option(args)
    if algo is not None and algo != default.algo:
        try:
            default = with_algo(default, algo)
        except RlvError as error:
            raise RlvError(f"--algo: {error}") from error
    description = (
        f"Train one run of the method {default.algo!r} into --out RUN (required: a new directory). To "
        f"continue a killed or finished run instead: {RESUME_USAGE}. --algo NAME picks the method (one "
        f"of: {', '.join(METHODS)}); a method's own options, --NAME.*, are listed with --algo NAME "
        f"--help or a preset of it. Optional first argument: a preset, one of: {', '.join(PRESETS)}."
    )
    wants_help = any(arg in ("-h", "--help") for arg in args)
    shown = dataclasses.replace(default, out=tyro.MISSING) if wants_help else default  # (required)
    config = parse(type(default), args, "rlv train [PRESET]", other_methods_options(default.algo),
                   default=shown, description=description)  # fmt: skip
    if not any(arg == "--out" or arg.startswith("--out=") for arg in args):  # after the other errors
        raise RlvError(
            "--out is required: the run directory to create, e.g. --out runs/NAME "
            "(see rlv train [PRESET] --help)"
        )
    given = any(arg == "--label" or arg.startswith("--label=") for arg in args)
    label = config.label if given and config.label else default_label(config, preset)
    return dataclasses.replace(config, label=label)


def default_label(config: TrainConfig, preset: str | None) -> str:
    """What a run without --label is called in plots and reports: its preset's name when it runs
    the preset's env and method; on another --env, the preset's name without its task (`rlv report`
    tells tasks apart itself): `acrobot-rlv-oracle-actions --env gym:X` is `rlv-oracle-actions`;
    with another --algo, or without a preset, the method's name. Never the data it trained on
    (`rlv report` and `rlv plot` keep runs on different datasets apart by their config)."""
    if preset is None or PRESETS[preset].algo != config.algo:
        return config.algo
    if PRESETS[preset].env == config.env:
        return preset
    words = preset.split("-")
    return "-".join(words[words.index(config.algo) :]) if config.algo in words else config.algo


def preset_config(name: str) -> TrainConfig:
    """The preset `name`; an unknown name suggests the closest known one."""
    suggestion = "" if name in PRESETS else did_you_mean(name, list(PRESETS))
    if suggestion:
        raise RlvError(f"unknown preset {name!r}{suggestion}")
    return get_preset(name)


def other_methods_options(algo: str) -> dict[str, str]:
    """`--NAME.*` options of the registered methods other than `algo`, each saying whose it is."""
    return {
        name: f"an option of --algo {method}, but this command trains {algo}"
        for method, spec in METHODS.items()
        if method != algo and spec.options is not None
        for name in option_names(spec.options, f"{method}.")
    }


def algo_option(args: list[str]) -> str | None:
    """The value of `--algo` on a `rlv train` command line (it decides which options exist)."""
    for index, arg in enumerate(args):
        if arg == "--algo" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--algo="):
            return arg.split("=", 1)[1]
    return None
