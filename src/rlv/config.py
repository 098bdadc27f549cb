"""Typed, frozen run configurations (the named presets are in rlv.presets; each method's own
options are in its module under rlv.methods).

Every field has a docstring: tyro turns it into the `--help` text of the matching CLI option.
The resolved config of a run is saved as `config.json` in its run directory and read back by
`config_from_dict` (no pickle); `rlv.methods.registry.load_config` reads a run's file back with the
config type of its method.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rlv.errors import RlvError
from rlv.files import write_text_atomic


@dataclass(frozen=True)
class SACConfig:
    """Soft actor-critic settings (defaults: the original RLV / softlearning values)."""

    lr: float = 3e-4
    """Adam learning rate of actor, critics and temperature."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 5e-3
    """Polyak factor of the target critics, applied every gradient step."""
    batch_size: int = 256
    """Robot (interaction) transitions per gradient step."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the actor and of each critic."""
    init_alpha: float = 1.0
    """Initial entropy temperature (log alpha starts at log(init_alpha))."""
    target_entropy: float | None = None
    """Entropy target of the temperature loss; None means -|A|."""
    log_std_min: float = -20.0
    """Lower clip of the policy's log standard deviation."""
    log_std_max: float = 2.0
    """Upper clip of the policy's log standard deviation."""
    critic_layer_norm: bool = False
    """LayerNorm between each hidden layer of the critics and its ReLU (RLPD's key ingredient:
    it keeps the Q-values of unseen actions bounded)."""
    critic_ensemble: int = 2
    """Number of critics N, trained on the same batch (2: SAC's twin critics; RLPD: 10)."""
    target_subset: int | None = None
    """Target critics whose minimum forms the TD target, drawn at random (without replacement)
    each gradient step (RLPD / REDQ: 2 of 10); None: all of them (no draw: SAC's min of two)."""
    actor_q: Literal["min", "mean"] = "min"
    """The actor maximises the min over the critics (SAC) or their mean (RLPD)."""
    conv_channels: tuple[int, ...] = (16, 16, 32)
    """Image tasks: channels of the shared conv encoder (5x5 'same' conv + 2x2 max-pool per layer)."""
    conv_kernel: int = 5
    """Image tasks: kernel size of every conv layer (5 as in the original; 3 is ~1.5x faster on CPU)."""
    feature_dim: int | None = None
    """Image tasks: project the flattened conv features to this many (linear, LayerNorm, tanh, as
    DrQ's 50); None: the conv features as they are (the original's 1152 with the push encoder)."""
    augment: Literal["shift", "batch-shift", "none"] = "shift"
    """Image tasks: random shift with one offset per sample (DrQ), per batch (original), or none."""
    shift_pad: int = 4
    """Image tasks: padding of the random shift, in pixels."""
    appearance: Literal["none", "randomise"] = "none"
    """Image tasks: randomise how training frames look (domain randomisation as augmentation):
    per frame a random colour permutation, gains and offsets, a lighting ramp and a texture grating,
    after the random shift. Evaluation and acting see the frames as rendered."""
    compile: bool = False
    """Compile the encoder, actor and critics (and RLV's inverse model) with torch.compile: the
    first updates wait minutes for the compiler (a C++ compiler on cpu, Triton on cuda); results
    match eager mode to rounding, not bit for bit."""


@dataclass(frozen=True)
class TrainConfig:
    """One training run: environment, algorithm, schedule, outputs."""

    env: str = "acrobot"
    """Environment: acrobot, pointmass, push, drawer-open, push-mw, drawer-open-mw, or any Gymnasium env
    with a bounded Box action space: gym:ID, gym:MODULE:ID (MODULE, importable from PYTHONPATH,
    registers ID), with gym.make keyword arguments as a JSON object after the ID:
    'gym:MODULE:ID{"size": 5}' (docs/your-env.md)."""
    domain: Literal["robot", "humanlike"] = "robot"
    """Image tasks: how the agent's own camera renders the scene: robot, or humanlike (the robot in
    a scene recoloured like the human videos': the original paper's HumanLike setting)."""
    encoder: Path | None = None
    """Image tasks: a pretrained image encoder file (rlv pretrain) for the run's encoder, used as
    --encoder-mode says."""
    encoder_mode: Literal["frozen", "finetune"] = "frozen"
    """With --encoder: frozen (the encoder does not train; each frame is encoded once, when the env
    returns it or the dataset loads, and the method learns on the features: the fast path on a CPU)
    or finetune (the file's weights start the run's encoder, which trains end to end as without
    --encoder; --sac.conv-channels and --sac.conv-kernel must match the file's)."""
    algo: str = "sac"
    """Method: sac (SAC from scratch), rlv (SAC on robot + labelled observation data), or any other
    registered method (`rlv presets` lists them); its own options are `--<algo>.*`."""
    label: str = ""
    """Method name used to group runs in plots and tables (default: the preset's name, without its
    task on another --env; else the algo)."""
    seed: int = 0
    """Seed of networks, replay sampling, exploration and environment resets."""
    total_steps: int = 100_000
    """Environment steps to train for."""
    random_steps: int = 1000
    """Uniform-random environment steps before the policy acts and updates start."""
    updates_per_step: int = 1
    """Gradient steps per environment step (UTD ratio)."""
    horizon: int | None = None
    """Episode length limit; None keeps the environment's own (acrobot: 100)."""
    eval_every: int = 1000
    """Deterministic evaluation every N environment steps (one original 'epoch')."""
    eval_episodes: int = 5
    """Episodes per evaluation, acting with tanh(mean)."""
    log_every: int = 1000
    """Write a row of train.csv every N environment steps."""
    checkpoint_every: int = 10_000
    """Write a resumable checkpoint at the first episode end after every N environment steps."""
    keep_checkpoints: int = 2
    """How many step checkpoints to keep (the final one is always kept)."""
    save_replay: bool = True
    """Store the robot replay with checkpoints (needed for an exact resume)."""
    replay_size: int = 1_000_000
    """Capacity of the robot replay."""
    out: Path = Path("runs/run")
    """Run directory to create (must not exist unless resuming)."""
    tensorboard: bool = False
    """Also write TensorBoard event files (needs the `tensorboard` extra)."""
    wandb: bool = False
    """Also log the train and eval metrics and this config to Weights & Biases (needs the `wandb`
    extra); the run's id is kept in wandb.json, so --resume continues the same W&B run."""
    wandb_project: str = "rlv"
    """With --wandb: the W&B project."""
    wandb_mode: Literal["offline", "online"] = "offline"
    """With --wandb: offline (files only, under the run's wandb/ or $WANDB_DIR; `wandb sync` uploads
    them) or online (needs a W&B login)."""
    threads: int = 1
    """torch CPU threads for this run (1 is fastest for these small networks)."""
    device: str = "cpu"
    """torch device (cpu or cuda)."""
    sample_on_device: bool = True
    """With a GPU --device: keep the replay, the video dataset and the paired frames in the device's
    memory and draw batches there (each step copies only the new transitions and the sampled row
    numbers); --no-sample-on-device gathers batches on the host and copies them. No effect on cpu."""
    progress: bool = True
    """Show a progress bar with steps/s and the last evaluation."""
    sac: SACConfig = field(default_factory=SACConfig)
    """The SAC learner every method here builds on (also its image encoder and augmentation)."""


_METHOD_TYPES: dict[tuple[str, type], type] = {}


def method_config_type(name: str, options: type | None) -> type[TrainConfig]:
    """TrainConfig plus the field `name: options` (the method's own options, `--name.*` on the
    command line and `name` in config.json); TrainConfig itself for a method without options."""
    if options is None:
        return TrainConfig
    if (name, options) not in _METHOD_TYPES:
        _METHOD_TYPES[name, options] = dataclasses.make_dataclass(
            f"TrainConfig_{name}",
            [(name, options, field(default_factory=options))],
            bases=(TrainConfig,),
            frozen=True,
        )
    return _METHOD_TYPES[name, options]


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a (nested) config dataclass."""

    def convert(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, tuple):
            return list(value)
        return value

    return {key: convert(value) for key, value in dataclasses.asdict(config).items()} | {
        key: config_to_dict(getattr(config, key))
        for key in (f.name for f in dataclasses.fields(config))
        if dataclasses.is_dataclass(getattr(config, key))
    }


def _coerce(kind: Any, value: Any) -> Any:
    """Convert a JSON value to the field's type where the JSON form is the right one; anything else
    is kept as it is, for `rlv.validation` to report."""
    if value is None:
        return None
    if dataclasses.is_dataclass(kind):
        return config_from_dict(kind, value) if isinstance(value, dict) else value
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return _coerce(options[0], value)
    if origin is tuple:
        return tuple(value) if isinstance(value, list) else value
    if kind is Path:
        return Path(value) if isinstance(value, str) and value else value
    if kind is float and type(value) is int and abs(value) < 2**1023:
        return float(value)
    return value


def config_from_dict(cls: type, data: dict[str, Any], where: str = "") -> Any:
    """Rebuild a config dataclass from `config_to_dict` output; unknown keys are an error."""
    if not isinstance(data, dict):
        raise RlvError(f"{where or cls.__name__}: must be an object of {cls.__name__} fields")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise RlvError(f"unknown config keys for {cls.__name__}: {sorted(unknown)}")
    return cls(**{key: _coerce(hints[key], value) for key, value in data.items()})


def save_config(config: TrainConfig, path: Path) -> None:
    """Write the resolved config as JSON (atomically: a full disk leaves the old file)."""
    write_text_atomic(path, json.dumps(config_to_dict(config), indent=2) + "\n")
