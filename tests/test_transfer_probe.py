"""The transfer probe (rlv.experiments.probe) on `rlv pretrain`'s trainer: every method maps onto
PretrainConfig, its data are `rlv collect` datasets made once and reused, and a tiny run scores
every method on pointmass (and on the paper's push, where Meta-World is installed)."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from rlv.data.dataset import load_dataset
from rlv.errors import RlvError
from rlv.experiments.probe import (
    PROBE_METHODS,
    ProbeConfig,
    ProbeData,
    ProbeMethod,
    make_probe_data,
    method_config,
    run_probe,
)
from rlv.pretrain import check_pretrain_config

TINY = {"robot_episodes": 4, "human_episodes": 4, "paired": 60, "heldout": 0.5, "updates": 3, "batch_size": 8}
SCORES = {
    "idm_robot_mse", "chance_robot_mse", "idm_video_mse", "chance_video_mse", "retrieval_top1",
    "retrieval_chance", "state_robot_rmse", "state_chance_robot_rmse", "state_video_rmse",
    "state_chance_video_rmse", "feature_std_robot", "feature_std_video",
}  # fmt: skip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[ProbeConfig, ProbeData]:
    config = ProbeConfig(work=tmp_path_factory.mktemp("probe"), **TINY)
    return config, make_probe_data(config, ("robot", "humanlike"))


def test_every_probe_method_is_a_valid_pretrain_config(tmp_path: Path) -> None:
    config = ProbeConfig(work=tmp_path, anchor_weight=0.5)
    (tmp_path / "pointmass").mkdir()
    data = ProbeData({"robot": tmp_path / "r", "humanlike": tmp_path / "h"}, tmp_path / "v", tmp_path / "p")
    for method in PROBE_METHODS:
        pretrain_config = method_config(config, method, data)
        check_pretrain_config(pretrain_config)
        for name, value in method.pretrain.items():
            assert getattr(pretrain_config, name) == value
        assert pretrain_config.robot == data.robot[method.robot_domain]
    none = method_config(config, PROBE_METHODS[0], data)  # the base: the anchor and no transfer term
    assert (none.temporal_weight, none.paired_weight, none.contrastive_weight) == (0.0, 0.0, 0.0)
    assert none.alignment == "none" and none.idm_encoder_weight == 0.5
    assert (none.conv_channels, none.conv_kernel, none.batch_size) == ((8, 16, 16), 3, 32)  # pointmass-rlv's
    with pytest.raises(RlvError, match=r"no PretrainConfig fields \['critic_weight'\]"):
        method_config(config, ProbeMethod("bad", "", {"critic_weight": 1.0}), data)


def test_probe_data_are_collected_datasets_made_once(tiny: tuple[ProbeConfig, ProbeData]) -> None:
    config, data = tiny
    robot, humanlike = load_dataset(data.robot["robot"]), load_dataset(data.robot["humanlike"])
    videos = load_dataset(data.videos)
    assert robot.meta["source"] == "rlv collect --policy expert" and robot.meta["has_states"]
    assert videos.meta["domain"] == "human" and videos.meta["has_true_actions"] and videos.meta["has_states"]
    assert humanlike.meta["domain"] == "humanlike"
    for a, b in zip(robot.episodes, humanlike.episodes, strict=True):  # the same episodes, restyled
        np.testing.assert_array_equal(a.states, b.states)
        assert not np.array_equal(a.obs, b.obs)
    written = {path: (path / "meta.json").stat().st_mtime_ns for path in data.robot.values()}
    assert make_probe_data(config, ("robot", "humanlike")) == data  # reused, not collected again
    assert {path: (path / "meta.json").stat().st_mtime_ns for path in data.robot.values()} == written
    other = make_probe_data(dataclasses.replace(config, robot_policy="random"))
    assert other.videos == data.videos and other.robot["robot"] != data.robot["robot"]
    assert load_dataset(other.robot["robot"]).meta["source"] == "rlv collect --policy random"


def test_tiny_probe_scores_every_method(tiny: tuple[ProbeConfig, ProbeData]) -> None:
    config, data = tiny
    chosen = [m for m in PROBE_METHODS if m.name in ("none", "contrastive", "humanlike", "dann_appearance")]
    rows = run_probe(config, chosen, data)
    assert [row["method"] for row in rows] == [m.name for m in chosen]
    for row in rows:
        assert set(row) == SCORES | {"method", "seconds"}
        assert all(np.isfinite(row[key]) for key in SCORES)
        assert 0 <= row["retrieval_top1"] <= 1 and row["chance_video_mse"] > 0
        assert row["state_chance_robot_rmse"] > 0 and row["state_chance_video_rmse"] > 0
    assert rows[0] != rows[1]  # the contrastive term changes the encoder
    again = run_probe(config, chosen[:1], data)[0]  # seeded: the same scores again
    assert {k: again[k] for k in SCORES} == {k: rows[0][k] for k in SCORES}


@pytest.mark.skipif(importlib.util.find_spec("metaworld") is None, reason="Meta-World not installed")
def test_tiny_probe_on_push(tmp_path: Path) -> None:
    changes = {"robot_episodes": 4, "human_episodes": 2, "paired": 20, "batch_size": 4, "feature_dim": 8}
    config = dataclasses.replace(ProbeConfig(env="push", work=tmp_path, **TINY), **changes)
    [row] = run_probe(config, [PROBE_METHODS[0]])
    assert set(row) == SCORES | {"method", "seconds"} and all(np.isfinite(row[key]) for key in SCORES)
    robot = load_dataset(config.work / "push" / "robot-robot-expert0.5-n4-seed1")
    assert robot.episodes[0].states.shape == (101, 39)
