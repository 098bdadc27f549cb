"""The transfer step of a shared image encoder: every term on the encoder besides the task's own
loss, and what follows the encoder's optimizer step.

For B robot rows and N observation rows, with f the encoder (features carry its graph):

    L_f = w_gen L_gen + w_pair MSE(f(robot frame), f(human frame)) + w_nce L_nce
          + w_time L_time + w_idm MSE(d(f(s), f(s')), a)

(`rlv.transfer.losses`, `rlv.transfer.adversarial`); the caller adds L_f to its own loss of f
(RLV: the critic's) and steps the encoder once. Then `after_encoder_step` steps the discriminator
on the detached features and reports their spread. With alignment='original' every term is
computed on detached features, as in the release (logged, never moving the encoder).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from rlv.batches import PairedBatch
from rlv.transfer.adversarial import DomainAdversary
from rlv.transfer.config import TransferConfig
from rlv.transfer.losses import (
    Metrics,
    feature_spread,
    inverse_model_anchor_loss,
    paired_contrastive_loss,
    paired_mse_loss,
    temporal_contrast_loss,
)


class DomainTransfer:
    """The transfer terms of `config` on one encoder. `embed(frames)`: the encoder's features of
    augmented frames (P, H, W, 3) -> (P, feature_dim), with its graph (for paired frames);
    `image`: whether there is an encoder to report the spread of (state tasks have none)."""

    METRICS = (
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
    )
    """Keys of its metrics. Only with alignment: domain, generator, domain_accuracy,
    alignment_weight. Only with paired frames: paired, contrastive, paired_retrieval (top-1
    accuracy of finding each human frame's own robot frame among the batch's). Only with a temporal
    weight: temporal. Only with an image encoder: the feature_std family (mean over feature
    dimensions of the batch std, of all rows, robot rows and observation rows; near 0 = collapsed
    features)."""

    def __init__(
        self,
        config: TransferConfig,
        feature_dim: int,
        device: torch.device,
        embed: Callable[[torch.Tensor], torch.Tensor],
        image: bool,
    ) -> None:
        self.config = config
        self.embed = embed
        self.image = image
        self.device = device
        self.adversary = DomainAdversary(feature_dim, config, device) if config.alignment != "none" else None
        """Only with alignment: no unused RNG draws (and no discriminator in the state) without it."""

    @property
    def metrics(self) -> tuple[str, ...]:
        """The keys of METRICS this configuration fills (train.csv gets no always-empty column)."""
        config, paired = self.config, self.config.paired_dataset is not None
        filled = {
            "loss/domain": self.adversary is not None,
            "loss/generator": self.adversary is not None,
            "loss/paired": paired and config.paired_weight > 0,
            "stat/domain_accuracy": self.adversary is not None,
            "stat/alignment_weight": self.adversary is not None,
            "loss/contrastive": paired and (config.paired_weight > 0 or config.contrastive_weight > 0),
            "stat/paired_retrieval": paired and (config.paired_weight > 0 or config.contrastive_weight > 0),
            "loss/temporal": config.temporal_weight > 0,
        }
        return tuple(key for key in self.METRICS if filled.get(key, self.image))

    @property
    def effective(self) -> bool:
        """Whether the terms move the encoder (alignment='original' only logs them)."""
        return self.config.alignment != "original"

    def encoder_loss(
        self,
        features: torch.Tensor,
        next_features: torch.Tensor,
        action: torch.Tensor,
        idm: nn.Module,
        paired: PairedBatch | None,
        step: int,
    ) -> tuple[torch.Tensor, Metrics]:
        """L_f (above) and its metrics. features (B + N, feature_dim) carry the encoder's graph
        (robot rows first), next_features (B + N, feature_dim) do not; action (B, act_dim) are the
        robot rows' actions and idm the inverse model d (frozen here); `step`: gradient steps
        taken (the reversal ramp)."""
        rows = len(action)
        loss, metrics = self.alignment_loss(features, rows, paired, step)
        if self.config.temporal_weight > 0:
            temporal, temporal_metrics = temporal_contrast_loss(
                features, next_features, rows, self.config.contrastive_temperature
            )
            loss = loss + self.config.temporal_weight * temporal
            metrics |= temporal_metrics
        if self.config.idm_encoder_weight > 0:
            anchor, _ = inverse_model_anchor_loss(idm, features[:rows], next_features[:rows], action)
            loss = loss + self.config.idm_encoder_weight * anchor
        return loss, metrics

    def alignment_loss(
        self, features: torch.Tensor, rows: int, paired: PairedBatch | None, step: int
    ) -> tuple[torch.Tensor, Metrics]:
        """w_gen L_gen + w_pair MSE(f(robot), f(human)) + w_nce L_nce: the adversarial term (with
        alignment) and the paired terms (with a paired batch of P robot and P human frames)."""
        config = self.config
        loss = torch.zeros((), device=self.device)
        metrics: Metrics = {}
        if self.adversary is not None:
            loss, metrics = self.adversary.encoder_loss(
                features if self.effective else features.detach(), self.domain(features, rows), step
            )
        if paired is None or (config.paired_weight <= 0 and config.contrastive_weight <= 0):
            return loss, metrics
        robot_features, human_features = self.embed(paired.robot), self.embed(paired.human)
        if not self.effective:
            robot_features, human_features = robot_features.detach(), human_features.detach()
        if config.paired_weight > 0:
            paired_loss, paired_metrics = paired_mse_loss(
                robot_features, human_features, config.scale_free_alignment
            )
            loss = loss + config.paired_weight * paired_loss
            metrics |= paired_metrics
        contrastive, contrastive_metrics = paired_contrastive_loss(
            human_features, robot_features, config.contrastive_temperature, config.contrastive_similarity
        )
        if config.contrastive_weight > 0:
            loss = loss + config.contrastive_weight * contrastive
        return loss, metrics | contrastive_metrics

    def after_encoder_step(self, features: torch.Tensor, rows: int) -> Metrics:
        """After the encoder's step: the spread of the detached union features (B + N, feature_dim)
        and, with alignment, the discriminator's step on them."""
        metrics = feature_spread(features, rows) if self.image else {}
        if self.adversary is not None:
            metrics |= self.adversary.update(features, self.domain(features, rows))
        return metrics

    def domain(self, features: torch.Tensor, rows: int) -> torch.Tensor:
        """Domain labels (B + N,) of union rows: 0 for the robot rows [:rows], 1 for the others."""
        return torch.cat([torch.zeros(rows), torch.ones(len(features) - rows)]).to(self.device)

    def state_dict(self) -> dict[str, Any]:
        """The discriminator and its optimizer (with alignment), else nothing."""
        return self.adversary.state_dict() if self.adversary is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.adversary is not None:
            self.adversary.load_state_dict(state)
