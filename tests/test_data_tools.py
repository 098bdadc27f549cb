"""`rlv data to-video`, `merge`, `split` and multi-dataset `preview` on small image datasets
written by the tests."""

import json

import numpy as np
import pytest
from test_cli import rlv

from rlv.collect.video_import import ImportOptions, read_episode
from rlv.data.dataset import Episode, load_dataset, write_dataset
from rlv.data.preview import stacked_rows
from rlv.errors import RlvError


def image_dataset(path, episodes, seed, domain="human"):
    rng = np.random.default_rng(seed)
    items = [Episode(obs=rng.integers(0, 256, (6 + i, 48, 48, 3), dtype=np.uint8), success=i % 2 == 0)
             for i in range(episodes)]  # fmt: skip
    return write_dataset(path, items, {"env": "pointmass", "domain": domain})


@pytest.mark.parametrize("suffix", [".mp4", ".webm", ".gif"])
def test_to_video_round_trips_frame_count_and_size(tmp_path, suffix):
    image_dataset(tmp_path / "ds", 2, seed=0)
    out = rlv("data", "to-video", "ds", "--out", f"clip{suffix}", cwd=tmp_path).stdout
    assert "wrote clip" in out and "16 frames" in out  # 6 + 7 frames, 3 black between
    episode = read_episode(tmp_path / f"clip{suffix}", ImportOptions(size=(192, 192)))
    assert len(episode.obs) == 16 and episode.obs[6:9].max() < 40


def test_merge_keeps_every_episode_in_order(tmp_path):
    image_dataset(tmp_path / "a", 2, seed=0)
    image_dataset(tmp_path / "b", 3, seed=1, domain="robot")
    rlv("data", "merge", "a", "b", "--out", "c", cwd=tmp_path)
    merged, a, b = (load_dataset(tmp_path / name) for name in "cab")
    assert len(merged.episodes) == 5 and merged.meta["domain"] == "mixed"
    for got, want in zip(merged.episodes, a.episodes + b.episodes, strict=True):
        assert np.array_equal(got.obs, want.obs) and got.success == want.success


def test_merge_refuses_different_shapes(tmp_path):
    image_dataset(tmp_path / "a", 2, seed=0)
    write_dataset(tmp_path / "s", [Episode(np.zeros((3, 4), np.float32), True)], {})
    result = rlv("data", "merge", "a", "s", "--out", "c", cwd=tmp_path, check=False)
    assert result.returncode == 1 and "differ from the dataset's" in result.stderr
    assert not (tmp_path / "c").exists()


def test_split_is_a_seeded_partition(tmp_path):
    image_dataset(tmp_path / "ds", 10, seed=0)
    out = json.loads(rlv("data", "split", "ds", "--train", "tr", "--heldout", "ho", "--fraction", "0.3",
                         cwd=tmp_path).stdout)  # fmt: skip
    assert out["train_episodes"] == 7 and out["heldout_episodes"] == 3
    train, held = load_dataset(tmp_path / "tr"), load_dataset(tmp_path / "ho")
    picked = train.meta["how_made"]["episodes"] + held.meta["how_made"]["episodes"]
    assert sorted(picked) == list(range(10))
    with pytest.raises(RlvError, match="cannot be split"):
        from rlv.data.tools import split_dataset

        split_dataset(tmp_path / "ds", tmp_path / "x", tmp_path / "y", 0.01, 0)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_preview_stacks_the_rows_of_several_datasets_in_the_order_given(tmp_path):
    image_dataset(tmp_path / "robot", 2, seed=0, domain="robot")
    image_dataset(tmp_path / "human", 1, seed=1)
    labels = [label for label, _ in stacked_rows([tmp_path / "robot", tmp_path / "human"], 8, 3)]
    assert labels == [
        "ep 0 (robot, success, T=5)",
        "ep 1 (robot, no success, T=6)",
        "ep 0 (human, success, T=5)",
    ]
    out = rlv("data", "preview", "robot", "human", "--out", "sheet.png", "--columns", "3", cwd=tmp_path)
    assert out.stdout.strip() == "wrote sheet.png" and (tmp_path / "sheet.png").stat().st_size > 0


def test_preview_refuses_datasets_of_different_frame_shapes(tmp_path):
    image_dataset(tmp_path / "a", 1, seed=0)
    small = Episode(obs=np.zeros((3, 32, 32, 3), dtype=np.uint8), success=False)
    write_dataset(tmp_path / "b", [small], {"env": "pointmass", "domain": "robot"})
    with pytest.raises(RlvError, match="frames of different shapes"):
        stacked_rows([tmp_path / "a", tmp_path / "b"], 1, 2)
