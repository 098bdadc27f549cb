"""Adversarial domain alignment (Ganin & Lempitsky 2015; the RLV paper's alignment): a domain
discriminator D(f) -> logit of 'observation (video) domain', and the generator term on the encoder.

`DomainAdversary` owns D, its optimizer and the gradient-reversal ramp. Per gradient step, with
features (B + N, feature_dim) of robot rows then observation rows and domain (B + N,) = 0 robot,
1 observation:

    encoder side (`encoder_loss`):      adversarial:  w BCE(D(f), 1 - domain)   (flipped labels)
                                        dann:        -w_p BCE(D(f), domain)     (gradient reversal)
    discriminator side (`update`):      BCE(D(f.detach()), domain)

with w_p = w (2 / (1 + exp(-10 p)) - 1), p = step / ramp_steps capped at 1.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.nn import functional as F  # noqa: N812

from rlv.nets import Discriminator
from rlv.transfer.config import TransferConfig
from rlv.transfer.losses import Metrics, standardise


def reversal_weight(step: int, ramp_steps: int, final_weight: float) -> float:
    """The gradient-reversal weight after `step` gradient steps: final_weight (2 / (1 + exp(-10 p))
    - 1), p = step / ramp_steps capped at 1 (0 at the start, final_weight once ramped)."""
    progress = min(step / max(ramp_steps, 1), 1.0)
    return final_weight * (2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0)


class DomainAdversary:
    """The domain discriminator of a shared encoder's features, its Adam optimizer and the
    generator term the encoder minimises (`config.alignment`: adversarial, dann or original)."""

    def __init__(self, feature_dim: int, config: TransferConfig, device: torch.device) -> None:
        self.config = config
        self.discriminator = Discriminator(feature_dim, spectral_norm=config.alignment == "dann").to(device)
        self.discriminator_optim = torch.optim.Adam(
            self.discriminator.parameters(), lr=config.discriminator_lr
        )

    def inputs(self, features: torch.Tensor) -> torch.Tensor:
        """What D sees of features (rows, feature_dim): as they are, or with `scale_free_alignment`
        standardised per dimension over the batch, gradient included."""
        return standardise(features) if self.config.scale_free_alignment else features

    def encoder_loss(
        self, features: torch.Tensor, domain: torch.Tensor, step: int
    ) -> tuple[torch.Tensor, Metrics]:
        """L_gen, weighted, with D frozen (its parameters get no gradient); features (B + N,
        feature_dim) carry the encoder's graph, `step` is the gradient steps taken (the ramp)."""
        self.discriminator.requires_grad_(False)
        logits = self.discriminator(self.inputs(features))
        self.discriminator.requires_grad_(True)
        if self.config.alignment == "dann":
            weight = reversal_weight(step, self.config.alignment_ramp_steps, self.config.generator_weight)
            generator = F.binary_cross_entropy_with_logits(logits, domain)
            loss = -weight * generator  # the encoder ascends what the discriminator descends
        else:
            weight = self.config.generator_weight
            generator = F.binary_cross_entropy_with_logits(logits, 1.0 - domain)
            loss = weight * generator
        return loss, {"loss/generator": generator.item(), "stat/alignment_weight": weight}

    def update(self, features: torch.Tensor, domain: torch.Tensor) -> Metrics:
        """One step of D on BCE(D(f), domain), features (B + N, feature_dim); no gradient reaches
        the encoder."""
        logits = self.discriminator(self.inputs(features.detach()))
        loss = F.binary_cross_entropy_with_logits(logits, domain)
        self.discriminator_optim.zero_grad(set_to_none=True)
        loss.backward()
        self.discriminator_optim.step()
        accuracy = ((logits > 0).float() == domain).float().mean()
        return {"loss/domain": loss.item(), "stat/domain_accuracy": accuracy.item()}

    def state_dict(self) -> dict[str, Any]:
        return {
            "discriminator": self.discriminator.state_dict(),
            "discriminator_optim": self.discriminator_optim.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.discriminator.load_state_dict(state["discriminator"])
        self.discriminator_optim.load_state_dict(state["discriminator_optim"])
