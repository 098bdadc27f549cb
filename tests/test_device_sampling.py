"""Batches gathered on the device (rlv.data.device) equal the host path's bit for bit.

The device path runs with device="cpu" here (the same code a GPU runs); the CUDA tests repeat the
comparison on a GPU and skip, saying why, where torch has none.
"""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_config
from test_idm_dataset import with_idm_dataset
from test_replay import stream
from test_train import assert_same_state, final_agent, rows, train_interrupted_at

import rlv.data.device
import rlv.run_setup
from rlv.config import SACConfig
from rlv.data.dataset import Dataset, Episode
from rlv.data.device import BatchSampler
from rlv.data.paired import PairedFrames, PairedSampler
from rlv.data.replay import ObservationSampler, ReplayBuffer
from rlv.errors import RlvError
from rlv.train import resume, train

CPU = torch.device("cpu")
NO_CUDA = "no CUDA GPU in this torch build or machine: the device path is checked with device='cpu' above"
DEVICES = [
    pytest.param("cpu"),
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)),
]
BUFFERS = [((3,), np.float32, 5), ((4, 4, 3), np.uint8, 40)]


def assert_same_batches(a, b):
    for x, y in zip(a, b, strict=True):
        if x is None or y is None:
            assert x is None and y is None
        elif isinstance(x, tuple):
            assert_same_batches(x, y)
        else:
            assert x.dtype == y.dtype and x.shape == y.shape and x.device == y.device
            assert x.cpu().numpy().tobytes() == y.cpu().numpy().tobytes()


def image_streams(seed):
    """An observation sampler (uint8 frames, true actions) and paired frames, both (4, 4, 3)."""
    rng = np.random.default_rng(seed)
    episodes = [
        Episode(
            obs=rng.integers(0, 256, size=(length + 1, 4, 4, 3), dtype=np.uint8),
            success=bool(length % 2),
            true_actions=rng.uniform(-1, 1, size=(length, 2)).astype(np.float32),
        )
        for length in (3, 7, 1, 5)
    ]
    dataset = Dataset(Path("."), {"obs_shape": [4, 4, 3]}, episodes)
    pairs = rng.integers(0, 256, size=(2, 9, 4, 4, 3), dtype=np.uint8)
    paired = PairedSampler(PairedFrames(Path("."), {}, pairs[0], pairs[1]), seed=seed + 2)
    return ObservationSampler(dataset, seed=seed + 1), paired


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("obs_shape", "dtype", "capacity"), BUFFERS)
@pytest.mark.parametrize("max_length", [1, 4, 15])
def test_device_batches_equal_host_batches(device, obs_shape, dtype, capacity, max_length):
    """Through wrap-around, growing `ends` rings, a restore and a clear, with every stream."""
    device = torch.device(device)
    samplers = []
    for _ in range(2):
        replay = ReplayBuffer(obs_shape, 2, capacity, seed=3, obs_dtype=dtype)
        observations, paired = image_streams(seed=11)
        samplers.append((replay, observations, paired))
    inverse = [image_streams(seed=12)[0] for _ in range(2)]  # another dataset, for an inverse model
    host = BatchSampler(*samplers[0], device, on_device=False, inverse=inverse[0])
    mirrored = BatchSampler(*samplers[1], device, on_device=True, inverse=inverse[1])
    rng = np.random.default_rng([capacity, max_length])
    for count, transition in enumerate(stream(rng, obs_shape, dtype, 4 * capacity + 30, max_length)):
        for replay, _, _ in samplers:
            replay.add(*transition)
        if count % 3 == 0:
            assert_same_batches(host.sample(6, 5, 4, 3), mirrored.sample(6, 5, 4, 3))
        if count == 2 * capacity:  # restore the mirrored buffer from the host one's export
            source = samplers[0][0]
            part = source.export(source.total - source.size, source.total)
            samplers[1][0].restore(source.total, [part | {"ended": part["ended"].astype(bool)}])
            samplers[1][0].rng.bit_generator.state = source.rng.bit_generator.state
    for replay, _, _ in samplers:
        replay.clear()
        for transition in stream(np.random.default_rng(1), obs_shape, dtype, 3, max_length):
            replay.add(*transition)
    assert_same_batches(host.sample(6, 5, 4, 3), mirrored.sample(6, 5, 4, 3))


def test_a_step_copies_only_the_new_transitions_and_the_row_numbers(monkeypatch):
    replay = ReplayBuffer((4, 4, 3), 2, 64, seed=0, obs_dtype=np.uint8)
    transitions = stream(np.random.default_rng(0), (4, 4, 3), np.uint8, 50, 10)
    for _ in range(40):
        replay.add(*next(transitions))
    batches = BatchSampler(replay, None, None, CPU, on_device=True)
    batches.sample(32, 0, 0)
    copied = []
    original = rlv.data.device.to_device

    def counting(array, device):
        copied.append(array.nbytes)
        return original(array, device)

    monkeypatch.setattr(rlv.data.device, "to_device", counting)
    replay.add(*next(transitions))
    batches.sample(32, 0, 0)
    # two obs rows, two end frames at most, and the small per-row fields; never the 32-row batch
    assert 0 < sum(copied) <= 2 * 48 * 2 + 2 * (8 + 4 + 4 + 8)
    copied.clear()
    batches.sample(32, 0, 0)
    assert copied == []


def test_a_replay_too_large_for_the_device_is_one_line(monkeypatch):
    def out_of_memory(*args):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(rlv.data.device, "DeviceReplay", out_of_memory)
    with pytest.raises(RlvError, match=r"--sample-on-device: the replay .* --no-sample-on-device"):
        BatchSampler(ReplayBuffer((3,), 1, 10, seed=0), None, None, CPU, on_device=True)


def force_device_sampling(monkeypatch):
    """Make the trainer sample through the device path on the CPU."""

    def on_device(replay, observations, paired, device, on_device, inverse=None):
        return BatchSampler(replay, observations, paired, device, on_device=True, inverse=inverse)

    monkeypatch.setattr(rlv.run_setup, "BatchSampler", on_device)


PIXELS = {
    "env": "pointmass",
    "total_steps": 400,
    "replay_size": 1000,
    "sac": SACConfig(batch_size=8, conv_channels=(4, 4)),
}
"""A pointmass run from 48x48 frames small enough for seconds (uint8 replay, ends shared)."""


@pytest.mark.parametrize(
    ("algo", "changes", "interrupt"),
    [("sac", {}, 470), ("rlv", {}, 470), ("rlv", {"idm_dataset": True}, 470), ("sac", PIXELS, 330)],
)
def test_a_run_sampled_on_the_device_matches_the_host_run_and_resumes_exactly(
    tmp_path, acrobot_dataset, algo, changes, interrupt, monkeypatch
):
    changes = dict(changes)
    idm_dataset = changes.pop("idm_dataset", False)
    reference = tiny_config(tmp_path / "host", algo, acrobot_dataset, **changes)
    if idm_dataset:  # the inverse model's robot data, a stream of its own
        reference = with_idm_dataset(reference, acrobot_dataset, batch_size=8)
    train(reference)
    force_device_sampling(monkeypatch)
    mirrored = dataclasses.replace(reference, out=tmp_path / "device" / "run")
    train_interrupted_at(monkeypatch, mirrored, interrupt)
    force_device_sampling(monkeypatch)
    resume(mirrored.out, progress=False)
    for name in ("train.csv", "eval.csv"):
        assert rows(mirrored.out / name) == rows(reference.out / name)
    assert_same_state(final_agent(mirrored.out), final_agent(reference.out))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("algo", "changes"), [("rlv", {}), ("sac", PIXELS)])
def test_a_run_samples_on_its_device(tmp_path, acrobot_dataset, device, algo, changes):
    """On cuda the batches are drawn there (on cpu the host path runs: nothing to mirror)."""
    config = tiny_config(tmp_path, algo, acrobot_dataset, device=device, **changes)
    setup = rlv.run_setup.build(config)
    assert setup.batches.on_device == (device != "cpu")
    obs, _ = setup.env.reset(seed=0)
    for _ in range(3):
        action = setup.env.action_space.sample()
        next_obs, reward, terminated, _, _ = setup.env.step(action)
        setup.replay.add(obs, action, float(reward), next_obs, terminated)
        obs = next_obs
    batches = setup.batches.sample(8, 8, 0)
    tensors = [*batches.robot, *(batches.observations or [])]
    assert all(tensor.device.type == device for tensor in tensors if tensor is not None)
    assert train(config)["env_step"] == config.total_steps
    assert not rlv.run_setup.build(dataclasses.replace(config, sample_on_device=False)).batches.on_device
