"""RLV: SAC on robot interaction plus action-free observation transitions (Schmeckpeper et al. 2020).

One gradient step (the paper's algorithm box), for B robot rows and N observation rows:

    1. a^ = d(o, o')                      label observation rows with the inverse model
    2. r^ = scale * done + bottom * (1 - done)   relabel their rewards (done: end of a successful video)
    3. L_d = mean_b ||d(s, s') - a||^2    train the inverse model on robot rows only
    4. SAC step on the union  S = [s; o], A = [a; a^], R = [r; r^], D = [d; done]  (B + N rows)
    5. (images) domain alignment of the shared encoder f, in the same optimizer step as the critic:
       L_f = L_Q + w_gen BCE(D(f(S)), 1 - domain) + w_pair ||f(robot frame) - f(human frame)||^2
             (+ w_idm ||d(f(s), f(s')) - a||^2 on robot rows, optional anchor, d frozen here),
       then the discriminator D steps on BCE(D(f(S)), domain), domain = 0 robot / 1 observation.

The labels come from the inverse model before its step, and the encoder runs once per step on the
augmented union (as in the original, whose losses all share one forward pass). Ablations replace
step 1 by the dataset's true actions or zeros and step 2 by the dataset's true rewards.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from rlv.agents.base import ObservationBatch, PairedBatch, RobotBatch
from rlv.agents.sac import SAC
from rlv.config import RLVConfig, SACConfig
from rlv.nets import Discriminator, InverseModel

FEATURE_EPS = 1e-6
"""Feature scale (std) below which the scale-free alignment stops rescaling: keeps it finite when
features do collapse to one point."""


class RLV:
    """RLV on state observations: a SAC learner plus an inverse dynamics model `idm`."""

    METRICS = (
        *SAC.METRICS,
        "loss/idm",
        "stat/idm_obs_action_mse",
        "stat/obs_reward_mean",
        "loss/domain",
        "loss/generator",
        "loss/paired",
        "stat/domain_accuracy",
        "stat/feature_std",
    )
    """Keys of the dict `update()` returns (idm_obs_action_mse only with true_actions, domain, generator,
    paired and domain_accuracy only with alignment, feature_std only with an image encoder)."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        sac_config: SACConfig,
        config: RLVConfig,
        device: str = "cpu",
        encoder: nn.Module | None = None,
        augment: nn.Module | None = None,
    ) -> None:
        self.config = config
        self.sac = SAC(obs_dim, act_dim, sac_config, device, encoder, augment)
        self.device = self.sac.device
        feature_dim = getattr(encoder, "out_dim", obs_dim)
        self.idm = InverseModel(feature_dim, act_dim, config.idm_hidden).to(self.device)
        self.idm_optim = torch.optim.Adam(self.idm.parameters(), lr=config.idm_lr)
        self.discriminator: Discriminator | None = None  # only with alignment: no unused RNG draws
        if config.alignment != "none":
            self.discriminator = Discriminator(feature_dim).to(self.device)
            self.discriminator_optim = torch.optim.Adam(
                self.discriminator.parameters(), lr=config.discriminator_lr
            )
        self.act_dim = act_dim
        self.has_encoder = any(True for _ in self.sac.encoder.parameters())

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Action for one observation; the policy is SAC's."""
        return self.sac.act(obs, deterministic)

    def update(
        self, robot: RobotBatch, observation: ObservationBatch, paired: PairedBatch | None = None
    ) -> dict[str, float]:
        """One RLV gradient step on B robot rows and N observation rows (steps 1-5 above)."""
        rows = len(robot.obs)
        features, next_features = self.sac.encode(
            torch.cat([robot.obs, observation.obs]), torch.cat([robot.next_obs, observation.next_obs])
        )  # one shared forward pass of the (augmented) union, as in the original
        detached = features.detach()
        action_hat = self.label_actions(observation, (detached[rows:], next_features[rows:]))
        reward_hat = self.relabel_rewards(observation)
        metrics = self.update_inverse_model(robot, (detached[:rows], next_features[:rows]))
        if observation.true_action is not None:
            metrics["stat/idm_obs_action_mse"] = F.mse_loss(action_hat, observation.true_action).item()
        union = RobotBatch(
            obs=torch.cat([robot.obs, observation.obs]),
            action=torch.cat([robot.action, action_hat]),
            reward=torch.cat([robot.reward, reward_hat]),
            next_obs=torch.cat([robot.next_obs, observation.next_obs]),
            done=torch.cat([robot.done, observation.done]),
        )
        critic_loss, features, critic_metrics = self.sac.critic_loss(union, (features, next_features))
        domain = torch.cat([torch.zeros(len(robot.obs)), torch.ones(len(observation.obs))]).to(self.device)
        alignment_loss, alignment_metrics = self.alignment_loss(features, domain, paired)
        if self.config.idm_encoder_weight > 0:
            anchor = self.encoder_idm_loss(robot, features[:rows], next_features[:rows])
            alignment_loss = alignment_loss + self.config.idm_encoder_weight * anchor
        self.sac.step_critic(critic_loss + alignment_loss)
        metrics |= critic_metrics | alignment_metrics
        if self.has_encoder:
            metrics["stat/feature_std"] = features.detach().std(dim=0).mean().item()
        if self.discriminator is not None:
            metrics |= self.update_discriminator(features.detach(), domain)
        metrics |= self.sac.update_policy(features.detach())
        metrics["stat/obs_reward_mean"] = reward_hat.mean().item()
        return metrics

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        """Shared-encoder features of observations, without gradient (inverse model inputs)."""
        with torch.no_grad():
            return self.sac.encoder(obs)

    @torch.no_grad()
    def label_actions(
        self, observation: ObservationBatch, encoded: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Step 1: actions (N, act_dim) for the observation rows, by `config.action_source`.
        `encoded`: the rows' features (f(o), f(o')) when already computed (default: encode them)."""
        if self.config.action_source == "idm":
            obs_features, next_features = encoded or (
                self.features(observation.obs),
                self.features(observation.next_obs),
            )
            return self.idm(obs_features, next_features)
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

    def inverse_model_loss(
        self, robot: RobotBatch, encoded: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Step 3: L_d = MSE(d(f(s), f(s')), a) on the B robot rows only (f: shared encoder, not trained
        by this loss; the identity for state tasks). `encoded`: detached (f(s), f(s')), each
        (B, feature_dim), when already computed (default: encode the augmented rows)."""
        if encoded is None:
            encoded = (
                self.features(self.sac.augment(robot.obs)),
                self.features(self.sac.augment(robot.next_obs)),
            )
        predicted = self.idm(*encoded)
        assert predicted.shape == robot.action.shape, (predicted.shape, robot.action.shape)
        loss = F.mse_loss(predicted, robot.action)
        return loss, {"loss/idm": loss.item()}

    def encoder_idm_loss(
        self, robot: RobotBatch, features: torch.Tensor, next_features: torch.Tensor
    ) -> torch.Tensor:
        """Optional encoder anchor: L_d = MSE(d(f(s), f(s')), a) on the B robot rows, with f(s)
        (B, feature_dim) carrying the encoder's graph and d frozen (its own step is step 3);
        next_features (B, feature_dim) are the step's gradient-free f(s')."""
        self.idm.requires_grad_(False)
        loss = F.mse_loss(self.idm(features, next_features), robot.action)
        self.idm.requires_grad_(True)
        return loss

    def update_inverse_model(
        self, robot: RobotBatch, encoded: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> dict[str, float]:
        """Step the inverse model on L_d."""
        loss, metrics = self.inverse_model_loss(robot, encoded)
        self.idm_optim.zero_grad(set_to_none=True)
        loss.backward()
        self.idm_optim.step()
        return metrics

    def alignment_loss(
        self, features: torch.Tensor, domain: torch.Tensor, paired: PairedBatch | None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Step 5, encoder side: w_gen * BCE(D(f), 1 - domain) + w_pair * MSE(f(robot), f(human)).

        features (B + N, feature_dim) carry the encoder's graph; domain (B + N,) is 0 robot, 1 video.
        The generator term needs alignment='adversarial' (or 'original'); the paired term needs a
        paired batch (P robot and P human frames of the same states). With alignment='original' both
        terms are computed on detached features, as in the release (logged, never moving the encoder).
        The discriminator's own parameters get no gradient from this loss. With
        `scale_free_alignment`, D reads standardised features and the MSE is divided by the
        features' batch variance, so neither term falls by shrinking f.
        """
        effective = self.config.alignment != "original"
        loss = torch.zeros((), device=self.device)
        metrics: dict[str, float] = {}
        if self.discriminator is not None:
            inputs = self.discriminator_input(features if effective else features.detach())
            self.discriminator.requires_grad_(False)
            generator = F.binary_cross_entropy_with_logits(self.discriminator(inputs), 1.0 - domain)
            self.discriminator.requires_grad_(True)
            loss = loss + self.config.generator_weight * generator
            metrics["loss/generator"] = generator.item()
        if paired is not None and self.config.paired_weight > 0:
            robot_features = self.sac.encoder(self.sac.augment(paired.robot))
            human_features = self.sac.encoder(self.sac.augment(paired.human))
            if not effective:
                robot_features, human_features = robot_features.detach(), human_features.detach()
            paired_loss = F.mse_loss(robot_features, human_features)
            if self.config.scale_free_alignment:  # relative to the spread of features over states
                spread = torch.cat([robot_features, human_features]).var(dim=0).mean()
                paired_loss = paired_loss / (spread + FEATURE_EPS**2)
            loss = loss + self.config.paired_weight * paired_loss
            metrics["loss/paired"] = paired_loss.item()
        return loss, metrics

    def discriminator_input(self, features: torch.Tensor) -> torch.Tensor:
        """What D sees of features (B + N, feature_dim): as they are, or with `scale_free_alignment`
        standardised per dimension over the batch, (f - mean) / (std + eps), gradient included."""
        if not self.config.scale_free_alignment:
            return features
        return (features - features.mean(dim=0)) / (features.std(dim=0) + FEATURE_EPS)

    def update_discriminator(self, features: torch.Tensor, domain: torch.Tensor) -> dict[str, float]:
        """Step 5, discriminator side: BCE(D(f), domain) on detached features (B + N, feature_dim)."""
        logits = self.discriminator(self.discriminator_input(features))
        loss = F.binary_cross_entropy_with_logits(logits, domain)
        self.discriminator_optim.zero_grad(set_to_none=True)
        loss.backward()
        self.discriminator_optim.step()
        accuracy = ((logits > 0).float() == domain).float().mean()
        return {"loss/domain": loss.item(), "stat/domain_accuracy": accuracy.item()}

    def state_dict(self) -> dict[str, Any]:
        """SAC state plus the inverse model, the discriminator (with alignment) and their optimizers."""
        state = {
            "sac": self.sac.state_dict(),
            "idm": self.idm.state_dict(),
            "idm_optim": self.idm_optim.state_dict(),
        }
        if self.discriminator is not None:
            state["discriminator"] = self.discriminator.state_dict()
            state["discriminator_optim"] = self.discriminator_optim.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of `state_dict`."""
        self.sac.load_state_dict(state["sac"])
        self.idm.load_state_dict(state["idm"])
        self.idm_optim.load_state_dict(state["idm_optim"])
        if self.discriminator is not None:
            self.discriminator.load_state_dict(state["discriminator"])
            self.discriminator_optim.load_state_dict(state["discriminator_optim"])
