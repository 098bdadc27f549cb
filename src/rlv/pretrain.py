"""`rlv pretrain`: train an image encoder offline, before any RL, on what the user has: robot frames
with actions, action-free videos, paired frames (Stooke et al. 2021's decoupling of representation
learning from RL). `rlv train --encoder FILE` then learns on it, frozen or finetuned.

One update, for B robot rows (s, s', a) and N video rows (o, o'), f the encoder on augmented frames:

    1. L_d = MSE(d(f(s), f(s')), a)   fit the inverse model d on the robot rows (f detached)
    2. L_f = the transfer terms of rlv.transfer (the inverse-model anchor w_idm L_d through f,
       temporal contrast, paired InfoNCE / MSE, adversarial alignment), one step of f on L_f
    3. the transfer step after f's: the discriminator's (with alignment), feature spread

Held-out episodes (and pairs) score the encoder at the end (`rlv.encoder_scores`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812
from tqdm import tqdm

from rlv.batches import ObservationBatch, PairedBatch
from rlv.data.dataset import Dataset, load_dataset
from rlv.data.paired import PairedFrames, PairedSampler, load_paired
from rlv.data.replay import ObservationSampler
from rlv.encoder_scores import score_encoder, score_lines
from rlv.encoders import architecture_of, save_encoder
from rlv.errors import RlvError
from rlv.files import directory_fingerprint
from rlv.nets import ImageEncoder, InverseModel, RandomShift
from rlv.observation import is_image
from rlv.transfer import AppearanceRandomisation, DomainTransfer, TransferConfig
from rlv.transfer import config as transfer_config
from rlv.validation import at_least, field_problems, positive, unit_interval, widths


@dataclass(frozen=True)
class PretrainOptions:
    """What the encoder learns from, how long, and where it goes."""

    out: Path = Path("encoder.pt")
    """Encoder file to write (state dict + metadata; rlv train --encoder FILE reads it)."""
    robot: Path | None = None
    """Robot frames with actions: a dataset with true_actions (rlv collect --policy random, or the
    scripted expert with noise). Required: the inverse model learns from it."""
    videos: Path | None = None
    """Action-free videos (rlv data import-video, rlv collect --domain human): the second domain."""
    updates: int = 5000
    """Gradient steps."""
    batch_size: int = 128
    """Robot rows per step; as many video rows and paired frames."""
    conv_channels: tuple[int, ...] = (16, 16, 32)
    """Channels of the conv encoder (rlv train's --sac.conv-channels, to finetune it)."""
    conv_kernel: int = 5
    """Kernel size of every conv layer (rlv train's --sac.conv-kernel)."""
    feature_dim: int | None = 50
    """Project the conv features to this many (linear, LayerNorm, tanh; rlv train's
    --sac.feature-dim): compact features make RL on a frozen encoder cheap. None: the flattened
    conv features (1152 with the default convs)."""
    lr: float = 3e-4
    """Adam learning rate of the encoder."""
    idm_hidden: tuple[int, ...] = (64, 64, 64)
    """Hidden widths of the inverse dynamics model d(f(o), f(o')) -> a."""
    idm_lr: float = 3e-4
    """Adam learning rate of the inverse model."""
    shift_pad: int = 4
    """Random-shift augmentation of training frames (per sample), in pixels; 0: none."""
    appearance: Literal["none", "randomise"] = "none"
    """Also randomise how training frames look (colours, light, texture)."""
    heldout: float = 0.1
    """Share of the episodes (and pairs) kept out of training, for the scores at the end."""
    seed: int = 0
    """Seed of networks, batches and the held-out split."""
    threads: int = 1
    """torch CPU threads."""
    device: str = "cpu"
    """torch device (cpu or cuda)."""
    overwrite: bool = False
    """Replace an existing file at --out."""
    progress: bool = True
    """Show a progress bar."""


# Bases in this order so that the data options come first in --help, then TransferConfig's.
@dataclass(frozen=True)
class PretrainConfig(TransferConfig, PretrainOptions):
    """Pretrain an image encoder on robot frames with actions, videos and paired frames."""

    temporal_weight: float = 1.0
    """Weight of the temporal contrast on both domains' frames: f(o_t) must be closer to its own
    f(o_t+1) than to the other rows' next frames (no actions, no pairs)."""
    idm_encoder_weight: float = 1.0
    """Weight of the inverse-model loss on the encoder (the anchor that keeps motion in the features)."""
    paired_weight: float = 0.0
    """Weight of the paired-frame feature MSE (needs --paired-dataset)."""


RANGES = {
    "updates": at_least(1),
    "batch_size": at_least(2),
    "conv_channels": widths,
    "conv_kernel": at_least(1),
    "feature_dim": at_least(1),
    "lr": positive,
    "idm_hidden": widths,
    "idm_lr": positive,
    "shift_pad": at_least(0),
    "heldout": unit_interval(open_low=False),
    "threads": at_least(1),
    **transfer_config.RANGES,
}


def check_pretrain_config(config: PretrainConfig) -> None:
    """One RlvError naming the option for the first bad or incompatible setting."""
    problems = field_problems(config, ranges=RANGES) + [
        (field, text.replace("--rlv.", "--")) for field, text in transfer_config.option_problems(config)
    ]
    if config.robot is None:
        problems.append(("robot", "the robot's frames with actions are required: --robot DS"))
    if config.alignment != "none" and config.videos is None:
        problems.append(("alignment", "aligns robot frames with video frames: give --videos DS"))
    if problems:
        field, problem = problems[0]
        raise RlvError(f"--{field.replace('_', '-')}: {problem}")
    if not config.out.parent.is_dir():
        raise RlvError(f"--out: {config.out.parent} is not a directory")
    if config.out.exists() and not config.overwrite:
        raise RlvError(f"{config.out}: already exists (use --overwrite or another --out)")


def split_episodes(dataset: Dataset, heldout: float) -> tuple[Dataset, Dataset]:
    """(training, held-out) episodes: the last `heldout` share held out (at least one episode when
    there are two or more, none when there is one)."""
    count = len(dataset.episodes)
    held = min(max(round(count * heldout), 1 if heldout > 0 and count > 1 else 0), count - 1)
    cut = count - held
    part = lambda episodes: dataclasses.replace(dataset, episodes=episodes)  # noqa: E731
    return part(dataset.episodes[:cut]), part(dataset.episodes[cut:])


def split_pairs(frames: PairedFrames, heldout: float) -> tuple[PairedFrames, PairedFrames]:
    """(training, held-out) pairs: the last `heldout` share held out (at least 2 when it is > 0)."""
    held = min(max(round(len(frames.robot) * heldout), 2 if heldout > 0 else 0), len(frames.robot) - 2)
    cut = len(frames.robot) - held
    return (
        dataclasses.replace(frames, robot=frames.robot[:cut], human=frames.human[:cut]),
        dataclasses.replace(frames, robot=frames.robot[cut:], human=frames.human[cut:]),
    )


@dataclass
class PretrainSplits:
    """The loaded data as (training, held-out) pairs; None where not given."""

    robot: tuple[Dataset, Dataset]
    videos: tuple[Dataset, Dataset] | None
    paired: tuple[PairedFrames, PairedFrames] | None

    @property
    def frame_shape(self) -> tuple[int, ...]:
        return self.robot[0].obs_shape


def load_splits(config: PretrainConfig) -> PretrainSplits:
    """Load every dataset, check that they are frames of one shape and that the robot's keep actions."""
    assert config.robot is not None
    robot = load_dataset(config.robot)
    if any(episode.true_actions is None for episode in robot.episodes):
        raise RlvError(
            f"{config.robot}: --robot needs true_actions in every episode (rlv collect keeps them)"
        )
    shape = robot.obs_shape
    if not is_image(shape) or robot.meta["obs_dtype"] != "uint8":
        raise RlvError(f"{config.robot}: observations of shape {shape} are not uint8 frames")
    videos = load_dataset(config.videos) if config.videos is not None else None
    paired = load_paired(config.paired_dataset) if config.paired_dataset is not None else None
    for path, other in (
        (config.videos, videos and videos.obs_shape),
        (config.paired_dataset, paired and paired.robot.shape[1:]),
    ):
        if other is not None and tuple(other) != shape:
            raise RlvError(f"{path}: frames of shape {tuple(other)}, but the robot's are {shape}")
    return PretrainSplits(
        split_episodes(robot, config.heldout),
        None if videos is None else split_episodes(videos, config.heldout),
        None if paired is None else split_pairs(paired, config.heldout),
    )


class EncoderPretrainer:
    """The encoder f, its augmentation, the inverse model d and the transfer terms, with their
    optimizers: `update()` is one step of the module docstring's box."""

    def __init__(self, config: PretrainConfig, frame_shape: tuple[int, ...], act_dim: int) -> None:
        self.config, self.device = config, torch.device(config.device)
        torch.manual_seed(config.seed)
        self.encoder = ImageEncoder(frame_shape, config.conv_channels, config.conv_kernel, config.feature_dim)
        self.encoder = self.encoder.to(self.device)
        shift = RandomShift(config.shift_pad, per_sample=True)
        self.augment = (
            nn.Sequential(shift, AppearanceRandomisation()) if config.appearance == "randomise" else shift
        )
        self.idm = InverseModel(self.encoder.out_dim, act_dim, config.idm_hidden).to(self.device)
        self.encoder_optim = torch.optim.Adam(self.encoder.parameters(), lr=config.lr)
        self.idm_optim = torch.optim.Adam(self.idm.parameters(), lr=config.idm_lr)
        self.transfer = DomainTransfer(config, self.encoder.out_dim, self.device, self.embed, image=True)
        self.steps = 0

    def embed(self, frames: torch.Tensor) -> torch.Tensor:
        """Features of augmented frames (P, H, W, 3) -> (P, out_dim), with the encoder's graph."""
        return self.encoder(self.augment(frames))

    def update(
        self, robot: ObservationBatch, videos: ObservationBatch | None, paired: PairedBatch | None
    ) -> dict[str, float]:
        """One pretraining step on B robot rows (with true actions) and N video rows (or none)."""
        assert robot.true_action is not None, "the robot rows keep their actions"
        obs = robot.obs if videos is None else torch.cat([robot.obs, videos.obs])
        next_obs = robot.next_obs if videos is None else torch.cat([robot.next_obs, videos.next_obs])
        rows = len(robot.obs)
        features = self.embed(obs)
        with torch.no_grad():
            next_features = self.encoder(self.augment(next_obs))
        metrics = self.fit_inverse_model(features[:rows].detach(), next_features[:rows], robot.true_action)
        loss, transfer_metrics = self.transfer.encoder_loss(
            features, next_features, robot.true_action, self.idm, paired, self.steps
        )
        if loss.requires_grad:
            self.encoder_optim.zero_grad(set_to_none=True)
            loss.backward()
            self.encoder_optim.step()
        metrics |= transfer_metrics | self.transfer.after_encoder_step(features.detach(), rows)
        self.steps += 1
        return metrics | {"loss/encoder": loss.item()}

    def fit_inverse_model(
        self, features: torch.Tensor, next_features: torch.Tensor, action: torch.Tensor
    ) -> dict[str, float]:
        """Step 1: one step of d on MSE(d(f(s), f(s')), a), features (B, out_dim) detached."""
        loss = F.mse_loss(self.idm(features, next_features), action)
        self.idm_optim.zero_grad(set_to_none=True)
        loss.backward()
        self.idm_optim.step()
        return {"loss/idm": loss.item()}


def objectives(config: PretrainConfig) -> dict[str, Any]:
    """The losses and augmentation an encoder was trained with (its file's metadata)."""
    transfer = {field.name: getattr(config, field.name) for field in dataclasses.fields(TransferConfig)}
    transfer["paired_dataset"] = None if config.paired_dataset is None else str(config.paired_dataset)
    return transfer | {
        "shift_pad": config.shift_pad,
        "appearance": config.appearance,
        "updates": config.updates,
    }


def data_record(config: PretrainConfig, splits: PretrainSplits) -> list[dict[str, Any]]:
    """What the encoder saw: each input's role, path, fingerprint and training size."""
    record = [
        {"role": "robot", "path": str(config.robot), "transitions": splits.robot[0].num_transitions},
    ]
    if splits.videos is not None:
        record.append(
            {"role": "videos", "path": str(config.videos), "transitions": splits.videos[0].num_transitions}
        )
    if splits.paired is not None:
        record.append(
            {"role": "paired", "path": str(config.paired_dataset), "pairs": len(splits.paired[0].robot)}
        )
    return [item | {"fingerprint": directory_fingerprint(Path(item["path"]))} for item in record]


def train_encoder(config: PretrainConfig, splits: PretrainSplits) -> EncoderPretrainer:
    """A new EncoderPretrainer trained for `config.updates` steps on the training parts of `splits`
    (the config is checked by the caller)."""
    device = torch.device(config.device)
    robot = ObservationSampler(splits.robot[0], seed=config.seed + 1)
    videos = None if splits.videos is None else ObservationSampler(splits.videos[0], seed=config.seed + 2)
    paired = None if splits.paired is None else PairedSampler(splits.paired[0], seed=config.seed + 3)
    uses_pairs = paired is not None and (config.paired_weight > 0 or config.contrastive_weight > 0)
    pretrainer = EncoderPretrainer(config, splits.frame_shape, robot.true_action.shape[1])
    bar = tqdm(range(config.updates), disable=not config.progress, unit="update", dynamic_ncols=True)
    for step in bar:
        metrics = pretrainer.update(
            robot.sample(config.batch_size, device),
            None if videos is None else videos.sample(config.batch_size, device),
            paired.sample(config.batch_size, device) if uses_pairs else None,
        )
        if step % 50 == 0:
            bar.set_postfix(
                {
                    key.split("/")[-1]: f"{value:.3g}"
                    for key, value in metrics.items()
                    if key.startswith("loss/")
                },
                refresh=False,
            )
    bar.close()
    return pretrainer


def held_out_scores(pretrainer: EncoderPretrainer, splits: PretrainSplits) -> dict[str, float]:
    """`rlv.encoder_scores.score_encoder` on the held-out parts of `splits`."""
    return score_encoder(
        pretrainer.encoder,
        pretrainer.idm,
        splits.robot[1],
        None if splits.videos is None else splits.videos[1],
        None if splits.paired is None else splits.paired[1],
    )


def pretrain(config: PretrainConfig) -> dict[str, Any]:
    """Check, load, train for `config.updates` steps, score on held-out data, write the encoder
    file; returns its metadata (with the scores and the file's fingerprint)."""
    check_pretrain_config(config)
    splits = load_splits(config)
    torch.set_num_threads(config.threads)
    pretrainer = train_encoder(config, splits)
    meta = {
        "architecture": architecture_of(
            pretrainer.encoder,
            splits.frame_shape,
            config.conv_channels,
            config.conv_kernel,
            config.feature_dim,
        ),
        "objectives": objectives(config),
        "data": data_record(config, splits),
        "scores": held_out_scores(pretrainer, splits),
        "seed": config.seed,
    }
    meta["fingerprint"] = save_encoder(config.out, pretrainer.encoder, meta)
    return meta


def pretrain_report(meta: dict[str, Any], out: Path) -> str:
    """What `rlv pretrain` prints: the file written and the encoder's held-out scores (each beside
    its chance level where it has one; `rlv.encoder_scores.score_lines`)."""
    has_videos = any(item["role"] == "videos" for item in meta["data"])
    lines = [
        f"wrote {out} (fingerprint {meta['fingerprint'][:12]}, {meta['architecture']['out_dim']} features)",
        *score_lines(meta["scores"], has_videos),
    ]
    return "\n".join(lines)
