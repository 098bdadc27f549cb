"""BCO(alpha): behavioural cloning from observation (Torabi, Warnell & Stone, IJCAI 2018).

The paper's Algorithm 1, with I^pre pre-demonstration transitions of a random policy:

    1. collect I = |I^pre| transitions (s, a, s') with the random policy
    2. loop (one round):
         improve the inverse model:  theta* = argmax_theta prod_i p_theta(a_i | s_i, s'_i)
             on every robot transition collected so far
         label the demonstration:    a^ = M_theta(o, o') for each observation transition (o, o')
         improve the policy:         phi* = argmax_phi prod_i pi_phi(a^_i | o_i)
         collect I = alpha |I^pre| more transitions with pi_phi, appended to the robot data

No rewards are used, neither the robot's nor the dataset's (nor the dataset's `done`).

How the rounds map onto the trainer's schedule (uniform random actions for `random_steps`, then one
env step of the agent's policy and `updates_per_step` calls of `update()` per env step):

  * I^pre = random_steps: the trainer's uniform-random steps are the pre-demonstration phase.
  * A round is alpha * random_steps env steps, R = round(alpha * random_steps * updates_per_step)
    calls of `update()`, counted by the agent (`updates`, part of its state). Round k starts at
    update k * R. Its first R_d = round(idm_fraction * R) (at least 1, at most R - 1) updates step
    the inverse model; the other R - R_d clone the policy on labels of the inverse model as it then
    is (the labels are computed per batch, by a model that no longer changes in that round).
  * During round k the env is driven by a frozen copy of the policy as it was at the end of round
    k - 1 (`behaviour_*`, sampled: the exploration of the paper's "collect with pi_phi"); round 0's
    copy is the initial, untrained policy. `act(deterministic=True)` (evaluation, `rlv eval`) is
    tanh(mean) of the newest policy.

Losses, for B robot rows (s, a, s') and N observation rows (o, o'):

    inverse model: L_d  = mean_b ||d(g(s), g(s')) - a||^2   (B, act_dim); g: its own encoder
    policy:        L_bc = mean_n sum_j [ (u_nj - mu_nj)^2 / (2 sigma_nj^2) + log sigma_nj + log(2 pi)/2 ],
                   u = atanh(clip(a^, -1 + eps, 1 - eps)) (N, act_dim), (mu, log sigma) = pi(f(o)),
                   the negative log-likelihood of a^ under the tanh-Gaussian policy up to the tanh
                   Jacobian, which does not depend on phi.

For images both the inverse model and the policy have their own conv encoder (the run's
ObservationKind builds each), trained by their own loss only; both see the run's augmentation while
training, labels are computed on the frames as they are. For state vectors the encoders are the
identity.

Deviations from the paper:
  * Interaction and learning overlap: the transitions of round k are collected (by the frozen
    round k - 1 policy) while round k trains, and enter the replay as they arrive, so round k's
    inverse model already sees part of them (the paper trains after the round's collection).
  * "Improve" is R_d (inverse model) and R - R_d (policy) minibatch steps per round, warm-started
    from the previous round, not training to convergence.
  * The inverse model's likelihood is a Gaussian of fixed variance (MSE); the policy is the
    library's tanh-Gaussian, whose log-std is clipped below at `log_std_min`.
  * BCO(0) (no post-demonstration interaction) has no exact counterpart: the trainer keeps acting
    after random_steps and the replay keeps those transitions; a large alpha (one round for the
    whole run) comes closest.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from rlv.batches import Batches, ObservationBatch, RobotBatch
from rlv.config import SACConfig
from rlv.errors import RlvError
from rlv.methods.spec import AgentContext, MethodSpec, Streams
from rlv.nets import InverseModel, TanhGaussianActor
from rlv.observation import observation_batch
from rlv.validation import at_least, positive, widths


@dataclass(frozen=True)
class BCOConfig:
    """Settings of BCO(alpha): the observation (video) data, the rounds, the inverse model and the
    behaviour-cloned policy (its widths are --sac.hidden, its encoder and augmentation --sac.*)."""

    dataset: Path | None = None
    """Action-free observation dataset directory (see docs/dataset_format.md). Required for algo=bco."""
    obs_batch_size: int = 256
    """Observation transitions per behaviour-cloning step (robot rows per inverse-model step:
    --sac.batch-size)."""
    max_episodes: int | None = None
    """Use only the first N episodes of the dataset (ablation: amount of observation data)."""
    alpha: float = 1.0
    """BCO(alpha): env steps of post-demonstration interaction per round, as a fraction of the
    pre-demonstration ones (--random-steps); a round is alpha * random_steps env steps, i.e.
    alpha * random_steps * updates_per_step gradient steps."""
    idm_fraction: float = 0.5
    """Share of each round's gradient steps that train the inverse model (first), before the rest
    clone the policy on labels of the inverse model as it then is."""
    idm_hidden: tuple[int, ...] = (64, 64, 64)
    """Hidden widths of the inverse dynamics model d(o, o') -> a."""
    idm_lr: float = 3e-4
    """Adam learning rate of the inverse dynamics model (and its own image encoder)."""
    bc_lr: float = 3e-4
    """Adam learning rate of the policy (and its own image encoder)."""
    log_std_min: float = -5.0
    """Lower clip of the policy's log standard deviation (bounds the likelihood of labels the
    policy already fits exactly; SAC's -20 lets it grow without end)."""


LABEL_EPS = 1e-3
"""Labels are clipped to [-1 + eps, 1 - eps] before atanh: the inverse model's outputs are not
squashed, and the policy's tanh cannot reach +-1."""


class BCO:
    """BCO(alpha) on state or image observations: an inverse model `idm` (with its own encoder) and
    a behaviour-cloned tanh-Gaussian policy `actor` (with its own encoder), trained in rounds."""

    METRICS = (
        "loss/idm",
        "loss/bc",
        "stat/idm_obs_action_mse",
        "stat/obs_action_chance_mse",
        "stat/policy_label_mse",
        "stat/policy_std",
        "stat/round",
    )
    """Keys of the dict `update()` returns: loss/idm on inverse-model steps; loss/bc,
    policy_label_mse (MSE of tanh(mean) against the labels) and policy_std (mean sigma) on policy
    steps, and there, only with a dataset that keeps true actions, idm_obs_action_mse (the labels'
    MSE) and obs_action_chance_mse (the MSE of always guessing the batch's mean true action);
    stat/round on every step."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        sac_config: SACConfig,
        config: BCOConfig,
        round_updates: int,
        device: str = "cpu",
        encoders: tuple[nn.Module | None, nn.Module | None] = (None, None),
        augment: nn.Module | None = None,
    ) -> None:
        """encoders: (the policy's, the inverse model's), None for state vectors; round_updates: R."""
        if round_updates < 2:
            raise ValueError(f"a round needs at least 2 updates (inverse model, policy), got {round_updates}")
        self.config = config
        self.device = torch.device(device)
        self.round_updates = round_updates
        self.idm_updates = min(max(round(config.idm_fraction * round_updates), 1), round_updates - 1)
        policy_encoder, idm_encoder = encoders
        self.augment = augment or nn.Identity()
        self.encoder = (policy_encoder or nn.Identity()).to(self.device)
        self.actor = TanhGaussianActor(
            getattr(policy_encoder, "out_dim", obs_dim),
            act_dim,
            sac_config.hidden,
            config.log_std_min,
            sac_config.log_std_max,
        ).to(self.device)
        self.idm_encoder = (idm_encoder or nn.Identity()).to(self.device)
        self.idm = InverseModel(getattr(idm_encoder, "out_dim", obs_dim), act_dim, config.idm_hidden).to(
            self.device
        )
        self.behaviour_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        self.behaviour_actor = copy.deepcopy(self.actor).requires_grad_(False)
        self.policy_optim = torch.optim.Adam(
            [*self.encoder.parameters(), *self.actor.parameters()], lr=config.bc_lr
        )
        self.idm_optim = torch.optim.Adam(
            [*self.idm_encoder.parameters(), *self.idm.parameters()], lr=config.idm_lr
        )
        if sac_config.compile:  # in place: parameter names and state dicts stay those of eager mode
            for network in self.networks().values():
                network.compile()
        self.updates = 0
        """Calls of `update()` so far (the round and its phase are read from it; part of the state)."""

    def networks(self) -> dict[str, nn.Module]:
        """Every network by its state-dict name."""
        return {
            "encoder": self.encoder,
            "actor": self.actor,
            "behaviour_encoder": self.behaviour_encoder,
            "behaviour_actor": self.behaviour_actor,
            "idm_encoder": self.idm_encoder,
            "idm": self.idm,
        }

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Action for one observation, (act_dim,) in [-1, 1]: a sample of the round's frozen
        behaviour policy (exploration), or tanh(mean) of the newest policy (deterministic)."""
        obs_t = observation_batch(obs, self.device)
        if deterministic:
            action = self.actor.deterministic(self.encoder(obs_t))
        else:
            action = self.behaviour_actor.sample(self.behaviour_encoder(obs_t))[0]
        return action.squeeze(0).cpu().numpy()

    def update(self, batch: Batches) -> dict[str, float]:
        """One step of the round's current phase: at a round's start the behaviour policy becomes the
        policy as it stands; then an inverse-model step on the robot rows (the round's first R_d
        updates) or a behaviour-cloning step on the labelled observation rows (the rest)."""
        assert batch.observations is not None, "BCO declares an observation stream"
        round_index, position = divmod(self.updates, self.round_updates)
        if position == 0 and round_index > 0:
            self.refresh_behaviour()
        if position < self.idm_updates:
            metrics = self.update_inverse_model(batch.robot)
        else:
            metrics = self.update_policy(batch.observations)
        self.updates += 1
        return metrics | {"stat/round": float(round_index)}

    @torch.no_grad()
    def refresh_behaviour(self) -> None:
        """The policy that drives the env from now on (until the next round) is the current one."""
        self.behaviour_encoder.load_state_dict(self.encoder.state_dict())
        self.behaviour_actor.load_state_dict(self.actor.state_dict())

    def inverse_model_loss(self, robot: RobotBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """L_d = MSE(d(g(aug(s)), g(aug(s'))), a) on the B robot rows; g (its own encoder, the
        identity for vectors) is trained by it too."""
        predicted = self.idm(
            self.idm_encoder(self.augment(robot.obs)), self.idm_encoder(self.augment(robot.next_obs))
        )
        assert predicted.shape == robot.action.shape, (predicted.shape, robot.action.shape)
        loss = F.mse_loss(predicted, robot.action)
        return loss, {"loss/idm": loss.item()}

    def update_inverse_model(self, robot: RobotBatch) -> dict[str, float]:
        """Step the inverse model (and its encoder) on L_d."""
        loss, metrics = self.inverse_model_loss(robot)
        self.idm_optim.zero_grad(set_to_none=True)
        loss.backward()
        self.idm_optim.step()
        return metrics

    @torch.no_grad()
    def label_actions(self, observation: ObservationBatch) -> torch.Tensor:
        """a^ = d(g(o), g(o')) for the N observation rows, (N, act_dim), on the frames as they are."""
        return self.idm(self.idm_encoder(observation.obs), self.idm_encoder(observation.next_obs))

    def bc_loss(self, obs: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """L_bc: the policy's negative log-likelihood of the labels (N, act_dim) at obs (N, ...),
        on f(aug(o)) (f: the policy's encoder, trained by it too)."""
        mean, log_std = self.actor(self.encoder(self.augment(obs)))
        target = torch.atanh(labels.clamp(-1.0 + LABEL_EPS, 1.0 - LABEL_EPS))
        assert mean.shape == target.shape, (mean.shape, target.shape)
        squared = 0.5 * ((target - mean) / log_std.exp()).pow(2)
        loss = (squared + log_std + 0.5 * math.log(2 * math.pi)).sum(dim=-1).mean()
        metrics = {
            "loss/bc": loss.item(),
            "stat/policy_label_mse": F.mse_loss(torch.tanh(mean.detach()), labels.clamp(-1.0, 1.0)).item(),
            "stat/policy_std": log_std.detach().exp().mean().item(),
        }
        return loss, metrics

    def update_policy(self, observation: ObservationBatch) -> dict[str, float]:
        """Label the observation rows with the inverse model, then step the policy (and its
        encoder) on L_bc; the labels' error when the dataset keeps true actions."""
        labels = self.label_actions(observation)
        loss, metrics = self.bc_loss(observation.obs, labels)
        self.policy_optim.zero_grad(set_to_none=True)
        loss.backward()
        self.policy_optim.step()
        if observation.true_action is not None:
            true_action = observation.true_action
            metrics["stat/idm_obs_action_mse"] = F.mse_loss(labels, true_action).item()
            chance = (true_action - true_action.mean(dim=0)).pow(2).mean()
            metrics["stat/obs_action_chance_mse"] = chance.item()
        return metrics

    def state_dict(self) -> dict[str, Any]:
        """Every network (the behaviour copy included), both optimizers and the update count."""
        state: dict[str, Any] = {name: network.state_dict() for name, network in self.networks().items()}
        return state | {
            "policy_optim": self.policy_optim.state_dict(),
            "idm_optim": self.idm_optim.state_dict(),
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of `state_dict`."""
        for name, network in self.networks().items():
            network.load_state_dict(state[name])
        self.policy_optim.load_state_dict(state["policy_optim"])
        self.idm_optim.load_state_dict(state["idm_optim"])
        self.updates = int(state["updates"])


def round_updates_of(options: BCOConfig, random_steps: int, updates_per_step: int) -> int:
    """R = round(alpha * random_steps * updates_per_step), the updates of one round; RlvError when
    it is below 2 (a round needs an inverse-model step and a policy step)."""
    updates = round(options.alpha * random_steps * updates_per_step)
    if updates < 2:
        raise RlvError(
            f"--bco.alpha {options.alpha:g} with --random-steps {random_steps} and --updates-per-step "
            f"{updates_per_step}: a round of {updates} updates; BCO needs at least 2 (raise "
            "--random-steps, the pre-demonstration phase, or --bco.alpha)"
        )
    return updates


def fraction(value: Any) -> str | None:
    return None if 0 < value < 1 else "must be in (0, 1)"


def log_std_bound(value: Any) -> str | None:
    return None if -20 <= value <= 2 else "must be in [-20, 2]"


RANGES = {
    "obs_batch_size": at_least(1),
    "max_episodes": at_least(1),
    "alpha": positive,
    "idm_fraction": fraction,
    "idm_hidden": widths,
    "idm_lr": positive,
    "bc_lr": positive,
    "log_std_min": log_std_bound,
}
"""Allowed range of each BCO option (None values of optional ones are not checked)."""


def option_problems(options: BCOConfig) -> list[tuple[str, str]]:
    if options.dataset is None:
        return [("dataset", "BCO needs an observation dataset: --bco.dataset DIR")]
    return []


def streams(options: BCOConfig) -> Streams:
    """Robot replay (the inverse model's data) + the observation dataset (what is cloned)."""
    return Streams(
        observations=options.dataset,
        obs_batch_size=options.obs_batch_size,
        max_episodes=options.max_episodes,
    )


def build(context: AgentContext) -> BCO:
    """BCO on the run's observations: a round of alpha * random_steps env steps."""
    obs, options = context.obs, context.options
    return BCO(
        obs.vector_dim,
        context.act_dim,
        context.sac,
        options,
        round_updates_of(options, context.random_steps, context.updates_per_step),
        context.device,
        (obs.encoder(context.sac), obs.encoder(context.sac)),
        obs.augment(context.sac),
    )


METHOD = MethodSpec(
    name="bco",
    summary="BCO(alpha): behavioural cloning of action-free videos labelled by an inverse model "
    "trained on the robot's own transitions, in rounds; no rewards.",
    build=build,
    options=BCOConfig,
    streams=streams,
    ranges=RANGES,
    problems=option_problems,
)
