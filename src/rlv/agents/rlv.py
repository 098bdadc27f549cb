"""RLV: SAC on robot interaction plus action-free observation transitions (Schmeckpeper et al. 2020).

One gradient step (the paper's algorithm box), for B robot rows and N observation rows:

    1. a^ = d(o, o')                      label observation rows with the inverse model
    2. r^ = scale * done + bottom * (1 - done)   relabel their rewards (done: end of a successful video)
    3. L_d = mean_b ||d(s, s') - a||^2    train the inverse model on robot rows only
    4. SAC step on the union  S = [s; o], A = [a; a^], R = [r; r^], D = [d; done]  (B + N rows)

The labels come from the inverse model before its step (as in the original, whose losses all
share one forward pass). Ablations replace step 1 by the dataset's true actions or zeros and
step 2 by the dataset's true rewards.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812

from rlv.agents.base import ObservationBatch, RobotBatch
from rlv.agents.sac import SAC
from rlv.config import RLVConfig, SACConfig
from rlv.nets import InverseModel


class RLV:
    """RLV on state observations: a SAC learner plus an inverse dynamics model `idm`."""

    METRICS = (*SAC.METRICS, "loss/idm", "stat/idm_obs_action_mse", "stat/obs_reward_mean")
    """Keys of the dict `update()` returns (idm_obs_action_mse only with true_actions)."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        sac_config: SACConfig,
        config: RLVConfig,
        device: str = "cpu",
    ) -> None:
        self.config = config
        self.sac = SAC(obs_dim, act_dim, sac_config, device)
        self.device = self.sac.device
        self.idm = InverseModel(obs_dim, act_dim, config.idm_hidden).to(self.device)
        self.idm_optim = torch.optim.Adam(self.idm.parameters(), lr=config.idm_lr)
        self.act_dim = act_dim

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Action for one observation; the policy is SAC's."""
        return self.sac.act(obs, deterministic)

    def update(self, robot: RobotBatch, observation: ObservationBatch) -> dict[str, float]:
        """One RLV gradient step on B robot rows and N observation rows (steps 1-4 above)."""
        action_hat = self.label_actions(observation)
        reward_hat = self.relabel_rewards(observation)
        metrics = self.update_inverse_model(robot)
        if observation.true_action is not None:
            metrics["stat/idm_obs_action_mse"] = F.mse_loss(action_hat, observation.true_action).item()
        union = RobotBatch(
            obs=torch.cat([robot.obs, observation.obs]),
            action=torch.cat([robot.action, action_hat]),
            reward=torch.cat([robot.reward, reward_hat]),
            next_obs=torch.cat([robot.next_obs, observation.next_obs]),
            done=torch.cat([robot.done, observation.done]),
        )
        metrics |= self.sac.update(union)
        metrics["stat/obs_reward_mean"] = reward_hat.mean().item()
        return metrics

    @torch.no_grad()
    def label_actions(self, observation: ObservationBatch) -> torch.Tensor:
        """Step 1: actions (N, act_dim) for the observation rows, by `config.action_source`."""
        if self.config.action_source == "idm":
            return self.idm(observation.obs, observation.next_obs)
        if self.config.action_source == "zero":
            return torch.zeros(len(observation.obs), self.act_dim, device=self.device)
        if observation.true_action is None:
            raise ValueError("action_source='oracle' needs a dataset with true_actions")
        return observation.true_action

    def relabel_rewards(self, observation: ObservationBatch) -> torch.Tensor:
        """Step 2: rewards (N,) for the observation rows: scale * done + bottom * (1 - done),
        or the dataset's ground truth when `config.reward_source == 'true'`."""
        if self.config.reward_source == "true":
            if observation.true_reward is None:
                raise ValueError("reward_source='true' needs a dataset with rewards")
            return observation.true_reward
        done = observation.done
        return self.config.reward_scale * done + self.config.reward_bottom * (1.0 - done)

    def inverse_model_loss(self, robot: RobotBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """Step 3: L_d = MSE(d(s, s'), a) on the B robot rows only."""
        predicted = self.idm(robot.obs, robot.next_obs)
        assert predicted.shape == robot.action.shape, (predicted.shape, robot.action.shape)
        loss = F.mse_loss(predicted, robot.action)
        return loss, {"loss/idm": loss.item()}

    def update_inverse_model(self, robot: RobotBatch) -> dict[str, float]:
        """Step the inverse model on L_d."""
        loss, metrics = self.inverse_model_loss(robot)
        self.idm_optim.zero_grad(set_to_none=True)
        loss.backward()
        self.idm_optim.step()
        return metrics

    def state_dict(self) -> dict[str, Any]:
        """SAC state plus the inverse model and its optimizer."""
        return {
            "sac": self.sac.state_dict(),
            "idm": self.idm.state_dict(),
            "idm_optim": self.idm_optim.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of `state_dict`."""
        self.sac.load_state_dict(state["sac"])
        self.idm.load_state_dict(state["idm"])
        self.idm_optim.load_state_dict(state["idm_optim"])
