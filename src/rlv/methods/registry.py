"""The registered methods, by name, and everything that must know them: the config type of a run
of each method, reading a run's config.json back, and the method part of validating a config.
Adding a method: its module under `rlv.methods` with a `METHOD = MethodSpec(...)`, and one line
here."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlv.config import TrainConfig, config_from_dict, method_config_type
from rlv.errors import RlvError
from rlv.methods import bco as bco_method
from rlv.methods import gaifo as gaifo_method
from rlv.methods import rlv as rlv_method
from rlv.methods import sac as sac_method
from rlv.methods.spec import Agent, AgentContext, MethodSpec
from rlv.validation import RANGES, Check, combination_problems, field_problems, option_name, show

if TYPE_CHECKING:
    from rlv.observation import ObservationKind

METHODS: dict[str, MethodSpec] = {}


def register(spec: MethodSpec) -> MethodSpec:
    """Make `spec` available as `--algo spec.name` (a later spec of the same name replaces it)."""
    core = {item.name for item in dataclasses.fields(TrainConfig)}
    if not spec.name.isidentifier() or (spec.options is not None and spec.name in core):
        raise RlvError(f"method name {spec.name!r}: must be an identifier, and not a run option's name")
    METHODS[spec.name] = spec
    return spec


for _spec in (sac_method.METHOD, rlv_method.METHOD, bco_method.METHOD, gaifo_method.METHOD):
    register(_spec)


def method_spec(name: str) -> MethodSpec:
    """The spec registered as `name`, or a readable error listing the known methods."""
    if name not in METHODS:
        raise RlvError(f"unknown method {name!r}; known methods: {', '.join(METHODS)}")
    return METHODS[name]


def method_options(config: TrainConfig) -> object:
    """The options of the run's method (`config.<algo>`), None for a method without options."""
    return getattr(config, config.algo, None) if method_spec(config.algo).options else None


def build_agent(
    config: TrainConfig, obs: ObservationKind, act_dim: int, videos_keep_actions: bool = False
) -> Agent:
    """The agent of `config.algo`, with the encoder and augmentation `obs` calls for;
    `videos_keep_actions`: whether its observation data keeps true actions."""
    context = AgentContext(
        config.sac,
        method_options(config),
        obs,
        act_dim,
        config.device,
        config.random_steps,
        config.updates_per_step,
        videos_keep_actions,
    )
    return method_spec(config.algo).build(context)


def config_type(algo: str) -> type[TrainConfig]:
    """The config type of a run of the registered method `algo` (RlvError when unknown)."""
    return method_config_type(algo, method_spec(algo).options)


def with_algo(config: TrainConfig, algo: str, options: Any = None) -> TrainConfig:
    """`config`'s run settings for the method `algo`, with its `options` (default: its defaults;
    the options of the previous method are dropped)."""
    kind = config_type(algo)
    core = {item.name: getattr(config, item.name) for item in dataclasses.fields(TrainConfig)}
    extra = {algo: options} if options is not None else {}
    return kind(**(core | {"algo": algo} | extra))


def run_config_type(data: Any) -> type[TrainConfig]:
    """The config type of a run read from JSON, by its `algo` (an RlvError naming the key)."""
    algo = data.get("algo", "sac") if isinstance(data, dict) else "sac"
    if type(algo) is not str:
        raise RlvError(f"algo: must be a string, got {algo!r}")
    try:
        return config_type(algo)
    except RlvError as error:
        raise RlvError(f"algo: {error}") from error


def legacy_fields(data: Any) -> Any:
    """Config files written before the method registry hold an `rlv` block for every algo; for a
    method other than rlv it never had an effect, and is dropped."""
    if isinstance(data, dict) and data.get("algo", "sac") != "rlv" and isinstance(data.get("rlv"), dict):
        kind = run_config_type(data)
        if "rlv" not in {item.name for item in dataclasses.fields(kind)}:
            return {key: value for key, value in data.items() if key != "rlv"}
    return data


def load_config(path: Path) -> TrainConfig:
    """Read a run's `config.json` and check every field (type and range); a problem is one
    RlvError naming the file and the key."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as error:
        raise RlvError(f"{path}: no such file (not a run directory?)") from error
    except json.JSONDecodeError as error:
        raise RlvError(f"{path}: not valid JSON ({error.msg})") from error
    except (OSError, ValueError) as error:  # unreadable, not UTF-8, an integer of >4300 digits
        raise RlvError(f"{path}: unreadable ({error})") from error
    try:
        config = config_from_dict(run_config_type(data), legacy_fields(data), "the top level")
    except RlvError as error:
        raise RlvError(f"{path}: {error}") from error
    check_config(config, source=path)
    return config


def ranges_of(algo: str) -> dict[str, Check]:
    """The range checks of a run of the registered method `algo`, by dotted path: the run's own
    (RANGES) and the method's options' (`<algo>.<field>`)."""
    spec = method_spec(algo)
    return RANGES | {f"{spec.name}.{key}": check for key, check in spec.ranges.items()}


def method_problems(config: Any) -> tuple[dict[str, Check], list[tuple[str, str]]]:
    """The range checks of the run (`ranges_of`), and a problem when its method is unknown or the
    config does not carry that method's options."""
    if type(config.algo) is not str:
        return {}, [("algo", f"must be a string, got {show(config.algo)}")]
    try:
        spec = method_spec(config.algo)
    except RlvError as error:
        return {}, [("algo", str(error))]
    if type(config) is not config_type(config.algo):
        return {}, [("algo", f"{config.algo!r} does not match the method options of this config")]
    return ranges_of(spec.name), []


def check_config(config: Any, source: Path | None = None) -> None:
    """Raise one RlvError for the first bad field of `config` (run fields, then the method's own
    options): named as an option, or as a key of `source` (the config.json it was read from)."""
    ranges, problems = method_problems(config)
    if not problems:
        problems = field_problems(config, ranges=ranges)
    if not problems:
        problems = combination_problems(config)
    if not problems:
        spec = method_spec(config.algo)
        problems = [(f"{spec.name}.{key}", text) for key, text in spec.problems(method_options(config))]
    if problems:
        field, problem = problems[0]
        where = f"{source}: {field}" if source is not None else option_name(field)
        raise RlvError(f"{where}: {problem}")
