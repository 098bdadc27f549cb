"""Networks: MLPs, the tanh-Gaussian actor, the critic ensemble (twin by default), the inverse
dynamics model and the discriminators.

Initialisation follows the original (Keras defaults): xavier-uniform weights, zero biases.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int) -> nn.Sequential:
    """ReLU MLP `in_dim -> hidden... -> out_dim` with xavier-uniform weights and zero biases."""
    layers: list[nn.Module] = []
    width = in_dim
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, out_dim))
    for layer in layers:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


def of_members(parameter: torch.Tensor, members: torch.Tensor | None) -> torch.Tensor:
    """The rows of an ensemble parameter (members, ...) that belong to `members` (all when None)."""
    return parameter if members is None else parameter[members]


class EnsembleLinear(nn.Module):
    """`members` independent linear layers applied in one batched matmul.

    Input (members, B, in) or (B, in) (broadcast to every member); output (members, B, out).
    `members` (a long tensor of member indices, (M,)) applies only those members' layers: the
    input is then (M, B, in) or (B, in), the output (M, B, out).
    """

    def __init__(self, members: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(members, in_dim, out_dim))
        self.bias = nn.Parameter(torch.zeros(members, 1, out_dim))
        bound = math.sqrt(6.0 / (in_dim + out_dim))  # xavier-uniform per member
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        weight, bias = of_members(self.weight, members), of_members(self.bias, members)
        if x.dim() == 2:
            return torch.einsum("bi,mio->mbo", x, weight) + bias
        return torch.baddbmm(bias, x, weight)


class EnsembleLayerNorm(nn.Module):
    """Layer normalisation over the features of each member, with a gain and bias of its own per
    member: (members, B, width) -> (members, B, width); `members` as in EnsembleLinear."""

    def __init__(self, members: int, width: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(members, 1, width))
        self.bias = nn.Parameter(torch.zeros(members, 1, width))

    def forward(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        weight, bias = of_members(self.weight, members), of_members(self.bias, members)
        return torch.addcmul(bias, F.layer_norm(x, x.shape[-1:]), weight)


class EnsembleCritic(nn.Module):
    """Q_1 .. Q_members (s, a): independent MLPs evaluated as one ensemble (one batched matmul per
    layer). `layer_norm` puts a LayerNorm between each hidden layer and its ReLU (as in RLPD);
    without it the modules and state-dict keys are those of the plain twin critic.

    forward(obs (B, obs_dim), action (B, act_dim)) -> (members, B); with `members` (a long tensor
    of M member indices) only those members are evaluated -> (M, B).
    """

    def __init__(
        self, obs_dim: int, act_dim: int, hidden: Sequence[int], members: int = 2, layer_norm: bool = False
    ) -> None:
        super().__init__()
        widths = [obs_dim + act_dim, *hidden]
        self.members = members
        self.hidden_layers = nn.ModuleList(
            EnsembleLinear(members, a, b) for a, b in itertools.pairwise(widths)
        )
        self.hidden_norms = (
            nn.ModuleList(EnsembleLayerNorm(members, width) for width in hidden) if layer_norm else None
        )
        self.head = EnsembleLinear(members, widths[-1], 1)

    def forward(
        self, obs: torch.Tensor, action: torch.Tensor, members: torch.Tensor | None = None
    ) -> torch.Tensor:
        x = torch.cat([obs, action], dim=-1)
        for index, layer in enumerate(self.hidden_layers):
            x = layer(x, members)
            if self.hidden_norms is not None:
                x = self.hidden_norms[index](x, members)
            x = F.relu(x)
        return self.head(x, members).squeeze(-1)


TwinCritic = EnsembleCritic
"""The twin critic Q_1, Q_2 of SAC: an EnsembleCritic of 2 members (its default)."""


class TanhGaussianActor(nn.Module):
    """pi(a|s) = tanh(N(mu(s), sigma(s))) with log-std clipped to [log_std_min, log_std_max]."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden: Sequence[int],
        log_std_min: float = -20.0,
        log_std_max: float = 2.0,
    ) -> None:
        super().__init__()
        self.trunk = mlp(obs_dim, hidden, 2 * act_dim)
        self.log_std_min = log_std_min
        self.log_std_max = log_std_max

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """obs (B, obs_dim) -> (mean, log_std), each (B, act_dim)."""
        mean, log_std = self.trunk(obs).chunk(2, dim=-1)
        return mean, log_std.clamp(self.log_std_min, self.log_std_max)

    def sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised a ~ pi(.|s) and log pi(a|s): shapes (B, act_dim) and (B,).

        log pi includes the tanh change of variables, log(1 - tanh(u)^2) computed stably as
        2 (log 2 - u - softplus(-2u)).
        """
        mean, log_std = self(obs)
        std = log_std.exp()
        noise = torch.randn_like(mean)
        pre_tanh = mean + std * noise
        log_prob = (-0.5 * noise.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_prob = log_prob - (2 * (math.log(2) - pre_tanh - F.softplus(-2 * pre_tanh))).sum(-1)
        return torch.tanh(pre_tanh), log_prob

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        """The evaluation action tanh(mu(s)), (B, act_dim)."""
        return torch.tanh(self(obs)[0])


class InverseModel(nn.Module):
    """Inverse dynamics d(o, o') -> a: an MLP on [o, o'] (B, 2 obs_dim) -> (B, act_dim).

    Its output is not squashed or clipped to the action box (as in the original).
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(2 * obs_dim, hidden, act_dim)

    def forward(self, obs: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs, next_obs], dim=-1))


class ImageEncoder(nn.Module):
    """Conv encoder for uint8 HWC images: (B, H, W, 3) uint8 -> (B, out_dim) features.

    Pixels are scaled to [-1, 1]; each block is a 'same' k x k conv, ReLU and 2x2 max-pool (the
    original's DA encoder: k = 5, channels (16, 16, 32): 48x48 -> 6x6x32 = 1152 features). The
    pool runs before the ReLU, which gives the same output (both are monotone) at a quarter of the
    ReLU's cost. With `feature_dim`, a head projects the flattened conv features to that many:
    linear, LayerNorm, tanh (DrQ's and SAC-AE's; compact features make every network after the
    encoder cheap, which is what a frozen pretrained encoder is for).
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        channels: Sequence[int] = (16, 16, 32),
        kernel: int = 5,
        feature_dim: int | None = None,
    ) -> None:
        super().__init__()
        height, width, colours = image_shape
        layers: list[nn.Module] = []
        previous = colours
        for count in channels:
            layers += [nn.Conv2d(previous, count, kernel, padding=kernel // 2), nn.MaxPool2d(2), nn.ReLU()]
            previous = count
        self.convs = nn.Sequential(*layers)
        for layer in self.convs:
            if isinstance(layer, nn.Conv2d):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)
        scale = 2 ** len(channels)
        self.out_dim = previous * (height // scale) * (width // scale)
        self.head: nn.Module = nn.Identity()
        if feature_dim is not None:
            self.head = nn.Sequential(
                nn.Linear(self.out_dim, feature_dim), nn.LayerNorm(feature_dim), nn.Tanh()
            )
            self.out_dim = feature_dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # HWC uint8 is channels-last already: keeping that layout makes the CPU convs ~1.4x faster
        x = images.permute(0, 3, 1, 2).float().contiguous(memory_format=torch.channels_last) / 127.5 - 1.0
        return self.head(self.convs(x).flatten(1))


class RandomShift(nn.Module):
    """Random-shift augmentation of uint8 HWC images: replicate-pad by `pad`, crop back at a random
    offset. `per_sample=True` draws one offset per image (DrQ style); False one per batch (the
    original). Identity in eval mode."""

    def __init__(self, pad: int = 4, per_sample: bool = True) -> None:
        super().__init__()
        self.pad, self.per_sample = pad, per_sample

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if not self.training or self.pad == 0:
            return images
        batch, height, width, _ = images.shape
        padded = F.pad(images.permute(0, 3, 1, 2).float(), (self.pad,) * 4, mode="replicate")
        draws = batch if self.per_sample else 1
        offsets = torch.randint(0, 2 * self.pad + 1, (draws, 2), device=images.device).expand(batch, 2)
        rows = offsets[:, :1] + torch.arange(height, device=images.device)  # (B, H)
        cols = offsets[:, 1:] + torch.arange(width, device=images.device)  # (B, W)
        index = torch.arange(batch, device=images.device)[:, None, None]
        crops = padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
        return crops.to(images.dtype)


class Discriminator(nn.Module):
    """Domain discriminator D(f) -> logit of 'observation (video) domain', (B, feat) -> (B,).

    `spectral_norm=True` constrains every layer to spectral norm 1 (Miyato et al. 2018): D stays
    1-Lipschitz, so it cannot win by a margin that leaves the encoder no useful gradient."""

    def __init__(
        self, feature_dim: int, hidden: Sequence[int] = (64, 64, 64), spectral_norm: bool = False
    ) -> None:
        super().__init__()
        self.net = mlp(feature_dim, hidden, 1)
        if spectral_norm:
            for index, layer in enumerate(self.net):
                if isinstance(layer, nn.Linear):
                    self.net[index] = nn.utils.parametrizations.spectral_norm(layer)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features).squeeze(-1)


class TransitionDiscriminator(nn.Module):
    """GAIfO's D(o, o') -> logit of 'expert transition', on state or image transitions.

    `stack(obs, next_obs)` puts a transition in one tensor: vectors (B, D) -> (B, 2D); uint8 HWC
    images (B, H, W, 3) -> (B, H, W, 6), o's channels then o''s (augmentation shifts both frames
    alike, so the motion between them survives). `scale(stacked)` makes the float input the
    network reads: vectors as they are, images channels-first in [-1, 1], (B, 6, H, W); a gradient
    penalty differentiates with respect to it. `logits(inputs)` -> (B,): for images, its own conv
    stack ('same' k x k conv, 2x2 max-pool, ReLU per block, as `ImageEncoder`), then an MLP.
    `spectral_norm=True` normalises every conv and linear layer (Miyato et al. 2018).
    """

    def __init__(
        self,
        obs_shape: Sequence[int],
        image: bool,
        hidden: Sequence[int],
        spectral_norm: bool = False,
        channels: Sequence[int] = (16, 16, 32),
        kernel: int = 5,
    ) -> None:
        super().__init__()
        self.image = image
        layers: list[nn.Module] = []
        if self.image:
            height, width, colours = obs_shape
            previous = 2 * colours
            for count in channels:
                layers += [
                    nn.Conv2d(previous, count, kernel, padding=kernel // 2),
                    nn.MaxPool2d(2),
                    nn.ReLU(),
                ]
                previous = count
            scale = 2 ** len(channels)
            in_dim = previous * (height // scale) * (width // scale)
        else:
            in_dim = 2 * obs_shape[0]
        self.convs = nn.Sequential(*layers)
        for layer in self.convs:
            if isinstance(layer, nn.Conv2d):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)
        self.head = mlp(in_dim, hidden, 1)
        if spectral_norm:
            for block in (self.convs, self.head):
                for index, layer in enumerate(block):
                    if isinstance(layer, nn.Linear | nn.Conv2d):
                        block[index] = nn.utils.parametrizations.spectral_norm(layer)

    @staticmethod
    def stack(obs: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        """One tensor per transition: (B, 2D) vectors or (B, H, W, 6) images, dtype kept."""
        return torch.cat([obs, next_obs], dim=-1)

    def scale(self, stacked: torch.Tensor) -> torch.Tensor:
        """The network's float input: vectors unchanged, images (B, 6, H, W) in [-1, 1]."""
        if not self.image:
            return stacked.float()
        return stacked.permute(0, 3, 1, 2).float() / 127.5 - 1.0

    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits (B,) of scaled inputs."""
        return self.head(self.convs(inputs).flatten(1)).squeeze(-1)

    def forward(self, obs: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        return self.logits(self.scale(self.stack(obs, next_obs)))
