"""Command lines into typed values (tyro): the parser every `rlv` subcommand uses, and the config an
`rlv train [PRESET] [--option value ...]` command line asks for (also what a sweep's trials hold)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import sys
from typing import Any, TypeVar

import tyro

from rlv.config import TrainConfig
from rlv.errors import RlvError
from rlv.methods.registry import METHODS, with_algo
from rlv.presets import PRESETS, get_preset

T = TypeVar("T")


def parse(kind: type[T], args: list[str], prog: str, **options: Any) -> T:
    """`tyro.cli`, with a parse error turned into one RlvError line (tyro prints a box and exits
    with status 2); `--help` goes through unchanged."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            return tyro.cli(kind, args=args, prog=prog, **options)
    except SystemExit as exit_:
        if exit_.code in (0, None):
            sys.stderr.write(captured.getvalue())
            raise
        raise RlvError(f"{parse_error(captured.getvalue())} (see {prog} --help)") from None


def parse_error(box: str) -> str:
    """The message of a tyro error box on one line: its first block of text after the title (the
    box is drawn with Unicode or ASCII rules, depending on the terminal)."""
    lines = [line.strip().strip("│┃╭╮╰╯").strip() for line in box.splitlines()[1:]]
    body: list[str] = []
    for line in lines:
        if line and set(line) <= set("-─━ "):
            if body:
                break
            continue
        body.append(line)
    text = " ".join(" ".join(body).split())
    return text or "could not parse the command line"


def train_config(args: list[str]) -> TrainConfig:
    """The config an `rlv train [PRESET] [--option value ...]` command line asks for (no label:
    the method's name); a bad option is an RlvError."""
    args = list(args)
    preset = args.pop(0) if args and not args[0].startswith("-") else None
    default = get_preset(preset) if preset else TrainConfig()
    algo = algo_option(args)
    if algo is not None and algo != default.algo:
        try:
            default = with_algo(default, algo)
        except RlvError as error:
            raise RlvError(f"--algo: {error}") from error
    description = (
        f"Train one run of the method {default.algo!r}. --algo NAME picks the method (one of: "
        f"{', '.join(METHODS)}); a method's own options, --NAME.*, are listed with --algo NAME "
        "--help or a preset of it. Optional first argument: a preset, one of: " + ", ".join(PRESETS)
    )
    config = parse(type(default), args, "rlv train [PRESET]", default=default, description=description)
    return config if config.label else dataclasses.replace(config, label=config.algo)


def algo_option(args: list[str]) -> str | None:
    """The value of `--algo` on a `rlv train` command line (it decides which options exist)."""
    for index, arg in enumerate(args):
        if arg == "--algo" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--algo="):
            return arg.split("=", 1)[1]
    return None


