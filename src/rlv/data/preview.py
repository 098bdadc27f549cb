"""Contact sheets (`rlv data preview`): a grid of frames, one row per episode (or per domain of
paired frames), frames evenly spaced in time, with a label per row; several datasets stack their
rows in the order given."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from rlv.data.dataset import load_dataset
from rlv.data.paired import is_paired, load_paired
from rlv.errors import RlvError
from rlv.observation import is_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".svg")


def evenly_spaced(count: int, pick: int) -> np.ndarray:
    """`min(pick, count)` indices spread from the first to the last of `count` items."""
    return np.unique(np.linspace(0, count - 1, min(pick, count)).round().astype(int))


def sheet_rows(path: Path, rows: int, columns: int) -> list[tuple[str, np.ndarray]]:
    """(label, frames (k, H, W, 3) uint8) per row of the sheet of a dataset or paired frames."""
    if is_paired(path):
        frames = load_paired(path)
        index = evenly_spaced(len(frames.robot), columns)
        return [("robot", frames.robot[index]), ("human", frames.human[index])]
    dataset = load_dataset(path)
    shape = dataset.obs_shape
    if not is_image(shape) or dataset.meta["obs_dtype"] != "uint8":
        raise RlvError(
            f"{path}: observations of shape {shape} ({dataset.meta['obs_dtype']}) are not "
            "RGB images; nothing to preview"
        )
    domain = dataset.meta.get("domain", "?")
    result = []
    for episode_index in evenly_spaced(len(dataset.episodes), rows):
        episode = dataset.episodes[episode_index]
        mark = "success" if episode.success else "no success"
        label = f"ep {episode_index} ({domain}, {mark}, T={episode.length})"
        result.append((label, episode.obs[evenly_spaced(len(episode.obs), columns)]))
    return result


def stacked_rows(paths: Sequence[Path], rows: int, columns: int) -> list[tuple[str, np.ndarray]]:
    """The sheet rows of several datasets or paired frames, in the order given; one frame shape."""
    if not paths:
        raise RlvError("rlv data preview needs at least one dataset")
    content = [row for path in paths for row in sheet_rows(Path(path), rows, columns)]
    shapes = sorted({frames.shape[1:] for _, frames in content})
    if len(shapes) > 1:
        raise RlvError(f"{', '.join(map(str, paths))}: frames of different shapes {shapes}; no sheet")
    return content


def write_contact_sheet(
    paths: Path | Sequence[Path], out: Path, rows: int = 8, columns: int = 10, scale: int = 2
) -> Path:
    """Write a contact sheet of the datasets or paired frames at `paths` (one or several, whose rows
    are stacked in that order; frames of equal shape) to the image `out`."""
    paths = [Path(paths)] if isinstance(paths, str | Path) else [Path(path) for path in paths]
    if rows < 1 or columns < 1:
        raise RlvError(f"--rows and --columns must be at least 1, got {rows} and {columns}")
    if Path(out).suffix.lower() not in IMAGE_SUFFIXES:
        raise RlvError(f"{out}: unsupported image type; use one of {', '.join(IMAGE_SUFFIXES)}")
    content = stacked_rows(paths, rows, columns)
    height, width = content[0][1].shape[1:3]
    gap = 2
    grid = np.full((len(content) * (height + gap), columns * (width + gap), 3), 255, dtype=np.uint8)
    for row, (_, frames) in enumerate(content):
        for column, frame in enumerate(frames):
            top, left = row * (height + gap), column * (width + gap)
            grid[top : top + height, left : left + width] = frame
    dpi = 100
    figure_width = grid.shape[1] * scale / dpi + 2.6
    figure = Figure(figsize=(figure_width, grid.shape[0] * scale / dpi + 0.5), dpi=dpi)
    axes = figure.subplots()
    axes.imshow(grid, interpolation="nearest")
    axes.set_yticks([row * (height + gap) + height / 2 for row in range(len(content))])
    axes.set_yticklabels([label for label, _ in content], fontsize=7)
    axes.set_xticks([])
    paired = all(is_paired(path) for path in paths)
    what = "the same states in both domains" if paired else "frames evenly spaced in time"
    axes.set_title(f"{', '.join(path.name for path in paths)}: {what}", fontsize=8)
    for side in axes.spines.values():
        side.set_visible(False)
    figure.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(out).with_name(f".{Path(out).name}.tmp{Path(out).suffix}")
    figure.savefig(tmp)
    tmp.replace(out)
    return Path(out)
