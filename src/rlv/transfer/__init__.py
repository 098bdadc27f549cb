"""Domain transfer of a shared image encoder between the robot's frames and the videos' (human)
frames: the losses (`losses`, each returning `(loss, metrics)`), the discriminator's owner
(`adversarial`), the step that combines them (`domain_transfer`), appearance randomisation and
the options (`TransferConfig`); the names below are the public ones. RLV uses it inside its
gradient step; `rlv pretrain` (and the transfer probe, which runs its trainer) uses it offline."""

from rlv.transfer.adversarial import DomainAdversary, reversal_weight
from rlv.transfer.appearance import AppearanceRandomisation
from rlv.transfer.config import TransferConfig
from rlv.transfer.domain_transfer import DomainTransfer
from rlv.transfer.losses import (
    feature_spread,
    info_nce_logits,
    inverse_model_anchor_loss,
    paired_contrastive_loss,
    paired_mse_loss,
    temporal_contrast_loss,
)

__all__ = [
    "AppearanceRandomisation",
    "DomainAdversary",
    "DomainTransfer",
    "TransferConfig",
    "feature_spread",
    "info_nce_logits",
    "inverse_model_anchor_loss",
    "paired_contrastive_loss",
    "paired_mse_loss",
    "reversal_weight",
    "temporal_contrast_loss",
]
