"""Replay memory and checkpoint cost for 48x48 RGB observations (the image presets), measured:

1. bytes per transition of the replay (every array it holds, index arrays included) after filling
   it with episodes of each task horizon (pointmass 40, push 100, drawer-open 200; 4 action
   dimensions, Meta-World's: the paper's push and drawer-open have 2, which saves 8 of the 7,008
   bytes of a push transition), against the plain buffer that stored obs and next_obs for every transition;
2. sampling speed of both buffers side by side on the same transitions (batches of 256 and 128,
   best of several repeats, alternating), and the cost of adding a transition;
3. checkpoint saves of a large replay: the first (writes everything), an incremental one after
   10,000 more transitions (writes only those), the plain buffer's replay.npz (what every
   checkpoint wrote before), and loading it back.

The last line is `bytes per image transition: N` for the push setting (horizon 100).

    python benchmarks/replay_memory.py --capacity 100000 --checkpoint-transitions 200000
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import tyro

from rlv.checkpoint import prune_checkpoints, save_checkpoint
from rlv.data.replay import ReplayBuffer
from rlv.data.replay_files import REPLAY_DIR, load_replay, save_replay

FRAME = (48, 48, 3)
ACT_DIM = 4  # an upper bound for the image tasks (push and drawer-open: 2; pointmass: 2)
HORIZONS = {"pointmass": 40, "push": 100, "drawer-open": 200}
CPU = torch.device("cpu")


@dataclass(frozen=True)
class Args:
    capacity: int = 100_000
    """Replay capacity for the memory and sampling rows (filled to capacity and past it)."""
    checkpoint_transitions: int = 200_000
    """Transitions in the replay whose checkpoint saves are timed."""
    increment: int = 10_000
    """Transitions added before the incremental save."""
    batches: int = 200
    """Sampled batches per timing repeat."""
    repeats: int = 5
    """Timing repeats; the best (least disturbed) is reported."""
    scratch: Path | None = None
    """Directory for the checkpoint files (default: a temporary directory, removed after)."""
    sections: tuple[str, ...] = ("memory", "sampling", "checkpoint")
    """What to measure (the last line needs `memory`)."""
    plain_save: bool = True
    """Also time the plain buffer's replay.npz (needs memory for obs and next_obs of every transition)."""


class PlainReplay:
    """The buffer before frames were shared: obs and next_obs kept for every transition."""

    FIELDS = ("obs", "action", "reward", "next_obs", "done")

    def __init__(self, obs_shape, act_dim, capacity, seed, obs_dtype=np.float32):
        self.capacity, self.size, self.cursor = capacity, 0, 0
        self.obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.action = np.zeros((capacity, act_dim), dtype=np.float32)
        self.reward = np.zeros(capacity, dtype=np.float32)
        self.next_obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.done = np.zeros(capacity, dtype=np.float32)
        self.rng = np.random.default_rng(seed)

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name in self.FIELDS)

    def add(self, obs, action, reward, next_obs, done):
        i = self.cursor
        self.obs[i], self.action[i], self.reward[i] = obs, action, reward
        self.next_obs[i], self.done[i] = next_obs, float(done)
        self.cursor = (self.cursor + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size, device):
        index = self.rng.integers(0, self.size, size=batch_size)
        return tuple(torch.as_tensor(getattr(self, name)[index], device=device) for name in self.FIELDS)


def transitions(horizon: int, count: int, seed: int = 0) -> Iterator[tuple]:
    """`count` transitions of episodes of `horizon` steps, as the trainer adds them; every frame
    distinct (a counter in its first bytes), a reset observation differs from the last one."""
    rng = np.random.default_rng(seed)
    pool = rng.integers(0, 256, size=(64, *FRAME), dtype=np.uint8)
    actions = rng.uniform(-1, 1, size=(256, ACT_DIM)).astype(np.float32)
    serial = 0

    def frame() -> np.ndarray:
        nonlocal serial
        serial += 1
        image = pool[serial % len(pool)].copy()
        image.reshape(-1)[:8] = np.frombuffer(np.int64(serial).tobytes(), dtype=np.uint8)
        return image

    added = 0
    while added < count:
        obs = frame()
        for step in range(min(horizon, count - added)):
            next_obs = frame()
            terminated = step == horizon - 1 and added % 3 == 0
            yield obs, actions[added % 256], float(step), next_obs, terminated
            obs = next_obs
            added += 1


def fill(buffers: list, horizon: int, count: int) -> list[float]:
    """Add `count` transitions to each buffer; microseconds per add, per buffer."""
    spent = [0.0] * len(buffers)
    for transition in transitions(horizon, count):
        for index, buffer in enumerate(buffers):
            start = time.perf_counter()
            buffer.add(*transition)
            spent[index] += time.perf_counter() - start
    return [1e6 * seconds / count for seconds in spent]


def seconds_per_call(function: Callable[[], object], calls: int) -> float:
    """Mean seconds per call over `calls` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def memory_rows(args: Args) -> tuple[list[str], dict[str, float]]:
    plain = PlainReplay(FRAME, ACT_DIM, 1, seed=0, obs_dtype=np.uint8).nbytes
    lines = [
        f"Replay memory, 48x48 RGB uint8, {ACT_DIM} action dims, capacity {args.capacity:,} filled "
        f"with {2 * args.capacity:,} transitions of episodes of the task horizon",
        "| task | horizon | bytes per transition | plain buffer (obs + next_obs) | ratio |",
        "|---|---|---|---|---|",
    ]
    figures = {}
    for task, horizon in HORIZONS.items():
        replay = ReplayBuffer(FRAME, ACT_DIM, args.capacity, seed=0, obs_dtype=np.uint8)
        fill([replay], horizon, 2 * args.capacity)
        figures[task] = replay.nbytes / args.capacity
        lines.append(
            f"| {task} | {horizon} | {figures[task]:,.0f} | {plain:,} | {figures[task] / plain:.3f} |"
        )
        del replay
    return lines, figures


def sampling_rows(args: Args) -> list[str]:
    horizon = HORIZONS["push"]
    replay = ReplayBuffer(FRAME, ACT_DIM, args.capacity, seed=0, obs_dtype=np.uint8)
    plain = PlainReplay(FRAME, ACT_DIM, args.capacity, seed=0, obs_dtype=np.uint8)
    add_new, add_plain = fill([replay, plain], horizon, args.capacity + args.capacity // 2)
    same = zip(replay.sample(256, CPU), plain.sample(256, CPU), strict=True)
    assert all(a.numpy().tobytes() == b.numpy().tobytes() for a, b in same), "batches differ"
    lines = [
        f"Sampling, same {args.capacity:,} transitions (horizon {horizon}), best of {args.repeats} x "
        f"{args.batches} batches, alternating",
        "| batch | plain buffer ms/batch | frames stored once ms/batch | new / plain |",
        "|---|---|---|---|",
    ]
    for batch in (256, 128):
        times = {"plain": [], "new": []}
        for _ in range(args.repeats):
            times["plain"].append(seconds_per_call(lambda: plain.sample(batch, CPU), args.batches))  # noqa: B023
            times["new"].append(seconds_per_call(lambda: replay.sample(batch, CPU), args.batches))  # noqa: B023
        old, new = 1e3 * min(times["plain"]), 1e3 * min(times["new"])
        lines.append(f"| {batch} | {old:.3f} | {new:.3f} | {new / old:.2f} |")
    lines.append(f"add: {add_plain:.1f} us per transition (plain), {add_new:.1f} us (frames stored once)")
    return lines


def checkpoint_rows(args: Args, scratch: Path) -> list[str]:
    count, increment = args.checkpoint_transitions, args.increment
    replay = ReplayBuffer(FRAME, ACT_DIM, count + increment, seed=0, obs_dtype=np.uint8)
    stream = transitions(HORIZONS["push"], count + increment)
    for _ in range(count):
        replay.add(*next(stream))
    run = scratch / "run"

    def checkpoint(replay: ReplayBuffer, step: int) -> tuple[float, float]:
        before = directory_bytes(run)
        start = time.perf_counter()
        writer = lambda path: save_replay(replay, path, run / REPLAY_DIR)  # noqa: E731
        save_checkpoint(run / "checkpoints" / f"step_{step:09d}", {"step": torch.tensor(step)}, writer)
        prune_checkpoints(run, keep=2)
        return time.perf_counter() - start, (directory_bytes(run) - before) / 2**20

    first_s, first_mb = checkpoint(replay, count)
    for _ in range(increment):
        replay.add(*next(stream))
    more_s, more_mb = checkpoint(replay, count + increment)
    plain = plain_save(replay, scratch / "replay.npz") if args.plain_save else None
    expected = replay.transitions()["reward"]
    del replay
    clone = ReplayBuffer(FRAME, ACT_DIM, count + increment, seed=1, obs_dtype=np.uint8)
    start = time.perf_counter()
    load_replay(clone, run / "checkpoints" / f"step_{count + increment:09d}", run / REPLAY_DIR)
    load_s = time.perf_counter() - start
    assert np.array_equal(clone.transitions()["reward"], expected)
    lines = [
        f"Checkpoint save (written and fsynced) of a 48x48 RGB replay, horizon {HORIZONS['push']}",
        "| save | transitions in replay | seconds | MB written |",
        "|---|---|---|---|",
        f"| first (all chunks) | {count:,} | {first_s:.2f} | {first_mb:,.0f} |",
        f"| incremental (+{increment:,}) | {count + increment:,} | {more_s:.2f} | {more_mb:,.0f} |",
    ]
    if plain is not None:
        lines.append(
            f"| plain buffer replay.npz (every checkpoint, before) | {count + increment:,} | "
            f"{plain[0]:.2f} | {plain[1]:,.0f} |"
        )
    return [*lines, f"load of the {count + increment:,}-transition replay from its chunks: {load_s:.2f} s"]


def plain_save(replay: ReplayBuffer, path: Path) -> tuple[float, float]:
    """Time writing `replay` as the plain buffer's replay.npz did (obs and next_obs per transition)."""
    arrays = replay.transitions()
    start = time.perf_counter()
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    seconds = time.perf_counter() - start
    size = path.stat().st_size / 2**20
    path.unlink()
    return seconds, size


def directory_bytes(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file()) if path.exists() else 0


def main(args: Args) -> None:
    torch.set_num_threads(1)
    figures = {}
    if "memory" in args.sections:
        memory, figures = memory_rows(args)
        print("\n".join(memory), flush=True)
    if "sampling" in args.sections:
        print("\n".join(sampling_rows(args)), flush=True)
    if "checkpoint" in args.sections:
        scratch = Path(tempfile.mkdtemp(prefix="replay-bench-", dir=args.scratch))
        try:
            print("\n".join(checkpoint_rows(args, scratch)), flush=True)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if figures:
        print(f"bytes per image transition: {figures['push']:.0f}")


if __name__ == "__main__":
    main(tyro.cli(Args))
