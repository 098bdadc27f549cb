"""The replay on disk: append-only chunk files shared by the checkpoints of a run.

    RUN/replay/000000000000-000000038836-3f2a9c1e.npz   transitions 0 .. 38835, written once
    RUN/checkpoints/step_N/replay.json                  manifest: counters, sampling RNG, chunk names

A checkpoint writes chunks only for the transitions added since the previous one, then a small
manifest naming the chunks that hold its replay (the last `size` transitions). Each chunk is
written under a temporary name, flushed and renamed, before the checkpoint itself is renamed into
place; chunks that no checkpoint names any more are deleted once a new checkpoint is durable
(`remove_unreferenced_chunks`). Checkpoints written before chunks (`replay.npz`) still load.
No pickle anywhere: `np.load(..., allow_pickle=False)` and JSON.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rlv.data.dataset import npz_problem
from rlv.data.replay import ReplayBuffer, rng_state, same_bytes, set_rng_state
from rlv.errors import RlvError
from rlv.files import fsync_dir

REPLAY_DIR = "replay"
MANIFEST_FILE = "replay.json"
LEGACY_FILE = "replay.npz"
FORMAT = "rlv-replay-chunks/1"
CHUNK_BYTES = 256 * 2**20
"""A chunk holds at most this many bytes of observations (about 38,800 48x48 RGB frames)."""
CHUNK_NAME = re.compile(r"(\d{12})-(\d{12})-[0-9a-f]{8}\.npz")
READ_ERRORS = (OSError, KeyError, ValueError, TypeError, EOFError, zipfile.BadZipFile)


def open_replay(checkpoint: Path, chunk_dir: Path) -> ReplayBuffer:
    """A buffer shaped as a checkpoint's manifest says, filled from it (to inspect a run's replay)."""
    try:
        description = json.loads((checkpoint / MANIFEST_FILE).read_text())
        shape, act_dim = tuple(description["obs_shape"]), int(description["act_dim"])
        capacity, dtype = int(description["capacity"]), np.dtype(description["obs_dtype"]).type
    except (*READ_ERRORS, AttributeError) as error:
        raise RlvError(f"{checkpoint / MANIFEST_FILE}: corrupt replay manifest ({error})") from error
    buffer = ReplayBuffer(shape, act_dim, capacity, seed=0, obs_dtype=dtype)
    load_replay(buffer, checkpoint, chunk_dir)
    return buffer


def has_replay(checkpoint: Path) -> bool:
    """Whether a checkpoint directory holds a replay (a manifest, or an old `replay.npz`)."""
    return (checkpoint / MANIFEST_FILE).exists() or (checkpoint / LEGACY_FILE).exists()


def save_replay(buffer: ReplayBuffer, manifest: Path, chunk_dir: Path) -> None:
    """Write chunks for the transitions not yet in a chunk (flushed, renamed into `chunk_dir`),
    then the manifest of the buffer's replay to `manifest` (flushed by the caller)."""
    if not chunk_dir.exists():
        chunk_dir.mkdir()
        fsync_dir(chunk_dir.parent)
    first = buffer.total - buffer.size
    start = max([first, *(stop for _, stop, _ in buffer.saved_chunks)])
    step = max(1, CHUNK_BYTES // max(1, buffer.obs[0].nbytes))
    for begin in range(start, buffer.total, step):
        stop = min(begin + step, buffer.total)
        name = f"{begin:012d}-{stop:012d}-{secrets.token_hex(4)}.npz"
        write_chunk(chunk_dir / name, buffer.export(begin, stop))
        buffer.saved_chunks.append((begin, stop, name))
    if start < buffer.total:
        fsync_dir(chunk_dir)
    buffer.saved_chunks = [chunk for chunk in buffer.saved_chunks if chunk[1] > first]
    description = {
        "format": FORMAT,
        "capacity": buffer.capacity,
        "total": buffer.total,
        "obs_shape": list(buffer.obs.shape[1:]),
        "obs_dtype": buffer.obs.dtype.name,
        "act_dim": buffer.action.shape[1],
        "rng": json.loads(rng_state(buffer.rng)),
        "chunks": [list(chunk) for chunk in buffer.saved_chunks],
    }
    manifest.write_text(json.dumps(description))  # no newline: any truncation breaks the JSON


def write_chunk(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write one chunk under a temporary name, flush it and rename it to `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_replay(buffer: ReplayBuffer, checkpoint: Path, chunk_dir: Path) -> None:
    """Fill `buffer` from a checkpoint's manifest and the chunks in `chunk_dir`, or from an old
    `replay.npz`. A damaged or non-fitting replay is one RlvError naming the file; the buffer is
    then left empty."""
    if not (checkpoint / MANIFEST_FILE).exists():
        load_legacy(buffer, checkpoint / LEGACY_FILE)
        return
    manifest = checkpoint / MANIFEST_FILE
    total, chunks, rng = read_manifest(buffer, manifest)
    first = total - min(total, buffer.capacity)
    buffer.restore(total, read_chunks(buffer, chunk_dir, chunks, first))
    set_rng_state(buffer.rng, rng)
    buffer.saved_chunks = chunks


def read_manifest(buffer: ReplayBuffer, manifest: Path) -> tuple[int, list[tuple[int, int, str]], str]:
    """The total, chunks (start, stop, name) and RNG state of a manifest, checked against `buffer`."""
    try:
        description = json.loads(manifest.read_text())
        total, rng = int(description["total"]), json.dumps(description["rng"])
        chunks = [(int(start), int(stop), str(name)) for start, stop, name in description["chunks"]]
        written = (
            description["format"],
            description["capacity"],
            tuple(description["obs_shape"]),
            description["obs_dtype"],
            description["act_dim"],
        )
        set_rng_state(np.random.default_rng(), rng)  # check before touching the buffer
    except (*READ_ERRORS, AttributeError) as error:
        raise RlvError(f"{manifest}: corrupt replay manifest ({type(error).__name__}: {error})") from error
    expected = (FORMAT, buffer.capacity, buffer.obs.shape[1:], buffer.obs.dtype.name, buffer.action.shape[1])
    if written != expected:
        raise RlvError(
            f"{manifest}: replay (format, capacity, obs shape, obs dtype, action size) {written} "
            f"does not fit this run's {expected}"
        )
    first, position = total - min(total, buffer.capacity), None
    for start, stop, name in chunks:
        if not CHUNK_NAME.fullmatch(name) or not start < stop or position not in (None, start):
            raise RlvError(f"{manifest}: corrupt replay manifest (chunk {name} out of place)")
        position = stop
    if total < 0 or (total > 0 and (not chunks or chunks[0][0] > first or position != total)):
        raise RlvError(f"{manifest}: corrupt replay manifest (its chunks do not hold {first}..{total - 1})")
    return total, chunks, rng


def read_chunks(
    buffer: ReplayBuffer, chunk_dir: Path, chunks: list[tuple[int, int, str]], first: int
) -> Iterator[dict[str, np.ndarray]]:
    """The transitions from number `first` on, one chunk at a time, shaped like `export`'s."""
    for start, stop, name in chunks:
        path = chunk_dir / name
        if not path.exists():
            raise RlvError(f"{path}: replay chunk is missing")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in ("obs", "action", "reward", "done", "ended", "ends")}
        except READ_ERRORS as error:
            raise RlvError(f"{path}: corrupt replay chunk ({npz_problem(error)})") from error
        problem = chunk_problem(buffer, arrays, stop - start, last=stop == chunks[-1][1])
        if problem:
            raise RlvError(f"{path}: corrupt replay chunk ({problem})")
        ended = arrays["ended"].astype(bool)
        skip = max(0, first - start)
        arrays["ends"] = arrays["ends"][int(ended[:skip].sum()) :]
        arrays["ended"] = ended
        yield {key: value if key == "ends" else value[skip:] for key, value in arrays.items()}


def chunk_problem(buffer: ReplayBuffer, arrays: dict[str, np.ndarray], length: int, last: bool) -> str | None:
    """What is wrong with a chunk's arrays (shapes, dtypes, flags), or None; the `last` chunk must
    hold the next observation of its last transition (the newest of the replay)."""
    frame, act_dim = buffer.obs.shape[1:], buffer.action.shape[1]
    expected = {
        "obs": ((length, *frame), buffer.obs.dtype),
        "action": ((length, act_dim), np.float32),
        "reward": ((length,), np.float32),
        "done": ((length,), np.uint8),
        "ended": ((length,), np.uint8),
    }
    for key, (shape, dtype) in expected.items():
        if arrays[key].shape != shape or arrays[key].dtype != dtype:
            return f"{key} is {arrays[key].dtype} {arrays[key].shape}, not {np.dtype(dtype)} {shape}"
    ended = arrays["ended"]
    if ended.max(initial=0) > 1 or arrays["done"].max(initial=0) > 1 or (last and not ended[-1]):
        return "flags other than 0 and 1, or a last transition without its next observation"
    ends, shape = arrays["ends"], (int(ended.sum()), *frame)
    if ends.shape != shape or ends.dtype != buffer.obs.dtype:
        return f"ends is {ends.dtype} {ends.shape}, not {buffer.obs.dtype} {shape}"
    return None


def load_legacy(buffer: ReplayBuffer, path: Path) -> None:
    """Fill `buffer` from a `replay.npz` written before chunks (obs and next_obs of every slot,
    cursor, RNG), keeping each transition in the slot it had, so sampling goes on as it would have."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in ReplayBuffer.FIELDS}
            state = json.loads(str(data["state"]))
        size = len(arrays["reward"])
        if size > buffer.capacity:
            raise RlvError(f"{path}: replay holds {size} transitions, more than capacity {buffer.capacity}")
        shapes = {"obs": buffer.obs, "action": buffer.action, "reward": buffer.reward, "done": buffer.done}
        for name in ReplayBuffer.FIELDS:
            shape = (size, *shapes[name.removeprefix("next_")].shape[1:])
            if arrays[name].shape != shape:
                raise RlvError(f"{path}: {name} has shape {arrays[name].shape}, not {shape}")
        cursor, rng = int(state["cursor"]), str(state["rng"])
        if not 0 <= cursor < buffer.capacity:
            raise RlvError(f"{path}: cursor {cursor} is outside the replay of capacity {buffer.capacity}")
        set_rng_state(np.random.default_rng(), rng)  # check before touching the buffer
        total = size + cursor if size == buffer.capacity else size
        order = (cursor + np.arange(size)) % max(size, 1)
        buffer.restore(total, legacy_parts(buffer, arrays, order))
    except READ_ERRORS as error:
        raise RlvError(f"{path}: corrupt replay file ({npz_problem(error)})") from error
    set_rng_state(buffer.rng, rng)
    buffer.saved_chunks = []


def legacy_parts(
    buffer: ReplayBuffer, arrays: dict[str, Any], order: np.ndarray, block: int = 4096
) -> Iterator[dict[str, np.ndarray]]:
    """The transitions of an old replay oldest first (slots `order`), in parts shaped like
    `export`'s: a transition's next_obs is stored once more only where the next one does not
    start from it."""
    dtype = buffer.obs.dtype
    for begin in range(0, len(order), block):
        slots = order[begin : begin + block]
        obs, next_obs = arrays["obs"][slots].astype(dtype), arrays["next_obs"][slots].astype(dtype)
        following = arrays["obs"][order[begin + 1 : begin + block + 1]].astype(dtype)
        ended = np.ones(len(slots), dtype=bool)
        for index in range(len(following)):
            ended[index] = not same_bytes(following[index], next_obs[index])
        yield {
            "obs": obs,
            "action": arrays["action"][slots].astype(np.float32),
            "reward": arrays["reward"][slots].astype(np.float32),
            "done": (arrays["done"][slots] != 0).astype(np.uint8),
            "ended": ended,
            "ends": next_obs[ended],
        }


def remove_unreferenced_chunks(run: Path) -> None:
    """Delete the chunk files (and temporaries) of `run` that no checkpoint's manifest names;
    call once a new checkpoint is durable. A manifest that cannot be read protects nothing (its
    checkpoint cannot load anyway)."""
    chunk_dir = run / REPLAY_DIR
    if not chunk_dir.is_dir():
        return
    referenced: set[str] = set()
    for manifest in (run / "checkpoints").glob(f"[!.]*/{MANIFEST_FILE}"):
        try:
            referenced.update(str(chunk[2]) for chunk in json.loads(manifest.read_text())["chunks"])
        except (*READ_ERRORS, IndexError, AttributeError):
            continue
    for path in chunk_dir.iterdir():
        if path.name not in referenced:
            path.unlink(missing_ok=True)
