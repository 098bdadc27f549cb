"""Checkpoints: state dicts only, loaded with `torch.load(weights_only=True)`, written atomically.

Layout inside a run directory:

    checkpoints/step_000010000/state.pt      agent, counters, RNG states, metric window
    checkpoints/step_000010000/replay.json   robot replay manifest (when save_replay)
    checkpoints/final/...                    the same at the end of training
    replay/*.npz                             replay chunks the manifests name (rlv.data.replay_files)
"""

from __future__ import annotations

import os
import pickle
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from rlv.data.replay_files import MANIFEST_FILE, remove_unreferenced_chunks
from rlv.errors import RlvError, warn
from rlv.files import fsync_dir, fsync_tree, shared_tmpdir, write_failure

T = TypeVar("T")

LOAD_ERRORS = (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, TypeError, AttributeError)
"""What reading damaged checkpoint data can raise (torch.load, numpy, a state that does not fit)."""

STATE_FILE = "state.pt"
REPLAY_FILE = MANIFEST_FILE


def checkpoint_dirs(run: Path) -> list[Path]:
    """Step checkpoints of a run, oldest first."""
    return sorted((run / "checkpoints").glob("step_*"))


def has_checkpoints(run: Path) -> bool:
    """Whether the run ever completed a checkpoint (a step or final directory, usable or not)."""
    return bool(checkpoint_dirs(run)) or (run / "checkpoints" / "final").exists()


def _final_step(final: Path) -> float:
    """The env step of the final checkpoint (+0.5: it wins ties); unreadable ones sort first."""
    try:
        return int(load_state(final / STATE_FILE)["counters"]["env_step"]) + 0.5
    except (RlvError, KeyError, TypeError, ValueError):
        return float("inf")  # tried first, so its problem is reported before falling back


def checkpoint_candidates(run: Path) -> list[Path]:
    """Every checkpoint directory of a run, newest first (step or final, by env step)."""
    steps: dict[Path, float] = {}
    for path in checkpoint_dirs(run):
        try:
            steps[path] = int(path.name.removeprefix("step_"))
        except ValueError:
            continue
    final = run / "checkpoints" / "final"
    if final.is_dir():
        steps[final] = _final_step(final)
    return sorted(steps, key=steps.__getitem__, reverse=True)


def latest_checkpoint(run: Path) -> Path | None:
    """The newest checkpoint that has a state file (step or final), or None."""
    return next((path for path in checkpoint_candidates(run) if (path / STATE_FILE).exists()), None)


def load_newest(run: Path, load: Callable[[Path], T]) -> tuple[Path, T] | None:
    """`load(checkpoint)` on the newest checkpoint of `run`; when that raises RlvError (corrupt,
    half-deleted, not fitting the run), warn and fall back to the next older one. None when the
    run has no checkpoint at all; RlvError when none loads."""
    candidates = checkpoint_candidates(run)
    if not candidates:
        return None
    problems = []
    for index, checkpoint in enumerate(candidates):
        try:
            return checkpoint, load(checkpoint)
        except RlvError as error:
            problems.append(str(error))
            if index + 1 < len(candidates):
                warn(f"{error}; falling back to {candidates[index + 1]}")
    raise RlvError(
        f"{run}: no usable checkpoint ({len(candidates)} tried; newest: {problems[0]}); "
        f"remove {run / 'checkpoints'} to start the run over"
    )


def save_checkpoint(directory: Path, state: dict[str, Any], replay_writer: Any = None) -> None:
    """Write `state` (and the replay, via `replay_writer(path)`) to `directory` atomically and
    durably: into a temporary sibling, flushed to disk, then renamed. A failed write (full disk)
    is one RlvError and leaves the previous checkpoints as they were."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = shared_tmpdir(f".{directory.name}.tmp-", directory.parent)
    old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
    try:
        try:
            with open(tmp / STATE_FILE, "wb") as handle:
                torch.save(state, handle)
            if replay_writer is not None:
                replay_writer(tmp / REPLAY_FILE)
            fsync_tree(tmp)
        except (OSError, RuntimeError) as error:
            raise write_failure(directory, error, "the previous checkpoints are intact") from error
        if directory.exists():
            os.replace(directory, old)
        os.replace(tmp, directory)
        fsync_dir(directory.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def remove_stale_temporaries(run: Path) -> None:
    """Delete half-written checkpoint directories left by a killed trainer (call under the lock)."""
    for stale in (run / "checkpoints").glob(".*.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in (run / "checkpoints").glob(".*.old-*"):
        shutil.rmtree(stale, ignore_errors=True)


def load_state(path: Path) -> dict[str, Any]:
    """Load a `state.pt` safely (no arbitrary unpickling)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as error:
        raise RlvError(f"{path}: no such checkpoint file") from error
    except IsADirectoryError as error:
        raise RlvError(f"{path}: not a checkpoint file (a directory)") from error
    except (*LOAD_ERRORS, zipfile.BadZipFile, pickle.UnpicklingError) as error:
        first_line = (str(error).splitlines() or [type(error).__name__])[0]
        raise RlvError(f"{path}: corrupt checkpoint ({first_line})") from error
    if not isinstance(state, dict):
        raise RlvError(f"{path}: not an rlv checkpoint (holds a {type(state).__name__}, not a dict)")
    return state


def prune_checkpoints(run: Path, keep: int) -> None:
    """Delete all but the newest `keep` step checkpoints, then the replay chunks that no remaining
    checkpoint names (call once the newest checkpoint is durable)."""
    for old in checkpoint_dirs(run)[: max(0, len(checkpoint_dirs(run)) - keep)]:
        shutil.rmtree(old, ignore_errors=True)
    remove_unreferenced_chunks(run)


def state_mismatch(expected: Any, given: Any, where: str = "state") -> str | None:
    """Where a loaded state differs in structure from the one this run would write (keys, types,
    tensor shapes), or None. Empty dicts of the fresh state (optimizer moments before the first
    step, empty metric windows) accept any contents."""
    if isinstance(expected, dict):
        if not isinstance(given, dict):
            return f"{where} is a {type(given).__name__}, not a dict"
        if expected and set(expected) != set(given):
            missing, extra = (
                sorted(map(str, set(expected) - set(given))),
                sorted(map(str, set(given) - set(expected))),
            )
            return f"{where} has missing keys {missing} and unexpected keys {extra}"
        problems = (state_mismatch(expected[k], given[k], f"{where}.{k}") for k in expected)
        return next((problem for problem in problems if problem), None)
    if isinstance(expected, list | tuple):
        if not isinstance(given, list | tuple) or len(given) != len(expected):
            return f"{where} is not a list of {len(expected)}"
        problems = (
            state_mismatch(e, g, f"{where}[{i}]")
            for i, (e, g) in enumerate(zip(expected, given, strict=True))
        )
        return next((problem for problem in problems if problem), None)
    if isinstance(expected, torch.Tensor):
        if (
            not isinstance(given, torch.Tensor)
            or given.shape != expected.shape
            or given.dtype != expected.dtype
        ):
            return f"{where} is not a {expected.dtype} tensor of shape {tuple(expected.shape)}"
        return None
    kinds = (int, float) if type(expected) is float else (type(expected),)
    if expected is not None and type(given) not in kinds:
        return f"{where} is a {type(given).__name__}, not a {type(expected).__name__}"
    return None


def optimizer_mismatch(owner: Any) -> str | None:
    """A loaded optimizer moment whose shape differs from its parameter's (checked after loading
    the optimizers found among `owner`'s attributes), or None."""
    for name, value in vars(owner).items():
        if not isinstance(value, torch.optim.Optimizer):
            continue
        for group in value.param_groups:
            for param in group["params"]:
                for key, moment in value.state.get(param, {}).items():
                    tensor = isinstance(moment, torch.Tensor)
                    if key == "step" and (moment.ndim == 0 if tensor else isinstance(moment, int | float)):
                        continue
                    if not tensor or moment.shape != param.shape:
                        return f"{name} {key} is not a tensor of shape {tuple(param.shape)}"
    return None
