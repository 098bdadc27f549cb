import json

import numpy as np
import pytest
import torch
from conftest import random_episode, tiny_config

from rlv.data.dataset import load_dataset, write_dataset
from rlv.data.replay import ObservationSampler, ReplayBuffer
from rlv.data.replay_files import load_replay, save_replay
from rlv.errors import RlvError
from rlv.methods import rlv as rlv_method
from rlv.methods.rlv import RLVConfig
from rlv.methods.spec import Streams
from rlv.observation import ObservationKind
from rlv.run_setup import build, observation_sampler


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
        "no success": lambda: np.savez_compressed(episode_file, obs=np.zeros((5, 6), np.float32)),
        "success array": lambda: np.savez_compressed(
            episode_file, obs=np.zeros((5, 6), np.float32), success=np.ones(4, bool)
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
        ("no success", r"episode_000000_len4\.npz: no 'success' array"),
        ("success array", r"episode_000000_len4\.npz: 'success' must be one bool"),
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


def test_count_mismatch_names_the_file_pattern(tmp_path):
    path = tmp_path / "ds"
    write_dataset(path, [random_episode(4), random_episode(3, seed=1)], {})
    (path / "episodes" / "episode_000001_len3.npz").rename(path / "episodes" / "ep1.npz")
    with pytest.raises(RlvError) as error:
        load_dataset(path)
    message = str(error.value)
    assert "lists 2 episodes but 1 files" in message and "episodes/episode_NNNNNN_lenT.npz" in message
    assert "ep1.npz" in message and "\n" not in message


def run_with_dataset(tmp_path, episodes, meta, env="acrobot"):
    """Build (not train) an RLV run on a dataset written with `meta`."""
    write_dataset(tmp_path / "ds", episodes, meta)
    return build(tiny_config(tmp_path, "rlv", tmp_path / "ds", env=env))


def warnings_of(capsys):
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("rlv: warning:")]


def test_dataset_of_another_env_warns_once(tmp_path, capsys):
    run_with_dataset(tmp_path, [random_episode(4)], {"env": "gym:SomethingElse-v0"})
    (line,) = warnings_of(capsys)
    assert "'gym:SomethingElse-v0'" in line and "'acrobot'" in line and str(tmp_path / "ds") in line


@pytest.mark.parametrize("meta", [{"env": "acrobot"}, {}], ids=["same env", "no env"])
def test_dataset_of_the_run_env_or_none_is_silent(tmp_path, capsys, meta):
    run_with_dataset(tmp_path, [random_episode(4)], meta)
    assert warnings_of(capsys) == []


def float64_episode(scale=1.0):
    episode = random_episode(4)
    episode.obs = episode.obs.astype(np.float64) * scale
    return episode


def test_float64_dataset_for_a_float32_env_warns(tmp_path, capsys):
    setup = run_with_dataset(tmp_path, [float64_episode()], {"env": "acrobot"})
    (line,) = warnings_of(capsys)
    assert "float64" in line and "float32" in line and str(tmp_path / "ds") in line
    assert setup.sampler.obs.dtype == np.float32


def test_float64_dataset_beyond_float32_range_is_refused(tmp_path):
    scale = 1e39 / float(np.abs(random_episode(4).obs).max())  # the largest value becomes 1e39
    with pytest.raises(RlvError, match=r"float64 observations reach 1e\+39, beyond the largest float32"):
        run_with_dataset(tmp_path, [float64_episode(scale)], {})


def test_float64_dataset_for_a_float64_env_is_silent(tmp_path, capsys):
    write_dataset(tmp_path / "ds", [float64_episode()], {"env": "acrobot"})
    streams = Streams(observations=tmp_path / "ds", obs_batch_size=8)
    config = tiny_config(tmp_path, "rlv", tmp_path / "ds")
    observation_sampler(streams, ObservationKind((6,)), config, env_dtype=np.dtype(np.float64))
    assert warnings_of(capsys) == []
