"""Pretrained image encoders: the encoder file `rlv pretrain` writes and `rlv train --encoder` reads,
and the frozen-feature path (each frame encoded once: env frames as they are observed, video
frames when the dataset loads).

An encoder file is one `torch.save` of plain values (loads with `weights_only=True`):

    {"format": "rlv-encoder/1", "state_dict": {...ImageEncoder tensors...}, "meta": "<JSON text>"}

meta: {"architecture": {"image_shape", "channels", "kernel", "out_dim"}, "objectives": {...},
"data": [{"role", "path", "fingerprint", "transitions"}...], "updates", "scores", "rlv_version"}.
A file's fingerprint is the SHA-256 of its bytes: a run records it, and `--resume` refuses a file
that changed.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlv.data.dataset import Dataset, Episode
from rlv.errors import RlvError
from rlv.files import file_fingerprint, write_bytes_atomic, write_text_atomic
from rlv.nets import ImageEncoder

FORMAT = "rlv-encoder/1"
ENCODER_RECORD = "encoder.json"
"""The file in a run directory that records which encoder file the run used."""
CHUNK = 256
"""Frames encoded per forward pass when a dataset loads."""


@dataclass(frozen=True)
class EncoderFile:
    """A loaded encoder file: the encoder (eval mode, no gradient), its metadata and fingerprint."""

    path: Path
    encoder: ImageEncoder
    meta: dict[str, Any]
    fingerprint: str

    @property
    def architecture(self) -> dict[str, Any]:
        return self.meta["architecture"]


def architecture_of(
    encoder: ImageEncoder,
    image_shape: tuple[int, ...],
    channels: tuple[int, ...],
    kernel: int,
    feature_dim: int | None,
) -> dict[str, Any]:
    """The metadata that rebuilds `encoder`."""
    return {
        "image_shape": list(image_shape),
        "channels": list(channels),
        "kernel": kernel,
        "feature_dim": feature_dim,
        "out_dim": encoder.out_dim,
    }


def save_encoder(path: Path, encoder: ImageEncoder, meta: dict[str, Any]) -> str:
    """Write an encoder file atomically (state dict + JSON metadata); returns its fingerprint."""
    buffer = io.BytesIO()
    state = {key: value.detach().cpu() for key, value in encoder.state_dict().items()}
    torch.save({"format": FORMAT, "state_dict": state, "meta": json.dumps(meta)}, buffer)
    write_bytes_atomic(Path(path), buffer.getvalue())
    return file_fingerprint(path)


def load_encoder(path: Path, device: str = "cpu") -> EncoderFile:
    """Read an encoder file; any problem is one RlvError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise RlvError(f"{path}: no such encoder file (rlv pretrain writes one)")
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
        if not isinstance(saved, dict) or saved.get("format") != FORMAT:
            raise ValueError(f"not an {FORMAT} file")
        meta = json.loads(saved["meta"])
        shape = meta["architecture"]
        encoder = ImageEncoder(
            tuple(shape["image_shape"]),
            tuple(shape["channels"]),
            int(shape["kernel"]),
            shape.get("feature_dim"),
        )
        encoder.load_state_dict(saved["state_dict"])
    except (RuntimeError, ValueError, KeyError, TypeError, EOFError, OSError) as error:
        first = (str(error).splitlines() or [""])[0]
        raise RlvError(f"{path}: not a usable encoder file ({type(error).__name__}: {first})") from error
    encoder = encoder.to(device).eval().requires_grad_(False)
    return EncoderFile(path, encoder, meta, file_fingerprint(path))


@torch.no_grad()
def encode_frames(encoder: ImageEncoder, frames: np.ndarray) -> np.ndarray:
    """Features (M, out_dim) float32 of uint8 frames (M, H, W, 3), in chunks of CHUNK."""
    device = next(encoder.parameters()).device
    parts = [
        encoder(torch.as_tensor(frames[start : start + CHUNK], device=device)).cpu().numpy()
        for start in range(0, len(frames), CHUNK)
    ]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, encoder.out_dim), np.float32)


def encode_dataset(encoder: ImageEncoder, dataset: Dataset) -> Dataset:
    """The dataset with every frame replaced by its features: each video frame encoded once."""
    episodes = [
        Episode(
            obs=encode_frames(encoder, episode.obs),
            success=episode.success,
            true_actions=episode.true_actions,
            rewards=episode.rewards,
        )
        for episode in dataset.episodes
    ]
    meta = dataset.meta | {"obs_shape": [encoder.out_dim], "obs_dtype": "float32"}
    return Dataset(episodes=episodes, meta=meta, path=dataset.path)


class FrozenFeatures(gym.ObservationWrapper):
    """An image env whose observations are a frozen encoder's features, (out_dim,) float32: each
    frame is encoded once, when the env returns it. `render()` still gives the frames."""

    def __init__(self, env: gym.Env, encoder: ImageEncoder) -> None:
        super().__init__(env)
        self.encoder = encoder
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(encoder.out_dim,), dtype=np.float32)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return encode_frames(self.encoder, np.asarray(observation)[None])[0]


def run_encoder(config: Any, run: Path | None = None) -> EncoderFile | None:
    """The encoder file a run's config names (None without --encoder). With `run`, the directory of
    a run that already started, the file must be the one it recorded (same fingerprint)."""
    if config.encoder is None:
        return None
    loaded = load_encoder(config.encoder, config.device)
    record = None if run is None else Path(run) / ENCODER_RECORD
    if record is not None and record.exists():
        recorded = json.loads(record.read_text()).get("fingerprint")
        if recorded != loaded.fingerprint:
            raise RlvError(
                f"{config.encoder}: the encoder file changed since {run} started (fingerprint "
                f"{loaded.fingerprint[:12]}, the run recorded {str(recorded)[:12]}); restore it or start "
                "a new run"
            )
    return loaded


def record_encoder(run: Path, encoder_file: EncoderFile, mode: str) -> None:
    """Write the run's ENCODER_RECORD: which encoder file it uses, its fingerprint and what made it."""
    meta = encoder_file.meta
    record = {
        "path": str(encoder_file.path.resolve()),
        "fingerprint": encoder_file.fingerprint,
        "mode": mode,
        "architecture": meta.get("architecture"),
        "objectives": meta.get("objectives"),
        "data": meta.get("data"),
    }
    write_text_atomic(Path(run) / ENCODER_RECORD, json.dumps(record, indent=2) + "\n")


def check_frames(encoder_file: EncoderFile, frame_shape: tuple[int, ...], where: str) -> None:
    """Refuse frames (an env's or a dataset's) of another shape than the encoder was made for."""
    expected = tuple(encoder_file.architecture["image_shape"])
    if tuple(frame_shape) != expected:
        raise RlvError(
            f"{where}: frames of shape {tuple(frame_shape)}, but {encoder_file.path} encodes {expected}"
        )


def feature_env(env: gym.Env, encoder_file: EncoderFile | None, mode: str, where: str) -> gym.Env:
    """`env` as a run with `encoder_file` acts in it: with a frozen encoder, observations become its
    features (FrozenFeatures); otherwise the env as it is."""
    if encoder_file is None or mode != "frozen":
        return env
    check_frames(encoder_file, tuple(env.observation_space.shape), where)
    return FrozenFeatures(env, encoder_file.encoder)
