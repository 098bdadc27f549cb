"""The one place that decides what an environment's observations are: state vectors or images.

Everything that depends on it (the replay's dtype, the shared encoder and its augmentation, the
datasets a run accepts) asks the `ObservationKind` built here from the env's observation space.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlv.config import SACConfig
from rlv.errors import RlvError
from rlv.nets import ImageEncoder, RandomShift
from rlv.transfer.appearance import AppearanceRandomisation


def is_image(obs_shape: Sequence[int]) -> bool:
    """Observations of shape (H, W, 3) are images (uint8); (D,) are state vectors."""
    return len(obs_shape) == 3 and obs_shape[-1] == 3


def stored_dtype(dtype: np.dtype | type) -> type:
    """How observations of `dtype` are stored (datasets, replay): uint8 frames as they are, anything
    else as float32 vectors."""
    return np.uint8 if np.dtype(dtype) == np.uint8 else np.float32


def observation_batch(obs: np.ndarray, device: torch.device) -> torch.Tensor:
    """One observation as a batch of one, as the encoder takes it: (1, H, W, 3) uint8 frames, or
    (1, D) float32 vectors (an env may return float64)."""
    batch = torch.as_tensor(obs, device=device).unsqueeze(0)
    return batch if batch.dtype == torch.uint8 else batch.float()


@dataclass(frozen=True)
class ObservationKind:
    """Observations of one environment: shape (D,) float32 vectors or (H, W, 3) uint8 images.
    `initial_encoder`: weights the image encoder starts from (a pretrained encoder file's, to
    finetune), else its own initialisation."""

    shape: tuple[int, ...]
    initial_encoder: Mapping[str, torch.Tensor] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of_space(cls, space: gym.Space, env: str) -> ObservationKind:
        """The kind of `space`; anything but a Box of vectors or HxWx3 images is an RlvError."""
        if not isinstance(space, gym.spaces.Box) or not (len(space.shape) == 1 or is_image(space.shape)):
            raise RlvError(f"environment {env!r}: observations {space} are neither a vector nor HxWx3 images")
        return cls(tuple(int(size) for size in space.shape))

    @property
    def image(self) -> bool:
        return is_image(self.shape)

    @property
    def dtype(self) -> type:
        """How the replay and datasets store them: uint8 frames, float32 vectors."""
        return np.uint8 if self.image else np.float32

    @property
    def vector_dim(self) -> int:
        """Input width of the MLPs when there is no encoder (0 for images: the encoder's out_dim)."""
        return 0 if self.image else self.shape[0]

    def encoder(self, sac: SACConfig) -> nn.Module | None:
        """The shared conv encoder for images (None for vectors: the identity), with the
        `initial_encoder` weights when given."""
        if not self.image:
            return None
        encoder = ImageEncoder(self.shape, sac.conv_channels, sac.conv_kernel, sac.feature_dim)
        if self.initial_encoder is not None:
            encoder.load_state_dict(self.initial_encoder)
        return encoder

    def augment(self, sac: SACConfig) -> nn.Module | None:
        """Training-time augmentation of images: random shift (DrQ per sample, or one per batch),
        then appearance randomisation when asked; None for vectors."""
        if not self.image:
            return None
        shift = RandomShift(sac.shift_pad if sac.augment != "none" else 0, per_sample=sac.augment == "shift")
        return nn.Sequential(shift, AppearanceRandomisation()) if sac.appearance == "randomise" else shift

    def check_options(self, sac: SACConfig, env: str) -> None:
        """Refuse image-only learner options on state observations."""
        if sac.appearance != "none" and not self.image:
            raise RlvError(f"environment {env!r} has state observations; --sac.appearance needs images")
