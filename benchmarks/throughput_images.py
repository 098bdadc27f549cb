"""The image rows of benchmarks/throughput.py: our image SAC and RLV against Stable-Baselines3 SAC
with a CNN policy made of the same conv layers, on the same 48x48x3 uint8 frames, in one process.

Stable-Baselines3's NatureCNN (8x8 stride 4, 4x4 stride 2, 3x3 convs, a 512-unit linear layer) is
another network, so its CnnPolicy gets `SameConvs` here: our ImageEncoder's layers (per layer a
k x k 'same' conv, 2x2 max-pool, ReLU), one extractor shared by actor and critics as ours is
(`share_features_extractor=True`), MLPs 256-256 after it. The parameter counts of both learners
are printed. What still differs, and is part of each learner's cost: ours augments every batch
with a random shift (pad 4, one offset per frame), SB3 does not augment; SB3 scales pixels by
1/255 on the float tensor, ours to [-1, 1]. RLV adds as many video rows as robot rows and the
inverse model (presets `pointmass-rlv`, `push-rlv`). The frozen rows are the updates of
`rlv train --encoder FILE --encoder-mode frozen`: the learner on 50 pretrained features per frame,
each frame encoded once (that encoding is outside the update, and not timed here).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlv.data.dataset import Dataset, Episode
from rlv.data.device import BatchSampler
from rlv.data.replay import ObservationSampler, ReplayBuffer
from rlv.encoders import encode_frames
from rlv.envs import make_env
from rlv.methods import RLV, SAC
from rlv.nets import ImageEncoder
from rlv.observation import ObservationKind
from rlv.presets import PRESETS

FRAMES = 3000
"""Transitions of random pointmass play the learners sample from (48x48x3 uint8)."""
SETTINGS = {
    "pointmass": "pointmass encoder (3x3, 8-16-16), batch 32",
    "push": "push encoder (5x5, 16-16-32), batch 128",
}
Transition = tuple[np.ndarray, np.ndarray, float, np.ndarray, bool]
FEATURES = 50
"""Features of the frozen rows' encoder (rlv pretrain's default --feature-dim)."""
FROZEN = "rlv {} (ours), frozen pretrained encoder: 50 features"


def pointmass_transitions(count: int, seed: int) -> list[Transition]:
    """`count` transitions of uniform random actions in the pointmass task (robot domain)."""
    env = make_env("pointmass", seed)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    transitions = []
    for _ in range(count):
        action = rng.uniform(-1, 1, size=2).astype(np.float32)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        transitions.append((obs, action, float(reward), next_obs, bool(terminated)))
        obs = env.reset()[0] if terminated or truncated else next_obs
    return transitions


def video_sampler(
    transitions: list[Transition], seed: int, shape: tuple[int, ...] = (48, 48, 3)
) -> ObservationSampler:
    """The same observations (frames, or features of `shape`) as action-free episodes of 40
    transitions (RLV's observation rows)."""
    episodes = [
        Episode(
            obs=np.stack([t[0] for t in transitions[i : i + 40]] + [transitions[i + 39][3]]), success=False
        )
        for i in range(0, len(transitions) - 39, 40)
    ]
    return ObservationSampler(Dataset(Path("."), {"obs_shape": list(shape)}, episodes), seed=seed)


def count_parameters(*modules: nn.Module) -> int:
    """Parameters of `modules`, each tensor counted once (shared extractors)."""
    unique = {id(p): p for module in modules for p in module.parameters()}
    return sum(p.numel() for p in unique.values())


def our_learner(
    algo: str, task: str, transitions: list[Transition], device: torch.device, compile_networks: bool
) -> tuple[Callable[[], object], int]:
    """One update of our `algo` at the `task` preset's learner settings, sampling as `rlv train`
    does on `device`; and its parameter count (encoder, actor, critics; RLV also the inverse model)."""
    preset = PRESETS[f"{task}-{algo}"]
    sac_config = dataclasses.replace(preset.sac, compile=compile_networks)
    kind = ObservationKind((48, 48, 3))
    replay = ReplayBuffer(kind.shape, 2, len(transitions), seed=0, obs_dtype=np.uint8)
    for transition in transitions:
        replay.add(*transition)
    parts = (0, 2, sac_config)
    networks = (kind.encoder(sac_config), kind.augment(sac_config))
    if algo == "rlv":
        agent = RLV(*parts, preset.rlv, str(device), *networks)
        sampler, rows, sac = video_sampler(transitions, seed=1), preset.rlv.obs_batch_size, agent.sac
        extra: tuple[nn.Module, ...] = (agent.idm,)
    else:
        agent = SAC(*parts, str(device), *networks)
        sampler, rows, sac, extra = None, 0, agent, ()
    batches = BatchSampler(replay, sampler, None, device, on_device=device.type != "cpu")
    count = count_parameters(sac.encoder, sac.actor, sac.critic, *extra)
    return (lambda: agent.update(batches.sample(sac_config.batch_size, rows, 0))), count


def frozen_learner(
    algo: str, task: str, transitions: list[Transition], device: torch.device
) -> tuple[Callable[[], object], int]:
    """One update of our `algo` as `rlv train --encoder FILE` (frozen) runs it: every frame encoded
    once by the `task` preset's encoder with a 50-feature head (random weights: the cost does not
    depend on them), the learner on the features; its parameter count (the encoder not included)."""
    preset = PRESETS[f"{task}-{algo}"]
    encoder = ImageEncoder((48, 48, 3), preset.sac.conv_channels, preset.sac.conv_kernel, FEATURES)
    encode = lambda frame: encode_frames(encoder, frame[None])[0]  # noqa: E731
    features = [(encode(obs), action, reward, encode(next_obs), done) for obs, action, reward, next_obs, done
                in transitions]  # fmt: skip
    kind = ObservationKind((FEATURES,))
    replay = ReplayBuffer(kind.shape, 2, len(features), seed=0, obs_dtype=np.float32)
    for transition in features:
        replay.add(*transition)
    parts = (FEATURES, 2, preset.sac)
    networks = (kind.encoder(preset.sac), kind.augment(preset.sac))
    if algo == "rlv":
        agent = RLV(*parts, preset.rlv, str(device), *networks)
        sampler = video_sampler(features, seed=1, shape=(FEATURES,))
        rows, sac, extra = preset.rlv.obs_batch_size, agent.sac, (agent.idm,)
    else:
        agent = SAC(*parts, str(device), *networks)
        sampler, rows, sac, extra = None, 0, agent, ()
    batches = BatchSampler(replay, sampler, None, device, on_device=device.type != "cpu")
    count = count_parameters(sac.encoder, sac.actor, sac.critic, *extra)
    return (lambda: agent.update(batches.sample(preset.sac.batch_size, rows, 0))), count


def same_convs_extractor() -> type:
    """SB3 features extractor class with our ImageEncoder's layers (SB3 imported on demand)."""
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    class SameConvs(BaseFeaturesExtractor):
        """(B, 3, H, W) float in [0, 1] -> (B, channels[-1] * H/2^n * W/2^n) features."""

        def __init__(self, observation_space: gym.spaces.Box, channels: tuple[int, ...], kernel: int) -> None:
            colours, height, width = observation_space.shape
            scale = 2 ** len(channels)
            super().__init__(observation_space, channels[-1] * (height // scale) * (width // scale))
            layers: list[nn.Module] = []
            for previous, count in zip((colours, *channels[:-1]), channels, strict=True):
                layers += [
                    nn.Conv2d(previous, count, kernel, padding=kernel // 2),
                    nn.MaxPool2d(2),
                    nn.ReLU(),
                ]
            self.convs = nn.Sequential(*layers)

        def forward(self, observations: torch.Tensor) -> torch.Tensor:
            return self.convs(observations).flatten(1)

    return SameConvs


def sb3_learner(
    task: str, transitions: list[Transition], device: torch.device
) -> tuple[Callable[[], None], int]:
    """One SB3 SAC update with the `task` preset's conv layers and batch, on the same frames."""
    from stable_baselines3 import SAC as SB3SAC

    sac = PRESETS[f"{task}-sac"].sac
    model = SB3SAC(
        "CnnPolicy",
        make_env("pointmass", 0),
        batch_size=sac.batch_size,
        learning_rate=sac.lr,
        buffer_size=len(transitions) + 1,
        tau=sac.tau,
        gamma=sac.gamma,
        policy_kwargs={
            "features_extractor_class": same_convs_extractor(),
            "features_extractor_kwargs": {"channels": sac.conv_channels, "kernel": sac.conv_kernel},
            "share_features_extractor": True,
            "net_arch": list(sac.hidden),
        },
        device=device,
        seed=0,
    )
    for obs, action, reward, next_obs, terminated in transitions:  # SB3 stores frames channels-first
        model.replay_buffer.add(
            obs.transpose(2, 0, 1)[None],
            next_obs.transpose(2, 0, 1)[None],
            action[None],
            np.array([reward]),
            np.array([terminated]),
            [{}],
        )
    model._setup_learn(total_timesteps=1)
    count = count_parameters(model.policy.actor, model.policy.critic)
    return (lambda: model.train(gradient_steps=1, batch_size=sac.batch_size)), count


def image_rows(args: Any, best_rate: Callable[..., float]) -> list[dict[str, object]]:
    """Measure every image learner in this process, print the table, return its rows."""
    device = torch.device(args.device)
    transitions = pointmass_transitions(FRAMES, seed=0)
    learners: list[tuple[str, str, Callable[[], tuple[Callable[[], object], int]]]] = []
    for task in SETTINGS:
        learners += [
            (task, "rlv SAC (ours)", lambda task=task: our_learner("sac", task, transitions, device, False)),
            (
                task,
                "Stable-Baselines3 SAC, CnnPolicy (same convs)",
                lambda task=task: sb3_learner(task, transitions, device),
            ),
            (task, "rlv RLV (ours)", lambda task=task: our_learner("rlv", task, transitions, device, False)),
            (task, FROZEN.format("SAC"), lambda task=task: frozen_learner("sac", task, transitions, device)),
            (task, FROZEN.format("RLV"), lambda task=task: frozen_learner("rlv", task, transitions, device)),
        ]
        if args.compile:
            learners.append(
                (
                    task,
                    "rlv SAC (ours), --sac.compile",
                    lambda task=task: our_learner("sac", task, transitions, device, True),
                )
            )
    rows, ours = [], {}
    for task, name, make in learners:
        torch.manual_seed(0)
        step, parameters = make()
        rate = best_rate(step, args.image_updates, max(args.warmup // 3, 5), args.repeats)
        ours.setdefault(task, rate)  # the first learner of each setting is our SAC
        rows.append(
            {
                "setting": SETTINGS[task],
                "learner": name,
                "parameters": parameters,
                "updates_per_s": rate,
                "ms_per_update": 1000 / rate,
                "relative_cost_vs_our_sac": ours[task] / rate,
            }
        )
    print(
        f"\nImage update throughput, 48x48x3 uint8 frames, device {device}, {args.threads} torch "
        f"thread(s), best of {args.repeats} x {args.image_updates} updates (RLV: + as many video rows)"
    )
    print("| setting | learner | parameters | updates/s | ms/update | cost relative to our SAC update |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['setting']} | {row['learner']} | {row['parameters']:,} | {row['updates_per_s']:.1f} | "
            f"{row['ms_per_update']:.2f} | {row['relative_cost_vs_our_sac']:.2f} |"
        )
    return rows
