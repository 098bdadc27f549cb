"""Typed, frozen run configurations (the named presets are in rlv.presets).

Every field has a docstring: tyro turns it into the `--help` text of the matching CLI option.
The resolved config of a run is saved as `config.json` in its run directory and read back by
`config_from_dict` (no pickle).
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
class RLVConfig:
    """Settings specific to RLV: the observation (video) data, the inverse model and the relabelling."""

    dataset: Path | None = None
    """Action-free observation dataset directory (see docs/dataset_format.md). Required for algo=rlv."""
    obs_batch_size: int = 256
    """Observation transitions per gradient step (stacked under the robot batch)."""
    max_episodes: int | None = None
    """Use only the first N episodes of the dataset (ablation: amount of observation data)."""
    idm_hidden: tuple[int, ...] = (64, 64, 64)
    """Hidden widths of the inverse dynamics model d(o, o') -> a."""
    idm_lr: float = 3e-4
    """Adam learning rate of the inverse dynamics model."""
    reward_scale: float = 10.0
    """Relabelled reward of a done observation transition (the end of a successful video)."""
    reward_bottom: float = -1.0
    """Relabelled reward of every other observation transition."""
    action_source: Literal["idm", "oracle", "zero"] = "idm"
    """Actions for observation rows: inverse model (RLV), the dataset's true_actions (oracle), or zeros."""
    reward_source: Literal["relabel", "true"] = "relabel"
    """Rewards for observation rows: the sparse relabel rule (RLV) or the dataset's ground-truth rewards."""
    timelimit_done: bool = False
    """Original quirk: the last transition of every episode is done (and gets `reward_scale`),
    also when the episode only hit the time limit."""
    alignment: Literal["none", "adversarial", "dann", "original"] = "none"
    """Adversarial domain alignment of image features: none; adversarial (flipped-label generator
    loss into the shared encoder); dann (by the book: gradient reversal with a weight ramped over
    --rlv.alignment-ramp-steps and a spectrally normalised discriminator); original (the release's
    behaviour: the discriminator trains, the encoder never sees its gradient)."""
    generator_weight: float = 1.0
    """Weight of the generator (confusion) loss relative to the critic loss on the shared encoder
    (with dann: the weight the ramp ends at)."""
    alignment_ramp_steps: int = 5000
    """dann: gradient steps over which the reversal weight rises as 2 / (1 + exp(-10 p)) - 1."""
    paired_dataset: Path | None = None
    """Paired robot/human frames (rlv collect --paired) for the paired feature loss."""
    paired_weight: float = 1.0
    """Weight of the paired-frame feature MSE relative to the critic loss."""
    paired_batch_size: int = 256
    """Paired frames per gradient step (also the negatives of the contrastive loss: P - 1 each)."""
    contrastive_weight: float = 0.0
    """Weight of the paired InfoNCE loss (time-contrastive-network style): each human frame's
    features must be closer (cosine) to its own robot frame's than to the batch's other robot
    frames, and vice versa. Needs --rlv.paired-dataset; cannot be lowered by collapsing features."""
    contrastive_similarity: Literal["cosine", "distance"] = "cosine"
    """Similarity of the contrastive loss: cosine of the features, or minus their squared distance
    (which also makes paired features equal in size, as the critic and inverse model read them)."""
    contrastive_temperature: float = 0.1
    """Temperature of the contrastive and temporal InfoNCE losses."""
    temporal_weight: float = 0.0
    """Weight of the self-supervised temporal contrast on both domains' frames: f(o_t) must be
    closer to its own f(o_t+1) than to the other rows' next frames (no actions, no pairs)."""
    discriminator_lr: float = 3e-4
    """Adam learning rate of the domain discriminator."""
    scale_free_alignment: bool = False
    """Make the alignment losses blind to the features' scale: the discriminator sees features
    standardised over the batch (per dimension, with gradient) and the paired loss is divided by
    the features' batch variance. Without it the encoder can satisfy both by shrinking every
    feature toward one point (watch stat/feature_std)."""
    idm_encoder_weight: float = 0.0
    """Weight of the inverse-model loss on the shared image encoder (0: the encoder learns from the
    critic and alignment only, the inverse model reads detached features). >0: L_d on the robot rows
    also trains f through f(s), keeping motion in the features (an anchor against the collapse that
    alignment can cause; the original's inverse model trained its own encoder copy). Images only."""


@dataclass(frozen=True)
class TrainConfig:
    """One training run: environment, algorithm, schedule, outputs."""

    env: str = "acrobot"
    """Environment: `acrobot`, or `gym:<id>` for any Gymnasium env with a Box action space."""
    domain: Literal["robot", "humanlike"] = "robot"
    """Image tasks: how the agent's own camera renders the scene: robot, or humanlike (the robot in
    a scene recoloured like the human videos': the original paper's HumanLike setting)."""
    algo: str = "sac"
    """Method: sac (SAC from scratch), rlv (SAC on robot + labelled observation data), or any other
    registered method (`rlv presets` lists them); its own options are `--<algo>.*`."""
    label: str = ""
    """Method name used to group runs in plots and tables (defaults to the preset name or algo)."""
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


def config_type(algo: str) -> type[TrainConfig]:
    """The config type of a run of the registered method `algo` (RlvError when unknown)."""
    from rlv.agents.registry import method_spec

    return method_config_type(algo, method_spec(algo).options)


def with_algo(config: TrainConfig, algo: str, options: Any = None) -> TrainConfig:
    """`config`'s run settings for the method `algo`, with its `options` (default: its defaults;
    the options of the previous method are dropped)."""
    kind = config_type(algo)
    core = {item.name: getattr(config, item.name) for item in dataclasses.fields(TrainConfig)}
    extra = {algo: options} if options is not None else {}
    return kind(**(core | {"algo": algo} | extra))


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


def run_config_type(data: Any) -> type[TrainConfig]:
    """The config type of a run read from JSON, by its `algo` (an RlvError naming the key)."""
    algo = data.get("algo", "sac") if isinstance(data, dict) else "sac"
    if type(algo) is not str:
        raise RlvError(f"algo: must be a string, got {algo!r}")
    try:
        return config_type(algo)
    except RlvError as error:
        raise RlvError(f"algo: {error}") from error


def legacy_fields(data: Any) -> Any:
    """Config files written before the method registry hold an `rlv` block for every algo; for a
    method other than rlv it never had an effect, and is dropped."""
    if isinstance(data, dict) and data.get("algo", "sac") != "rlv" and isinstance(data.get("rlv"), dict):
        kind = run_config_type(data)
        if "rlv" not in {item.name for item in dataclasses.fields(kind)}:
            return {key: value for key, value in data.items() if key != "rlv"}
    return data


def save_config(config: TrainConfig, path: Path) -> None:
    """Write the resolved config as JSON (atomically: a full disk leaves the old file)."""
    from rlv.files import write_text_atomic

    write_text_atomic(path, json.dumps(config_to_dict(config), indent=2) + "\n")


def load_config(path: Path) -> TrainConfig:
    """Read a run's `config.json` and check every field (type and range); a problem is one
    RlvError naming the file and the key."""
    from rlv.validation import check_config

    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as error:
        raise RlvError(f"{path}: no such file (not a run directory?)") from error
    except json.JSONDecodeError as error:
        raise RlvError(f"{path}: not valid JSON ({error.msg})") from error
    except (OSError, ValueError) as error:  # unreadable, not UTF-8, an integer of >4300 digits
        raise RlvError(f"{path}: unreadable ({error})") from error
    try:
        config = config_from_dict(run_config_type(data), legacy_fields(data), "the top level")
    except RlvError as error:
        raise RlvError(f"{path}: {error}") from error
    check_config(config, source=path)
    return config
