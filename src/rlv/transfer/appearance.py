"""Appearance randomisation: domain randomisation of training frames as augmentation (Tobin et al.
2017), so that features come from where things are, not how they look."""

from __future__ import annotations

import math

import torch
from torch import nn


class AppearanceRandomisation(nn.Module):
    """Domain randomisation of uint8 HWC images (B, H, W, 3) -> (B, H, W, 3) uint8, per image:
    a random channel permutation, per-channel gain U(1 - colour, 1 + colour) and offset
    U(-64 colour, 64 colour) (colours), a linear lighting ramp in a random direction with slope up
    to `light` (brightness), and an additive sinusoidal grating of random orientation, frequency and
    phase with amplitude up to `texture` grey levels (textures on the table and background). The
    scene's geometry is untouched, so features must come from where things are, not how they
    look. Identity in eval mode; draws from torch's RNG only in training mode."""

    def __init__(self, colour: float = 0.4, light: float = 0.4, texture: float = 40.0) -> None:
        super().__init__()
        self.colour, self.light, self.texture = colour, light, texture

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return images
        batch, height, width, _ = images.shape
        device = images.device
        order = torch.rand(batch, 3, device=device).argsort(dim=1)  # a permutation per image
        x = torch.gather(images.float(), 3, order[:, None, None, :].expand(-1, height, width, -1))
        gain = 1.0 + self.colour * (2 * torch.rand(batch, 1, 1, 3, device=device) - 1)
        offset = 64.0 * self.colour * (2 * torch.rand(batch, 1, 1, 3, device=device) - 1)
        rows = torch.linspace(-1.0, 1.0, height, device=device)[None, :, None]
        cols = torch.linspace(-1.0, 1.0, width, device=device)[None, None, :]
        angle = 2 * math.pi * torch.rand(batch, 1, 1, device=device)
        along = rows * torch.sin(angle) + cols * torch.cos(angle)  # (B, H, W)
        light = 1.0 + self.light * (2 * torch.rand(batch, 1, 1, device=device) - 1) * along
        grating_angle = math.pi * torch.rand(batch, 1, 1, device=device)
        frequency = 0.1 + 1.1 * torch.rand(batch, 1, 1, device=device)  # radians per pixel
        pixel_rows = torch.arange(height, device=device, dtype=torch.float32)[None, :, None]
        pixel_cols = torch.arange(width, device=device, dtype=torch.float32)[None, None, :]
        phase = 2 * math.pi * torch.rand(batch, 1, 1, device=device)
        across = pixel_rows * torch.sin(grating_angle) + pixel_cols * torch.cos(grating_angle)
        wave = torch.sin(frequency * across + phase)
        grain = self.texture * torch.rand(batch, 1, 1, device=device) * wave
        x = (x * gain + offset) * light[..., None] + grain[..., None]
        return x.clamp(0.0, 255.0).round().to(images.dtype)
