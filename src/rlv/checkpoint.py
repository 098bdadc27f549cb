"""Checkpoints: state dicts only, loaded with `torch.load(weights_only=True)`, written atomically.

Layout inside a run directory:

    checkpoints/step_000010000/state.pt     agent, counters, RNG states, metric window
    checkpoints/step_000010000/replay.npz   robot replay (when save_replay)
    checkpoints/final/...                   the same at the end of training
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from rlv.errors import RlvError

STATE_FILE = "state.pt"
REPLAY_FILE = "replay.npz"


def checkpoint_dirs(run: Path) -> list[Path]:
    """Step checkpoints of a run, oldest first."""
    return sorted((run / "checkpoints").glob("step_*"))


def latest_checkpoint(run: Path) -> Path | None:
    """The newest complete checkpoint (step or final), or None."""
    steps = {path: int(path.name.removeprefix("step_")) for path in checkpoint_dirs(run)
             if (path / STATE_FILE).exists()}  # fmt: skip
    final = run / "checkpoints" / "final"
    if (final / STATE_FILE).exists():  # only the final one's step must be read from its state
        steps[final] = load_state(final / STATE_FILE)["counters"]["env_step"] + 0.5  # wins ties
    return max(steps, key=steps.__getitem__) if steps else None


def save_checkpoint(directory: Path, state: dict[str, Any], replay_writer: Any = None) -> None:
    """Write `state` (and the replay, via `replay_writer(path)`) to `directory` atomically."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        torch.save(state, tmp / STATE_FILE)
        if replay_writer is not None:
            replay_writer(tmp / REPLAY_FILE)
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_state(path: Path) -> dict[str, Any]:
    """Load a `state.pt` safely (no arbitrary unpickling)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as error:
        raise RlvError(f"{path}: no such checkpoint file") from error
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError) as error:
        raise RlvError(f"{path}: corrupt checkpoint ({str(error).splitlines()[0]})") from error


def prune_checkpoints(run: Path, keep: int) -> None:
    """Delete all but the newest `keep` step checkpoints."""
    for old in checkpoint_dirs(run)[: max(0, len(checkpoint_dirs(run)) - keep)]:
        shutil.rmtree(old, ignore_errors=True)
