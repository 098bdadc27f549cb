"""Up-front checks of a run configuration, before anything is written.

Every field of `TrainConfig`, `SACConfig` and the method's options (e.g. `RLVConfig`) is checked
for its type (a config read back from `config.json` can hold anything) and its range, and
combinations that cannot work are refused. Problems are reported as one line naming the option
(`--sac.batch-size`), or the file and key (`run/config.json: sac.batch_size`) for a config read
from disk.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import shutil
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch

from rlv.errors import RlvError

MAX_SEED = 2**32 - 1

Check = Callable[[Any], str | None]
"""A range check: None when the value is fine, else what is allowed."""


def at_least(low: int) -> Check:
    return lambda value: None if value >= low else f"must be at least {low}"


def positive(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


def unit_interval(open_low: bool) -> Check:
    def check(value: Any) -> str | None:
        if (0 < value <= 1) if open_low else (0 <= value <= 1):
            return None
        return "must be in (0, 1]" if open_low else "must be in [0, 1]"

    return check


def widths(value: Any) -> str | None:
    return None if all(width >= 1 for width in value) else "every width must be at least 1"


def not_empty(value: Any) -> str | None:
    return None if value.strip() else "must not be empty"


RANGES: dict[str, Check] = {
    "sac.lr": positive,
    "sac.gamma": unit_interval(open_low=False),
    "sac.tau": unit_interval(open_low=True),
    "sac.batch_size": at_least(1),
    "sac.hidden": widths,
    "sac.init_alpha": positive,
    "sac.conv_channels": widths,
    "sac.conv_kernel": at_least(1),
    "sac.feature_dim": at_least(1),
    "sac.shift_pad": at_least(0),
    "sac.critic_ensemble": at_least(1),
    "sac.target_subset": at_least(1),
    "env": not_empty,
    "seed": lambda value: None if 0 <= value <= MAX_SEED else f"must be in [0, {MAX_SEED}]",
    "total_steps": at_least(1),
    "random_steps": at_least(0),
    "updates_per_step": at_least(1),
    "horizon": at_least(1),
    "eval_every": at_least(1),
    "eval_episodes": at_least(1),
    "log_every": at_least(1),
    "checkpoint_every": at_least(1),
    "keep_checkpoints": at_least(1),
    "replay_size": at_least(1),
    "threads": at_least(1),
}
"""Allowed range of each run field (by dotted path); None values of optional fields are not checked.
A method's own options are checked by the ranges its `MethodSpec` declares."""


def number_problem(value: Any) -> str | None:
    """What is wrong with `value` as a float field: not a number, or not finite."""
    if type(value) not in (int, float):
        return "must be a number"
    finite = abs(value) < 2**1023 if type(value) is int else math.isfinite(value)
    return None if finite else "must be a finite number"


SCALAR_PROBLEMS: dict[Any, Check] = {
    bool: lambda value: None if type(value) is bool else "must be true or false",
    int: lambda value: None if type(value) is int else "must be an integer",
    float: number_problem,
    str: lambda value: None if type(value) is str else "must be a string",
    Path: lambda value: None if isinstance(value, Path) and str(value).strip() else "must be a path",
}
"""The type check of each plain field type."""


def type_problem(kind: Any, value: Any) -> str | None:
    """What is wrong with the type of `value` for the annotation `kind`, or None."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [arg for arg in args if arg is not type(None)]
        return type_problem(options[0], value)
    if origin is Literal:
        return None if value in args and type(value) is str else f"must be one of {', '.join(args)}"
    if origin is tuple:
        ok = isinstance(value, tuple) and all(type(item) is int for item in value)
        return None if ok else "must be a list of integers"
    if kind in SCALAR_PROBLEMS:
        return SCALAR_PROBLEMS[kind](value)
    if dataclasses.is_dataclass(kind):
        return None if isinstance(value, kind) else "must be an object of its own fields"
    return None


def field_problems(
    config: Any, prefix: str = "", ranges: dict[str, Check] | None = None
) -> list[tuple[str, str]]:
    """(dotted field, problem) for every field of a (nested) config dataclass with a bad type or
    range (`ranges`, default RANGES), in field order."""
    ranges = RANGES if ranges is None else ranges
    problems: list[tuple[str, str]] = []
    hints = typing.get_type_hints(type(config))
    for item in dataclasses.fields(config):
        name, value = prefix + item.name, getattr(config, item.name)
        problem = type_problem(hints[item.name], value)
        if problem is None and dataclasses.is_dataclass(value):
            problems += field_problems(value, name + ".", ranges)
            continue
        if problem is None and value is not None and name in ranges:
            problem = ranges[name](value)
        if problem is not None:
            problems.append((name, f"{problem}, got {show(value)}"))
    return problems


def show(value: Any) -> str:
    """A short, one-line rendering of a bad value."""
    if isinstance(value, tuple):
        value = list(value)
    try:
        text = repr(value) if isinstance(value, str) else str(value)
    except ValueError:  # str() of an integer of more than 4300 digits
        return "a number too long to print"
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def combination_problems(config: Any) -> list[tuple[str, str]]:
    """Problems of fields that are each fine but do not work together."""
    sac = config.sac
    problems = []
    if sac.log_std_min >= sac.log_std_max:
        problems.append(("sac.log_std_max", f"must be above sac.log_std_min ({sac.log_std_min:g})"))
    if sac.target_subset is not None and sac.target_subset > sac.critic_ensemble:
        problems.append(("sac.target_subset", f"must be at most sac.critic_ensemble ({sac.critic_ensemble})"))
    return problems


def option_name(field: str) -> str:
    """The command-line option of a dotted field: `sac.batch_size` -> `--sac.batch-size`."""
    return "--" + field.replace("_", "-")


def check_device(device: str, where: str = "--device") -> None:
    """Refuse a device string torch does not know or cannot use on this machine."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as error:
        raise RlvError(f"{where}: unknown device {device!r} (use cpu, cuda or cuda:N)") from error
    if parsed.type == "cpu":
        return
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise RlvError(
                f"{where}: {device!r} is not available: this torch has no usable CUDA GPU (use cpu)"
            )
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise RlvError(f"{where}: {device!r} does not exist ({torch.cuda.device_count()} CUDA devices)")
        return
    if parsed.type == "mps" and torch.backends.mps.is_available():
        return
    raise RlvError(f"{where}: device {device!r} cannot be used here (use cpu, cuda or cuda:N)")


CXX_COMPILERS = ("g++", "c++", "clang++")
"""What torch.compile's CPU code generation can build with (CXX, when set, is tried first)."""


def check_compile(compile_networks: bool, device: str, where: str = "--sac.compile") -> None:
    """Refuse torch.compile where its code generation cannot run: on cpu without a C++ compiler,
    on cuda without Triton (both would fail only at the first update, inside the training loop)."""
    if not compile_networks:
        return
    if device.startswith("cuda"):
        if importlib.util.find_spec("triton") is None:
            raise RlvError(f"{where}: torch.compile on {device} needs Triton, which this torch lacks")
        return
    compilers = (os.environ.get("CXX", ""), *CXX_COMPILERS)
    if not any(name and shutil.which(name) for name in compilers):
        raise RlvError(
            f"{where}: torch.compile on {device} needs a C++ compiler ({', '.join(CXX_COMPILERS)} or "
            f"$CXX); none is installed (apt-get install g++), or leave it off"
        )
