"""The registered methods, by name. Adding a method: its module under `rlv.agents` with a
`METHOD = MethodSpec(...)`, and one line here."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from rlv.agents import bco as bco_method
from rlv.agents import gaifo as gaifo_method
from rlv.agents import rlv as rlv_method
from rlv.agents import sac as sac_method
from rlv.agents.base import Agent
from rlv.agents.spec import AgentContext, MethodSpec
from rlv.errors import RlvError

if TYPE_CHECKING:
    from rlv.config import TrainConfig
    from rlv.observation import ObservationKind

METHODS: dict[str, MethodSpec] = {}


def register(spec: MethodSpec) -> MethodSpec:
    """Make `spec` available as `--algo spec.name` (a later spec of the same name replaces it)."""
    from rlv.config import TrainConfig

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


def build_agent(config: TrainConfig, obs: ObservationKind, act_dim: int) -> Agent:
    """The agent of `config.algo`, with the encoder and augmentation `obs` calls for."""
    context = AgentContext(
        config.sac,
        method_options(config),
        obs,
        act_dim,
        config.device,
        config.random_steps,
        config.updates_per_step,
    )
    return method_spec(config.algo).build(context)
