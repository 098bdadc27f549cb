"""RLV: SAC on robot interaction plus action-free observation transitions (Schmeckpeper et al. 2020).

One gradient step (the paper's algorithm box), for B robot rows and N observation rows:

    1. a^ = d(o, o')                      label observation rows with the inverse model
    2. r^ = scale * done + bottom * (1 - done)   relabel their rewards (done: end of a successful video)
    3. L_d = mean_b ||d(s, s') - a||^2    train the inverse model on robot rows only
    4. SAC step on the union  S = [s; o], A = [a; a^], R = [r; r^], D = [d; done]  (B + N rows)
    5. (images) domain transfer of the shared encoder f, in the same optimizer step as the critic:
       L_f = L_Q + w_gen L_gen + w_pair ||f(robot frame) - f(human frame)||^2 + w_nce L_nce
             + w_time L_time + w_idm ||d(f(s), f(s')) - a||^2,
       with L_gen the adversarial term (flipped labels, or gradient reversal with a ramped weight:
       `dann`), L_nce the paired InfoNCE and L_time the temporal contrast (see their methods);
       then the discriminator D steps on BCE(D(f(S)), domain), domain = 0 robot / 1 observation.

The labels come from the inverse model before its step, and the encoder runs once per step on the
augmented union (as in the original, whose losses all share one forward pass). Ablations replace
step 1 by the dataset's true actions or zeros and step 2 by the dataset's true rewards.
`update_encoder()` is the same step without the SAC losses: what the transfer probe trains.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from rlv.agents.base import Batches, ObservationBatch, PairedBatch, RobotBatch
from rlv.agents.sac import SAC
from rlv.agents.spec import AgentContext, MethodSpec, Streams
from rlv.config import RLVConfig, SACConfig
from rlv.errors import RlvError
from rlv.nets import Discriminator, InverseModel
from rlv.validation import at_least, positive, widths

if TYPE_CHECKING:
    from rlv.data.replay import ObservationSampler
    from rlv.observation import ObservationKind

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
        "stat/alignment_weight",
        "loss/contrastive",
        "stat/paired_retrieval",
        "loss/temporal",
        "stat/feature_std",
        "stat/robot_feature_std",
        "stat/obs_feature_std",
        "stat/obs_action_chance_mse",
    )
    """Keys of the dict `update()` returns. Only with a dataset that keeps true actions:
    idm_obs_action_mse and obs_action_chance_mse (the MSE of always guessing the batch's mean true
    action: labels are useful only well below it). Only with alignment: domain, generator,
    domain_accuracy, alignment_weight. Only with paired frames: paired, contrastive,
    paired_retrieval (top-1 accuracy of finding each human frame's own robot frame among the
    batch's). Only with an image encoder: the feature_std family (mean over feature dimensions of
    the batch std, of all rows, robot rows and observation rows; near 0 = collapsed features)."""

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
        if sac_config.compile:
            self.idm.compile()
        self.discriminator: Discriminator | None = None  # only with alignment: no unused RNG draws
        if config.alignment != "none":
            self.discriminator = Discriminator(feature_dim, spectral_norm=config.alignment == "dann").to(
                self.device
            )
            self.discriminator_optim = torch.optim.Adam(
                self.discriminator.parameters(), lr=config.discriminator_lr
            )
        self.act_dim = act_dim
        self.has_encoder = any(True for _ in self.sac.encoder.parameters())
        self.updates = 0
        """Gradient steps taken (the gradient-reversal ramp reads it; part of the state)."""

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Action for one observation; the policy is SAC's."""
        return self.sac.act(obs, deterministic)

    def update(self, batch: Batches) -> dict[str, float]:
        """One RLV gradient step on B robot rows and N observation rows (steps 1-5 above)."""
        robot, observation, paired = batch.robot, batch.observations, batch.paired
        assert observation is not None, "RLV declares an observation stream"
        rows = len(robot.obs)
        features, next_features = self.sac.encode(
            torch.cat([robot.obs, observation.obs]), torch.cat([robot.next_obs, observation.next_obs])
        )  # one shared forward pass of the (augmented) union, as in the original
        action_hat, metrics = self.label_and_fit_inverse_model(robot, observation, features, next_features)
        reward_hat = self.relabel_rewards(observation)
        union = RobotBatch(
            obs=torch.cat([robot.obs, observation.obs]),
            action=torch.cat([robot.action, action_hat]),
            reward=torch.cat([robot.reward, reward_hat]),
            next_obs=torch.cat([robot.next_obs, observation.next_obs]),
            done=torch.cat([robot.done, observation.done]),
        )
        critic_loss, features, critic_metrics = self.sac.critic_loss(union, (features, next_features))
        encoder_loss, encoder_metrics = self.encoder_loss(robot, features, next_features, paired)
        self.sac.step_critic(critic_loss + encoder_loss)
        metrics |= critic_metrics | encoder_metrics | self.after_encoder_step(features.detach(), rows)
        metrics |= self.sac.update_policy(features.detach())
        metrics["stat/obs_reward_mean"] = reward_hat.mean().item()
        return metrics

    def update_encoder(
        self, robot: RobotBatch, observation: ObservationBatch, paired: PairedBatch | None = None
    ) -> dict[str, float]:
        """Steps 1, 3 and 5 without the SAC losses: the inverse model and the encoder's transfer
        losses only (what the transfer probe trains; the critic's parameters get no gradient)."""
        rows = len(robot.obs)
        features, next_features = self.sac.encode(
            torch.cat([robot.obs, observation.obs]), torch.cat([robot.next_obs, observation.next_obs])
        )
        _, metrics = self.label_and_fit_inverse_model(robot, observation, features, next_features)
        encoder_loss, encoder_metrics = self.encoder_loss(robot, features, next_features, paired)
        if encoder_loss.requires_grad:
            self.sac.step_critic(encoder_loss)
        return metrics | encoder_metrics | self.after_encoder_step(features.detach(), rows)

    def label_and_fit_inverse_model(
        self,
        robot: RobotBatch,
        observation: ObservationBatch,
        features: torch.Tensor,
        next_features: torch.Tensor,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Steps 1 and 3 on the union's features (B + N, feature_dim): label the observation rows
        with the inverse model as it is, then step it on the robot rows. Returns the labels (N, act_dim)."""
        rows = len(robot.obs)
        detached = features.detach()
        action_hat = self.label_actions(observation, (detached[rows:], next_features[rows:]))
        metrics = self.update_inverse_model(robot, (detached[:rows], next_features[:rows]))
        if observation.true_action is not None:
            true_action = observation.true_action
            metrics["stat/idm_obs_action_mse"] = F.mse_loss(action_hat, true_action).item()
            chance = (true_action - true_action.mean(dim=0)).pow(2).mean()
            metrics["stat/obs_action_chance_mse"] = chance.item()
        return action_hat, metrics

    def encoder_loss(
        self,
        robot: RobotBatch,
        features: torch.Tensor,
        next_features: torch.Tensor,
        paired: PairedBatch | None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Step 5, encoder side: every loss on f besides the critic's. features (B + N, feature_dim)
        carry the encoder's graph (robot rows first), next_features (B + N, feature_dim) do not."""
        rows = len(robot.obs)
        domain = torch.cat([torch.zeros(rows), torch.ones(len(features) - rows)]).to(self.device)
        loss, metrics = self.alignment_loss(features, domain, paired)
        if self.config.temporal_weight > 0:
            temporal = self.temporal_loss(features, next_features, rows)
            loss = loss + self.config.temporal_weight * temporal
            metrics["loss/temporal"] = temporal.item()
        if self.config.idm_encoder_weight > 0:
            anchor = self.encoder_idm_loss(robot, features[:rows], next_features[:rows])
            loss = loss + self.config.idm_encoder_weight * anchor
        return loss, metrics

    def after_encoder_step(self, features: torch.Tensor, rows: int) -> dict[str, float]:
        """After the encoder's step: the discriminator's step (with alignment), feature-spread
        statistics of the detached union features (B + N, feature_dim), and the update count."""
        metrics: dict[str, float] = {}
        if self.has_encoder:
            metrics["stat/feature_std"] = features.std(dim=0).mean().item()
            metrics["stat/robot_feature_std"] = features[:rows].std(dim=0).mean().item()
            metrics["stat/obs_feature_std"] = features[rows:].std(dim=0).mean().item()
        if self.discriminator is not None:
            domain = torch.cat([torch.zeros(rows), torch.ones(len(features) - rows)]).to(self.device)
            metrics |= self.update_discriminator(features, domain)
        self.updates += 1
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
        """Step 5's alignment terms on the encoder: w_gen L_gen + w_pair MSE(f(robot), f(human)) +
        w_nce L_nce.

        features (B + N, feature_dim) carry the encoder's graph; domain (B + N,) is 0 robot, 1 video.
        L_gen needs a discriminator: with alignment='adversarial', BCE(D(f), 1 - domain) (flipped
        labels); with 'dann', -lambda_p BCE(D(f), domain), i.e. gradient reversal (Ganin & Lempitsky
        2015) with lambda_p = 2 / (1 + exp(-10 p)) - 1, p = updates / alignment_ramp_steps capped at
        1. The paired terms need a paired batch (P robot and P human frames of the same states).
        With alignment='original' every term is computed on detached features, as in the release
        (logged, never moving the encoder). The discriminator's own parameters get no gradient here.
        With `scale_free_alignment`, D reads standardised features and the MSE is divided by the
        features' batch variance, so neither term falls by shrinking f.
        """
        effective = self.config.alignment != "original"
        loss = torch.zeros((), device=self.device)
        metrics: dict[str, float] = {}
        if self.discriminator is not None:
            loss, metrics = self.generator_loss(features if effective else features.detach(), domain)
        if paired is None or (self.config.paired_weight <= 0 and self.config.contrastive_weight <= 0):
            return loss, metrics
        robot_features = self.sac.encoder(self.sac.augment(paired.robot))
        human_features = self.sac.encoder(self.sac.augment(paired.human))
        if not effective:
            robot_features, human_features = robot_features.detach(), human_features.detach()
        if self.config.paired_weight > 0:
            paired_loss = F.mse_loss(robot_features, human_features)
            if self.config.scale_free_alignment:  # relative to the spread of features over states
                spread = torch.cat([robot_features, human_features]).var(dim=0).mean()
                paired_loss = paired_loss / (spread + FEATURE_EPS**2)
            loss = loss + self.config.paired_weight * paired_loss
            metrics["loss/paired"] = paired_loss.item()
        contrastive, retrieval = self.contrastive_loss(human_features, robot_features)
        if self.config.contrastive_weight > 0:
            loss = loss + self.config.contrastive_weight * contrastive
        metrics["loss/contrastive"] = contrastive.item()
        metrics["stat/paired_retrieval"] = retrieval
        return loss, metrics

    def generator_loss(
        self, features: torch.Tensor, domain: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """L_gen, weighted (see `alignment_loss`), with D frozen; features (B + N, feature_dim)."""
        inputs = self.discriminator_input(features)
        self.discriminator.requires_grad_(False)
        logits = self.discriminator(inputs)
        self.discriminator.requires_grad_(True)
        if self.config.alignment == "dann":
            progress = min(self.updates / max(self.config.alignment_ramp_steps, 1), 1.0)
            weight = self.config.generator_weight * (2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0)
            generator = F.binary_cross_entropy_with_logits(logits, domain)
            loss = -weight * generator  # the encoder ascends what the discriminator descends
        else:
            weight = self.config.generator_weight
            generator = F.binary_cross_entropy_with_logits(logits, 1.0 - domain)
            loss = weight * generator
        return loss, {"loss/generator": generator.item(), "stat/alignment_weight": weight}

    def contrastive_loss(
        self, human_features: torch.Tensor, robot_features: torch.Tensor
    ) -> tuple[torch.Tensor, float]:
        """L_nce: paired InfoNCE, time-contrastive-network style (Sermanet et al. 2018; van den Oord
        et al. 2018). human_features, robot_features (P, feature_dim), row i of both one state.
        z = f / ||f||, logits_ij = z_human_i . z_robot_j / T; L = mean of the cross-entropies of
        finding row i's partner, human->robot and robot->human (with contrastive_similarity='distance',
        logits_ij = -||f_human_i - f_robot_j||^2 / T). Collapse cannot lower it: identical features
        give log P. Also returns the top-1 human->robot retrieval accuracy of the batch."""
        logits = info_nce_logits(
            human_features,
            robot_features,
            self.config.contrastive_temperature,
            self.config.contrastive_similarity,
        )
        targets = torch.arange(len(logits), device=logits.device)
        loss = 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))
        retrieval = (logits.detach().argmax(dim=1) == targets).float().mean().item()
        return loss, retrieval

    def temporal_loss(self, features: torch.Tensor, next_features: torch.Tensor, rows: int) -> torch.Tensor:
        """L_time: temporal contrast within each domain, self-supervised (no actions, no pairs):
        f(o_t) of a row must be closer to its own f(o_t+1) than to the other rows' next frames
        (other moments or other videos). features (B + N, feature_dim) with the encoder's graph,
        next_features (B + N, feature_dim) without (a fixed target, as in a momentum encoder);
        robot rows [:rows] and observation rows [rows:] are contrasted separately (InfoNCE each)."""
        loss = torch.zeros((), device=self.device)
        for part in (slice(0, rows), slice(rows, None)):
            logits = info_nce_logits(features[part], next_features[part], self.config.contrastive_temperature)
            loss = loss + 0.5 * F.cross_entropy(logits, torch.arange(len(logits), device=logits.device))
        return loss

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
            "updates": self.updates,
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
        self.updates = int(state.get("updates", 0))  # checkpoints before the counter existed: 0
        if self.discriminator is not None:
            self.discriminator.load_state_dict(state["discriminator"])
            self.discriminator_optim.load_state_dict(state["discriminator_optim"])


def info_nce_logits(
    anchors: torch.Tensor, candidates: torch.Tensor, temperature: float, similarity: str = "cosine"
) -> torch.Tensor:
    """InfoNCE logits (P, P) of anchors (P, D) against candidates (P, D), over temperature:
    cosine similarity, or (`distance`) minus the squared Euclidean distance, which pulls the
    features themselves together, not only their directions."""
    if similarity == "distance":
        return -torch.cdist(anchors, candidates).pow(2) / temperature
    return F.normalize(anchors, dim=1) @ F.normalize(candidates, dim=1).T / temperature


RANGES = {
    "obs_batch_size": at_least(1),
    "max_episodes": at_least(1),
    "idm_hidden": widths,
    "idm_lr": positive,
    "generator_weight": at_least(0),
    "alignment_ramp_steps": at_least(1),
    "paired_weight": at_least(0),
    "paired_batch_size": at_least(1),
    "contrastive_weight": at_least(0),
    "contrastive_temperature": positive,
    "temporal_weight": at_least(0),
    "discriminator_lr": positive,
    "idm_encoder_weight": at_least(0),
}
"""Allowed range of each RLV option (None values of optional ones are not checked)."""


def option_problems(options: RLVConfig) -> list[tuple[str, str]]:
    """RLV options that are each fine but cannot work together."""
    if options.dataset is None:
        return [("dataset", "RLV needs an observation dataset: --rlv.dataset DIR")]
    if options.contrastive_weight > 0 and options.paired_dataset is None:
        return [("contrastive_weight", "needs paired frames: --rlv.paired-dataset DIR")]
    if options.contrastive_weight > 0 and options.paired_batch_size < 2:
        return [("paired_batch_size", "must be at least 2 for the contrastive loss (negatives)")]
    return []


def check(options: RLVConfig, obs: ObservationKind, sampler: ObservationSampler | None, env: str) -> None:
    """Refuse encoder options on state observations and ablations the dataset cannot feed."""
    if not obs.image and (options.alignment != "none" or options.paired_dataset is not None):
        raise RlvError(f"environment {env!r} has state observations; domain alignment needs images")
    if not obs.image and options.idm_encoder_weight:
        raise RlvError("--rlv.idm-encoder-weight needs an image task (it trains the encoder)")
    if not obs.image and options.temporal_weight:
        raise RlvError("--rlv.temporal-weight needs an image task (it trains the encoder)")
    assert sampler is not None, "RLV declares an observation stream"
    if options.action_source == "oracle" and sampler.true_action is None:
        raise RlvError(
            f"{options.dataset}: action_source=oracle needs true_actions, which this dataset lacks"
        )
    if options.reward_source == "true" and sampler.true_reward is None:
        raise RlvError(f"{options.dataset}: reward_source=true needs rewards, which this dataset lacks")


def streams(options: RLVConfig) -> Streams:
    """Robot replay + the observation dataset (+ paired frames when given)."""
    return Streams(
        observations=options.dataset,
        obs_batch_size=options.obs_batch_size,
        max_episodes=options.max_episodes,
        timelimit_done=options.timelimit_done,
        paired=options.paired_dataset,
        paired_batch_size=options.paired_batch_size,
    )


def build(context: AgentContext) -> RLV:
    obs = context.obs
    return RLV(
        obs.vector_dim,
        context.act_dim,
        context.sac,
        context.options,
        context.device,
        obs.encoder(context.sac),
        obs.augment(context.sac),
    )


METHOD = MethodSpec(
    name="rlv",
    summary="RLV: SAC on robot interaction plus action-free videos labelled by an inverse model.",
    build=build,
    options=RLVConfig,
    streams=streams,
    ranges=RANGES,
    problems=option_problems,
    check=check,
)
