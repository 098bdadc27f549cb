"""The transfer terms on a shared encoder's features, each a function returning `(loss, metrics)`.

Features are (rows, feature_dim) tensors; a term's gradient reaches the encoder through whichever
of its inputs carry the encoder's graph. Weights are applied by the caller (`DomainTransfer`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

Metrics = dict[str, float]

FEATURE_EPS = 1e-6
"""Feature scale (std) below which the scale-free alignment stops rescaling: keeps it finite when
features do collapse to one point."""


def info_nce_logits(
    anchors: torch.Tensor, candidates: torch.Tensor, temperature: float, similarity: str = "cosine"
) -> torch.Tensor:
    """InfoNCE logits (P, P) of anchors (P, D) against candidates (P, D), over temperature:
    cosine similarity, or (`distance`) minus the squared Euclidean distance, which pulls the
    features themselves together, not only their directions."""
    if similarity == "distance":
        return -torch.cdist(anchors, candidates).pow(2) / temperature
    return F.normalize(anchors, dim=1) @ F.normalize(candidates, dim=1).T / temperature


def paired_contrastive_loss(
    human_features: torch.Tensor,
    robot_features: torch.Tensor,
    temperature: float = 0.1,
    similarity: str = "cosine",
) -> tuple[torch.Tensor, Metrics]:
    """L_nce: paired InfoNCE, time-contrastive-network style (Sermanet et al. 2018; van den Oord
    et al. 2018). human_features, robot_features (P, feature_dim), row i of both one state.
    z = f / ||f||, logits_ij = z_human_i . z_robot_j / T; L = mean of the cross-entropies of
    finding row i's partner, human->robot and robot->human (with similarity='distance',
    logits_ij = -||f_human_i - f_robot_j||^2 / T). Collapse cannot lower it: identical features
    give log P. Metrics: the loss and the top-1 human->robot retrieval accuracy of the batch."""
    logits = info_nce_logits(human_features, robot_features, temperature, similarity)
    targets = torch.arange(len(logits), device=logits.device)
    loss = 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))
    retrieval = (logits.detach().argmax(dim=1) == targets).float().mean().item()
    return loss, {"loss/contrastive": loss.item(), "stat/paired_retrieval": retrieval}


def paired_mse_loss(
    robot_features: torch.Tensor, human_features: torch.Tensor, scale_free: bool = False
) -> tuple[torch.Tensor, Metrics]:
    """The paper's paired loss: MSE(f(robot frame), f(human frame)) over P pairs, (P, feature_dim)
    each. `scale_free`: divided by the features' batch variance (their spread over states), so it
    cannot be lowered by shrinking every feature toward one point."""
    loss = F.mse_loss(robot_features, human_features)
    if scale_free:
        spread = torch.cat([robot_features, human_features]).var(dim=0).mean()
        loss = loss / (spread + FEATURE_EPS**2)
    return loss, {"loss/paired": loss.item()}


def temporal_contrast_loss(
    features: torch.Tensor, next_features: torch.Tensor, rows: int, temperature: float = 0.1
) -> tuple[torch.Tensor, Metrics]:
    """L_time: temporal contrast within each domain, self-supervised (no actions, no pairs):
    f(o_t) of a row must be closer to its own f(o_t+1) than to the other rows' next frames
    (other moments or other videos). features (B + N, feature_dim) with the encoder's graph,
    next_features (B + N, feature_dim) without (a fixed target, as in a momentum encoder);
    robot rows [:rows] and observation rows [rows:] are contrasted separately (InfoNCE each; a
    domain without rows adds nothing)."""
    loss = torch.zeros((), device=features.device)
    for part in (slice(0, rows), slice(rows, None)):
        if len(features[part]) == 0:  # no rows of this domain (pretraining without videos)
            continue
        logits = info_nce_logits(features[part], next_features[part], temperature)
        loss = loss + 0.5 * F.cross_entropy(logits, torch.arange(len(logits), device=logits.device))
    return loss, {"loss/temporal": loss.item()}


def inverse_model_anchor_loss(
    idm: nn.Module, features: torch.Tensor, next_features: torch.Tensor, action: torch.Tensor
) -> tuple[torch.Tensor, Metrics]:
    """The inverse-model anchor: L_d = MSE(d(f(s), f(s')), a) on B robot rows, with f(s)
    (B, feature_dim) carrying the encoder's graph and d frozen (its own step is elsewhere);
    next_features (B, feature_dim) are the step's gradient-free f(s'), action (B, act_dim).
    Keeps motion in the features: an anchor against the collapse that alignment can cause."""
    idm.requires_grad_(False)
    loss = F.mse_loss(idm(features, next_features), action)
    idm.requires_grad_(True)
    return loss, {}


def standardise(features: torch.Tensor) -> torch.Tensor:
    """Features (rows, feature_dim) standardised per dimension over the batch, (f - mean) / (std +
    eps), gradient included: what a scale-free discriminator reads."""
    return (features - features.mean(dim=0)) / (features.std(dim=0) + FEATURE_EPS)


def feature_spread(features: torch.Tensor, rows: int) -> Metrics:
    """Mean over feature dimensions of the batch std of features (B + N, feature_dim): of all rows,
    of the robot rows [:rows] and of the observation rows (near 0 = collapsed features)."""
    spread = {
        "stat/feature_std": features.std(dim=0).mean().item(),
        "stat/robot_feature_std": features[:rows].std(dim=0).mean().item(),
    }
    if len(features) - rows > 1:  # no observation rows when pretraining without videos
        spread["stat/obs_feature_std"] = features[rows:].std(dim=0).mean().item()
    return spread
