"""Training loop: runs produce their files, resume repeats an uninterrupted run exactly, bad input
is refused before anything is written."""

import csv
import dataclasses
import json

import pytest
import torch
from conftest import tiny_config

from rlv.checkpoint import latest_checkpoint, load_state
from rlv.errors import RlvError
from rlv.methods.registry import load_config
from rlv.train import Trainer, resume, train

VOLATILE = {"wall_time", "train/sps"}


def rows(path):
    with open(path, newline="") as handle:
        return [{k: v for k, v in row.items() if k not in VOLATILE} for row in csv.DictReader(handle)]


def final_agent(run):
    return load_state(run / "checkpoints" / "final" / "state.pt")["agent"]


def train_interrupted_at(monkeypatch, config, env_step):
    """Start `config`'s run and interrupt it (KeyboardInterrupt) in the update at `env_step`."""
    original_update = Trainer.update

    def dying_update(self):
        if self.counters.env_step == env_step:
            raise KeyboardInterrupt
        return original_update(self)

    monkeypatch.setattr(Trainer, "update", dying_update)
    with pytest.raises(KeyboardInterrupt):
        train(config)
    monkeypatch.setattr(Trainer, "update", original_update)


def assert_same_state(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same_state(a[key], b[key])
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    else:
        assert a == b


LAST_LOSS = {"sac": "loss/critic", "rlv": "loss/critic", "bco": "loss/bc", "gaifo": "loss/critic"}
"""A loss every method's last train.csv row has."""


@pytest.mark.parametrize("algo", ["sac", "rlv", "bco", "gaifo"])
def test_run_directory_contents(tmp_path, acrobot_dataset, algo):
    config = tiny_config(tmp_path, algo, acrobot_dataset)
    summary = train(config)
    run = config.out
    assert summary["env_step"] == 600 and summary["grad_step"] == 400
    assert load_config(run / "config.json") == config
    assert [int(r["env_step"]) for r in rows(run / "eval.csv")] == [200, 400, 600]
    train_rows = rows(run / "train.csv")
    assert len(train_rows) == 6 and train_rows[-1][LAST_LOSS[algo]] != ""
    assert json.loads((run / "summary.json").read_text())["status"] == "finished"
    assert (run / "checkpoints" / "final" / "replay.json").exists() and list((run / "replay").glob("*.npz"))


@pytest.mark.parametrize("algo", ["sac", "rlv", "bco", "gaifo"])
def test_interrupted_and_resumed_run_matches_uninterrupted(tmp_path, acrobot_dataset, algo, monkeypatch):
    reference = tiny_config(tmp_path / "a", algo, acrobot_dataset)
    train(reference)

    interrupted = dataclasses.replace(reference, out=tmp_path / "b" / "run")
    train_interrupted_at(
        monkeypatch, interrupted, 470
    )  # after the checkpoint at the first episode end past 400
    assert not (interrupted.out / "summary.json").exists()
    checkpoint = latest_checkpoint(interrupted.out)
    assert checkpoint is not None and 400 <= load_state(checkpoint / "state.pt")["counters"]["env_step"] < 470

    resume(interrupted.out, progress=False)
    assert rows(interrupted.out / "eval.csv") == rows(reference.out / "eval.csv")
    assert rows(interrupted.out / "train.csv") == rows(reference.out / "train.csv")
    assert_same_state(final_agent(interrupted.out), final_agent(reference.out))


def test_resume_can_extend_a_finished_run(tmp_path):
    config = tiny_config(tmp_path, "sac")
    train(config)
    summary = resume(config.out, total_steps=800, progress=False)
    assert summary["env_step"] == 800
    assert [int(r["env_step"]) for r in rows(config.out / "eval.csv")][-1] == 800


def test_truncation_is_not_terminal(tmp_path):
    config = tiny_config(tmp_path, "sac", total_steps=300, random_steps=300)
    train(config)
    replay = torch.load(config.out / "checkpoints" / "final" / "state.pt", weights_only=True)
    assert replay["counters"]["episodes"] == 3
    import numpy as np

    chunks = sorted((config.out / "replay").glob("*.npz"))
    done = np.concatenate([np.load(chunk)["done"] for chunk in chunks])
    assert len(done) == 300 and done.sum() == 0  # three time-limit ends, none stored as terminal


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"env": "nope"}, "unknown environment"),
        ({"algo": "rlv"}, "needs an observation dataset"),
        ({"algo": "rlv", "env": "gym:Pendulum-v1", "use_dataset": True}, "observations have shape"),
        ({"algo": "rlv", "missing_dataset": True}, "dataset directory not found"),
        ({"algo": "bco"}, "BCO needs an observation dataset"),
        ({"algo": "bco", "use_dataset": True, "random_steps": 1}, "a round of 1 updates"),
        ({"algo": "gaifo"}, "GAIfO needs an observation dataset"),
    ],
)
def test_bad_input_leaves_no_run(tmp_path, acrobot_dataset, changes, message):
    changes = dict(changes)
    dataset = None
    if changes.pop("use_dataset", False):
        dataset = acrobot_dataset
    if changes.pop("missing_dataset", False):
        dataset = tmp_path / "absent"
    config = tiny_config(tmp_path, changes.pop("algo", "sac"), dataset, **changes)
    with pytest.raises(RlvError, match=message):
        train(config)
    assert not config.out.exists()


@pytest.mark.parametrize("option", ["idm_encoder_weight", "temporal_weight"])
def test_encoder_options_of_rlv_need_images(tmp_path, acrobot_dataset, option):
    config = tiny_config(tmp_path, "rlv", acrobot_dataset)
    config = dataclasses.replace(config, rlv=dataclasses.replace(config.rlv, **{option: 1.0}))
    with pytest.raises(RlvError, match="needs an image task"):
        train(config)
    assert not config.out.exists()


def test_resume_errors(tmp_path):
    with pytest.raises(RlvError, match="no such run directory"):
        resume(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RlvError, match=r"config\.json: no such file"):
        resume(tmp_path / "empty")


def test_tensorboard_events_are_written(tmp_path):
    pytest.importorskip("tensorboard")
    config = tiny_config(tmp_path, "sac", total_steps=300, tensorboard=True)
    train(config)
    assert list((config.out / "tb").glob("events.out.tfevents.*"))


def test_amount_of_observation_data_is_limited(tmp_path, acrobot_dataset):
    from rlv.methods.rlv import RLVConfig
    from rlv.train import build

    full = build(tiny_config(tmp_path, "rlv", acrobot_dataset))
    config = tiny_config(tmp_path, "rlv", acrobot_dataset)
    limited = build(dataclasses.replace(config, rlv=RLVConfig(dataset=acrobot_dataset, max_episodes=2)))
    assert 0 < len(limited.sampler) < len(full.sampler)
    assert limited.sampler.done.sum() <= 2


@pytest.mark.parametrize("keep_actions", [True, False])
def test_rlv_train_csv_has_the_label_scores_only_for_videos_with_actions(
    tmp_path, acrobot_dataset, keep_actions
):
    from rlv.data.dataset import load_dataset, write_dataset

    dataset = acrobot_dataset
    if not keep_actions:
        loaded = load_dataset(acrobot_dataset)
        episodes = [dataclasses.replace(episode, true_actions=None) for episode in loaded.episodes]
        dataset = write_dataset(tmp_path / "no_actions", episodes, {"env": "acrobot", "source": "test"})
    config = tiny_config(tmp_path, "rlv", dataset)
    train(config)
    logged = rows(config.out / "train.csv")
    assert ("stat/idm_obs_action_mse" in logged[0]) == keep_actions
    assert "stat/domain_accuracy" not in logged[0] and "stat/feature_std" not in logged[0]
    assert logged[-1]["loss/idm"] != "" and (not keep_actions or logged[-1]["stat/idm_obs_action_mse"] != "")
