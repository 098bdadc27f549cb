"""GAIfO baseline: generative adversarial imitation from observation (Torabi, Warnell & Stone,
"Generative Adversarial Imitation from Observation", 2018, arXiv:1807.06158), off-policy on SAC.

The paper's game (its Algorithm 1, after GAIL, Ho & Ermon 2016) between a policy and
a discriminator on state transitions (s, s'), without expert actions:

    min_pi max_D  E_pi[log D_I(s, s')] + E_expert[log(1 - D_I(s, s'))],   cost of pi: log D_I(s, s')

with D_I the probability of 'imitator'. Here D = 1 - D_I = sigmoid(logit(s, s')) is the probability
of 'expert' (videos' transitions labelled 1). One gradient step, for B robot rows (replay) and N
expert rows (the observation dataset; only o and o' are read):

    1. L_D = BCE(D(o, o'), 1) + BCE(D(s, s'), 0)       each the mean over its own rows
             + w_gp E_x^[(||grad_x^ logit(x^)||_2 - 1)^2],  x^ = e x_expert + (1 - e) x_robot, e ~ U(0, 1)
       (the gradient penalty of Gulrajani et al. 2017 as DAC uses it, Kostrikov et al. 2019; or
       spectral normalisation of every layer of D, Miyato et al. 2018; or nothing); step D.
    2. r^ = R(logit(s, s')) for the robot rows, with the stepped D and without gradient:
       log-odds  R = log D - log(1 - D) = logit        (default; zero-centred, AIRL's form)
       gaifo     R = -log(1 - D) = softplus(logit)      (the paper's cost negated; always > 0)
       log-d     R = log D = -softplus(-logit)          (always < 0)
    3. SAC step (critic, actor, temperature, targets; rlv.methods.sac) on the robot rows
       (s, a, r^, s', d): the environment's reward is never read.

Inputs of D: state tasks, [s, s'] (B, 2 obs_dim) into an MLP. Image tasks, o and o' stacked on
the channel axis (B, H, W, 6) uint8, randomly shifted together (one offset for both frames, so the
motion between them stays; the `--sac.augment` / `--sac.shift-pad` settings, no appearance
randomisation), scaled to [-1, 1], then D's own conv layers (`--sac.conv-channels`,
`--sac.conv-kernel`) and MLP: D does not share SAC's encoder, whose features the critic shapes for
Q-values and would shift under D. The reward of step 2 reads the transitions unshifted.

Deviations from the paper, all of them:
- Off-policy. The paper alternates TRPO steps and discriminator steps on fresh on-policy
  rollouts; here SAC learns from the replay and D contrasts the expert rows with replay rows, i.e.
  with the mixture of past policies, one D step per SAC step (as DAC and other off-policy
  adversarial imitation methods do). Rewards are not stored: every step recomputes r^ from the
  current D, so old transitions are rewarded by the newest discriminator.
- D is regularised (gradient penalty by default); the paper describes no regulariser.
- The reward form is an option; the paper's is `gaifo`. The default `log-odds` has no sign bias.
- Terminal states. Robot rows keep their own done flag (true terminations only; a time-limit end
  is not done), and SAC bootstraps nothing after a terminal: the absorbing state is worth 0.
  So with `gaifo` (positive rewards) ending an episode forgoes reward and the agent learns to avoid
  it, with `log-d` (negative) to seek it; `log-odds` rewards terminating only when the transitions
  it skips would look un-expert-like. DAC's learned reward for an absorbing state is not
  implemented. The expert rows' done flags are unused: D sees every (o, o'), a video's last too.

As in the paper, D judges (s, s') and never an action: nothing labels the videos' actions (that is
RLV's inverse model, rlv.methods.rlv), and the videos' rewards and done flags are never read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from rlv.batches import Batches, ObservationBatch, RobotBatch
from rlv.config import SACConfig
from rlv.methods.sac import SAC
from rlv.methods.spec import AgentContext, MethodSpec, Streams
from rlv.nets import RandomShift, TransitionDiscriminator
from rlv.observation import ObservationKind
from rlv.validation import at_least, positive, widths


@dataclass(frozen=True)
class GAIfOConfig:
    """Settings specific to GAIfO: the expert observation data and the transition discriminator
    whose output replaces the environment's reward (rlv.methods.gaifo)."""

    dataset: Path | None = None
    """Action-free observation dataset directory of expert transitions (see docs/dataset_format.md).
    Required for algo=gaifo."""
    obs_batch_size: int = 256
    """Expert observation transitions per discriminator step."""
    max_episodes: int | None = None
    """Use only the first N episodes of the dataset (ablation: amount of observation data)."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden widths of the discriminator's MLP D(o, o') (after its own conv layers on images)."""
    lr: float = 3e-4
    """Adam learning rate of the discriminator."""
    reward: Literal["log-odds", "gaifo", "log-d"] = "log-odds"
    """Reward of a robot transition from D = P(expert | s, s'): log-odds = log D - log(1 - D)
    (zero-centred, no bias for or against ending episodes); gaifo = -log(1 - D), the paper's cost
    log D_imitator negated (always positive: rewards living long); log-d = log D (always negative:
    rewards ending episodes early)."""
    regulariser: Literal["gradient-penalty", "spectral-norm", "none"] = "gradient-penalty"
    """Keeps D smooth so its reward stays informative: gradient-penalty (Gulrajani et al. 2017,
    on interpolations of expert and robot transitions, as in DAC); spectral-norm (every layer of D
    spectrally normalised, Miyato et al. 2018); none."""
    gradient_penalty_weight: float = 10.0
    """Weight of the gradient penalty (regulariser=gradient-penalty)."""


class GAIfO:
    """A SAC learner rewarded by a transition discriminator D(o, o') trained against expert videos."""

    METRICS = (
        *SAC.METRICS,
        "loss/discriminator",
        "loss/gradient_penalty",
        "stat/discriminator_accuracy",
        "stat/expert_probability",
        "stat/robot_probability",
        "stat/gaifo_reward_mean",
        "stat/env_reward_mean",
    )
    """Keys of the dict `update()` returns. discriminator: the BCE part of L_D; gradient_penalty
    (only with that regulariser): the penalty before its weight; discriminator_accuracy: the
    fraction of expert and robot rows (averaged per side) D classifies right; expert_probability,
    robot_probability: mean D on each side; gaifo_reward_mean: mean r^ given to SAC;
    env_reward_mean: the environment's mean reward of the same robot rows (logged, never learned)."""

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        act_dim: int,
        sac_config: SACConfig,
        config: GAIfOConfig,
        device: str = "cpu",
        encoder: nn.Module | None = None,
        augment: nn.Module | None = None,
        pair_augment: nn.Module | None = None,
    ) -> None:
        self.config = config
        if config.regulariser != "gradient-penalty":
            self.METRICS = tuple(key for key in GAIfO.METRICS if key != "loss/gradient_penalty")
        obs = ObservationKind(tuple(obs_shape))
        self.sac = SAC(obs.vector_dim, act_dim, sac_config, device, encoder, augment)
        self.device = self.sac.device
        self.discriminator = TransitionDiscriminator(
            obs_shape,
            obs.image,
            config.hidden,
            spectral_norm=config.regulariser == "spectral-norm",
            channels=sac_config.conv_channels,
            kernel=sac_config.conv_kernel,
        ).to(self.device)
        self.discriminator_optim = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr)
        self.pair_augment = pair_augment or nn.Identity()
        """Training-time augmentation of stacked (o, o') pairs (images: one shift for both frames)."""

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Action for one observation; the policy is SAC's."""
        return self.sac.act(obs, deterministic)

    def update(self, batch: Batches) -> dict[str, float]:
        """One GAIfO gradient step on B robot rows and N expert rows (steps 1-3 above)."""
        expert = batch.observations
        assert expert is not None, "GAIfO declares an observation stream"
        metrics = self.update_discriminator(batch.robot, expert)
        reward = self.rewards(batch.robot)
        metrics |= self.sac.update(Batches(batch.robot._replace(reward=reward)))
        metrics["stat/gaifo_reward_mean"] = reward.mean().item()
        metrics["stat/env_reward_mean"] = batch.robot.reward.mean().item()
        return metrics

    def discriminator_inputs(self, obs: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        """D's scaled, augmented input of transitions: (rows, 2 obs_dim) or (rows, 6, H, W)."""
        return self.discriminator.scale(self.pair_augment(self.discriminator.stack(obs, next_obs)))

    def discriminator_loss(
        self, robot: RobotBatch, expert: ObservationBatch
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Step 1's L_D: expert rows (N) labelled 1, robot rows (B) labelled 0, each side's BCE a
        mean over its rows, plus the weighted gradient penalty with that regulariser."""
        expert_inputs = self.discriminator_inputs(expert.obs, expert.next_obs)
        robot_inputs = self.discriminator_inputs(robot.obs, robot.next_obs)
        expert_logits = self.discriminator.logits(expert_inputs)  # (N,)
        robot_logits = self.discriminator.logits(robot_inputs)  # (B,)
        assert expert_logits.shape == (len(expert.obs),), expert_logits.shape
        bce = F.binary_cross_entropy_with_logits(
            expert_logits, torch.ones_like(expert_logits)
        ) + F.binary_cross_entropy_with_logits(robot_logits, torch.zeros_like(robot_logits))
        accuracy = 0.5 * ((expert_logits > 0).float().mean() + (robot_logits < 0).float().mean())
        metrics = {
            "loss/discriminator": bce.item(),
            "stat/discriminator_accuracy": accuracy.item(),
            "stat/expert_probability": torch.sigmoid(expert_logits).mean().item(),
            "stat/robot_probability": torch.sigmoid(robot_logits).mean().item(),
        }
        loss = bce
        if self.config.regulariser == "gradient-penalty":
            penalty = self.gradient_penalty(expert_inputs.detach(), robot_inputs.detach())
            loss = loss + self.config.gradient_penalty_weight * penalty
            metrics["loss/gradient_penalty"] = penalty.item()
        return loss, metrics

    def gradient_penalty(self, expert_inputs: torch.Tensor, robot_inputs: torch.Tensor) -> torch.Tensor:
        """E[(||grad logit(x^)||_2 - 1)^2] on x^ = e x_expert + (1 - e) x_robot, e ~ U(0, 1) per row,
        over the first min(N, B) rows of each side (both are uniform samples); inputs scaled."""
        rows = min(len(expert_inputs), len(robot_inputs))
        shape = (rows,) + (1,) * (expert_inputs.dim() - 1)
        mix = torch.rand(shape, device=self.device)
        mixed = (mix * expert_inputs[:rows] + (1.0 - mix) * robot_inputs[:rows]).requires_grad_(True)
        (gradient,) = torch.autograd.grad(self.discriminator.logits(mixed).sum(), mixed, create_graph=True)
        return (gradient.flatten(1).norm(dim=1) - 1.0).pow(2).mean()

    def update_discriminator(self, robot: RobotBatch, expert: ObservationBatch) -> dict[str, float]:
        """Step the discriminator on L_D (SAC's networks get no gradient from it)."""
        loss, metrics = self.discriminator_loss(robot, expert)
        self.discriminator_optim.zero_grad(set_to_none=True)
        loss.backward()
        self.discriminator_optim.step()
        return metrics

    @torch.no_grad()
    def rewards(self, robot: RobotBatch) -> torch.Tensor:
        """Step 2: r^ (B,) of the robot rows' unaugmented transitions under the current D."""
        return reward_of_logits(self.discriminator(robot.obs, robot.next_obs), self.config.reward)

    def state_dict(self) -> dict[str, Any]:
        """SAC state plus the discriminator and its optimizer."""
        return {
            "sac": self.sac.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "discriminator_optim": self.discriminator_optim.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of `state_dict`."""
        self.sac.load_state_dict(state["sac"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.discriminator_optim.load_state_dict(state["discriminator_optim"])


def reward_of_logits(logits: torch.Tensor, form: str) -> torch.Tensor:
    """R(logit) of step 2, D = sigmoid(logit): log-odds logit; gaifo -log(1 - D) = softplus(logit);
    log-d log D = -softplus(-logit) (both computed stably)."""
    if form == "log-odds":
        return logits
    if form == "gaifo":
        return F.softplus(logits)
    if form == "log-d":
        return -F.softplus(-logits)
    raise ValueError(f"unknown GAIfO reward form {form!r}")


RANGES = {
    "obs_batch_size": at_least(1),
    "max_episodes": at_least(1),
    "hidden": widths,
    "lr": positive,
    "gradient_penalty_weight": at_least(0),
}
"""Allowed range of each GAIfO option (None values of optional ones are not checked)."""


def option_problems(options: GAIfOConfig) -> list[tuple[str, str]]:
    """GAIfO cannot run without its expert data."""
    if options.dataset is None:
        return [("dataset", "GAIfO needs an observation dataset: --gaifo.dataset DIR")]
    return []


def streams(options: GAIfOConfig) -> Streams:
    """Robot replay + the expert observation dataset (its done flags are not used)."""
    return Streams(
        observations=options.dataset, obs_batch_size=options.obs_batch_size, max_episodes=options.max_episodes
    )


def build(context: AgentContext) -> GAIfO:
    """GAIfO on the run's observations: SAC's encoder and augmentation as for SAC; for images the
    discriminator's pairs get a random shift of their own (one offset for o and o')."""
    obs, sac = context.obs, context.sac
    pair_augment = None
    if obs.image:
        pair_augment = RandomShift(
            sac.shift_pad if sac.augment != "none" else 0, per_sample=sac.augment == "shift"
        )
    return GAIfO(
        obs.shape,
        context.act_dim,
        sac,
        context.options,
        context.device,
        obs.encoder(sac),
        obs.augment(sac),
        pair_augment,
    )


METHOD = MethodSpec(
    name="gaifo",
    summary="GAIfO baseline: SAC rewarded by a discriminator of video vs robot transitions, no env reward.",
    build=build,
    options=GAIfOConfig,
    streams=streams,
    ranges=RANGES,
    problems=option_problems,
)
