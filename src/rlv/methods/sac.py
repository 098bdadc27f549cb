"""Soft actor-critic (Haarnoja et al. 2018, softlearning variant with a learned temperature).

The agent never touches an environment and never logs: `update()` takes a batch and returns
a metrics dict. Losses, for a batch of B transitions:

    critic  (eq. 5):  y = r + gamma (1 - d) (min_{j in M} Q'_j(s', a') - alpha log pi(a'|s')),  a' ~ pi(s')
                      L_Q = mean_j mean_b (Q_j(s, a) - y)^2   (two critics: sum_j mean_b 0.5 (...)^2)
    actor   (eq. 7):  L_pi = mean_b alpha log pi(a~|s) - min_j Q_j(s, a~),  a~ ~ pi(s)   (or mean_j)
    alpha   (eq. 18): L_alpha = -mean_b log_alpha (log pi(a~|s) + H_target),  H_target = -|A|

With the defaults there are two critics (j = 1, 2) and M = {1, 2}. The RLPD options
(`SACConfig.critic_ensemble`, `target_subset`, `critic_layer_norm`, `actor_q`; Ball et al. 2023)
train N critics, draw M as `target_subset` distinct members each step (REDQ's target), put a
LayerNorm in the critics' hidden layers, and let the actor maximise mean_j Q_j instead of the min.
L_Q is the mean over the critics, as RLPD's: for any N it stays on the twin critics' scale (and so
does the critic's share of a shared image encoder's loss).

With image observations the agent owns one conv `encoder` shared for real: the critic loss trains
it (`critic_optim` holds encoder and critic parameters), the actor and the target use its features
without gradient (as in DrQ-v2). For state observations the encoder is the identity.

Deviation from the TF1 original: the three losses are computed and stepped one after the other
(critic, then actor against the updated critic, then alpha), the usual PyTorch order, instead of
from one shared forward pass.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from rlv.batches import Batches, RobotBatch
from rlv.config import SACConfig
from rlv.methods.spec import AgentContext, MethodSpec
from rlv.nets import EnsembleCritic, TanhGaussianActor
from rlv.observation import observation_batch


class SAC:
    """SAC with an ensemble of critics (twin by default), Polyak-averaged targets and automatic
    entropy tuning."""

    METRICS = ("loss/critic", "loss/actor", "loss/alpha", "stat/alpha", "stat/q_mean", "stat/entropy")
    """Keys of the dict `update()` returns."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        config: SACConfig,
        device: str = "cpu",
        encoder: nn.Module | None = None,
        augment: nn.Module | None = None,
    ) -> None:
        self.config = config
        self.device = torch.device(device)
        self.encoder = (encoder or nn.Identity()).to(self.device)
        self.augment = augment or nn.Identity()
        feature_dim = getattr(encoder, "out_dim", obs_dim)
        self.actor = TanhGaussianActor(
            feature_dim, act_dim, config.hidden, config.log_std_min, config.log_std_max
        ).to(self.device)
        self.critic = EnsembleCritic(
            feature_dim, act_dim, config.hidden, config.critic_ensemble, config.critic_layer_norm
        ).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = torch.tensor(math.log(config.init_alpha), device=self.device, requires_grad=True)
        self.target_entropy = (
            -float(act_dim) if config.target_entropy is None else float(config.target_entropy)
        )
        self.actor_optim = torch.optim.Adam(self.actor.parameters(), lr=config.lr)
        self.critic_optim = torch.optim.Adam(
            [*self.encoder.parameters(), *self.critic.parameters()], lr=config.lr
        )
        self.alpha_optim = torch.optim.Adam([self.log_alpha], lr=config.lr)
        if config.compile:  # in place: parameter names and state dicts stay those of eager mode
            for network in (self.encoder, self.actor, self.critic, self.critic_target):
                network.compile()

    @property
    def alpha(self) -> torch.Tensor:
        """Current temperature exp(log_alpha), detached."""
        return self.log_alpha.detach().exp()

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Action for one observation (obs_dim,) -> (act_dim,) in [-1, 1]."""
        features = self.encoder(observation_batch(obs, self.device))
        action = self.actor.deterministic(features) if deterministic else self.actor.sample(features)[0]
        return action.squeeze(0).cpu().numpy()

    def update(self, batch: Batches) -> dict[str, float]:
        """One SAC gradient step on the robot rows: critic (and encoder), actor, temperature, then
        the target critics."""
        loss, features, metrics = self.critic_loss(batch.robot)
        self.step_critic(loss)
        return metrics | self.update_policy(features.detach())

    def update_policy(self, features: torch.Tensor) -> dict[str, float]:
        """The steps after the critic's: actor, temperature, target critics; features detached."""
        metrics, log_prob = self.update_actor(features)
        metrics |= self.update_alpha(log_prob)
        self.update_target()
        return metrics

    def encode(self, obs: torch.Tensor, next_obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features f(aug(obs)) with the encoder's graph and f(aug(next_obs)) without, (B, feature_dim)."""
        features = self.encoder(self.augment(obs))
        with torch.no_grad():
            next_features = self.encoder(self.augment(next_obs))
        return features, next_features

    def critic_loss(
        self, batch: RobotBatch, encoded: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """L_Q of eq. 5 on B rows; batch.reward and batch.done are (B,).

        `encoded` may pass `encode(batch.obs, batch.next_obs)` computed already (RLV shares it with
        the inverse model). Returns the loss, the encoder features of the (augmented) batch.obs
        (B, feature_dim) with their graph (other encoder losses may join the same step), and metrics.
        """
        features, next_features = encoded or self.encode(batch.obs, batch.next_obs)
        with torch.no_grad():
            next_action, next_log_prob = self.actor.sample(next_features)
            next_q = self.target_q(next_features, next_action)
            target = batch.reward + self.config.gamma * (1.0 - batch.done) * (
                next_q - self.alpha * next_log_prob
            )
        q = self.critic(features, batch.action)  # (N, B)
        assert q.shape == (self.critic.members, *target.shape), (q.shape, target.shape)
        loss = (q - target).pow(2).mean(dim=1).mean()  # exactly 0.5 * (sum of both) for two critics
        return loss, features, {"loss/critic": loss.item(), "stat/q_mean": q.mean().item()}

    def target_members(self) -> torch.Tensor | None:
        """The target critics of this step's TD target: `target_subset` distinct members drawn from
        torch's RNG, as a long tensor (M,); None (all members, nothing drawn) without a subset or
        when the subset is the whole ensemble."""
        subset, members = self.config.target_subset, self.critic.members
        if subset is None or subset == members:
            return None
        return torch.randperm(members, device=self.device)[:subset]

    def target_q(self, next_features: torch.Tensor, next_action: torch.Tensor) -> torch.Tensor:
        """min over the drawn target critics of Q'_j(s', a'), (B,); call under no_grad."""
        members = self.target_members()
        return self.critic_target(next_features, next_action, members).min(dim=0).values

    def step_critic(self, loss: torch.Tensor) -> None:
        """One step of the critic optimizer (critics and encoder) on `loss`."""
        self.critic_optim.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_optim.step()

    def update_critic(self, batch: RobotBatch) -> dict[str, float]:
        """Step the critics (and encoder) on L_Q alone."""
        loss, _, metrics = self.critic_loss(batch)
        self.step_critic(loss)
        return metrics

    def actor_loss(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """L_pi of eq. 7 on detached encoder features (B, feature_dim) (the observations themselves
        for state tasks); also returns log pi(a~|s) (B,) for the alpha loss."""
        action, log_prob = self.actor.sample(features)
        self.critic.requires_grad_(False)  # the actor loss must not build critic parameter grads
        q_members = self.critic(features, action)
        q = q_members.mean(dim=0) if self.config.actor_q == "mean" else q_members.min(dim=0).values
        self.critic.requires_grad_(True)
        loss = (self.alpha * log_prob - q).mean()
        metrics = {"loss/actor": loss.item(), "stat/entropy": -log_prob.mean().item()}
        return loss, log_prob.detach(), metrics

    def update_actor(self, features: torch.Tensor) -> tuple[dict[str, float], torch.Tensor]:
        """Step the actor on L_pi; returns metrics and the detached log-probabilities."""
        loss, log_prob, metrics = self.actor_loss(features)
        self.actor_optim.zero_grad(set_to_none=True)
        loss.backward()
        self.actor_optim.step()
        return metrics, log_prob

    def alpha_loss(self, log_prob: torch.Tensor) -> torch.Tensor:
        """L_alpha of eq. 18; log_prob (B,) is detached."""
        return -(self.log_alpha * (log_prob + self.target_entropy)).mean()

    def update_alpha(self, log_prob: torch.Tensor) -> dict[str, float]:
        """Step log alpha on L_alpha."""
        loss = self.alpha_loss(log_prob)
        self.alpha_optim.zero_grad(set_to_none=True)
        loss.backward()
        self.alpha_optim.step()
        return {"loss/alpha": loss.item(), "stat/alpha": self.alpha.item()}

    @torch.no_grad()
    def update_target(self) -> None:
        """Polyak averaging: theta' <- (1 - tau) theta' + tau theta."""
        for target, online in zip(self.critic_target.parameters(), self.critic.parameters(), strict=True):
            target.lerp_(online, self.config.tau)

    def state_dict(self) -> dict[str, Any]:
        """Everything that defines the agent's future: networks, targets, optimizers, temperature."""
        return {
            "encoder": self.encoder.state_dict(),
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "log_alpha": self.log_alpha.detach().clone(),
            "actor_optim": self.actor_optim.state_dict(),
            "critic_optim": self.critic_optim.state_dict(),
            "alpha_optim": self.alpha_optim.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of `state_dict`."""
        self.encoder.load_state_dict(state["encoder"])
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.actor_optim.load_state_dict(state["actor_optim"])
        self.critic_optim.load_state_dict(state["critic_optim"])
        self.alpha_optim.load_state_dict(state["alpha_optim"])


def build(context: AgentContext) -> SAC:
    """SAC on the run's observations (the shared settings are the `--sac.*` options)."""
    obs = context.obs
    return SAC(
        obs.vector_dim,
        context.act_dim,
        context.sac,
        context.device,
        obs.encoder(context.sac),
        obs.augment(context.sac),
    )


METHOD = MethodSpec(name="sac", summary="SAC from scratch on the robot's own interaction.", build=build)
