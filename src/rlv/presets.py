"""The named presets of the paper's experiments: a TrainConfig each, with a one-line help text.

`rlv train PRESET` starts from one; `rlv presets` lists them. Presets are built from the config
dataclasses directly, not through the method registry (the registry imports the agents, which
import the configs: no import cycle).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from rlv.config import SACConfig, TrainConfig, method_config_type
from rlv.errors import RlvError
from rlv.methods.bco import BCOConfig
from rlv.methods.gaifo import GAIfOConfig
from rlv.methods.rlv import RLVConfig


def _rlv(base: TrainConfig, options: RLVConfig) -> TrainConfig:
    """`base` as an RLV run with `options` (presets are built without the registry: no import cycle)."""
    core = {item.name: getattr(base, item.name) for item in dataclasses.fields(TrainConfig)}
    return method_config_type("rlv", RLVConfig)(**(core | {"algo": "rlv", "rlv": options}))


def _bco(base: TrainConfig) -> TrainConfig:
    """`base` as a BCO(alpha) run, observation batches as large as the robot batch."""
    core = {item.name: getattr(base, item.name) for item in dataclasses.fields(TrainConfig)}
    options = BCOConfig(obs_batch_size=base.sac.batch_size)
    return method_config_type("bco", BCOConfig)(**(core | {"algo": "bco", "bco": options}))


RLPD_SAC: dict[str, Any] = {
    "critic_layer_norm": True,
    "critic_ensemble": 10,
    "target_subset": 2,
    "actor_q": "mean",
}
"""The SAC options of the `*-rlpd` presets: RLPD's critics (Ball et al. 2023): LayerNorm, an
ensemble of 10 whose TD target is the min of 2 drawn at random, and an actor on their mean."""

RLPD_UPDATES_PER_STEP = 2
"""Gradient steps per environment step of the `*-rlpd` presets (RLPD's results use 20; 2 keeps a
20,000-step acrobot RLV run to about 37 minutes on one CPU core with `--sac.compile`, beside another
run: docs/benchmarks.md, update throughput)."""


def _rlpd(base: TrainConfig) -> TrainConfig:
    """`base` on RLPD's SAC: its critics (RLPD_SAC) and RLPD_UPDATES_PER_STEP gradient steps."""
    sac = dataclasses.replace(base.sac, **RLPD_SAC)
    return dataclasses.replace(base, updates_per_step=RLPD_UPDATES_PER_STEP, sac=sac)


def _acrobot_rlv(**rlv: Any) -> TrainConfig:
    return _rlv(TrainConfig(env="acrobot"), RLVConfig(reward_scale=10.0, reward_bottom=-1.0, **rlv))


_IMAGE_TASKS: dict[str, TrainConfig] = {
    # fast numpy task: a lighter encoder (3x3 convs, 8-16-16 channels) and batches of 32 fit the CPU;
    # temperature from 0.1 (as in DrQ): from 1.0 the entropy bonus outweighs the -1/step reward for
    # thousands of updates
    "pointmass": TrainConfig(
        env="pointmass",
        total_steps=10_000,
        eval_every=1000,
        eval_episodes=10,
        checkpoint_every=5000,
        sac=SACConfig(batch_size=32, conv_channels=(8, 16, 16), conv_kernel=3, init_alpha=0.1),
    ),
    # Meta-World: the original encoder (5x5 convs, 16-16-32); budgets for a GPU, override on a CPU
    "push": TrainConfig(
        env="push", total_steps=200_000, eval_every=5000, eval_episodes=10, sac=SACConfig(batch_size=128)
    ),
    "drawer-open": TrainConfig(
        env="drawer-open",
        total_steps=300_000,
        eval_every=5000,
        eval_episodes=10,
        sac=SACConfig(batch_size=128),
    ),
}
# Meta-World's own versions (4-D actions, random placements; `push` and `drawer-open` before they
# became the paper's tasks): the same learners and budgets
_IMAGE_TASKS |= {
    f"{task}-mw": dataclasses.replace(_IMAGE_TASKS[task], env=f"{task}-mw")
    for task in ("push", "drawer-open")
}


def _image_rlv(task: str, **rlv: Any) -> TrainConfig:
    """RLV on an image task: observation and paired batches as large as the robot batch; rewards
    relabelled to the tasks' own sparse scale (-1 per step, 0 at success)."""
    base = _IMAGE_TASKS[task]
    batch = base.sac.batch_size
    return _rlv(
        base,
        RLVConfig(obs_batch_size=batch, paired_batch_size=batch, reward_scale=0.0, reward_bottom=-1.0, **rlv),
    )


def _gaifo(base: TrainConfig, options: GAIfOConfig) -> TrainConfig:
    """`base` as a GAIfO run with `options`."""
    core = {item.name: getattr(base, item.name) for item in dataclasses.fields(TrainConfig)}
    return method_config_type("gaifo", GAIfOConfig)(**(core | {"algo": "gaifo", "gaifo": options}))


TRANSFER = {
    "contrastive_weight": 1.0,
    "paired_weight": 0.0,
    "alignment": "dann",
    "temporal_weight": 1.0,
    "idm_encoder_weight": 1.0,
}
"""The transfer losses of the `*-rlv-align` presets: paired InfoNCE, gradient-reversal alignment and
temporal contrast on the shared encoder, with the inverse-model anchor (the transfer probe's best
combination: benchmarks/results/transfer_probe.txt)."""


def _image_presets() -> dict[str, TrainConfig]:
    presets = {}
    for task, base in _IMAGE_TASKS.items():
        presets[f"{task}-sac"] = base
        presets[f"{task}-rlv"] = _image_rlv(task)
        presets[f"{task}-rlv-align"] = _image_rlv(task, **TRANSFER)
        presets[f"{task}-rlv-align-adversarial"] = _image_rlv(task, alignment="dann")
        presets[f"{task}-rlv-align-original"] = _image_rlv(task, alignment="original")
        presets[f"{task}-sac-humanlike"] = dataclasses.replace(base, domain="humanlike")
        presets[f"{task}-rlv-humanlike"] = dataclasses.replace(_image_rlv(task), domain="humanlike")
    presets["pointmass-bco"] = _bco(_IMAGE_TASKS["pointmass"])
    return presets


def _image_help() -> dict[str, str]:
    help_text = {}
    for task in _IMAGE_TASKS:
        help_text |= {
            f"{task}-sac": f"SAC from 48x48 pixels on {task}.",
            f"{task}-rlv": f"RLV on {task}, no domain transfer; needs --rlv.dataset (e.g. human videos).",
            f"{task}-rlv-align": f"RLV on {task} with human videos: paired contrastive + gradient-reversal "
            "alignment + temporal contrast + inverse-model anchor; needs --rlv.dataset and "
            "--rlv.paired-dataset.",
            f"{task}-rlv-align-adversarial": f"RLV on {task} with gradient-reversal (DANN) alignment only, "
            "no paired frames; needs --rlv.dataset.",
            f"{task}-rlv-align-original": f"RLV on {task} with the original release's alignment (trains the "
            "discriminator, never the encoder).",
            f"{task}-sac-humanlike": f"SAC on {task}, the robot's camera in the human videos' scene colours "
            "(the original's HumanLike setting).",
            f"{task}-rlv-humanlike": f"RLV on {task} in the HumanLike setting, no alignment; needs "
            "--rlv.dataset.",
        }
    help_text["pointmass-bco"] = (
        "BCO(alpha) baseline on pointmass from pixels (no rewards); needs --bco.dataset."
    )
    return help_text


PRESETS: dict[str, TrainConfig] = {
    "acrobot-sac": TrainConfig(env="acrobot", algo="sac"),
    "acrobot-rlv": _acrobot_rlv(),
    "acrobot-rlv-oracle-actions": _acrobot_rlv(action_source="oracle"),
    "acrobot-rlv-zero-actions": _acrobot_rlv(action_source="zero"),
    "acrobot-rlv-true-rewards": _acrobot_rlv(reward_source="true"),
    "acrobot-rlv-timelimit-done": _acrobot_rlv(timelimit_done=True),
    "acrobot-bco": _bco(TrainConfig(env="acrobot")),
    "pendulum-sac": TrainConfig(env="gym:Pendulum-v1", algo="sac", total_steps=20_000),
    "acrobot-gaifo": _gaifo(TrainConfig(env="acrobot"), GAIfOConfig()),
    "pointmass-gaifo": _gaifo(
        _IMAGE_TASKS["pointmass"], GAIfOConfig(obs_batch_size=_IMAGE_TASKS["pointmass"].sac.batch_size)
    ),
    "acrobot-sac-rlpd": _rlpd(TrainConfig(env="acrobot", algo="sac")),
    "acrobot-rlv-rlpd": _rlpd(_acrobot_rlv()),
    **_image_presets(),
    "pointmass-sac-rlpd": _rlpd(_IMAGE_TASKS["pointmass"]),
    "pointmass-rlv-rlpd": _rlpd(_image_rlv("pointmass")),
}
"""Named presets. `rlv train PRESET --option value` overrides single fields."""

PRESET_HELP: dict[str, str] = {
    "acrobot-sac": "SAC from scratch on continuous Acrobot (horizon 100).",
    "acrobot-rlv": "RLV on continuous Acrobot; needs --rlv.dataset.",
    "acrobot-rlv-oracle-actions": "RLV ablation: observation rows use the dataset's true actions.",
    "acrobot-rlv-zero-actions": "RLV ablation: observation rows use zero actions.",
    "acrobot-rlv-true-rewards": "RLV ablation: observation rows use the dataset's true rewards.",
    "acrobot-rlv-timelimit-done": "RLV with the original quirk: time-limit ends count as done.",
    "acrobot-bco": "BCO(alpha) baseline on continuous Acrobot (no rewards); needs --bco.dataset.",
    "pendulum-sac": "SAC on gym:Pendulum-v1 (a quick sanity check of SAC).",
    "acrobot-gaifo": "GAIfO baseline on continuous Acrobot: SAC on a discriminator's reward, no env "
    "reward; needs --gaifo.dataset.",
    "pointmass-gaifo": "GAIfO baseline on pointmass from 48x48 pixels (the discriminator has its own "
    "conv layers); needs --gaifo.dataset.",
    "acrobot-sac-rlpd": "acrobot-sac on RLPD's SAC: LayerNorm critics, ensemble of 10, target min of 2, "
    "mean-Q actor, 2 updates per step.",
    "acrobot-rlv-rlpd": "acrobot-rlv on RLPD's SAC (as acrobot-sac-rlpd); needs --rlv.dataset.",
    **_image_help(),
    "pointmass-sac-rlpd": "pointmass-sac on RLPD's SAC (as acrobot-sac-rlpd).",
    "pointmass-rlv-rlpd": "pointmass-rlv on RLPD's SAC (as acrobot-sac-rlpd); needs --rlv.dataset.",
}


def get_preset(name: str) -> TrainConfig:
    """Return the preset called `name`, with its label set, or raise a readable error."""
    if name not in PRESETS:
        raise RlvError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
    return dataclasses.replace(PRESETS[name], label=name)
