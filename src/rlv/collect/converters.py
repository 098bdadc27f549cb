"""Converters from datasets already on local disk (never downloaded): Minari and LeRobot (v2.x, v3.x).

Observations are kept; actions and rewards are dropped unless asked for, and then kept only as
`true_actions` / `rewards` (read by RLV's oracle ablations, never by RLV itself). Both write
atomically through `DatasetWriter`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from rlv.collect.video_import import (
    ImportOptions,
    check_options,
    decode_video,
    options_record,
    read_episode,
    select_frames,
)
from rlv.data.dataset import DatasetWriter, Episode, atomic_directory, read_json
from rlv.errors import RlvError
from rlv.observation import stored_dtype

Keep = Literal["none", "actions", "rewards", "both"]
MinariSuccess = Literal["terminated", "last", "none"]


@contextmanager
def _minari_root(root: Path | None) -> Iterator[None]:
    previous = os.environ.get("MINARI_DATASETS_PATH")
    if root is not None:
        os.environ["MINARI_DATASETS_PATH"] = str(root)
    try:
        yield
    finally:
        if root is not None:
            if previous is None:
                os.environ.pop("MINARI_DATASETS_PATH", None)
            else:
                os.environ["MINARI_DATASETS_PATH"] = previous


def _observations(obs: Any, obs_key: str | None, where: str) -> np.ndarray:
    if isinstance(obs, dict):
        if obs_key is None or obs_key not in obs:
            raise RlvError(
                f"{where}: observations are a dict with keys {sorted(obs)}; choose one with --obs-key"
            )
        obs = obs[obs_key]
    array = np.asarray(obs)
    array = array.astype(stored_dtype(array.dtype))
    if array.ndim == 1:
        array = array[:, None]
    return array


def _minari_episode(
    episode: Any, obs_key: str | None, keep: Keep, success: MinariSuccess, where: str
) -> Episode:
    """One Minari episode as an RLV episode: its observations, and its actions and rewards if kept."""
    obs = _observations(episode.observations, obs_key, where)
    actions = np.asarray(episode.actions, dtype=np.float32)
    done = {"terminated": bool(episode.terminations[-1]), "last": True, "none": False}[success]
    return Episode(
        obs=obs,
        success=done,
        true_actions=actions.reshape(len(actions), -1) if keep in ("actions", "both") else None,
        rewards=np.asarray(episode.rewards, np.float32) if keep in ("rewards", "both") else None,
    )


def from_minari(
    dataset_id: str,
    out: Path,
    root: Path | None = None,
    obs_key: str | None = None,
    keep: Keep = "none",
    success: MinariSuccess = "terminated",
    meta: dict[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Convert the local Minari dataset `dataset_id` (under `root`, default Minari's own path)."""
    try:
        import minari
    except ImportError as error:
        raise RlvError("the Minari converter needs Minari: pip install 'rlv[minari]'") from error
    with _minari_root(root):
        try:
            source = minari.load_dataset(dataset_id, download=False)
        except (FileNotFoundError, ValueError, OSError) as error:
            where = root or os.environ.get("MINARI_DATASETS_PATH", "~/.minari/datasets")
            raise RlvError(
                f"Minari dataset {dataset_id!r} not found or unreadable in {where} ({error})"
            ) from error
        with atomic_directory(out, overwrite) as tmp:
            writer = DatasetWriter(tmp, out)
            for episode in tqdm(source.iterate_episodes(), total=source.total_episodes, desc="episodes",
                                disable=not progress):  # fmt: skip
                where = f"Minari {dataset_id} episode {episode.id}"
                writer.add(_minari_episode(episode, obs_key, keep, success, where), where)
            return writer.finish(
                {
                    "domain": "robot",
                    "source": f"minari:{dataset_id}",
                    "env": str(source.spec.env_spec.id) if source.spec.env_spec else "unknown",
                }
                | (meta or {})
                | {
                    "how_made": {
                        "converter": "rlv data from-minari",
                        "dataset_id": dataset_id,
                        "obs_key": obs_key,
                        "keep": keep,
                        "success": success,
                    }
                }
            )


def _lerobot_info(root: Path) -> dict[str, Any]:
    info_path = root / "meta" / "info.json"
    info = read_json(info_path, "not a LeRobot dataset")
    if not isinstance(info, dict):
        raise RlvError(f"{info_path}: not a LeRobot info.json (expected a JSON object)")
    version = str(info.get("codebase_version", ""))
    if not version.startswith(("v2", "v3")):
        raise RlvError(f"{info_path}: LeRobot format {version or '?'} is not supported (v2.x and v3.x are)")
    return info


def _lerobot_episodes(root: Path, info: dict[str, Any], camera: str) -> list[dict[str, Any]]:
    """Per episode: its video file, the time slice of it, and its data file (both formats).

    v2.x keeps one mp4 and one parquet per episode; v3.x packs several episodes per file and lists
    each episode's file indices and video time range in meta/episodes/*/*.parquet."""
    import pyarrow.parquet as pq

    if str(info["codebase_version"]).startswith("v2"):
        chunks = int(info.get("chunks_size", 1000))
        episodes = []
        for index in range(int(info["total_episodes"])):
            fields = {"episode_chunk": index // chunks, "episode_index": index, "video_key": camera}
            episodes.append({"index": index, "video": root / info["video_path"].format(**fields),
                             "data": root / info["data_path"].format(**fields), "span": None})  # fmt: skip
        return episodes
    files = sorted((root / "meta" / "episodes").glob("*/*.parquet"))
    if not files:
        raise RlvError(f"{root / 'meta' / 'episodes'}: no episode index (LeRobot v3 layout)")
    rows = sorted((row for file in files for row in pq.read_table(file).to_pylist()),
                  key=lambda row: row["episode_index"])  # fmt: skip
    key = f"videos/{camera}"
    return [
        {
            "index": row["episode_index"],
            "video": root
            / info["video_path"].format(
                video_key=camera, chunk_index=row[f"{key}/chunk_index"], file_index=row[f"{key}/file_index"]
            ),
            "data": root
            / info["data_path"].format(
                chunk_index=row["data/chunk_index"], file_index=row["data/file_index"]
            ),
            "span": (float(row[f"{key}/from_timestamp"]), float(row[f"{key}/to_timestamp"])),
        }
        for row in rows
    ]


def _lerobot_options(options: ImportOptions | None, keep_actions: bool) -> ImportOptions:
    """The import options, checked; keeping actions needs every frame in order."""
    options = options or ImportOptions()
    check_options(options)
    if keep_actions and (options.stride, options.fps, options.start, options.end, options.reverse) != (
        1,
        None,
        0.0,
        None,
        False,
    ):
        raise RlvError(
            "--keep-actions needs every frame in order: drop --stride/--fps/--start/--end/--reverse"
        )
    return options


def _lerobot_camera(root: Path, info: dict[str, Any], camera: str | None) -> str:
    """The video feature to read: `camera`, checked, or by default the first one."""
    cameras = [key for key, feature in info.get("features", {}).items() if feature.get("dtype") == "video"]
    if not cameras:
        raise RlvError(f"{root}: no video features in meta/info.json")
    camera = camera or cameras[0]
    if camera not in cameras:
        raise RlvError(f"{root}: no camera {camera!r}; cameras: {', '.join(cameras)}")
    return camera


def _lerobot_actions(item: dict[str, Any]) -> np.ndarray:
    """The actions of one episode (from `_lerobot_episodes`), from its data file, in frame order."""
    import pyarrow.parquet as pq

    rows = [r for r in pq.read_table(item["data"]).to_pylist()
            if r.get("episode_index", item["index"]) == item["index"]]  # fmt: skip
    rows.sort(key=lambda r: r.get("frame_index", 0))
    return np.asarray([r["action"] for r in rows], dtype=np.float32)


def _lerobot_episode(item: dict[str, Any], options: ImportOptions, keep_actions: bool) -> Episode:
    """One episode (from `_lerobot_episodes`): its video's frames, and its actions if kept."""
    video = item["video"]
    if not video.exists():
        raise RlvError(f"{video}: episode video missing")
    if item["span"] is None:
        episode = read_episode(video, options)
    else:  # the episode's slice of a shared file, with times from its own start
        start, end = item["span"]
        frames = ((t - start, f) for t, f in decode_video(video) if start - 1e-6 <= t < end - 1e-6)
        episode = select_frames(frames, options, f"{video} (episode {item['index']})")
    if keep_actions:
        actions = _lerobot_actions(item)
        if len(actions) < episode.length:
            raise RlvError(f"{video}: {len(actions)} actions for {episode.length} transitions")
        episode.true_actions = actions[: episode.length]
    return episode


def from_lerobot(
    root: Path,
    out: Path,
    camera: str | None = None,
    options: ImportOptions | None = None,
    keep_actions: bool = False,
    meta: dict[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Convert a local LeRobot dataset (format v2.x or v3.x): frames from one camera's episode
    videos, read like `rlv data import-video` reads a video (all its options apply)."""
    import pyarrow.parquet  # noqa: F401  (fail before any work without it; the helpers read parquet)

    options = _lerobot_options(options, keep_actions)
    root = Path(root)
    info = _lerobot_info(root)
    camera = _lerobot_camera(root, info, camera)
    with atomic_directory(out, overwrite) as tmp:
        writer = DatasetWriter(tmp, out)
        for item in tqdm(_lerobot_episodes(root, info, camera), desc="episodes", disable=not progress):
            writer.add(_lerobot_episode(item, options, keep_actions), str(item["video"]))
        return writer.finish(
            {
                "domain": "robot",
                "source": f"lerobot:{root.name}",
                "env": str(info.get("robot_type", "unknown")),
            }
            | (meta or {})
            | {
                "how_made": {
                    "converter": "rlv data from-lerobot",
                    "root": str(root),
                    "camera": camera,
                    "fps": info.get("fps"),
                    "keep_actions": keep_actions,
                    "options": options_record(options),
                }
            }
        )
