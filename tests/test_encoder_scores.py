"""The encoder's held-out scores (rlv.encoder_scores): the ridge probe and the linear state probe on
features whose answer is known, and the state probe's choice of held-out episodes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rlv.data.dataset import Dataset, Episode
from rlv.encoder_scores import ridge, score_lines, state_probe, state_scores
from rlv.nets import ImageEncoder


def test_ridge_recovers_a_linear_map() -> None:
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(500, 8, generator=generator)
    features[:, 3] = 0.0  # a dead dimension
    targets = features @ torch.randn(8, 2, generator=generator) + 0.5
    predict = ridge(features, targets, strength=1e-6)
    torch.testing.assert_close(predict(features), targets, atol=1e-3, rtol=1e-3)


def states_and_features(rows: int, seed: int, mixing: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    states = torch.rand(rows, 3, generator=generator) * 2 - 1
    return states @ mixing + 0.1, states


def test_state_probe_is_near_zero_on_linear_features_and_chance_on_noise() -> None:
    mixing = torch.randn(3, 16, generator=torch.Generator().manual_seed(1))
    fit_features, fit_states = states_and_features(400, 2, mixing)
    test_features, test_states = states_and_features(300, 3, mixing)
    noise = torch.randn(300, 16, generator=torch.Generator().manual_seed(4))
    scores = state_probe(
        (fit_features, fit_states), {"robot": (test_features, test_states), "video": (noise, test_states)}
    )
    chance = scores["state_chance_robot_rmse"]
    assert chance == pytest.approx(1.0, rel=0.1)  # 3 dims uniform in [-1, 1]: sqrt(3 / 3)
    assert scores["state_robot_rmse"] < 0.02 * chance  # features = a linear function of the states
    assert scores["state_video_rmse"] > 0.9 * chance  # unrelated features: no better than the mean
    assert scores["state_chance_video_rmse"] == chance  # same states, same fitted mean
    fit_noise = torch.randn(400, 16, generator=torch.Generator().manual_seed(5))
    random = state_probe((fit_noise, fit_states), {"robot": (noise, test_states)})  # fitted on noise too
    assert 0.95 * chance < random["state_robot_rmse"] < 1.1 * chance


def frames_dataset(episodes: int, with_states: bool = True, width: int = 2) -> Dataset:
    rng = np.random.default_rng(0)
    made = [
        Episode(
            obs=rng.integers(0, 255, size=(6, 16, 16, 3), dtype=np.uint8),
            success=False,
            states=rng.normal(size=(6, width)).astype(np.float32) if with_states else None,
        )
        for _ in range(episodes)
    ]
    return Dataset(Path("held-out"), {"obs_shape": [16, 16, 3], "obs_dtype": "uint8"}, made)


def test_state_scores_need_robot_states_and_two_episodes() -> None:
    torch.manual_seed(0)
    encoder = ImageEncoder((16, 16, 3), channels=(4,), kernel=3, feature_dim=8)
    scores = state_scores(encoder, frames_dataset(4), frames_dataset(3))
    assert set(scores) == {
        "state_robot_rmse",
        "state_chance_robot_rmse",
        "state_video_rmse",
        "state_chance_video_rmse",
    }
    assert all(np.isfinite(value) and value > 0 for value in scores.values())
    assert state_scores(encoder, frames_dataset(1), frames_dataset(3)) == {}  # nothing to fit and test
    assert state_scores(encoder, frames_dataset(4, with_states=False), frames_dataset(3)) == {}
    robot_only = state_scores(encoder, frames_dataset(4), frames_dataset(3, width=5))  # another width
    assert set(robot_only) == {"state_robot_rmse", "state_chance_robot_rmse"}
    assert set(state_scores(encoder, frames_dataset(4), frames_dataset(3, with_states=False))) == set(
        robot_only
    )


def test_score_lines_show_the_state_probe_beside_chance() -> None:
    scores = {"state_robot_rmse": 0.1, "state_chance_robot_rmse": 0.5, "idm_robot_mse": 0.2}
    lines = score_lines(scores, has_videos=True)
    assert any("linear state probe RMSE on held-out robot frames" in line and "(chance 0.5000)" in line
               for line in lines)  # fmt: skip
    assert lines[-1] == "  (the videos keep no true actions: no label error on them)"
    assert not any("video frames" in line for line in lines)
