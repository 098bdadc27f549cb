"""Paired frames on disk: the same scene states rendered in the robot and the human domain.

Layout (format `rlv-paired`, version 1; see docs/dataset_format.md):

    PAIRS/meta.json   format, version, env, num_pairs, obs_shape, how it was made
    PAIRS/pairs.npz   robot (P, H, W, 3) uint8, human (P, H, W, 3) uint8; row i of both is one state

Written atomically (temporary directory renamed into place); read with `allow_pickle=False`.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlv.batches import PairedBatch
from rlv.data.dataset import atomic_directory, npz_problem, read_format_meta
from rlv.errors import RlvError

FORMAT_NAME = "rlv-paired"
FORMAT_VERSION = 1


@dataclass
class PairedFrames:
    """Loaded paired frames and their metadata."""

    path: Path
    meta: dict[str, Any]
    robot: np.ndarray
    human: np.ndarray


def write_paired(
    path: Path, robot: np.ndarray, human: np.ndarray, meta: dict[str, Any], overwrite: bool = False
) -> Path:
    """Write paired frames (P, H, W, 3) uint8 atomically at `path`."""
    if robot.shape != human.shape or robot.ndim != 4 or robot.shape[-1] != 3 or len(robot) == 0:
        raise RlvError(
            f"{path}: paired frames must be two equal (P, H, W, 3) arrays, got {robot.shape} "
            f"and {human.shape}"
        )
    if robot.dtype != np.uint8 or human.dtype != np.uint8:
        raise RlvError(f"{path}: paired frames must be uint8")
    full_meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        **meta,
        "num_pairs": len(robot),
        "obs_shape": list(robot.shape[1:]),
        "domains": ["robot", "human"],
    }
    with atomic_directory(path, overwrite) as tmp:
        np.savez_compressed(tmp / "pairs.npz", robot=robot, human=human)
        (tmp / "meta.json").write_text(json.dumps(full_meta, indent=2) + "\n")
    return path


def is_paired(path: Path) -> bool:
    """Whether `path` looks like a paired-frames directory (its meta.json says so)."""
    try:
        return json.loads((Path(path) / "meta.json").read_text()).get("format") == FORMAT_NAME
    except (OSError, ValueError, AttributeError):
        return False


def load_paired(path: Path) -> PairedFrames:
    """Load and check paired frames."""
    path = Path(path)
    meta = read_format_meta(
        path, FORMAT_NAME, FORMAT_VERSION, "paired-frames", "rlv paired frames",
        "; make them with rlv collect --paired N",
    )  # fmt: skip
    try:
        with np.load(path / "pairs.npz", allow_pickle=False) as data:
            robot, human = data["robot"], data["human"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as error:
        raise RlvError(f"{path / 'pairs.npz'}: corrupt or unreadable ({npz_problem(error)})") from error
    if robot.shape != human.shape or robot.dtype != np.uint8 or human.dtype != np.uint8:
        raise RlvError(
            f"{path / 'pairs.npz'}: robot {robot.shape} {robot.dtype} and human "
            f"{human.shape} {human.dtype} must be equal-shaped uint8 arrays"
        )
    return PairedFrames(path, meta, robot, human)


class PairedSampler:
    """Uniform draws of paired frames for the paired feature loss."""

    def __init__(self, frames: PairedFrames, seed: int) -> None:
        self.robot, self.human = frames.robot, frames.human
        self.rng = np.random.default_rng(seed)

    def draw(self, batch_size: int) -> np.ndarray:
        """Rows of `batch_size` pairs drawn uniformly with replacement (P,) int64."""
        return self.rng.integers(0, len(self.robot), size=batch_size)

    def sample(self, batch_size: int, device: torch.device) -> PairedBatch:
        """`batch_size` pairs (with replacement) as uint8 tensors (P, H, W, 3)."""
        index = self.draw(batch_size)
        return PairedBatch(
            torch.as_tensor(self.robot[index], device=device),
            torch.as_tensor(self.human[index], device=device),
        )
