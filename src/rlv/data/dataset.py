"""Action-free observation datasets on disk: one compressed `.npz` per episode plus `meta.json`.

Layout (format `rlv-dataset`, version 1; full description in docs/dataset_format.md):

    DS/meta.json
    DS/episodes/episode_000000_len100.npz   obs (T+1, *obs_shape), success () bool,
                                            optional true_actions (T, act_dim), rewards (T,),
                                            states (T+1, state_dim)

An episode of T transitions holds T+1 observations. Its last transition is done when `success`
is true (the end of a successful video). Nothing is pickled: `.npz` files are read with
`allow_pickle=False`. Writes go to a temporary sibling directory renamed into place at the end,
so a dataset directory either is complete or does not exist.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rlv.errors import RlvError
from rlv.files import is_disk_error, shared_tmpdir, write_failure

FORMAT_NAME = "rlv-dataset"
FORMAT_VERSION = 1
EPISODE_PATTERN = "episodes/episode_NNNNNN_lenT.npz"
"""Where a dataset's episode files are, as error messages name them (N: the index, T: the length)."""


@dataclass
class Episode:
    """One video / trajectory: T+1 observations, T transitions."""

    obs: np.ndarray
    success: bool
    true_actions: np.ndarray | None = None
    rewards: np.ndarray | None = None
    states: np.ndarray | None = None
    """The true low-dimensional states behind the observations (T+1, state_dim), for scoring
    encoders (a linear state probe); never read by training."""

    @property
    def length(self) -> int:
        """Number of transitions T."""
        return len(self.obs) - 1


@dataclass
class Dataset:
    """A loaded dataset: its episodes and its metadata."""

    path: Path
    meta: dict[str, Any]
    episodes: list[Episode] = field(default_factory=list)

    @property
    def obs_shape(self) -> tuple[int, ...]:
        return tuple(self.meta["obs_shape"])

    @property
    def num_transitions(self) -> int:
        return sum(episode.length for episode in self.episodes)


def _check_episode(episode: Episode, where: str) -> None:
    obs = episode.obs
    if obs.ndim < 2 or len(obs) < 2:
        raise RlvError(f"{where}: an episode needs at least 2 observations, got shape {obs.shape}")
    if np.issubdtype(obs.dtype, np.floating) and not np.all(np.isfinite(obs)):
        raise RlvError(f"{where}: observations contain NaN or inf")
    for name, value, shape, rows in (
        ("true_actions", episode.true_actions, (episode.length,), "transitions"),
        ("rewards", episode.rewards, (episode.length,), "transitions"),
        ("states", episode.states, (len(obs),), "observations"),
    ):
        if value is None:
            continue
        if value.shape[:1] != shape:
            count = value.shape[0] if value.ndim else 0
            raise RlvError(f"{where}: {name} has {count} rows for {shape[0]} {rows}")
        if name == "states" and value.ndim != 2:
            raise RlvError(f"{where}: states must be (T+1, state_dim), got shape {value.shape}")
        if not np.all(np.isfinite(value)):
            raise RlvError(f"{where}: {name} contain NaN or inf")


def _check_state_widths(widths: set[int], where: object) -> None:
    """Every episode's states must have one width."""
    if len(widths) > 1:
        raise RlvError(f"{where}: states of different widths {sorted(widths)} in one dataset")


@contextmanager
def atomic_directory(path: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory beside `path`; on success rename it to `path`, else delete it.
    The directory gets the usual permissions (umask), and a full disk while writing is one
    RlvError that leaves `path` as it was."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise RlvError(f"{path}: already exists (pass --overwrite to replace it, or choose another path)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = shared_tmpdir(f".{path.name}.tmp-", path.parent)
    try:
        try:
            yield tmp
        except OSError as error:
            if is_disk_error(error):
                raise write_failure(path, error, "nothing was written") from error
            raise
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


class DatasetWriter:
    """Write a dataset episode by episode into a temporary directory; `finish(meta)` adds meta.json
    and the caller's `atomic_directory` renames it into place. All episodes must share one
    observation shape and dtype."""

    def __init__(self, tmp: Path, where: Path) -> None:
        self.tmp, self.where = Path(tmp), Path(where)
        (self.tmp / "episodes").mkdir()
        self.count = self.transitions = self.successes = 0
        self.shape: tuple[int, ...] | None = None
        self.dtype: str | None = None
        self.all_actions = self.all_rewards = self.all_states = True
        self.state_widths: set[int] = set()

    def add(self, episode: Episode, source: str = "") -> None:
        """Validate and write one episode (`source` names it in error messages)."""
        where = source or f"{self.where} (episode {self.count})"
        shape, dtype = tuple(episode.obs.shape[1:]), episode.obs.dtype.str
        if self.shape is not None and (shape, dtype) != (self.shape, self.dtype):
            raise RlvError(
                f"{where}: observations {shape} {episode.obs.dtype} differ from the dataset's "
                f"{self.shape} {np.dtype(self.dtype)}"
            )
        _check_episode(episode, where)
        if episode.states is not None:
            _check_state_widths(self.state_widths | {episode.states.shape[1]}, where)
            self.state_widths.add(episode.states.shape[1])
        self.shape, self.dtype = shape, dtype
        arrays: dict[str, np.ndarray] = {"obs": episode.obs, "success": np.array(bool(episode.success))}
        if episode.true_actions is not None:
            arrays["true_actions"] = episode.true_actions.astype(np.float32)
        if episode.rewards is not None:
            arrays["rewards"] = episode.rewards.astype(np.float32)
        if episode.states is not None:
            arrays["states"] = episode.states.astype(np.float32)
        np.savez_compressed(
            self.tmp / "episodes" / f"episode_{self.count:06d}_len{episode.length}.npz", **arrays
        )
        self.count += 1
        self.transitions += episode.length
        self.successes += bool(episode.success)
        self.all_actions &= episode.true_actions is not None
        self.all_rewards &= episode.rewards is not None
        self.all_states &= episode.states is not None

    def finish(self, meta: dict[str, Any]) -> dict[str, Any]:
        """Write meta.json (`meta` adds domain, source, env, provenance; counts, shapes and the
        format version are filled in here); returns it."""
        if self.count == 0:
            raise RlvError(f"{self.where}: refusing to write a dataset with no episodes")
        full_meta = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "domain": "robot",
            "source": "unknown",
            **meta,
            "obs_shape": list(self.shape or ()),
            "obs_dtype": str(np.dtype(self.dtype)),
            "num_episodes": self.count,
            "num_transitions": self.transitions,
            "num_successes": self.successes,
            "has_true_actions": self.all_actions,
            "has_rewards": self.all_rewards,
            "has_states": self.all_states,
        }
        (self.tmp / "meta.json").write_text(json.dumps(full_meta, indent=2) + "\n")
        return full_meta


def write_dataset(path: Path, episodes: list[Episode], meta: dict[str, Any], overwrite: bool = False) -> Path:
    """Write `episodes` as a dataset at `path` atomically. `meta` adds fields (domain, source, env,
    how it was made...); counts, shapes and the format version are filled in here."""
    if not episodes:
        raise RlvError(f"{path}: refusing to write a dataset with no episodes")
    with atomic_directory(path, overwrite) as tmp:
        writer = DatasetWriter(tmp, path)
        for episode in episodes:
            writer.add(episode)
        writer.finish(meta)
    return path


def read_json(path: Path, missing: str) -> Any:
    """Parse the JSON file `path`; a missing file or corrupt JSON is an RlvError naming it
    (`missing` says what a missing file means)."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError as error:
        raise RlvError(f"{path}: missing ({missing})") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RlvError(f"{path}: corrupt JSON ({error})") from error


def read_format_meta(
    path: Path, format_name: str, version: int, kind: str, what: str, hint: str = ""
) -> dict[str, Any]:
    """Read `path/meta.json` of an on-disk rlv format and check its format name and version.
    `kind` names the directory ("dataset"), `what` the format in errors ("an rlv dataset")."""
    path = Path(path)
    meta_path = path / "meta.json"
    if not path.is_dir():
        raise RlvError(f"{path}: {kind} directory not found")
    meta = read_json(meta_path, f"not {what}")
    if not isinstance(meta, dict) or meta.get("format") != format_name:
        raise RlvError(f"{meta_path}: not {what} (format is not {format_name!r}{hint})")
    if meta.get("version") != version:
        raise RlvError(f"{meta_path}: unsupported {kind} version {meta.get('version')!r}")
    return meta


def read_meta(path: Path) -> dict[str, Any]:
    """Read and check a dataset's `meta.json`."""
    meta_path = Path(path) / "meta.json"
    meta = read_format_meta(path, FORMAT_NAME, FORMAT_VERSION, "dataset", "an rlv dataset")
    for key in ("obs_shape", "obs_dtype", "num_episodes"):
        if key not in meta:
            raise RlvError(f"{meta_path}: missing field {key!r}")
    return meta


def npz_problem(error: BaseException) -> str:
    """What was wrong with an `.npz` file numpy could not read, in one line. numpy's own message
    for a file that is not an archive advises loading it "unsafely" with allow_pickle: wrong advice
    for rlv's files, which are always numpy archives and never pickles."""
    text = (str(error).splitlines() or [type(error).__name__])[0]
    if "pickle" in text:
        return "not a numpy .npz archive (rlv never stores pickles): the file is damaged or not an rlv file"
    return text


def _read_episode(file: Path, meta: dict[str, Any]) -> Episode:
    try:
        with np.load(file, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise RlvError(f"{file}: corrupt or unreadable episode file ({npz_problem(error)})") from error
    if "obs" not in arrays:
        raise RlvError(f"{file}: no 'obs' array")
    obs = arrays["obs"]
    if list(obs.shape[1:]) != list(meta["obs_shape"]) or str(obs.dtype) != meta["obs_dtype"]:
        raise RlvError(
            f"{file}: observations {obs.shape[1:]} {obs.dtype} do not match meta.json "
            f"{tuple(meta['obs_shape'])} {meta['obs_dtype']}"
        )
    if "success" not in arrays:
        raise RlvError(f"{file}: no 'success' array (required: a bool, whether the episode ends in success)")
    if arrays["success"].size != 1:
        raise RlvError(f"{file}: 'success' must be one bool, got an array of shape {arrays['success'].shape}")
    episode = Episode(
        obs=obs,
        success=bool(arrays["success"]),
        true_actions=arrays.get("true_actions"),
        rewards=arrays.get("rewards"),
        states=arrays.get("states"),
    )
    _check_episode(episode, str(file))
    return episode


def load_dataset(path: Path, max_episodes: int | None = None) -> Dataset:
    """Load and validate a dataset (all of it, or its first `max_episodes` episodes)."""
    path = Path(path)
    meta = read_meta(path)
    files = sorted((path / "episodes").glob("episode_*.npz"))
    if len(files) != meta["num_episodes"]:
        others = sorted(set((path / "episodes").glob("*.npz")) - set(files))
        shown = ", ".join(other.name for other in others[:3]) + (", ..." if len(others) > 3 else "")
        named = f"; not named so: {shown}" if others else ""
        raise RlvError(
            f"{path}: meta.json lists {meta['num_episodes']} episodes but {len(files)} files are present "
            f"as {EPISODE_PATTERN}{named}"
        )
    if max_episodes is not None:
        if max_episodes < 1:
            raise RlvError(f"{path}: max_episodes must be at least 1, got {max_episodes}")
        files = files[:max_episodes]
    episodes = [_read_episode(file, meta) for file in files]
    _check_state_widths({e.states.shape[1] for e in episodes if e.states is not None}, path)
    return Dataset(path=path, meta=meta, episodes=episodes)
