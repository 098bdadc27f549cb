"""Converters on small datasets the tests write themselves: Minari (written with Minari's own
create_dataset_from_buffers; its DataCollector would need jax) and LeRobot v2.1/v3.0 layouts
written by hand here (H.264, error cases; these run without the LeRobot writer venv that
test_lerobot_library.py needs for datasets written by LeRobot itself)."""

import json
import os
import warnings

import av
import numpy as np
import pytest
from test_cli import rlv
from videos import frame, write_video

from rlv.collect.converters import from_lerobot, from_minari
from rlv.collect.experts import NoisyScriptedExpert, rollout
from rlv.data.dataset import load_dataset
from rlv.envs import make_env
from rlv.errors import RlvError

minari = pytest.importorskip("minari")


@pytest.fixture(scope="module")
def minari_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("minari")
    previous = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    try:
        from minari.data_collector.episode_buffer import EpisodeBuffer

        env = make_env("pointmass", seed=0)
        expert = NoisyScriptedExpert(0.3, np.random.default_rng(0))
        episodes = [rollout(env, expert, seed) for seed in range(3)]
        buffers = [
            EpisodeBuffer(observations=e.obs, actions=e.true_actions, rewards=e.rewards,
                          terminations=np.eye(e.length, dtype=bool)[-1] & e.success,
                          truncations=np.zeros(e.length, dtype=bool))
            for e in episodes
        ]  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Minari warns that no eval env or env spec is given
            minari.create_dataset_from_buffers(
                "rlvtest/pointmass-v0", buffers, env=env, algorithm_name="expert"
            )
    finally:
        if previous is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = previous
    return root


def test_minari_images_kept_actions_dropped_by_default(minari_root, tmp_path):
    meta = from_minari("rlvtest/pointmass-v0", tmp_path / "ds", root=minari_root, progress=False)
    dataset = load_dataset(tmp_path / "ds")
    assert meta["num_episodes"] == 3 and dataset.obs_shape == (48, 48, 3)
    assert dataset.meta["obs_dtype"] == "uint8" and dataset.episodes[0].length == 40
    assert all(e.true_actions is None and e.rewards is None for e in dataset.episodes)
    assert meta["source"] == "minari:rlvtest/pointmass-v0"


def test_minari_keep_both_for_ablations_and_cli(minari_root, tmp_path):
    out = rlv("data", "from-minari", "rlvtest/pointmass-v0", "--root", str(minari_root), "--keep", "both",
              "--out", "ds", "--no-progress", cwd=tmp_path).stdout  # fmt: skip
    assert "3 episodes" in out
    episode = load_dataset(tmp_path / "ds").episodes[0]
    assert episode.true_actions.shape == (episode.length, 2) and episode.rewards.shape == (episode.length,)


def test_minari_missing_dataset_is_a_clear_error(minari_root, tmp_path):
    with pytest.raises(RlvError, match="rlvtest/nothing-v0"):
        from_minari("rlvtest/nothing-v0", tmp_path / "ds", root=minari_root, progress=False)
    assert not (tmp_path / "ds").exists()


def write_lerobot(root, episodes=2, length=6):
    """A LeRobot v2.1 dataset: meta/info.json, per-episode parquet and mp4 (one camera)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    camera = "observation.images.top"
    info = {
        "codebase_version": "v2.1", "robot_type": "toy", "fps": 10, "total_episodes": episodes,
        "chunks_size": 1000,
        "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4",
        "features": {camera: {"dtype": "video", "shape": [64, 96, 3]},
                     "action": {"dtype": "float32", "shape": [2]}},
    }  # fmt: skip
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps(info))
    for index in range(episodes):
        data = root / info["data_path"].format(episode_chunk=0, episode_index=index)
        data.parent.mkdir(parents=True, exist_ok=True)
        actions = [[float(index), float(t)] for t in range(length)]
        pq.write_table(pa.table({"action": actions, "frame_index": list(range(length))}), data)
        video = root / info["video_path"].format(episode_chunk=0, episode_index=index, video_key=camera)
        video.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(video), mode="w") as container:
            stream = container.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
            for t in range(length):
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame(t), format="rgb24")))
            container.mux(stream.encode())
    return root


def test_lerobot_frames_and_optional_actions(tmp_path):
    root = write_lerobot(tmp_path / "lerobot")
    meta = from_lerobot(root, tmp_path / "ds", keep_actions=True, progress=False)
    dataset = load_dataset(tmp_path / "ds")
    assert meta["num_episodes"] == 2 and dataset.obs_shape == (48, 48, 3)
    episode = dataset.episodes[1]
    assert episode.length == 5 and np.allclose(episode.true_actions[:, 0], 1.0)
    assert np.allclose(episode.true_actions[:, 1], np.arange(5))
    out = rlv("data", "from-lerobot", str(root), "--out", "ds2", "--size", "32", "32", "--no-progress",
              cwd=tmp_path).stdout  # fmt: skip
    assert "2 episodes" in out and load_dataset(tmp_path / "ds2").episodes[0].true_actions is None


def test_lerobot_errors(tmp_path):
    with pytest.raises(RlvError, match="not a LeRobot dataset"):
        from_lerobot(tmp_path, tmp_path / "ds", progress=False)
    root = write_lerobot(tmp_path / "lerobot")
    with pytest.raises(RlvError, match="no camera 'wrist'"):
        from_lerobot(root, tmp_path / "ds", camera="wrist", progress=False)
    assert not (tmp_path / "ds").exists()


def write_lerobot_v3(root, lengths=(6, 5)):
    """A LeRobot v3.0 dataset: both episodes in one mp4 and one parquet, indexed by meta/episodes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    camera = "observation.images.top"
    info = {
        "codebase_version": "v3.0", "robot_type": "toy", "fps": 10, "total_episodes": len(lengths),
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
        "features": {camera: {"dtype": "video", "shape": [64, 96, 3]}},
    }  # fmt: skip
    (root / "meta" / "episodes" / "chunk-000").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps(info))
    starts = np.cumsum((0, *lengths))
    rows = [{"episode_index": e, "frame_index": t, "action": [float(e), float(t)]}
            for e, n in enumerate(lengths) for t in range(n)]  # fmt: skip
    (root / "data" / "chunk-000").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), root / "data" / "chunk-000" / "file-000.parquet")
    key = f"videos/{camera}"
    episodes = [{"episode_index": e, "data/chunk_index": 0, "data/file_index": 0, f"{key}/chunk_index": 0,
                 f"{key}/file_index": 0, f"{key}/from_timestamp": starts[e] / 10,
                 f"{key}/to_timestamp": starts[e + 1] / 10}
                for e in range(len(lengths))]  # fmt: skip
    pq.write_table(
        pa.Table.from_pylist(episodes), root / "meta" / "episodes" / "chunk-000" / "file-000.parquet"
    )
    video = root / "videos" / camera / "chunk-000" / "file-000.mp4"
    video.parent.mkdir(parents=True)
    write_video(video, int(starts[-1]))  # frames 0..10 at 10 fps, high quality
    return root


def test_lerobot_v3_episodes_are_cut_from_shared_files(tmp_path):
    root = write_lerobot_v3(tmp_path / "v3")
    from_lerobot(root, tmp_path / "ds", keep_actions=True, progress=False)
    first, second = load_dataset(tmp_path / "ds").episodes
    assert (first.length, second.length) == (5, 4)
    assert np.allclose(second.true_actions, [[1.0, t] for t in range(4)])
    from videos import marker_row

    from rlv.collect.video_import import ImportOptions, transform

    rows = [marker_row(o) for o in second.obs]  # frames 6..10 of the shared video
    expected = [marker_row(transform(frame(t), ImportOptions(), "source")) for t in range(6, 11)]
    assert np.allclose(rows, expected, atol=0.03)
