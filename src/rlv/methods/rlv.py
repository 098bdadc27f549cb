"""RLV: SAC on robot interaction plus action-free observation transitions (Schmeckpeper et al. 2020).

One gradient step (the paper's algorithm box), for B robot rows and N observation rows, with f the
shared encoder (the identity for state tasks) run once on the augmented union:

    1. a^ = d(f(o), f(o'))                    label the observation rows with the inverse model
    2. r^ = scale * done + bottom * (1 - done)   relabel their rewards (done: end of a successful video)
    3. L_d = mean_b ||d(f(s), f(s')) - a||^2  fit the inverse model on the robot rows only (with
       --rlv.idm-dataset: and on M rows of that robot dataset, which keeps its actions)
    4. SAC on the union  S = [s; o], A = [a; a^], R = [r; r^], D = [d; done]  (B + N rows); on
       images the transfer terms L_f (rlv.transfer) join the critic's loss in the encoder's step
    5. (images) the transfer step after the encoder's: the domain discriminator learns on the new
       features

The labels come from the inverse model before its step (as in the original, whose losses all share
one forward pass). Ablations replace step 1 by the dataset's true actions or zeros and step 2 by
the dataset's true rewards.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from rlv.batches import Batches, ObservationBatch, PairedBatch, RobotBatch
from rlv.config import SACConfig
from rlv.errors import RlvError
from rlv.methods.sac import SAC
from rlv.methods.spec import AgentContext, MethodSpec, Streams
from rlv.nets import InverseModel
from rlv.transfer import DomainTransfer, TransferConfig
from rlv.transfer import config as transfer_config
from rlv.validation import at_least, positive, widths

if TYPE_CHECKING:
    from rlv.data.replay import ObservationSampler
    from rlv.observation import ObservationKind


@dataclass(frozen=True)
class RLVDataConfig:
    """RLV's own settings: the observation (video) data, the inverse model and the relabelling."""

    dataset: Path | None = None
    """Action-free observation dataset directory (see docs/dataset_format.md). Required for algo=rlv."""
    obs_batch_size: int = 256
    """Observation transitions per gradient step (stacked under the robot batch)."""
    max_episodes: int | None = None
    """Use only the first N episodes of the dataset (ablation: amount of observation data)."""
    idm_hidden: tuple[int, ...] = (64, 64, 64)
    """Hidden widths of the inverse dynamics model d(o, o') -> a."""
    idm_lr: float = 3e-4
    """Adam learning rate of the inverse dynamics model."""
    idm_dataset: Path | None = None
    """Robot transitions that keep their actions (an rlv dataset, e.g. the robot frames an encoder
    was pretrained on) that the inverse model also fits, `idm_dataset_batch_size` rows per step
    beside the replay's rows. None (the original): the replay's rows only. Its frames are env steps
    too: count them in the run's budget (docs/results.md, drawer opening)."""
    idm_dataset_batch_size: int = 256
    """Rows of --rlv.idm-dataset per inverse-model step."""
    reward_scale: float = 10.0
    """Relabelled reward of a done observation transition (the end of a successful video)."""
    reward_bottom: float = -1.0
    """Relabelled reward of every other observation transition."""
    action_source: Literal["idm", "oracle", "zero"] = "idm"
    """Actions for observation rows: inverse model (RLV), the dataset's true_actions (oracle), or zeros."""
    clip_labels: bool = False
    """Clip the inverse model's labels to the policy's action box [-1, 1]. Off (the original's
    behaviour): the critic is also trained on actions outside it (docs/results.md, drawer opening)."""
    reward_source: Literal["relabel", "true"] = "relabel"
    """Rewards for observation rows: the sparse relabel rule (RLV) or the dataset's ground-truth rewards."""
    timelimit_done: bool = False
    """Original quirk: the last transition of every episode is done (and gets `reward_scale`),
    also when the episode only hit the time limit."""


# Bases in this order so that RLV's own fields come first (--help, config.json), then TransferConfig's.
@dataclass(frozen=True)
class RLVConfig(TransferConfig, RLVDataConfig):
    """Settings specific to RLV: the observation (video) data, the inverse model and the relabelling,
    then the domain transfer of the shared image encoder."""


LABEL_SCORES = ("stat/idm_obs_action_mse", "stat/obs_action_chance_mse")
"""RLV's metrics that need videos with true actions (the inverse model's labels scored)."""


class RLV:
    """RLV: a SAC learner, an inverse dynamics model `idm` and the encoder's `transfer` terms."""

    METRICS = (
        *SAC.METRICS,
        "loss/idm",
        "stat/idm_obs_action_mse",
        "stat/obs_reward_mean",
        *DomainTransfer.METRICS,
        "stat/obs_action_chance_mse",
    )
    """Keys of the dict `update()` returns (train.csv's columns, in this order). Only with a dataset
    that keeps true actions: idm_obs_action_mse and obs_action_chance_mse (the MSE of always
    guessing the batch's mean true action: labels are useful only well below it). The transfer's
    keys: see `DomainTransfer.METRICS`."""

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
        self.transfer = DomainTransfer(
            config, feature_dim, self.device, self.embed_frames, image=encoder is not None
        )
        unused = set(DomainTransfer.METRICS) - set(self.transfer.metrics)
        self.METRICS = tuple(key for key in RLV.METRICS if key not in unused)
        """This agent's columns: the transfer's only where its options fill them."""
        self.act_dim = act_dim
        self.updates = 0
        """Gradient steps taken (the transfer's reversal ramp reads it; part of the state)."""

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Action for one observation; the policy is SAC's."""
        return self.sac.act(obs, deterministic)

    def update(self, batch: Batches) -> dict[str, float]:
        """One RLV gradient step on B robot rows and N observation rows (steps 1-5 above)."""
        robot, observation = batch.robot, batch.observations
        assert observation is not None, "RLV declares an observation stream"
        features, next_features = self.encode_union(robot, observation)
        robot_encoded, obs_encoded = split_union(features, next_features, len(robot.obs))
        action_hat, metrics = self.label_actions(observation, obs_encoded)  # 1
        reward_hat = self.relabel_rewards(observation)  # 2
        metrics |= self.update_inverse_model(robot, robot_encoded, batch.inverse)  # 3
        union = union_batch(robot, observation, action_hat, reward_hat)
        metrics |= self.update_sac(union, (features, next_features), robot, batch.paired)  # 4
        metrics |= self.after_encoder_step(features.detach(), len(robot.obs))  # 5
        return metrics | {"stat/obs_reward_mean": reward_hat.mean().item()}

    def encode_union(
        self, robot: RobotBatch, observation: ObservationBatch
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Features of the augmented union [s; o] with the encoder's graph and of [s'; o'] without,
        (B + N, feature_dim) each: one shared forward pass, as in the original."""
        return self.sac.encode(
            torch.cat([robot.obs, observation.obs]), torch.cat([robot.next_obs, observation.next_obs])
        )

    @torch.no_grad()
    def label_actions(
        self, observation: ObservationBatch, encoded: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Step 1: actions (N, act_dim) for the observation rows, by `config.action_source`, and,
        with a dataset that keeps true actions, their error against them. `encoded`: the rows'
        detached features (f(o), f(o')) when already computed (default: encode them)."""
        if self.config.action_source == "idm":
            obs_features, next_features = encoded or (
                self.features(observation.obs),
                self.features(observation.next_obs),
            )
            action_hat = self.idm(obs_features, next_features)
            if self.config.clip_labels:
                action_hat = action_hat.clamp(-1.0, 1.0)
        elif self.config.action_source == "zero":
            action_hat = torch.zeros(len(observation.obs), self.act_dim, device=self.device)
        elif observation.true_action is None:
            raise ValueError("action_source='oracle' needs a dataset with true_actions")
        else:
            action_hat = observation.true_action
        metrics: dict[str, float] = {}
        if observation.true_action is not None:
            true_action = observation.true_action
            metrics["stat/idm_obs_action_mse"] = F.mse_loss(action_hat, true_action).item()
            metrics["stat/obs_action_chance_mse"] = (
                (true_action - true_action.mean(dim=0)).pow(2).mean().item()
            )
        return action_hat, metrics

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
        self, robot: RobotBatch, encoded: Encoded | None = None, extra: ObservationBatch | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Step 3's loss: L_d = MSE(d(f(s), f(s')), a) on the B robot rows only (f not trained by
        it), and on the M `extra` robot rows of --rlv.idm-dataset (their true_action) when given.
        `encoded`: detached (f(s), f(s')), each (B, feature_dim), when already computed (default:
        encode the augmented rows)."""
        features, next_features = encoded or self.encode_augmented(robot.obs, robot.next_obs)
        action = robot.action
        if extra is not None:
            assert extra.true_action is not None, "the inverse model's dataset keeps its actions"
            extra_features, extra_next = self.encode_augmented(extra.obs, extra.next_obs)
            features, next_features = (
                torch.cat([features, extra_features]),
                torch.cat([next_features, extra_next]),
            )
            action = torch.cat([action, extra.true_action])
        predicted = self.idm(features, next_features)
        assert predicted.shape == action.shape, (predicted.shape, action.shape)
        loss = F.mse_loss(predicted, action)
        return loss, {"loss/idm": loss.item()}

    def encode_augmented(self, obs: torch.Tensor, next_obs: torch.Tensor) -> Encoded:
        """Detached features (rows, feature_dim) of augmented rows and of their next observations."""
        return self.features(self.sac.augment(obs)), self.features(self.sac.augment(next_obs))

    def update_inverse_model(
        self, robot: RobotBatch, encoded: Encoded | None = None, extra: ObservationBatch | None = None
    ) -> dict[str, float]:
        """Step 3: one step of the inverse model on L_d (robot rows, and the dataset's `extra` rows)."""
        loss, metrics = self.inverse_model_loss(robot, encoded, extra)
        self.idm_optim.zero_grad(set_to_none=True)
        loss.backward()
        self.idm_optim.step()
        return metrics

    def update_sac(
        self,
        union: RobotBatch,
        encoded: tuple[torch.Tensor, torch.Tensor],
        robot: RobotBatch,
        paired: PairedBatch | None,
    ) -> dict[str, float]:
        """Step 4: SAC on the union (B + N rows, `encoded`: its features with the encoder's graph
        and its next features); the encoder's step takes the critic's loss plus the transfer terms
        (on the B `robot` rows' actions and the `paired` frames)."""
        critic_loss, features, metrics = self.sac.critic_loss(union, encoded)
        transfer_loss, transfer_metrics = self.transfer_loss(robot, features, encoded[1], paired)
        self.sac.step_critic(critic_loss + transfer_loss)
        return metrics | transfer_metrics | self.sac.update_policy(features.detach())

    def transfer_loss(
        self,
        robot: RobotBatch,
        features: torch.Tensor,
        next_features: torch.Tensor,
        paired: PairedBatch | None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The transfer terms L_f on the union's features (B + N, feature_dim; with the encoder's
        graph) and next features (without), with the inverse model as the anchor's d."""
        return self.transfer.encoder_loss(
            features, next_features, robot.action, self.idm, paired, self.updates
        )

    def after_encoder_step(self, features: torch.Tensor, rows: int) -> dict[str, float]:
        """Step 5: the transfer step on the detached union features (B + N, feature_dim); counts
        the gradient step."""
        metrics = self.transfer.after_encoder_step(features, rows)
        self.updates += 1
        return metrics

    def embed_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Encoder features of augmented frames (P, H, W, 3) -> (P, feature_dim), with its graph."""
        return self.sac.encoder(self.sac.augment(frames))

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        """Shared-encoder features of observations, without gradient (inverse model inputs)."""
        with torch.no_grad():
            return self.sac.encoder(obs)

    def state_dict(self) -> dict[str, Any]:
        """SAC state plus the inverse model, its optimizer, the step count and the transfer's state
        (the discriminator and its optimizer, with alignment)."""
        return {
            "sac": self.sac.state_dict(),
            "idm": self.idm.state_dict(),
            "idm_optim": self.idm_optim.state_dict(),
            "updates": self.updates,
            **self.transfer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of `state_dict`."""
        self.sac.load_state_dict(state["sac"])
        self.idm.load_state_dict(state["idm"])
        self.idm_optim.load_state_dict(state["idm_optim"])
        self.updates = int(state.get("updates", 0))  # checkpoints before the counter existed: 0
        self.transfer.load_state_dict(state)


Encoded = tuple[torch.Tensor, torch.Tensor]
"""Detached features of some rows and of their next observations, (rows, feature_dim) each."""


def split_union(features: torch.Tensor, next_features: torch.Tensor, rows: int) -> tuple[Encoded, Encoded]:
    """The union's (B + N, feature_dim) features, detached, as (robot rows, observation rows): what
    the inverse model reads (its loss must not train the encoder)."""
    return (features[:rows].detach(), next_features[:rows]), (features[rows:].detach(), next_features[rows:])


def union_batch(
    robot: RobotBatch, observation: ObservationBatch, action_hat: torch.Tensor, reward_hat: torch.Tensor
) -> RobotBatch:
    """S = [s; o], A = [a; a^], R = [r; r^], D = [d; done]: the B + N rows SAC trains on."""
    return RobotBatch(
        obs=torch.cat([robot.obs, observation.obs]),
        action=torch.cat([robot.action, action_hat]),
        reward=torch.cat([robot.reward, reward_hat]),
        next_obs=torch.cat([robot.next_obs, observation.next_obs]),
        done=torch.cat([robot.done, observation.done]),
    )


RANGES = {
    "obs_batch_size": at_least(1),
    "max_episodes": at_least(1),
    "idm_hidden": widths,
    "idm_lr": positive,
    "idm_dataset_batch_size": at_least(1),
    **transfer_config.RANGES,
}
"""Allowed range of each RLV option (None values of optional ones are not checked)."""


def option_problems(options: RLVConfig) -> list[tuple[str, str]]:
    """RLV options that are each fine but cannot work together."""
    if options.dataset is None:
        return [("dataset", "RLV needs an observation dataset: --rlv.dataset DIR")]
    return transfer_config.option_problems(options)


def check(options: RLVConfig, obs: ObservationKind, sampler: ObservationSampler | None, env: str) -> None:
    """Refuse encoder options on state observations and ablations the dataset cannot feed."""
    problem = None if obs.image else transfer_config.image_only_problem(options, env)
    if problem is not None:
        raise RlvError(problem)
    assert sampler is not None, "RLV declares an observation stream"
    if options.action_source == "oracle" and sampler.true_action is None:
        raise RlvError(
            f"{options.dataset}: action_source=oracle needs true_actions, which this dataset lacks"
        )
    if options.reward_source == "true" and sampler.true_reward is None:
        raise RlvError(f"{options.dataset}: reward_source=true needs rewards, which this dataset lacks")


def streams(options: RLVConfig) -> Streams:
    """Robot replay + the observation dataset (+ paired frames, the inverse model's data: when given)."""
    return Streams(
        observations=options.dataset,
        obs_batch_size=options.obs_batch_size,
        max_episodes=options.max_episodes,
        timelimit_done=options.timelimit_done,
        paired=options.paired_dataset,
        paired_batch_size=options.paired_batch_size,
        inverse_data=options.idm_dataset,
        inverse_batch_size=options.idm_dataset_batch_size if options.idm_dataset else 0,
    )


def build(context: AgentContext) -> RLV:
    """RLV on the run's observations: SAC's encoder and augmentation, the inverse model on its features."""
    obs = context.obs
    agent = RLV(
        obs.vector_dim,
        context.act_dim,
        context.sac,
        context.options,
        context.device,
        obs.encoder(context.sac),
        obs.augment(context.sac),
    )
    if not context.videos_keep_actions:
        agent.METRICS = tuple(key for key in agent.METRICS if key not in LABEL_SCORES)
    return agent


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
