"""The replay buffer stores each frame once yet samples exactly what the buffer that kept obs and
next_obs for every transition sampled; its chunk files save only what is new, and old replay.npz
checkpoints still load."""

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch

from rlv.data.replay import ReplayBuffer
from rlv.data.replay_files import (
    LEGACY_FILE,
    MANIFEST_FILE,
    load_replay,
    remove_unreferenced_chunks,
    save_replay,
)
from rlv.errors import RlvError

CPU = torch.device("cpu")


class PlainReplay:
    """The buffer before frames were shared (obs and next_obs per transition), kept as reference."""

    FIELDS = ("obs", "action", "reward", "next_obs", "done")

    def __init__(self, obs_shape, act_dim, capacity, seed, obs_dtype=np.float32):
        self.capacity = capacity
        self.obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.action = np.zeros((capacity, act_dim), dtype=np.float32)
        self.reward = np.zeros(capacity, dtype=np.float32)
        self.next_obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.done = np.zeros(capacity, dtype=np.float32)
        self.size = 0
        self.cursor = 0
        self.rng = np.random.default_rng(seed)

    def add(self, obs, action, reward, next_obs, done):
        i = self.cursor
        self.obs[i], self.action[i], self.reward[i] = obs, action, reward
        self.next_obs[i], self.done[i] = next_obs, float(done)
        self.cursor = (self.cursor + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size, device):
        index = self.rng.integers(0, self.size, size=batch_size)
        return tuple(torch.as_tensor(getattr(self, name)[index], device=device) for name in self.FIELDS)

    def save(self, path):
        from rlv.data.replay import rng_state

        arrays = {name: getattr(self, name)[: self.size] for name in self.FIELDS}
        state = np.array(json.dumps({"cursor": self.cursor, "rng": rng_state(self.rng)}))
        with open(path, "wb") as handle:
            np.savez(handle, state=state, **arrays)


def stream(rng, obs_shape, dtype, steps, max_length):
    """Transitions as the trainer adds them: episodes of random length (1 included) ending in a
    termination or a truncation; a reset observation sometimes equals the last one (also -0.0 vs
    0.0 for floats, same value but other bytes)."""

    def frame():
        if dtype == np.uint8:
            return rng.integers(0, 256, size=obs_shape, dtype=np.uint8)
        return rng.normal(size=obs_shape).astype(dtype)

    last = frame()
    while True:
        choice = rng.random()
        obs = last if choice < 0.2 else -last if choice < 0.3 and dtype != np.uint8 else frame()
        length = int(rng.integers(1, max_length + 1))
        for step in range(length):
            next_obs = frame() if rng.random() > 0.1 else np.zeros(obs_shape, dtype)
            terminated = step == length - 1 and rng.random() < 0.5
            yield obs, rng.uniform(-1, 1, 2).astype(np.float32), float(rng.normal()), next_obs, terminated
            steps -= 1
            if steps == 0:
                return
            obs = next_obs
        last = next_obs


def assert_same_batches(new, old, batch_size=7):
    a, b = new.sample(batch_size, CPU), old.sample(batch_size, CPU)
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.numpy().tobytes() == y.numpy().tobytes()


CASES = [((3,), np.float32, 1), ((3,), np.float32, 2), ((2,), np.float32, 17), ((4, 4, 3), np.uint8, 5)]
CASES += [((4, 4, 3), np.uint8, 64), ((3,), np.float32, 100)]


@pytest.mark.parametrize(("obs_shape", "dtype", "capacity"), CASES)
@pytest.mark.parametrize("max_length", [1, 3, 12])
def test_sampled_batches_match_the_plain_buffer(obs_shape, dtype, capacity, max_length):
    rng = np.random.default_rng([capacity, max_length])
    new = ReplayBuffer(obs_shape, 2, capacity, seed=5, obs_dtype=dtype)
    old = PlainReplay(obs_shape, 2, capacity, seed=5, obs_dtype=dtype)
    for count, transition in enumerate(stream(rng, obs_shape, dtype, 3 * capacity + 40, max_length)):
        new.add(*transition)
        old.add(*transition)
        if count % 3 == 0:
            assert_same_batches(new, old)
        assert len(new.ends) <= capacity and new.ends_count <= new.size
    assert new.size == old.size and new.cursor == old.cursor
    everything = np.arange(new.size)
    np.testing.assert_array_equal(new.obs[everything], old.obs[: old.size])
    assert new.next_obs(everything).tobytes() == old.next_obs[: old.size].tobytes()


def test_frames_are_stored_once_per_episode_and_memory_stays_bounded():
    replay = ReplayBuffer((48, 48, 3), 2, capacity=1000, seed=0, obs_dtype=np.uint8)
    rng = np.random.default_rng(0)
    for transition in stream(rng, (48, 48, 3), np.uint8, 3000, max_length=1):  # worst case: length 1
        replay.add(*transition)
    assert len(replay.ends) <= 1000  # at most one extra frame per transition
    long = ReplayBuffer((48, 48, 3), 4, capacity=1000, seed=0, obs_dtype=np.uint8)
    frame = np.zeros((48, 48, 3), np.uint8)
    for step in range(3000):
        following = np.full((48, 48, 3), step % 251, np.uint8)
        long.add(frame, np.zeros(4, np.float32), 0.0, following, False)
        frame = following if step % 100 != 99 else np.full((48, 48, 3), 255, np.uint8)
    assert long.ends_count == 10 and len(long.ends) == 16  # 9 episode ends + the newest
    frame_bytes = 48 * 48 * 3  # per transition: its frame, action, reward, done, end index
    assert long.nbytes == 1000 * (frame_bytes + 4 * 4 + 4 + 1 + 4) + 16 * frame_bytes


def fill(replay, reference, rng, steps, max_length=6):
    for transition in stream(rng, replay.obs.shape[1:], replay.obs.dtype.type, steps, max_length):
        replay.add(*transition)
        if reference is not None:
            reference.add(*transition)


@pytest.mark.parametrize("capacity", [1, 30, 1000])
def test_checkpoints_write_only_new_chunks_and_load_exactly(tmp_path, capacity, monkeypatch):
    monkeypatch.setattr("rlv.data.replay_files.CHUNK_BYTES", 40 * 12)  # chunks of 40 transitions
    rng = np.random.default_rng(capacity)
    replay = ReplayBuffer((4, 1, 3), 2, capacity, seed=1, obs_dtype=np.uint8)
    reference = PlainReplay((4, 1, 3), 2, capacity, seed=1, obs_dtype=np.uint8)
    chunks = tmp_path / "replay"
    written = []
    for checkpoint in range(4):
        fill(replay, reference, rng, 57)
        replay.sample(5, CPU), reference.sample(5, CPU)
        (tmp_path / f"c{checkpoint}").mkdir()
        before = set(chunks.glob("*.npz")) if chunks.exists() else set()
        save_replay(replay, tmp_path / f"c{checkpoint}" / MANIFEST_FILE, chunks)
        new = set(chunks.glob("*.npz")) - before
        written.append(sum(int(p.name[13:25]) - int(p.name[:12]) for p in new))
    assert written == [57, 57, 57, 57] if capacity >= 57 else all(n <= 57 for n in written)
    clone = ReplayBuffer((4, 1, 3), 2, capacity, seed=99, obs_dtype=np.uint8)
    load_replay(clone, tmp_path / "c3", chunks)
    assert clone.total == replay.total and clone.ends_count == replay.ends_count
    for _ in range(5):
        assert_same_batches(clone, reference)
        fill(clone, reference, rng, 13)


def test_unreferenced_chunks_are_removed(tmp_path):
    replay = ReplayBuffer((3,), 2, 20, seed=0)
    rng = np.random.default_rng(0)
    run = tmp_path / "run"
    for step in range(3):
        fill(replay, None, rng, 15)
        (run / "checkpoints" / f"step_{step}").mkdir(parents=True)
        save_replay(replay, run / "checkpoints" / f"step_{step}" / MANIFEST_FILE, run / "replay")
    (run / "replay" / ".000000000000-000000000001-00000000.npz.tmp").write_bytes(b"half")
    assert len(list((run / "replay").iterdir())) == 4
    (run / "checkpoints" / "step_0" / MANIFEST_FILE).unlink()
    (run / "checkpoints" / "step_1" / MANIFEST_FILE).unlink()
    remove_unreferenced_chunks(run)
    names = sorted(path.name for path in (run / "replay").iterdir())
    assert [name[:25] for name in names] == ["000000000015-000000000030", "000000000030-000000000045"]
    clone = ReplayBuffer((3,), 2, 20, seed=0)
    load_replay(clone, run / "checkpoints" / "step_2", run / "replay")
    assert clone.total == 45 and np.array_equal(clone.export(25, 45)["obs"], replay.export(25, 45)["obs"])


@pytest.mark.parametrize(("capacity", "steps"), [(50, 30), (50, 130), (7, 7)])
def test_an_old_replay_npz_loads_and_samples_as_before(tmp_path, capacity, steps):
    rng = np.random.default_rng(steps)
    reference = PlainReplay((2, 2, 3), 2, capacity, seed=3, obs_dtype=np.uint8)
    fill(reference, None, rng, steps)
    reference.sample(4, CPU)
    reference.save(tmp_path / LEGACY_FILE)
    replay = ReplayBuffer((2, 2, 3), 2, capacity, seed=0, obs_dtype=np.uint8)
    load_replay(replay, tmp_path, tmp_path / "replay")
    assert replay.size == reference.size and replay.cursor == reference.cursor
    for _ in range(4):
        assert_same_batches(replay, reference)
        fill(replay, reference, rng, 11)
    save_replay(replay, tmp_path / MANIFEST_FILE, tmp_path / "replay")  # the whole window, as chunks
    clone = ReplayBuffer((2, 2, 3), 2, capacity, seed=0, obs_dtype=np.uint8)
    load_replay(clone, tmp_path, tmp_path / "replay")
    assert_same_batches(clone, reference)


def saved(tmp_path):
    replay = ReplayBuffer((3,), 2, 10, seed=0)
    fill(replay, None, np.random.default_rng(0), 25)
    save_replay(replay, tmp_path / MANIFEST_FILE, tmp_path / "replay")
    return replay, next((tmp_path / "replay").glob("*.npz"))


def test_damaged_replay_files_are_one_line_naming_the_file(tmp_path):
    replay, chunk = saved(tmp_path)
    other = ReplayBuffer((4,), 2, 10, seed=0)
    with pytest.raises(RlvError, match=r"replay\.json: replay .* does not fit this run"):
        load_replay(other, tmp_path, tmp_path / "replay")
    chunk.write_bytes(chunk.read_bytes()[:-30])
    with pytest.raises(RlvError, match=f"{chunk}: corrupt replay chunk") as error:
        load_replay(replay, tmp_path, tmp_path / "replay")
    assert len(str(error.value).splitlines()) == 1 and len(replay) == 0  # left empty
    chunk.unlink()
    with pytest.raises(RlvError, match=f"{chunk}: replay chunk is missing"):
        load_replay(replay, tmp_path, tmp_path / "replay")
    (tmp_path / MANIFEST_FILE).write_text('{"total": 3}')
    with pytest.raises(RlvError, match=r"replay\.json: corrupt replay manifest \(KeyError"):
        load_replay(replay, tmp_path, tmp_path / "replay")


def to_old_format(run):
    """Rewrite every checkpoint of `run` as written before replay chunks (replay.npz per checkpoint)."""
    from rlv.data.replay import rng_state
    from rlv.data.replay_files import REPLAY_DIR, open_replay

    for checkpoint in (run / "checkpoints").iterdir():
        replay = open_replay(checkpoint, run / REPLAY_DIR)
        slots = np.arange(replay.size)
        arrays = {"obs": replay.obs[slots], "action": replay.action[slots], "reward": replay.reward[slots]}
        arrays |= {"next_obs": replay.next_obs(slots), "done": replay.done[slots].astype(np.float32)}
        state = np.array(json.dumps({"cursor": replay.cursor, "rng": rng_state(replay.rng)}))
        np.savez(checkpoint / LEGACY_FILE, state=state, **arrays)
        (checkpoint / MANIFEST_FILE).unlink()
    shutil.rmtree(run / REPLAY_DIR)


def test_a_run_checkpointed_before_chunks_resumes_exactly(tmp_path, acrobot_dataset, monkeypatch):
    from conftest import tiny_config
    from test_train import assert_same_state, final_agent, rows, train_interrupted_at

    from rlv.data.replay_files import open_replay
    from rlv.train import resume, train

    reference = tiny_config(tmp_path / "a", "rlv", acrobot_dataset, replay_size=150)  # wraps around
    train(reference)
    interrupted = dataclasses.replace(reference, out=tmp_path / "b" / "run")
    train_interrupted_at(monkeypatch, interrupted, 470)
    to_old_format(interrupted.out)
    resume(interrupted.out, progress=False)
    assert rows(interrupted.out / "train.csv") == rows(reference.out / "train.csv")
    assert_same_state(final_agent(interrupted.out), final_agent(reference.out))
    replays = [
        open_replay(run / "checkpoints" / "final", run / "replay") for run in (interrupted.out, reference.out)
    ]
    assert replays[0].cursor == replays[1].cursor and len(replays[0]) == len(replays[1]) == 150
    for key, array in replays[1].transitions().items():
        assert replays[0].transitions()[key].tobytes() == array.tobytes(), key


def test_a_full_disk_while_writing_a_chunk_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    import errno

    import rlv.data.replay_files
    from rlv.checkpoint import prune_checkpoints, save_checkpoint

    replay = ReplayBuffer((3,), 2, 100, seed=0)
    rng, run = np.random.default_rng(0), tmp_path / "run"

    def checkpoint(name):
        writer = lambda path: save_replay(replay, path, run / "replay")  # noqa: E731
        save_checkpoint(run / "checkpoints" / name, {"x": torch.zeros(1)}, writer)
        prune_checkpoints(run, keep=1)

    fill(replay, None, rng, 30)
    checkpoint("step_1")
    fill(replay, None, rng, 30)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rlv.data.replay_files.np, "savez", full_disk)
    with pytest.raises(RlvError, match=r"step_2: could not write \(No space left on device\)"):
        checkpoint("step_2")
    monkeypatch.undo()
    assert [path.name for path in (run / "replay").iterdir()] == [replay.saved_chunks[0][2]]  # no temporary
    clone = ReplayBuffer((3,), 2, 100, seed=0)
    load_replay(clone, run / "checkpoints" / "step_1", run / "replay")
    assert clone.total == 30 and not (run / "checkpoints" / "step_2").exists()
