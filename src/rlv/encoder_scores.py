"""Scores of a pretrained image encoder (and its inverse model) on held-out data, what `rlv pretrain`
prints and the transfer probe tabulates:

- `idm_{robot,video}_mse`: the inverse model's action MSE on held-out transitions (the videos'
  only when they keep their true actions) beside `chance_{robot,video}_mse`, the MSE of always
  guessing their mean action (labels below it carry information, at it they are noise);
- `retrieval_top1`: is each held-out human frame's own robot frame the nearest (cosine) among the
  held-out robot frames, beside `retrieval_chance` (1 / candidates);
- `state_{robot,video}_rmse`: a linear (ridge) probe of the true low-dimensional state, fitted on
  the features of some held-out robot episodes and applied to the other held-out robot episodes and
  to the held-out videos (when the datasets keep `states`), beside `state_chance_{robot,video}_rmse`,
  the RMSE of guessing the fitted episodes' mean state;
- `feature_std_{robot,video}`: the mean per-dimension spread of the features (near 0: collapsed).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from rlv.data.dataset import Dataset
from rlv.data.paired import PairedFrames
from rlv.encoders import encode_frames


def ridge(
    features: torch.Tensor, targets: torch.Tensor, strength: float = 1e-2
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A linear probe of features (M, D) -> targets (M, K): centre the features, fit by ridge
    regression with a penalty of `strength` times the mean feature variance (dimensions dead on
    these features get weight 0); returns predict(new features (M', D)) -> (M', K)."""
    mean, target_mean = features.mean(dim=0), targets.mean(dim=0)
    x = (features - mean).double()
    penalty = strength * x.pow(2).sum() / x.shape[1] + 1e-6  # positive for collapsed features too
    gram = x.T @ x + penalty * torch.eye(x.shape[1], dtype=x.dtype)
    weights = torch.linalg.solve(gram, x.T @ (targets - target_mean).double())

    def predict(new: torch.Tensor) -> torch.Tensor:
        return ((new - mean).double() @ weights).float() + target_mean

    return predict


def rmse(predicted: torch.Tensor, states: torch.Tensor) -> float:
    """Root of the mean (over M rows) squared Euclidean error of predictions (M, K)."""
    return float((predicted - states).pow(2).sum(dim=1).mean().sqrt())


def state_probe(
    fit: tuple[torch.Tensor, torch.Tensor], tests: dict[str, tuple[torch.Tensor, torch.Tensor]]
) -> dict[str, float]:
    """Fit a ridge probe on fit = (features (M, D), states (M, K)); for each test name -> (features
    (M', D), states (M', K)): `state_{name}_rmse` and `state_chance_{name}_rmse` (predicting the fit
    states' mean)."""
    predict = ridge(*fit)
    mean = fit[1].mean(dim=0, keepdim=True)
    scores = {}
    for name, (features, states) in tests.items():
        scores[f"state_{name}_rmse"] = rmse(predict(features), states)
        scores[f"state_chance_{name}_rmse"] = rmse(mean.expand_as(states), states)
    return scores


def _frames_and_states(dataset: Dataset) -> tuple[np.ndarray, torch.Tensor]:
    """Every observation (M, H, W, 3) of the dataset's episodes and their states (M, K)."""
    return (
        np.concatenate([episode.obs for episode in dataset.episodes]),
        torch.as_tensor(np.concatenate([episode.states for episode in dataset.episodes])),
    )


def has_states(dataset: Dataset | None) -> bool:
    """Whether every episode of a (non-empty) dataset keeps its states."""
    return bool(dataset and dataset.episodes and all(e.states is not None for e in dataset.episodes))


def state_scores(encoder: nn.Module, robot: Dataset, videos: Dataset | None) -> dict[str, float]:
    """The linear state probe on held-out episodes: fitted on the first half of the robot ones,
    scored on the other half and on the videos (when their states are as wide as the robot's).
    Nothing without robot states or with fewer than two held-out robot episodes."""
    if not has_states(robot) or len(robot.episodes) < 2:
        return {}
    cut = len(robot.episodes) // 2
    split = lambda dataset, episodes: Dataset(dataset.path, dataset.meta, episodes)  # noqa: E731
    encode = lambda frames: torch.as_tensor(encode_frames(encoder, frames))  # noqa: E731
    fit_frames, fit_states = _frames_and_states(split(robot, robot.episodes[:cut]))
    test_frames, test_states = _frames_and_states(split(robot, robot.episodes[cut:]))
    tests = {"robot": (encode(test_frames), test_states)}
    if videos is not None and has_states(videos):
        video_frames, video_states = _frames_and_states(videos)
        if video_states.shape[1] == fit_states.shape[1]:
            tests["video"] = (encode(video_frames), video_states)
    with torch.no_grad():
        return state_probe((encode(fit_frames), fit_states), tests)


def action_scores(encoder: nn.Module, idm: nn.Module, dataset: Dataset, name: str) -> dict[str, float]:
    """The inverse model's action MSE on every transition of `dataset` (held out), beside the MSE
    of always guessing their mean action, and the feature spread of its frames (M, out_dim)."""
    if not dataset.episodes or any(episode.true_actions is None for episode in dataset.episodes):
        return {}
    device = next(idm.parameters()).device
    encode = lambda frames: torch.as_tensor(encode_frames(encoder, frames)).to(device)  # noqa: E731
    obs = np.concatenate([episode.obs[:-1] for episode in dataset.episodes])
    next_obs = np.concatenate([episode.obs[1:] for episode in dataset.episodes])
    actions = torch.as_tensor(np.concatenate([episode.true_actions for episode in dataset.episodes]))
    with torch.no_grad():
        features = encode(obs)
        predicted = idm(features, encode(next_obs)).cpu()
    return {
        f"idm_{name}_mse": float((predicted - actions).pow(2).mean()),
        f"chance_{name}_mse": float((actions - actions.mean(dim=0)).pow(2).mean()),
        f"feature_std_{name}": float(features.std(dim=0).mean()),
    }


def retrieval_score(encoder: nn.Module, pairs: PairedFrames, limit: int = 512) -> dict[str, float]:
    """Top-1 accuracy of finding each held-out human frame's own robot frame (cosine) among the
    held-out robot frames (at most `limit`, each (H, W, 3)); chance is 1 / that many."""
    robot = torch.as_tensor(encode_frames(encoder, pairs.robot[:limit]))
    human = torch.as_tensor(encode_frames(encoder, pairs.human[:limit]))
    similarity = F.normalize(human, dim=1) @ F.normalize(robot, dim=1).T
    hits = (similarity.argmax(dim=1) == torch.arange(len(robot))).float().mean()
    return {"retrieval_top1": float(hits), "retrieval_chance": 1.0 / len(robot)}


def score_encoder(
    encoder: nn.Module,
    idm: nn.Module,
    robot: Dataset,
    videos: Dataset | None = None,
    pairs: PairedFrames | None = None,
) -> dict[str, float]:
    """The scores of the module docstring on held-out robot episodes, videos and pairs (what is
    given and keeps what a score needs)."""
    scores = action_scores(encoder, idm, robot, "robot")
    if videos is not None:
        scores |= action_scores(encoder, idm, videos, "video")
    if pairs is not None and len(pairs.robot) >= 2:
        scores |= retrieval_score(encoder, pairs)
    return scores | state_scores(encoder, robot, videos)


SCORE_LINES = (
    ("idm_robot_mse", "chance_robot_mse", "inverse-model action MSE on held-out robot transitions"),
    ("idm_video_mse", "chance_video_mse", "inverse-model action MSE on held-out video transitions"),
    ("retrieval_top1", "retrieval_chance", "paired retrieval top-1 (human frame -> its robot frame)"),
    ("state_robot_rmse", "state_chance_robot_rmse",
     "linear state probe RMSE on held-out robot frames (ridge fitted on other held-out robot frames)"),
    ("state_video_rmse", "state_chance_video_rmse", "linear state probe RMSE on held-out video frames"),
    ("feature_std_robot", None, "feature spread, robot frames (mean per-dimension std)"),
    ("feature_std_video", None, "feature spread, video frames"),
)  # fmt: skip
"""(score, its chance level or None, what it is): the lines `score_lines` prints, in order."""


def score_lines(scores: dict[str, float], has_videos: bool) -> list[str]:
    """One indented line per score (beside its chance level where it has one); scores the data
    could not give are left out, with a note when the videos keep no true actions."""
    lines = []
    for key, chance, text in SCORE_LINES:
        if key in scores:
            against = f" (chance {scores[chance]:.4f})" if chance and chance in scores else ""
            lines.append(f"  {text}: {scores[key]:.4f}{against}")
    if "idm_video_mse" not in scores and has_videos:
        lines.append("  (the videos keep no true actions: no label error on them)")
    return lines
