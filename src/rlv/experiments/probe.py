"""The transfer probe: does a domain-transfer method make human-video features usable, without RL?

On fixed data of an image task (robot transitions from the scripted expert with noise; human-domain
videos whose true actions are kept only for scoring; paired frames of the same states in both
domains) the probe builds the RLV agent of a method and trains only what the method trains on the
shared encoder (`RLV.update_encoder`: the inverse model on robot rows, its loss also on the encoder
as the stand-in for the critic's task signal, plus the method's transfer losses) for a fixed number
of updates. It then scores the encoder on held-out episodes:

- `idm_robot_mse`, `idm_human_mse`: the inverse model's action MSE on robot and on human
  transitions; `chance_mse`: the MSE of always guessing the mean action (labels below it carry
  information, at it they are noise);
- `retrieval_top1`: for each of `eval_pairs` human frames, is its own robot frame the nearest
  (cosine) among all `eval_pairs` robot frames; `retrieval_distance`: the true-state distance to
  the frame retrieved (0 when right), `random_distance`: the same for a random pick;
- `state_robot_rmse`, `state_human_rmse`: a ridge-regression (linear) probe of the true low-
  dimensional state, fitted on robot features and applied to robot and to human features;
  `state_chance_rmse`: the RMSE of guessing the mean state;
- `feature_std_robot`, `feature_std_human`: mean per-dimension spread of features (near 0:
  collapsed).

Everything the probe trains is the agent's own code, so what passes here is what RL runs.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from rlv.collect.experts import NoisyScriptedExpert, replay_actions
from rlv.config import TrainConfig
from rlv.envs import make_env
from rlv.errors import RlvError
from rlv.methods import RLV, ObservationBatch, PairedBatch, RobotBatch, build_agent
from rlv.observation import ObservationKind
from rlv.presets import get_preset


@dataclass(frozen=True)
class ProbeMethod:
    """One transfer method as the probe runs it: overrides of the agent's configs, and the domain
    the robot's own frames are rendered in (`humanlike`: the original's restyled robot scene)."""

    name: str
    description: str
    rlv: dict[str, Any] = field(default_factory=dict)
    sac: dict[str, Any] = field(default_factory=dict)
    robot_domain: str = "robot"

    @property
    def uses_pairs(self) -> bool:
        """Whether the method trains on paired frames."""
        return self.rlv.get("paired_weight", 0) > 0 or self.rlv.get("contrastive_weight", 0) > 0


@dataclass(frozen=True)
class ProbeConfig:
    """Data and schedule of one probe run (defaults: pointmass, a few minutes per method on a core)."""

    env: str = "pointmass"
    """Image task with a scripted expert and a human domain."""
    preset: str = "pointmass-rlv"
    """Preset whose agent settings (encoder, batch sizes, learning rates) the methods start from."""
    robot_episodes: int = 100
    """Training episodes of robot interaction (with actions)."""
    human_episodes: int = 100
    """Training episodes of human-domain video (actions kept only for scoring)."""
    eval_episodes: int = 30
    """Held-out episodes rendered in every domain, for all scores."""
    paired: int = 2000
    """Paired frames for the methods that use them."""
    eval_pairs: int = 512
    """Candidates of the retrieval score (held-out states)."""
    robot_noise: float = 0.5
    """Probability of a random action in the robot's episodes (diverse actions for the inverse model)."""
    human_noise: float = 0.3
    """The same for the human videos (mostly purposeful, like a person doing the task)."""
    updates: int = 2000
    """Gradient steps per method."""
    anchor_weight: float = 1.0
    """Inverse-model loss on the encoder (--rlv.idm-encoder-weight) for every method: the probe's
    stand-in for the critic, the task signal that keeps motion in the features."""
    state_dims: int = 2
    """Leading entries of the env's info['state'] that the linear probe predicts (pointmass: x, y)."""
    seed: int = 0
    """Seed of data, networks and batches."""


@dataclass
class Rendered:
    """Episodes rendered in several domains: frames[domain] (E, T+1, H, W, 3), actions (E, T, A),
    states (E, T+1, state_dims)."""

    frames: dict[str, np.ndarray]
    actions: np.ndarray
    states: np.ndarray


def render_episodes(
    config: ProbeConfig, domains: tuple[str, ...], episodes: int, noise: float, seed: int
) -> Rendered:
    """Noisy-expert episodes run in `domains[0]` and replayed with the same actions from the same
    reset in every other domain (the domains differ only in rendering, so the states match)."""
    envs = {domain: make_env(config.env, seed, domain=domain) for domain in domains}
    lead = envs[domains[0]]
    if not callable(getattr(lead.unwrapped, "expert_action", None)):
        raise RlvError(f"environment {config.env!r} has no scripted expert for the transfer probe")
    expert = NoisyScriptedExpert(noise, np.random.default_rng(seed))
    frames: dict[str, list[np.ndarray]] = {domain: [] for domain in domains}
    actions, states = [], []
    for index in range(episodes):
        episode_seed = seed * 100_000 + index
        obs, info = lead.reset(seed=episode_seed)
        observed, taken, visited = [obs], [], [info["state"][: config.state_dims]]
        done = False
        while not done:
            action = expert(lead, obs)
            obs, _, terminated, truncated, info = lead.step(action)
            observed.append(obs)
            taken.append(action)
            visited.append(info["state"][: config.state_dims])
            done = terminated or truncated
        frames[domains[0]].append(np.asarray(observed))
        for domain in domains[1:]:
            frames[domain].append(replay_actions(envs[domain], np.asarray(taken), episode_seed))
        actions.append(np.asarray(taken, dtype=np.float32))
        states.append(np.asarray(visited, dtype=np.float32))
    return Rendered({d: np.stack(f) for d, f in frames.items()}, np.stack(actions), np.stack(states))


@dataclass
class ProbeData:
    """The fixed data all methods of one probe run share."""

    robot: Rendered  # training interaction, in robot (and humanlike) rendering
    human: Rendered  # training videos, human rendering
    paired: Rendered  # states behind the paired frames, robot and human rendering
    held_out: Rendered  # every domain, for scoring


def make_probe_data(config: ProbeConfig, robot_domains: tuple[str, ...]) -> ProbeData:
    """Render the probe's data sets (distinct seeds, so no held-out state is a training state)."""
    paired_episodes = -(-config.paired // 40)  # pointmass episodes have 41 frames; more is fine
    return ProbeData(
        robot=render_episodes(
            config, robot_domains, config.robot_episodes, config.robot_noise, config.seed + 1
        ),
        human=render_episodes(config, ("human",), config.human_episodes, config.human_noise, config.seed + 2),
        paired=render_episodes(
            config, ("robot", "human"), paired_episodes, config.robot_noise, config.seed + 3
        ),
        held_out=render_episodes(
            config, (*robot_domains, "human"), config.eval_episodes, config.human_noise, config.seed + 4
        ),
    )


def transitions(rendered: Rendered, domain: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(obs, next_obs, actions) of every step of every episode, flattened: (M, H, W, 3) twice and (M, A)."""
    frames = rendered.frames[domain]
    shape = frames.shape[2:]
    return (
        frames[:, :-1].reshape(-1, *shape),
        frames[:, 1:].reshape(-1, *shape),
        rendered.actions.reshape(-1, rendered.actions.shape[-1]),
    )


def method_config(config: ProbeConfig, method: ProbeMethod) -> TrainConfig:
    """The preset's config with the method's overrides and the probe's anchor weight."""
    base = get_preset(config.preset)
    rlv = {"idm_encoder_weight": config.anchor_weight, **method.rlv}
    return dataclasses.replace(
        base,
        seed=config.seed,
        domain=method.robot_domain,
        sac=dataclasses.replace(base.sac, **method.sac),
        rlv=dataclasses.replace(base.rlv, **rlv),
    )


def train_method(config: ProbeConfig, method: ProbeMethod, data: ProbeData) -> tuple[RLV, dict[str, float]]:
    """Build the method's RLV agent and take `config.updates` encoder steps on the fixed data.
    Returns the agent and the mean training metrics of the last 10% of the steps."""
    train_config = method_config(config, method)
    robot_obs, robot_next, robot_actions = transitions(data.robot, method.robot_domain)
    human_obs, human_next, human_actions = transitions(data.human, "human")
    torch.manual_seed(config.seed)
    agent = build_agent(train_config, ObservationKind(tuple(robot_obs.shape[1:])), robot_actions.shape[1])
    assert isinstance(agent, RLV)
    rng = np.random.default_rng(config.seed)
    shape = robot_obs.shape[1:]
    pair_rows = rng.choice(data.paired.states.shape[0] * data.paired.states.shape[1], size=config.paired,
                           replace=False)  # fmt: skip
    pairs = {d: f.reshape(-1, *shape)[pair_rows] for d, f in data.paired.frames.items()}
    robot_rows, obs_rows = train_config.sac.batch_size, train_config.rlv.obs_batch_size
    history: list[dict[str, float]] = []
    for _ in range(config.updates):
        i = rng.integers(len(robot_obs), size=robot_rows)
        j = rng.integers(len(human_obs), size=obs_rows)
        robot = RobotBatch(
            torch.as_tensor(robot_obs[i]), torch.as_tensor(robot_actions[i]), torch.zeros(robot_rows),
            torch.as_tensor(robot_next[i]), torch.zeros(robot_rows),
        )  # fmt: skip
        observation = ObservationBatch(
            torch.as_tensor(human_obs[j]), torch.as_tensor(human_next[j]), torch.zeros(obs_rows),
            torch.as_tensor(human_actions[j]),
        )  # fmt: skip
        paired = None
        if method.uses_pairs:
            k = rng.integers(config.paired, size=train_config.rlv.paired_batch_size)
            paired = PairedBatch(torch.as_tensor(pairs["robot"][k]), torch.as_tensor(pairs["human"][k]))
        history.append(agent.update_encoder(robot, observation, paired))
    tail = history[-max(config.updates // 10, 1) :]
    return agent, {key: float(np.mean([h[key] for h in tail if key in h])) for key in tail[-1]}


@torch.no_grad()
def encode(agent: RLV, frames: np.ndarray, chunk: int = 512) -> torch.Tensor:
    """Encoder features (M, feature_dim) of frames (M, H, W, 3), unaugmented."""
    return torch.cat(
        [agent.features(torch.as_tensor(frames[i : i + chunk])) for i in range(0, len(frames), chunk)]
    )


def ridge(features: torch.Tensor, targets: torch.Tensor, strength: float = 1e-2) -> Any:
    """A linear probe: centre the features, fit targets by ridge regression with a penalty of
    `strength` times the mean feature variance (dimensions dead on these features get weight 0);
    returns predict(new features)."""
    mean, target_mean = features.mean(dim=0), targets.mean(dim=0)
    x = (features - mean).double()
    penalty = strength * x.pow(2).sum() / x.shape[1] + 1e-6  # positive for collapsed features too
    gram = x.T @ x + penalty * torch.eye(x.shape[1], dtype=x.dtype)
    weights = torch.linalg.solve(gram, x.T @ (targets - target_mean).double())

    def predict(new: torch.Tensor) -> torch.Tensor:
        return ((new - mean).double() @ weights).float() + target_mean

    return predict


@torch.no_grad()
def score(config: ProbeConfig, agent: RLV, method: ProbeMethod, data: ProbeData) -> dict[str, float]:
    """The probe's columns (see the module docstring) on the held-out episodes."""
    held = data.held_out
    scores: dict[str, float] = {}
    for name, domain in (("robot", method.robot_domain), ("human", "human")):
        obs, next_obs, actions = transitions(held, domain)
        predicted = agent.idm(encode(agent, obs), encode(agent, next_obs))
        scores[f"idm_{name}_mse"] = float((predicted - torch.as_tensor(actions)).pow(2).mean())
    actions = torch.as_tensor(transitions(held, "human")[2])
    scores["chance_mse"] = float((actions - actions.mean(dim=0)).pow(2).mean())
    shape = held.frames["human"].shape[2:]
    states = torch.as_tensor(held.states.reshape(-1, held.states.shape[-1]))
    robot_frames = held.frames[method.robot_domain].reshape(-1, *shape)
    human_frames = held.frames["human"].reshape(-1, *shape)
    rng = np.random.default_rng(config.seed + 7)
    rows = rng.choice(len(states), size=min(config.eval_pairs, len(states)), replace=False)
    robot_features, human_features = encode(agent, robot_frames[rows]), encode(agent, human_frames[rows])
    similarity = (
        torch.nn.functional.normalize(human_features, dim=1)
        @ torch.nn.functional.normalize(robot_features, dim=1).T
    )
    retrieved = similarity.argmax(dim=1)
    targets = torch.arange(len(rows))
    chosen_states = states[rows]
    scores["retrieval_top1"] = float((retrieved == targets).float().mean())
    scores["retrieval_distance"] = float((chosen_states[retrieved] - chosen_states).norm(dim=1).mean())
    shuffled = torch.as_tensor(rng.permutation(len(rows)))
    scores["random_distance"] = float((chosen_states[shuffled] - chosen_states).norm(dim=1).mean())
    train_frames = data.robot.frames[method.robot_domain].reshape(-1, *shape)
    train_states = torch.as_tensor(data.robot.states.reshape(-1, states.shape[-1]))
    fit = rng.choice(len(train_frames), size=min(2000, len(train_frames)), replace=False)
    predict = ridge(encode(agent, train_frames[fit]), train_states[fit])
    all_robot, all_human = encode(agent, robot_frames), encode(agent, human_frames)
    scores["state_robot_rmse"] = float((predict(all_robot) - states).pow(2).sum(dim=1).mean().sqrt())
    scores["state_human_rmse"] = float((predict(all_human) - states).pow(2).sum(dim=1).mean().sqrt())
    scores["state_chance_rmse"] = float((states - states.mean(dim=0)).pow(2).sum(dim=1).mean().sqrt())
    scores["feature_std_robot"] = float(all_robot.std(dim=0).mean())
    scores["feature_std_human"] = float(all_human.std(dim=0).mean())
    return scores


def run_probe(
    config: ProbeConfig, methods: list[ProbeMethod], data: ProbeData | None = None
) -> list[dict[str, Any]]:
    """Train and score every method on the same data; one row per method (name, scores, seconds)."""
    robot_domains = tuple(dict.fromkeys(["robot", *(m.robot_domain for m in methods)]))
    data = data or make_probe_data(config, robot_domains)
    rows = []
    for method in methods:
        started = time.perf_counter()
        agent, _ = train_method(config, method, data)
        rows.append({"method": method.name, **score(config, agent, method, data),
                     "seconds": time.perf_counter() - started})  # fmt: skip
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
    ProbeMethod("appearance", "appearance randomisation of training frames", sac=RANDOMISE),
    ProbeMethod("temporal", "temporal contrast within videos, both domains", {"temporal_weight": 1.0}),
    ProbeMethod("humanlike", "robot scene restyled like the human scene (the original's HumanLike)",
                robot_domain="humanlike"),
    ProbeMethod("dann_appearance", "dann + appearance randomisation", {"alignment": "dann"}, RANDOMISE),
    ProbeMethod("contrastive_appearance", "contrastive + appearance randomisation", CONTRASTIVE, RANDOMISE),
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
