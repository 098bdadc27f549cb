"""Options of the domain transfer of a shared image encoder (`TransferConfig`), their ranges and the
combinations that cannot work. RLV's options (`--rlv.*`) include them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rlv.validation import Check, at_least, positive


@dataclass(frozen=True)
class TransferConfig:
    """How the shared image encoder is made to give robot and human frames features that transfer:
    adversarial alignment, paired-frame losses, temporal contrast and the inverse-model anchor."""

    alignment: Literal["none", "adversarial", "dann", "original"] = "none"
    """Adversarial domain alignment of image features: none; adversarial (flipped-label generator
    loss into the shared encoder); dann (by the book: gradient reversal with a weight ramped over
    the alignment ramp steps below and a spectrally normalised discriminator); original (the release's
    behaviour: the discriminator trains, the encoder never sees its gradient)."""
    generator_weight: float = 1.0
    """Weight of the generator (confusion) loss on the shared encoder, relative to its main loss (rlv
    train: the critic's; rlv pretrain: the inverse model's); with dann: the weight the ramp ends at."""
    alignment_ramp_steps: int = 5000
    """dann: gradient steps over which the reversal weight rises as 2 / (1 + exp(-10 p)) - 1."""
    paired_dataset: Path | None = None
    """Paired robot/human frames (rlv collect --paired) for the paired feature loss."""
    paired_weight: float = 1.0
    """Weight of the paired-frame feature MSE on the shared encoder, relative to its main loss."""
    paired_batch_size: int = 256
    """Paired frames per gradient step (also the negatives of the contrastive loss: P - 1 each)."""
    contrastive_weight: float = 0.0
    """Weight of the paired InfoNCE loss (time-contrastive-network style): each human frame's
    features must be closer (cosine) to its own robot frame's than to the batch's other robot
    frames, and vice versa. Needs the paired dataset; cannot be lowered by collapsing features."""
    contrastive_similarity: Literal["cosine", "distance"] = "cosine"
    """Similarity of the contrastive loss: cosine of the features, or minus their squared distance
    (which also makes paired features equal in size, as the critic and inverse model read them)."""
    contrastive_temperature: float = 0.1
    """Temperature of the contrastive and temporal InfoNCE losses."""
    temporal_weight: float = 0.0
    """Weight of the self-supervised temporal contrast on both domains' frames: f(o_t) must be
    closer to its own f(o_t+1) than to the other rows' next frames (no actions, no pairs)."""
    discriminator_lr: float = 3e-4
    """Adam learning rate of the domain discriminator."""
    scale_free_alignment: bool = False
    """Make the alignment losses blind to the features' scale: the discriminator sees features
    standardised over the batch (per dimension, with gradient) and the paired loss is divided by
    the features' batch variance. Without it the encoder can satisfy both by shrinking every
    feature toward one point (watch stat/feature_std)."""
    idm_encoder_weight: float = 0.0
    """Weight of the inverse-model loss on the shared image encoder (0: the encoder learns from the
    critic and alignment only, the inverse model reads detached features). >0: L_d on the robot rows
    also trains f through f(s), keeping motion in the features (an anchor against the collapse that
    alignment can cause; the original's inverse model trained its own encoder copy). Images only."""


RANGES: dict[str, Check] = {
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
"""Allowed range of each transfer option."""


def option_problems(options: TransferConfig) -> list[tuple[str, str]]:
    """Transfer options that are each fine but cannot work together."""
    if options.contrastive_weight > 0 and options.paired_dataset is None:
        return [("contrastive_weight", "needs paired frames: --rlv.paired-dataset DIR")]
    if options.contrastive_weight > 0 and options.paired_batch_size < 2:
        return [("paired_batch_size", "must be at least 2 for the contrastive loss (negatives)")]
    return []


def image_only_problem(options: TransferConfig, env: str) -> str | None:
    """Why these options cannot run on the state observations of `env` (they train an image
    encoder), or None."""
    if options.alignment != "none" or options.paired_dataset is not None:
        return f"environment {env!r} has state observations; domain alignment needs images"
    if options.idm_encoder_weight:
        return "--rlv.idm-encoder-weight needs an image task (it trains the encoder)"
    if options.temporal_weight:
        return "--rlv.temporal-weight needs an image task (it trains the encoder)"
    return None
