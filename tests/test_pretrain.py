"""Pretrained encoders: `rlv.pretrain` writes an encoder file, `rlv train --encoder FILE` learns on
it frozen (features computed once per frame) or finetuned, records it, and refuses to resume with a
changed file."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from rlv.cli import main
from rlv.collect.commands import CollectArgs, collect_from_args
from rlv.data.dataset import load_dataset, write_dataset
from rlv.encoders import ENCODER_RECORD, load_encoder
from rlv.errors import RlvError
from rlv.methods.registry import load_config
from rlv.presets import get_preset
from rlv.pretrain import PretrainConfig, pretrain
from rlv.run_setup import build

TINY_RUN = ["--total-steps", "60", "--random-steps", "40", "--eval-every", "60", "--eval-episodes", "1"]
TINY_RUN += ["--sac.hidden", "16", "--sac.batch-size", "8", "--checkpoint-every", "40", "--no-progress"]
CHANNELS = (4, 4)


@pytest.fixture(scope="module")
def pointmass_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Robot frames with actions (random policy), human-domain videos, paired frames; 4 episodes each."""
    root = tmp_path_factory.mktemp("pretrain_data")
    for name, options in (
        ("robot", {"policy": "random"}),
        ("human", {"domain": "human", "noise": 0.3}),
        ("pairs", {"paired": 40, "noise": 0.3}),
    ):
        collect_from_args(
            CollectArgs(out=root / name, env="pointmass", episodes=4, seed=3, progress=False, **options),
            "test",
        )
    return root


def pretrain_config(data: Path, out: Path, **changes: object) -> PretrainConfig:
    config = PretrainConfig(
        out=out, robot=data / "robot", videos=data / "human", paired_dataset=data / "pairs",
        contrastive_weight=1.0, updates=6, batch_size=8, conv_channels=CHANNELS, conv_kernel=3,
        progress=False,
    )  # fmt: skip
    return dataclasses.replace(config, **changes)


@pytest.fixture(scope="module")
def encoder_file(pointmass_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("encoder") / "encoder.pt"
    pretrain(pretrain_config(pointmass_data, out))
    return out


def test_encoder_file_loads_weights_only_and_says_what_made_it(
    encoder_file: Path, pointmass_data: Path
) -> None:
    saved = torch.load(encoder_file, weights_only=True)
    assert saved["format"] == "rlv-encoder/1" and set(saved["state_dict"]) == set(
        load_encoder(encoder_file).encoder.state_dict()
    )
    meta = json.loads(saved["meta"])
    assert meta["architecture"] == {
        "image_shape": [48, 48, 3],
        "channels": list(CHANNELS),
        "kernel": 3,
        "feature_dim": 50,
        "out_dim": 50,
    }
    assert meta["objectives"]["contrastive_weight"] == 1.0 and meta["objectives"]["updates"] == 6
    assert [item["role"] for item in meta["data"]] == ["robot", "videos", "paired"]
    assert all(len(item["fingerprint"]) == 64 for item in meta["data"])
    assert {"idm_robot_mse", "chance_robot_mse", "idm_video_mse", "retrieval_top1"} <= set(meta["scores"])


def test_seeded_pretraining_repeats(encoder_file: Path, pointmass_data: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.pt"
    pretrain(pretrain_config(pointmass_data, again))
    first, second = load_encoder(encoder_file).encoder.state_dict(), load_encoder(again).encoder.state_dict()
    assert all(torch.equal(first[key], second[key]) for key in first)
    other = tmp_path / "other.pt"
    pretrain(pretrain_config(pointmass_data, other, seed=1))
    third = load_encoder(other).encoder.state_dict()
    assert not all(torch.equal(first[key], third[key]) for key in first)


def test_pretraining_without_videos_or_pairs(pointmass_data: Path, tmp_path: Path) -> None:
    """The 'from scratch' baseline's encoder: robot frames only (temporal contrast and the anchor)."""
    meta = pretrain(
        pretrain_config(
            pointmass_data, tmp_path / "robot.pt", videos=None, paired_dataset=None, contrastive_weight=0.0
        )
    )
    assert [item["role"] for item in meta["data"]] == ["robot"]
    assert np.isfinite(meta["scores"]["idm_robot_mse"]) and "idm_video_mse" not in meta["scores"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"robot": None}, "--robot: the robot's frames with actions are required"),
        ({"paired_dataset": None}, "--contrastive-weight: needs paired frames: --paired-dataset DIR"),
        ({"videos": None, "alignment": "dann"}, "--alignment: aligns robot frames with video frames"),
        ({"updates": 0}, "--updates: must be at least 1"),
    ],
)
def test_bad_pretraining_options_are_one_line(
    pointmass_data: Path, tmp_path: Path, changes: dict, message: str
) -> None:
    with pytest.raises(RlvError, match=re.escape(message)):
        pretrain(pretrain_config(pointmass_data, tmp_path / "x.pt", **changes))
    assert not (tmp_path / "x.pt").exists()


def test_robot_data_without_actions_is_refused(pointmass_data: Path, tmp_path: Path) -> None:
    videos = load_dataset(pointmass_data / "human")
    episodes = [dataclasses.replace(episode, true_actions=None) for episode in videos.episodes]
    write_dataset(tmp_path / "no_actions", episodes, {"env": "pointmass"})
    with pytest.raises(RlvError, match="needs true_actions"):
        pretrain(pretrain_config(pointmass_data, tmp_path / "x.pt", robot=tmp_path / "no_actions"))


def train(args: list[str]) -> int:
    return main(["train", *args])


@pytest.mark.parametrize("preset", ["pointmass-sac", "pointmass-rlv", "pointmass-bco", "pointmass-gaifo"])
def test_frozen_encoder_runs_every_method(
    preset: str, encoder_file: Path, pointmass_data: Path, tmp_path: Path
) -> None:
    data = {
        "pointmass-rlv": "--rlv.dataset",
        "pointmass-bco": "--bco.dataset",
        "pointmass-gaifo": "--gaifo.dataset",
    }
    extra = [data[preset], str(pointmass_data / "human")] if preset in data else []
    run = tmp_path / "run"
    before = load_encoder(encoder_file).encoder.state_dict()
    assert train([preset, *extra, "--encoder", str(encoder_file), *TINY_RUN, "--out", str(run)]) == 0
    record = json.loads((run / ENCODER_RECORD).read_text())
    assert record["fingerprint"] == load_encoder(encoder_file).fingerprint and record["mode"] == "frozen"
    setup = build(load_config(run / "config.json"), run)
    assert (
        setup.replay.obs.shape[1:] == (50,) and setup.replay.obs.dtype == np.float32
    )  # features, not frames
    if setup.sampler is not None:
        assert setup.sampler.obs.shape[1:] == (50,)  # each video frame encoded once, at load
    after = load_encoder(encoder_file).encoder.state_dict()
    assert all(torch.equal(before[key], after[key]) for key in before)
    assert main(["eval", str(run), "--episodes", "1"]) == 0


def test_resume_refuses_a_changed_encoder_file(
    encoder_file: Path, pointmass_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    copy = tmp_path / "encoder.pt"
    copy.write_bytes(encoder_file.read_bytes())
    run = tmp_path / "run"
    assert train(["pointmass-sac", "--encoder", str(copy), *TINY_RUN, "--out", str(run)]) == 0
    pretrain(pretrain_config(pointmass_data, copy, seed=5, overwrite=True))
    capsys.readouterr()
    assert train(["--resume", str(run), "--total-steps", "80", "--no-progress"]) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "the encoder file changed since" in error
    copy.write_bytes(encoder_file.read_bytes())
    assert train(["--resume", str(run), "--total-steps", "80", "--no-progress"]) == 0


def test_finetune_starts_from_the_file_and_checks_its_architecture(encoder_file: Path) -> None:
    base = get_preset("pointmass-sac")
    sac = dataclasses.replace(base.sac, conv_channels=CHANNELS, conv_kernel=3, feature_dim=50)
    config = dataclasses.replace(base, encoder=encoder_file, encoder_mode="finetune", sac=sac)
    setup = build(config)
    started, saved = setup.agent.encoder.state_dict(), load_encoder(encoder_file).encoder.state_dict()
    assert all(torch.equal(started[key], saved[key]) for key in saved)
    assert setup.replay.obs.dtype == np.uint8  # frames: the encoder trains end to end
    expected = "give --sac.conv-channels, --sac.conv-kernel and --sac.feature-dim to match"
    with pytest.raises(RlvError, match=re.escape(expected)):
        build(dataclasses.replace(config, sac=base.sac))


def test_encoder_on_a_state_task_is_refused(encoder_file: Path) -> None:
    with pytest.raises(RlvError, match="has state observations; an image encoder needs frames"):
        build(dataclasses.replace(get_preset("acrobot-sac"), encoder=encoder_file))


def test_pretrain_command_prints_its_scores(
    pointmass_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "cli.pt"
    args = ["pretrain", "--robot", str(pointmass_data / "robot"), "--videos", str(pointmass_data / "human")]
    args += ["--updates", "3", "--batch-size", "8", "--conv-channels", "4", "4", "--conv-kernel", "3"]
    args += ["--heldout", "0.5"]  # two held-out robot episodes: the state probe fits on one
    assert main([*args, "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "inverse-model action MSE on held-out video transitions" in printed
    scores = load_encoder(out).meta["scores"]
    for domain in ("robot", "video"):
        line = next(line for line in printed.splitlines() if f"state probe RMSE on held-out {domain}" in line)
        rmse, chance = scores[f"state_{domain}_rmse"], scores[f"state_chance_{domain}_rmse"]
        assert line.endswith(f": {rmse:.4f} (chance {chance:.4f})") and rmse > 0 and chance > 0
    assert main([*args, "--out", str(out), "--no-progress"]) == 1  # exists: refused, unchanged
    error = capsys.readouterr().err.strip()
    assert error == f"rlv: error: {out}: already exists (use --overwrite or another --out)"
