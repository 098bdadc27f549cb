"""The transfer probe: does a domain-transfer method make human-video features usable, without RL?

A probe method is `rlv pretrain` with some options changed: overrides of `PretrainConfig`
(transfer weights, alignment, appearance randomisation...) and the domain the robot's own frames
are rendered in (`humanlike`: the original's restyled robot scene). Every method of one probe run
trains an `EncoderPretrainer` for `updates` steps on the same data and is scored on its held-out
part by `rlv.encoder_scores` (inverse-model action error on robot and on human transitions beside
chance, paired retrieval, the linear state probe on robot and on human frames, feature spread).

The data are datasets written by `rlv collect`'s own code (`collect_from_args`), once per env and
settings into a work directory and reused by later runs: robot frames with actions and states (the
noisy scripted expert, or uniform random actions), human-domain videos whose true actions and
states are kept only for scoring, and paired frames of one state in both domains. Robot frames in
another domain replay the same episodes (same seed), so every method sees the same states.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from rlv.collect.commands import collect_from_args
from rlv.collect.options import CollectArgs
from rlv.errors import RlvError
from rlv.presets import PRESETS
from rlv.pretrain import (
    PretrainConfig,
    PretrainSplits,
    check_pretrain_config,
    held_out_scores,
    load_splits,
    train_encoder,
)


@dataclass(frozen=True)
class ProbeMethod:
    """One transfer method as the probe runs it: overrides of `PretrainConfig`'s fields, and the
    domain the robot's own frames are rendered in."""

    name: str
    description: str
    pretrain: dict[str, Any] = field(default_factory=dict)
    robot_domain: str = "robot"


@dataclass(frozen=True)
class ProbeConfig:
    """Data and schedule of one probe run (defaults: a few minutes per method on a core for
    pointmass; push and drawer-open render through Meta-World, slower)."""

    env: str = "pointmass"
    """Image task with a scripted expert and a human domain (pointmass, push, drawer-open, ...)."""
    work: Path = Path("probe_data")
    """Directory for the datasets (made once per env and settings, reused by later runs)."""
    robot_policy: Literal["expert", "random"] = "expert"
    """How the robot's frames with actions are collected: the noisy scripted expert or uniform
    random actions."""
    robot_episodes: int = 100
    """Episodes of robot interaction (with actions), the held-out share included."""
    human_episodes: int = 100
    """Episodes of human-domain video (true actions and states kept only for scoring)."""
    paired: int = 2000
    """Paired frames (one state in both domains), the held-out share included."""
    robot_noise: float = 0.5
    """Probability of a random action in the robot's episodes and the paired frames' episodes
    (diverse actions for the inverse model)."""
    human_noise: float = 0.3
    """The same for the human videos (mostly purposeful, like a person doing the task)."""
    heldout: float = 0.2
    """Share of the episodes and pairs kept out of training, for the scores (the state probe fits
    on half of the held-out robot episodes)."""
    updates: int = 2000
    """Gradient steps per method."""
    batch_size: int | None = None
    """Robot rows, video rows and paired frames per step (None: the `{env}-rlv` preset's batch)."""
    feature_dim: int | None = 50
    """Features of the encoder (rlv pretrain's --feature-dim; None: the flattened conv features).
    Its convs are the `{env}-rlv` preset's."""
    anchor_weight: float = 1.0
    """Inverse-model loss on the encoder (--idm-encoder-weight) for every method: the task signal
    that keeps motion in the features."""
    seed: int = 0
    """Seed of data, networks and batches."""
    threads: int = 1
    """torch CPU threads."""
    progress: bool = False
    """Show progress bars (collection and training)."""


@dataclass(frozen=True)
class ProbeData:
    """The datasets all methods of one probe run share: robot frames per domain, videos, pairs."""

    robot: dict[str, Path]
    videos: Path
    paired: Path


def _collect(config: ProbeConfig, out: Path, **options: Any) -> Path:
    """`out`, collected by `rlv collect`'s code unless it is already there (directories are
    written atomically, so one that exists is complete)."""
    if not out.exists():
        args = CollectArgs(out=out, env=config.env, progress=config.progress, **options)
        collect_from_args(args, command=f"rlv.experiments.probe ({out.name})")
    return out


def make_probe_data(config: ProbeConfig, robot_domains: tuple[str, ...] = ("robot",)) -> ProbeData:
    """Collect what is missing of the probe's datasets under `config.work/config.env` (distinct
    seeds, so no held-out state is a training state) and return their paths."""
    root = config.work / config.env
    root.mkdir(parents=True, exist_ok=True)
    if config.robot_policy == "expert":
        policy, tag = {"policy": "expert", "noise": config.robot_noise}, f"expert{config.robot_noise:g}"
    else:
        policy, tag = {"policy": "random"}, "random"
    robot_seed, count = config.seed + 1, config.robot_episodes
    robot = {
        domain: _collect(
            config, root / f"robot-{domain}-{tag}-n{count}-seed{robot_seed}",
            episodes=count, seed=robot_seed, domain=domain, **policy,
        )
        for domain in robot_domains
    }  # fmt: skip
    videos = _collect(
        config,
        root / f"videos-human-expert{config.human_noise:g}-n{config.human_episodes}-seed{config.seed + 2}",
        episodes=config.human_episodes, seed=config.seed + 2, domain="human", noise=config.human_noise,
    )  # fmt: skip
    paired = _collect(
        config, root / f"paired-expert{config.robot_noise:g}-n{config.paired}-seed{config.seed + 3}",
        paired=config.paired, seed=config.seed + 3, noise=config.robot_noise,
    )  # fmt: skip
    return ProbeData(robot, videos, paired)


def method_config(config: ProbeConfig, method: ProbeMethod, data: ProbeData) -> PretrainConfig:
    """The PretrainConfig of a method: the probe's data and schedule, the `{env}-rlv` preset's
    convs and batch, no transfer term but the inverse-model anchor, then the method's overrides."""
    if method.robot_domain not in data.robot:
        raise RlvError(f"probe method {method.name!r}: no robot data in the {method.robot_domain} domain")
    preset = PRESETS.get(f"{config.env}-rlv")
    sac = None if preset is None else preset.sac
    base = PretrainConfig(
        out=config.work / config.env / "unused-encoder.pt",  # the probe writes no encoder file
        robot=data.robot[method.robot_domain],
        videos=data.videos,
        paired_dataset=data.paired,  # held-out pairs score retrieval; trained on only by weight
        updates=config.updates,
        batch_size=config.batch_size or (sac.batch_size if sac else PretrainConfig.batch_size),
        conv_channels=sac.conv_channels if sac else PretrainConfig.conv_channels,
        conv_kernel=sac.conv_kernel if sac else PretrainConfig.conv_kernel,
        feature_dim=config.feature_dim,
        heldout=config.heldout,
        seed=config.seed,
        threads=config.threads,
        overwrite=True,
        progress=config.progress,
        temporal_weight=0.0,
        paired_weight=0.0,
        idm_encoder_weight=config.anchor_weight,
    )
    unknown = set(method.pretrain) - {item.name for item in dataclasses.fields(PretrainConfig)}
    if unknown:
        raise RlvError(f"probe method {method.name!r}: no PretrainConfig fields {sorted(unknown)}")
    return dataclasses.replace(base, **method.pretrain)


def run_probe(
    config: ProbeConfig, methods: list[ProbeMethod], data: ProbeData | None = None
) -> list[dict[str, Any]]:
    """Train and score every method on the same data; one row per method (name, scores, seconds)."""
    data = data or make_probe_data(config, tuple(dict.fromkeys(m.robot_domain for m in methods)))
    torch.set_num_threads(config.threads)
    loaded: dict[str, PretrainSplits] = {}
    rows = []
    for method in methods:
        started = time.perf_counter()
        pretrain_config = method_config(config, method, data)
        check_pretrain_config(pretrain_config)
        if method.robot_domain not in loaded:
            loaded[method.robot_domain] = load_splits(pretrain_config)
        splits = loaded[method.robot_domain]
        pretrainer = train_encoder(pretrain_config, splits)
        scores = held_out_scores(pretrainer, splits)
        rows.append({"method": method.name, **scores, "seconds": time.perf_counter() - started})
    return rows


CONTRASTIVE = {"contrastive_weight": 1.0, "paired_weight": 0.0}
RANDOMISE = {"appearance": "randomise"}
PROBE_METHODS: tuple[ProbeMethod, ...] = (
    ProbeMethod("none", "inverse-model anchor only: no transfer loss"),
    ProbeMethod("adversarial", "flipped-label generator loss (rlv's earlier alignment)",
                {"alignment": "adversarial"}),
    ProbeMethod("adversarial_sf", "the same on standardised features",
                {"alignment": "adversarial", "scale_free_alignment": True}),
    ProbeMethod("dann", "gradient reversal, ramped weight, spectral-norm discriminator",
                {"alignment": "dann"}),
    ProbeMethod("paired_mse", "MSE between features of paired frames", {"paired_weight": 1.0}),
    ProbeMethod("contrastive", "paired InfoNCE (TCN style)", CONTRASTIVE),
    ProbeMethod("appearance", "appearance randomisation of training frames", RANDOMISE),
    ProbeMethod("temporal", "temporal contrast within videos, both domains", {"temporal_weight": 1.0}),
    ProbeMethod("humanlike", "robot scene restyled like the human scene (the original's HumanLike)",
                robot_domain="humanlike"),
    ProbeMethod("dann_appearance", "dann + appearance randomisation", {"alignment": "dann", **RANDOMISE}),
    ProbeMethod("contrastive_appearance", "contrastive + appearance randomisation",
                {**CONTRASTIVE, **RANDOMISE}),
    ProbeMethod("contrastive_temporal", "contrastive + temporal contrast",
                {**CONTRASTIVE, "temporal_weight": 1.0}),
    ProbeMethod("contrastive_dann", "contrastive + dann", {**CONTRASTIVE, "alignment": "dann"}),
    ProbeMethod("contrastive_mse", "contrastive + paired MSE", {**CONTRASTIVE, "paired_weight": 1.0}),
    ProbeMethod("contrastive_distance", "contrastive on squared distances",
                {**CONTRASTIVE, "contrastive_similarity": "distance"}),
    ProbeMethod("contrastive_distance_temporal", "contrastive on squared distances + temporal contrast",
                {**CONTRASTIVE, "contrastive_similarity": "distance", "temporal_weight": 1.0}),
    ProbeMethod("contrastive_dann_temporal", "contrastive + dann + temporal contrast",
                {**CONTRASTIVE, "alignment": "dann", "temporal_weight": 1.0}),
)  # fmt: skip
"""The methods the probe screens by default (benchmarks/transfer_probe.py)."""
