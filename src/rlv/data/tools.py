"""Dataset tools: `rlv data to-video`, `rlv data merge`, `rlv data split`. Every output is written
atomically (temporary directory or file, renamed at the end)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rlv.data.dataset import DatasetWriter, atomic_directory, load_dataset
from rlv.errors import RlvError
from rlv.observation import is_image

VIDEO_CODECS = {".mp4": "libx264", ".webm": "libvpx-vp9", ".gif": "gif"}


def write_video(frames: np.ndarray, out: Path, fps: float = 10.0, scale: int = 4) -> Path:
    """Encode frames (N, H, W, 3) uint8 as .mp4 (H.264), .webm (VP9) or .gif with PyAV, upscaled
    `scale`x by pixel repetition; written to a temporary file, renamed at the end."""
    import av

    out = Path(out)
    codec = VIDEO_CODECS.get(out.suffix.lower())
    if codec is None:
        raise RlvError(f"{out}: unsupported video type; use one of {', '.join(VIDEO_CODECS)}")
    frames = np.kron(frames, np.ones((1, scale, scale, 1), dtype=np.uint8))
    height, width = frames.shape[1:3]
    height, width = height - height % 2, width - width % 2  # H.264 needs even sizes
    tmp = out.with_name(f".{out.name}.tmp{out.suffix}")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with av.open(str(tmp), mode="w") as container:
            stream = container.add_stream(codec, rate=round(fps))
            stream.width, stream.height = width, height
            stream.pix_fmt = "rgb8" if codec == "gif" else "yuv420p"
            for frame in frames:
                packet_frame = av.VideoFrame.from_ndarray(
                    np.ascontiguousarray(frame[:height, :width]), format="rgb24"
                )
                container.mux(stream.encode(packet_frame))
            container.mux(stream.encode())
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def dataset_to_video(
    path: Path, out: Path, episodes: int | None = None, fps: float = 10.0
) -> tuple[Path, int]:
    """The first `episodes` episodes (default all) of an image dataset, one after another, with
    three black frames between episodes; returns the file and the number of frames."""
    dataset = load_dataset(path, episodes)
    shape = dataset.obs_shape
    if not is_image(shape) or dataset.meta["obs_dtype"] != "uint8":
        raise RlvError(f"{path}: observations of shape {shape} are not RGB images; no video")
    gap = np.zeros((3, *shape), dtype=np.uint8)
    clips = []
    for episode in dataset.episodes:
        clips += [episode.obs, gap]
    frames = np.concatenate(clips[:-1])
    return write_video(frames, out, fps), len(frames)


def merge_datasets(paths: list[Path], out: Path, overwrite: bool = False) -> dict[str, Any]:
    """Concatenate datasets with equal observation shape and dtype into a new one."""
    if len(paths) < 2:
        raise RlvError("rlv data merge needs at least two datasets")
    metas = []
    with atomic_directory(out, overwrite) as tmp:
        writer = DatasetWriter(tmp, out)
        for path in paths:
            dataset = load_dataset(path)
            metas.append(dataset.meta)
            for index, episode in enumerate(dataset.episodes):
                writer.add(episode, f"{path} (episode {index})")
        domains = sorted({meta.get("domain", "?") for meta in metas})
        envs = sorted({str(meta.get("env", "?")) for meta in metas})
        meta = writer.finish(
            {
                "env": envs[0] if len(envs) == 1 else "mixed",
                "domain": domains[0] if len(domains) == 1 else "mixed",
                "source": "rlv data merge",
                "how_made": {"merged": [str(p) for p in paths]},
            }
        )
    return meta


def split_dataset(
    path: Path, train_out: Path, heldout_out: Path, heldout: float, seed: int, overwrite: bool = False
) -> tuple[int, int]:
    """Split a dataset's episodes at random into train and held-out datasets (each non-empty)."""
    if not 0.0 < heldout < 1.0:
        raise RlvError(f"--heldout must be a fraction in (0, 1), got {heldout}")
    dataset = load_dataset(path)
    count = len(dataset.episodes)
    held = round(heldout * count)
    if held < 1 or held >= count:
        raise RlvError(
            f"{path}: {count} episodes cannot be split {1 - heldout:.2f}/{heldout:.2f} with "
            "both parts non-empty"
        )
    order = np.random.default_rng(seed).permutation(count)
    parts = {train_out: sorted(order[held:]), heldout_out: sorted(order[:held])}
    base = {key: value for key, value in dataset.meta.items() if key in ("env", "domain", "source")}
    with (
        atomic_directory(train_out, overwrite) as train_tmp,
        atomic_directory(heldout_out, overwrite) as held_tmp,
    ):
        for (target, indices), tmp in zip(parts.items(), (train_tmp, held_tmp), strict=True):
            writer = DatasetWriter(tmp, target)
            for index in indices:
                writer.add(dataset.episodes[index])
            writer.finish(
                base
                | {
                    "how_made": {
                        "split_of": str(path),
                        "episodes": [int(i) for i in indices],
                        "seed": seed,
                        "heldout": heldout,
                    }
                }
            )
    return count - held, held
