"""--rlv.idm-dataset: robot transitions with actions that RLV's inverse model fits beside the
replay's rows (the rule, the stream, exact resume, refusals of unusable data)."""

import dataclasses

import numpy as np
import pytest
import torch
from conftest import tiny_config
from test_agents import make, moved, obs_batch, robot_batch, snapshot
from test_train import assert_same_state, final_agent, rows, train_interrupted_at

from rlv.data.dataset import load_dataset, write_dataset
from rlv.errors import RlvError
from rlv.methods import Batches
from rlv.train import build, resume, train


def with_idm_dataset(config, path, batch_size=24):
    return dataclasses.replace(
        config, rlv=dataclasses.replace(config.rlv, idm_dataset=path, idm_dataset_batch_size=batch_size)
    )


def test_inverse_model_loss_adds_the_dataset_rows():
    agent = make("rlv")
    robot, extra = robot_batch(), obs_batch()
    loss, _ = agent.inverse_model_loss(robot, extra=extra)
    predicted = agent.idm(torch.cat([robot.obs, extra.obs]), torch.cat([robot.next_obs, extra.next_obs]))
    expected = torch.nn.functional.mse_loss(predicted, torch.cat([robot.action, extra.true_action]))
    torch.testing.assert_close(loss, expected)
    alone, _ = agent.inverse_model_loss(robot)
    assert not torch.isclose(loss, alone)


def test_the_dataset_rows_move_only_the_inverse_model():
    with_rows, without = make("rlv"), make("rlv")
    robot, observations = robot_batch(), obs_batch()
    torch.manual_seed(0)  # the same draws of the actor's noise in both updates
    with_rows.update(Batches(robot, observations, inverse=obs_batch(seed=7)))
    torch.manual_seed(0)
    without.update(Batches(robot, observations))
    assert moved(snapshot(without), snapshot(with_rows)) == {"idm"}  # labels come before its step


def test_the_stream_samples_the_dataset(tmp_path, acrobot_dataset):
    config = with_idm_dataset(tiny_config(tmp_path, "rlv", acrobot_dataset), acrobot_dataset)
    setup = build(config)
    transitions = sum(episode.length for episode in load_dataset(acrobot_dataset).episodes)
    assert setup.inverse is not None and len(setup.inverse) == transitions
    assert setup.streams.inverse_batch_size == 24
    obs, _ = setup.env.reset(seed=0)
    next_obs, reward, terminated, _, _ = setup.env.step(setup.env.action_space.sample())
    setup.replay.add(obs, setup.env.action_space.sample(), float(reward), next_obs, terminated)
    batches = setup.batches.sample(8, 4, 0, setup.streams.inverse_batch_size)
    assert batches.inverse is not None and batches.inverse.true_action.shape == (24, 1)
    assert build(tiny_config(tmp_path, "rlv", acrobot_dataset)).inverse is None


def test_resumed_run_matches_uninterrupted(tmp_path, acrobot_dataset, monkeypatch):
    reference = with_idm_dataset(tiny_config(tmp_path / "a", "rlv", acrobot_dataset), acrobot_dataset)
    train(reference)
    interrupted = dataclasses.replace(reference, out=tmp_path / "b" / "run")
    train_interrupted_at(monkeypatch, interrupted, 470)
    resume(interrupted.out, progress=False)
    assert rows(interrupted.out / "train.csv") == rows(reference.out / "train.csv")
    assert_same_state(final_agent(interrupted.out), final_agent(reference.out))
    plain = tiny_config(tmp_path / "c", "rlv", acrobot_dataset)
    train(plain)
    assert rows(plain.out / "train.csv") != rows(reference.out / "train.csv")


def rewritten(tmp_path, dataset, name, change):
    episodes = [change(episode) for episode in load_dataset(dataset).episodes]
    return write_dataset(tmp_path / name, episodes, {"env": "acrobot", "source": "test"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: dataclasses.replace(e, true_actions=None), "episode 0 has no actions"),
        (
            lambda e: dataclasses.replace(e, true_actions=np.zeros((e.length, 2), np.float32)),
            r"actions have shape \(2,\), but acrobot actions have shape \(1,\)",
        ),
    ],
)
def test_unusable_data_is_refused_before_the_run_starts(tmp_path, acrobot_dataset, change, message):
    data = rewritten(tmp_path, acrobot_dataset, "bad", change)
    config = with_idm_dataset(tiny_config(tmp_path, "rlv", acrobot_dataset), data)
    with pytest.raises(RlvError, match=message):
        train(config)
    assert not config.out.exists()
