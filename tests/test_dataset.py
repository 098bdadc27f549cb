import json

import numpy as np
import pytest
import torch
from conftest import random_episode

from rlv.data.dataset import load_dataset, write_dataset
from rlv.data.replay import ObservationSampler, ReplayBuffer
from rlv.data.replay_files import load_replay, save_replay
from rlv.errors import RlvError
from rlv.methods import rlv as rlv_method
from rlv.methods.rlv import RLVConfig
from rlv.observation import ObservationKind


def test_round_trip(tmp_path):
    episodes = [random_episode(5, seed=0), random_episode(7, seed=1, success=False)]
    write_dataset(tmp_path / "ds", episodes, {"env": "acrobot", "domain": "human", "source": "test"})
    dataset = load_dataset(tmp_path / "ds")
    assert dataset.meta["num_transitions"] == 12 and dataset.meta["domain"] == "human"
    assert dataset.meta["format"] == "rlv-dataset" and dataset.meta["version"] == 1
    for original, loaded in zip(episodes, dataset.episodes, strict=True):
        np.testing.assert_array_equal(original.obs, loaded.obs)
        np.testing.assert_array_equal(original.true_actions, loaded.true_actions)
        assert original.success == loaded.success
    assert len(load_dataset(tmp_path / "ds", max_episodes=1).episodes) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_sampler_marks_only_successful_ends_done(tmp_path):
    write_dataset(tmp_path / "ds", [random_episode(5, seed=0), random_episode(4, seed=1, success=False)], {})
    dataset = load_dataset(tmp_path / "ds")
    sampler = ObservationSampler(dataset, seed=0)
    assert sampler.done.tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0]
    np.testing.assert_array_equal(sampler.next_obs[0], dataset.episodes[0].obs[1])
    quirk = ObservationSampler(dataset, seed=0, timelimit_done=True)
    assert quirk.done.tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 1]
    batch = sampler.sample(64, torch.device("cpu"))
    assert batch.obs.shape == (64, 6) and batch.true_action.shape == (64, 1)


def test_oracle_ablation_needs_true_actions(tmp_path):
    episode = random_episode(5)
    episode.true_actions = None
    write_dataset(tmp_path / "ds", [episode], {})
    with pytest.raises(RlvError, match="true_actions"):
        rlv_method.check(
            RLVConfig(dataset=tmp_path / "ds", action_source="oracle"),
            ObservationKind((6,)),
            ObservationSampler(load_dataset(tmp_path / "ds"), seed=0),
            "acrobot",
        )


def corrupt_cases(path):
    episode_file = next((path / "episodes").glob("*.npz"))
    meta = json.loads((path / "meta.json").read_text())
    return {
        "missing meta": lambda: (path / "meta.json").unlink(),
        "bad json": lambda: (path / "meta.json").write_text("{not json"),
        "wrong format": lambda: (path / "meta.json").write_text(json.dumps({**meta, "format": "x"})),
        "future version": lambda: (path / "meta.json").write_text(json.dumps({**meta, "version": 99})),
        "truncated npz": lambda: episode_file.write_bytes(episode_file.read_bytes()[:50]),
        "missing episode": lambda: episode_file.unlink(),
        "shape mismatch": lambda: (path / "meta.json").write_text(json.dumps({**meta, "obs_shape": [4]})),
        "nan": lambda: np.savez_compressed(
            episode_file, obs=np.full((3, 6), np.nan, np.float32), success=np.array(True)
        ),
    }


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing meta", "meta.json: missing"),
        ("bad json", "corrupt JSON"),
        ("wrong format", "not an rlv dataset"),
        ("future version", "unsupported dataset version"),
        ("truncated npz", "corrupt or unreadable"),
        ("missing episode", "lists 1 episodes but 0"),
        ("shape mismatch", "do not match meta.json"),
        ("nan", "NaN or inf"),
    ],
)
def test_bad_datasets_raise_one_readable_error(tmp_path, case, message):
    path = tmp_path / "ds"
    write_dataset(path, [random_episode(4)], {})
    corrupt_cases(path)[case]()
    with pytest.raises(RlvError, match=message) as error:
        load_dataset(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_missing_dataset_directory(tmp_path):
    with pytest.raises(RlvError, match="not found"):
        load_dataset(tmp_path / "absent")


def test_failed_write_leaves_nothing(tmp_path):
    bad = random_episode(4)
    bad.obs[2, 0] = np.inf
    with pytest.raises(RlvError, match="NaN or inf"):
        write_dataset(tmp_path / "ds", [random_episode(4), bad], {})
    assert list(tmp_path.iterdir()) == []
    write_dataset(tmp_path / "ds", [random_episode(4)], {})
    with pytest.raises(RlvError, match="already exists"):
        write_dataset(tmp_path / "ds", [random_episode(4)], {})


def test_replay_round_trip_and_sampling(tmp_path):
    replay = ReplayBuffer((3,), 1, capacity=5, seed=0)
    for i in range(7):  # wraps around
        replay.add(np.full(3, i), np.array([0.1 * i]), -1.0, np.full(3, i + 1), done=i == 6)
    assert len(replay) == 5 and replay.obs[:, 0].tolist() == [5, 6, 2, 3, 4]
    assert replay.next_obs(np.arange(5))[:, 0].tolist() == [6, 7, 3, 4, 5]
    save_replay(replay, tmp_path / "replay.json", tmp_path / "chunks")
    clone = ReplayBuffer((3,), 1, capacity=5, seed=123)
    load_replay(clone, tmp_path, tmp_path / "chunks")
    a, b = replay.sample(8, torch.device("cpu")), clone.sample(8, torch.device("cpu"))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert set(a.done.tolist()) <= {0.0, 1.0}
