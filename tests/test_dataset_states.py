"""True low-dimensional states in datasets: the optional `states` array round-trips, is validated
like true_actions, is recorded by `rlv collect` (scripted expert, random policy) where the env's
info has a "state", and datasets without it (older ones included) load unchanged."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from rlv.collect.commands import CollectArgs, collect_from_args
from rlv.data.dataset import Episode, load_dataset, write_dataset
from rlv.envs.pointmass import STEP_SCALE
from rlv.errors import RlvError

OLD_DATASET = Path(__file__).parent / "fixtures" / "runs_bbef211" / "data" / "pm_human"
needs_metaworld = pytest.mark.skipif(
    importlib.util.find_spec("metaworld") is None, reason="Meta-World not installed"
)


def episode(length: int = 5, width: int = 3, seed: int = 0, states: bool = True) -> Episode:
    rng = np.random.default_rng(seed)
    return Episode(
        obs=rng.normal(size=(length + 1, 4)).astype(np.float32),
        success=False,
        true_actions=rng.uniform(-1, 1, size=(length, 2)).astype(np.float32),
        states=rng.normal(size=(length + 1, width)) if states else None,  # float64: stored float32
    )


def test_states_round_trip_as_float32(tmp_path: Path) -> None:
    episodes = [episode(5, seed=0), episode(7, seed=1)]
    write_dataset(tmp_path / "ds", episodes, {"env": "test"})
    dataset = load_dataset(tmp_path / "ds")
    assert dataset.meta["has_states"] is True
    for original, loaded in zip(episodes, dataset.episodes, strict=True):
        assert loaded.states is not None and loaded.states.dtype == np.float32
        np.testing.assert_array_equal(loaded.states, original.states.astype(np.float32))


def test_a_dataset_without_states_in_every_episode_says_so(tmp_path: Path) -> None:
    write_dataset(tmp_path / "ds", [episode(5), episode(4, states=False)], {})
    dataset = load_dataset(tmp_path / "ds")
    assert dataset.meta["has_states"] is False
    assert dataset.episodes[0].states is not None and dataset.episodes[1].states is None


def test_datasets_written_before_states_load_unchanged(tmp_path: Path) -> None:
    copy = tmp_path / "old"
    shutil.copytree(OLD_DATASET, copy)
    meta = json.loads((copy / "meta.json").read_text())
    assert "has_states" not in meta  # written by commit bbef211
    dataset = load_dataset(copy)
    assert dataset.meta == meta and dataset.num_transitions == meta["num_transitions"]
    assert all(item.states is None and item.true_actions is not None for item in dataset.episodes)


@pytest.mark.parametrize(
    ("states", "message"),
    [
        (np.zeros((5, 3)), "states has 5 rows for 6 observations"),
        (np.zeros(6), "states must be (T+1, state_dim), got shape (6,)"),
        (np.full((6, 3), np.nan), "states contain NaN or inf"),
    ],
)
def test_bad_states_are_refused(tmp_path: Path, states: np.ndarray, message: str) -> None:
    bad = episode(5)
    bad.states = states
    with pytest.raises(RlvError, match=re.escape(message)):
        write_dataset(tmp_path / "ds", [bad], {})
    assert not (tmp_path / "ds").exists()


def test_states_of_different_widths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RlvError, match=re.escape("states of different widths [3, 4]")):
        write_dataset(tmp_path / "ds", [episode(5, width=3), episode(5, width=4)], {})
    write_dataset(tmp_path / "ds", [episode(5, width=3)], {})  # the same, edited on disk: refused on load
    other = tmp_path / "other"
    write_dataset(other, [episode(5, width=4)], {})
    second = next((other / "episodes").glob("*.npz"))
    shutil.copy(second, tmp_path / "ds" / "episodes" / "episode_000001_len5.npz")
    meta = json.loads((tmp_path / "ds" / "meta.json").read_text())
    (tmp_path / "ds" / "meta.json").write_text(json.dumps(meta | {"num_episodes": 2}))
    with pytest.raises(RlvError, match=re.escape("states of different widths [3, 4]")):
        load_dataset(tmp_path / "ds")


@pytest.mark.parametrize("policy", [{"policy": "random"}, {"noise": 0.3}])
def test_collect_records_pointmass_positions(tmp_path: Path, policy: dict) -> None:
    args = CollectArgs(out=tmp_path / "ds", env="pointmass", episodes=2, seed=4, progress=False, **policy)
    collect_from_args(args, "test")
    dataset = load_dataset(tmp_path / "ds")
    assert dataset.meta["has_states"] is True
    for item in dataset.episodes:
        states, actions = item.states, item.true_actions
        assert states.shape == (len(item.obs), 2)
        assert -0.9 <= states[0, 0] <= -0.3  # the start region
        expected = np.clip(states[:-1] + STEP_SCALE * np.clip(actions, -1, 1), -1, 1)
        np.testing.assert_allclose(states[1:], expected, atol=1e-5)  # each step moves by its action


def test_collect_without_an_env_state_keeps_none(tmp_path: Path) -> None:
    args = CollectArgs(out=tmp_path / "ds", env="acrobot", policy="random", episodes=1, progress=False)
    collect_from_args(args, "test")
    dataset = load_dataset(tmp_path / "ds")
    assert dataset.meta["has_states"] is False and dataset.episodes[0].states is None


@needs_metaworld
def test_collect_records_meta_world_states(tmp_path: Path) -> None:
    args = CollectArgs(out=tmp_path / "ds", env="push", policy="random", episodes=1, progress=False)
    collect_from_args(args, "test")
    item = load_dataset(tmp_path / "ds").episodes[0]
    assert item.states.shape == (len(item.obs), 39) and np.ptp(item.states[:, :2], axis=0).max() > 0
