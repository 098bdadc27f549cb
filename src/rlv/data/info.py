"""Human-readable summary of a dataset (`rlv data info`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rlv.data.dataset import load_dataset
from rlv.data.paired import is_paired, load_paired


def paired_summary(path: Path) -> str:
    """Counts, shapes and provenance of paired frames at `path`."""
    frames = load_paired(path)
    meta = frames.meta
    lines = [
        f"paired frames {path}",
        f"format       {meta['format']} v{meta['version']}",
        f"env          {meta.get('env', '?')}   domains robot, human",
        f"pairs        {len(frames.robot)}",
        f"frames       shape {frames.robot.shape[1:]}  dtype {frames.robot.dtype}",
    ]
    if "how_made" in meta:
        lines.append(f"how made     {json.dumps(meta['how_made'])}")
    return "\n".join(lines)


def dataset_summary(path: Path) -> str:
    """Counts, lengths, shapes, returns and provenance of the dataset (or paired frames) at `path`."""
    if is_paired(path):
        return paired_summary(path)
    dataset = load_dataset(path)
    meta = dataset.meta
    lengths = np.array([episode.length for episode in dataset.episodes])
    lines = [
        f"dataset      {path}",
        f"format       {meta['format']} v{meta['version']}",
        f"env          {meta.get('env', '?')}   domain {meta.get('domain', '?')}",
        f"source       {meta.get('source', '?')}",
        f"episodes     {len(dataset.episodes)}   frames {dataset.num_transitions + len(dataset.episodes)}   "
        f"transitions {dataset.num_transitions}",
        f"lengths      min {lengths.min()}  mean {lengths.mean():.1f}  max {lengths.max()}",
        f"observations shape {tuple(meta['obs_shape'])}  dtype {meta['obs_dtype']}",
        f"successes    {sum(e.success for e in dataset.episodes)} / {len(dataset.episodes)}",
        f"true actions {'yes' if meta.get('has_true_actions') else 'no'}   rewards "
        f"{'yes' if meta.get('has_rewards') else 'no'}",
    ]
    if meta.get("has_rewards"):
        returns = [float(e.rewards.sum()) for e in dataset.episodes]
        lines.append(f"return       mean {np.mean(returns):.2f}  std {np.std(returns):.2f}")
    if "success_rate" in meta:
        lines.append(f"success rate {meta['success_rate']:.2f}")
    if meta.get("skipped"):
        lines.append(f"skipped      {len(meta['skipped'])} input(s) at import: {json.dumps(meta['skipped'])}")
    if "how_made" in meta:
        lines.append(f"how made     {json.dumps(meta['how_made'])}")
    return "\n".join(lines)
