"""Soft actor-critic (Haarnoja et al. 2018, softlearning variant with a learned temperature).

The agent never touches an environment and never logs: `update()` takes a batch and returns
a metrics dict. Losses, for a batch of B transitions:

    critic  (eq. 5):  y = r + gamma (1 - d) (min_j Q'_j(s', a') - alpha log pi(a'|s')),  a' ~ pi(s')
                      L_Q = mean_j mean_b 0.5 (Q_j(s, a) - y)^2
    actor   (eq. 7):  L_pi = mean_b alpha log pi(a~|s) - min_j Q_j(s, a~),  a~ ~ pi(s)
    alpha   (eq. 18): L_alpha = -mean_b log_alpha (log pi(a~|s) + H_target),  H_target = -|A|

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

from rlv.agents.base import RobotBatch
from rlv.config import SACConfig
from rlv.nets import TanhGaussianActor, TwinCritic


class SAC:
    """SAC with twin critics, Polyak-averaged targets and automatic entropy tuning."""

    METRICS = ("loss/critic", "loss/actor", "loss/alpha", "stat/alpha", "stat/q_mean", "stat/entropy")
    """Keys of the dict `update()` returns."""

    def __init__(self, obs_dim: int, act_dim: int, config: SACConfig, device: str = "cpu") -> None:
        self.config = config
        self.device = torch.device(device)
        self.actor = TanhGaussianActor(
            obs_dim, act_dim, config.hidden, config.log_std_min, config.log_std_max
        ).to(self.device)
        self.critic = TwinCritic(obs_dim, act_dim, config.hidden).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = torch.tensor(math.log(config.init_alpha), device=self.device, requires_grad=True)
        self.target_entropy = (
            -float(act_dim) if config.target_entropy is None else float(config.target_entropy)
        )
        self.actor_optim = torch.optim.Adam(self.actor.parameters(), lr=config.lr)
        self.critic_optim = torch.optim.Adam(self.critic.parameters(), lr=config.lr)
        self.alpha_optim = torch.optim.Adam([self.log_alpha], lr=config.lr)

    @property
    def alpha(self) -> torch.Tensor:
        """Current temperature exp(log_alpha), detached."""
        return self.log_alpha.detach().exp()

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Action for one observation (obs_dim,) -> (act_dim,) in [-1, 1]."""
        obs_t = torch.as_tensor(obs, dtype=torch.float32, device=self.device).unsqueeze(0)
        action = self.actor.deterministic(obs_t) if deterministic else self.actor.sample(obs_t)[0]
        return action.squeeze(0).cpu().numpy()

    def update(self, batch: RobotBatch) -> dict[str, float]:
        """One SAC gradient step: critic, actor, temperature, then the target critics."""
        metrics = self.update_critic(batch)
        actor_metrics, log_prob = self.update_actor(batch.obs)
        metrics |= actor_metrics
        metrics |= self.update_alpha(log_prob)
        self.update_target()
        return metrics

    def critic_loss(self, batch: RobotBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """L_Q of eq. 5 on B rows; batch.reward and batch.done are (B,)."""
        with torch.no_grad():
            next_action, next_log_prob = self.actor.sample(batch.next_obs)
            next_q = self.critic_target(batch.next_obs, next_action).min(dim=0).values
            target = batch.reward + self.config.gamma * (1.0 - batch.done) * (
                next_q - self.alpha * next_log_prob
            )
        q = self.critic(batch.obs, batch.action)  # (2, B)
        assert q.shape == (2, *target.shape), (q.shape, target.shape)
        loss = 0.5 * (q - target).pow(2).mean(dim=1).sum()
        return loss, {"loss/critic": loss.item(), "stat/q_mean": q.mean().item()}

    def update_critic(self, batch: RobotBatch) -> dict[str, float]:
        """Step the critics on L_Q."""
        loss, metrics = self.critic_loss(batch)
        self.critic_optim.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_optim.step()
        return metrics

    def actor_loss(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """L_pi of eq. 7 on obs (B, obs_dim); also returns log pi(a~|s) (B,) for the alpha loss."""
        action, log_prob = self.actor.sample(obs)
        self.critic.requires_grad_(False)  # the actor loss must not build critic parameter grads
        q = self.critic(obs, action).min(dim=0).values
        self.critic.requires_grad_(True)
        loss = (self.alpha * log_prob - q).mean()
        metrics = {"loss/actor": loss.item(), "stat/entropy": -log_prob.mean().item()}
        return loss, log_prob.detach(), metrics

    def update_actor(self, obs: torch.Tensor) -> tuple[dict[str, float], torch.Tensor]:
        """Step the actor on L_pi; returns metrics and the detached log-probabilities."""
        loss, log_prob, metrics = self.actor_loss(obs)
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
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.actor_optim.load_state_dict(state["actor_optim"])
        self.critic_optim.load_state_dict(state["critic_optim"])
        self.alpha_optim.load_state_dict(state["alpha_optim"])
