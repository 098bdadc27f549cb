"""The `rlv data` subcommands: typed arguments (parsed by tyro) and what each runs. Each returns
the text to print; user-fixable problems raise RlvError."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro

from rlv.cli.args import ONE_OR_MORE, TWO_OR_MORE
from rlv.collect.video_import import ImportOptions
from rlv.errors import RlvError

OLD_SUCCESS_WORDS = {"last": "all"}
"""Spellings of `--success` accepted before one vocabulary was shared by the data commands (all,
none, terminated, reward, auto, or a frame index N; each command takes those that apply to its
data: docs/cli.md)."""


def success_word(value: str, accepted: tuple[str, ...], frame_index: bool = False) -> str:
    """`--success` as one of the `accepted` words (an old spelling as its word), or a frame index
    (digits) where `frame_index`; anything else is an RlvError listing what this command takes."""
    word = OLD_SUCCESS_WORDS.get(value, value)
    if word in accepted or (frame_index and value.isdigit()):
        return word
    choices = ", ".join(accepted) + (" or a frame index N" if frame_index else "")
    raise RlvError(f"--success must be one of {choices}; got {value!r}")


@dataclass(frozen=True)
class FrameOptions(ImportOptions):
    """How frames become observations."""

    success: Annotated[str, tyro.conf.arg(metavar="{all,none,N}")] = "all"
    """Which episodes end in success: all (each at its last frame: videos that end at the success),
    none (failed or unknown: no done), or a frame index N (after subsampling): the episode ends at
    frame N, in success. last: the old spelling of all."""

    def library(self) -> ImportOptions:
        """These options as rlv.collect.video_import reads them (all is its 'last')."""
        success = success_word(self.success, ("all", "none"), frame_index=True)
        fields = {item.name: getattr(self, item.name) for item in dataclasses.fields(ImportOptions)}
        return ImportOptions(**fields | {"success": "last" if success == "all" else success})


FRAME_OPTIONS = Annotated[FrameOptions, tyro.conf.OmitArgPrefixes, tyro.conf.arg(name="frame")]
"""import-video's and from-lerobot's frame options (help group: frame options)."""


@dataclass(frozen=True)
class InfoArgs:
    """Summarise an observation dataset (or paired frames)."""

    dataset: Annotated[Path, tyro.conf.Positional]
    """Dataset directory."""


@dataclass(frozen=True)
class PreviewArgs:
    """Write a contact sheet of one or more datasets' frames (or of paired frames: robot row, human row)."""

    datasets: Annotated[tuple[Path, ...], tyro.conf.Positional, ONE_OR_MORE]
    """Dataset or paired-frames directories; the rows of several are stacked in the order given."""
    out: Path = Path("sheet.png")
    """Image to write (.png, .jpg, .pdf, .svg)."""
    rows: int = 8
    """Episodes shown (evenly spread over the dataset)."""
    columns: int = 10
    """Frames per episode (evenly spaced in time)."""


@dataclass(frozen=True)
class ImportVideoArgs:
    """Import videos (mp4, webm, avi, mov, mkv, gif) and folders of PNG/JPEG frames, one episode each."""

    paths: Annotated[tuple[Path, ...], tyro.conf.Positional, ONE_OR_MORE]
    """Video files and frame folders."""
    out: Path
    """Dataset directory to create."""
    options: FRAME_OPTIONS = field(default_factory=FrameOptions)
    domain: str = "human"
    """Visual domain recorded in meta.json (videos of people: human)."""
    env: str | None = None
    """The task these videos show (recorded in meta.json), for example pointmass."""
    skip_bad: bool = False
    """Skip inputs that cannot be imported (reported, and listed in meta.json) instead of aborting."""
    overwrite: bool = False
    """Replace an existing dataset at --out."""
    progress: bool = True
    """Show progress bars over files and frames."""


@dataclass(frozen=True)
class ToVideoArgs:
    """Write a dataset's episodes, one after another, as a video."""

    dataset: Annotated[Path, tyro.conf.Positional]
    """Dataset directory."""
    out: Path = Path("clip.mp4")
    """Video to write: .mp4 (H.264), .webm (VP9) or .gif."""
    episodes: int | None = None
    """Only the first N episodes."""
    fps: float = 10.0
    """Frames per second."""


@dataclass(frozen=True)
class MergeArgs:
    """Concatenate datasets with the same observation shape into a new one."""

    datasets: Annotated[tuple[Path, ...], tyro.conf.Positional, TWO_OR_MORE]
    """Datasets to merge, in order."""
    out: Path
    """Dataset directory to create."""
    overwrite: bool = False
    """Replace an existing dataset at --out."""


@dataclass(frozen=True)
class SplitArgs:
    """Split a dataset's episodes at random into a training and a held-out dataset."""

    dataset: Annotated[Path, tyro.conf.Positional]
    """Dataset to split."""
    train: Path
    """Training dataset to create."""
    heldout: Path
    """Held-out dataset to create."""
    fraction: float = 0.2
    """Fraction of episodes held out."""
    seed: int = 0
    """Seed of the random assignment."""
    overwrite: bool = False
    """Replace existing datasets at --train / --heldout."""


@dataclass(frozen=True)
class FromMinariArgs:
    """Convert a Minari dataset already on local disk (never downloaded) into an rlv dataset."""

    dataset_id: Annotated[str, tyro.conf.Positional]
    """Minari dataset id, for example mujoco/pusher/expert-v0."""
    out: Path
    """Dataset directory to create."""
    root: Path | None = None
    """Directory of Minari datasets (default: MINARI_DATASETS_PATH or ~/.minari/datasets)."""
    obs_key: str | None = None
    """Key of dict observations to keep (for example pixels)."""
    keep: Literal["none", "actions", "rewards", "both"] = "none"
    """Keep actions and/or rewards as true_actions / rewards (for oracle ablations only)."""
    success: Annotated[str, tyro.conf.arg(metavar="{terminated,all,none}")] = "terminated"
    """Which episodes end in success: terminated (its last step terminated), all, or none. last:
    the old spelling of all."""
    domain: str = "robot"
    """Visual domain recorded in meta.json."""
    overwrite: bool = False
    """Replace an existing dataset at --out."""
    progress: bool = True
    """Show a progress bar."""


@dataclass(frozen=True)
class FromLeRobotArgs:
    """Convert a LeRobot dataset (format v2.x or v3.x) on local disk: frames from one camera."""

    root: Annotated[Path, tyro.conf.Positional]
    """LeRobot dataset directory (holding meta/info.json)."""
    out: Path
    """Dataset directory to create."""
    camera: str | None = None
    """Video feature to read (default: the first, e.g. observation.images.top)."""
    options: FRAME_OPTIONS = field(default_factory=FrameOptions)
    keep_actions: bool = False
    """Keep the dataset's actions as true_actions (for oracle ablations only)."""
    domain: str = "robot"
    """Visual domain recorded in meta.json."""
    overwrite: bool = False
    """Replace an existing dataset at --out."""
    progress: bool = True
    """Show a progress bar."""


@dataclass(frozen=True)
class FromRunArgs:
    """Turn a training run's replay (a window of its env steps) into an observation dataset, split
    into its episodes; true actions and rewards are kept for ablations only."""

    run: Annotated[Path, tyro.conf.Positional]
    """Run directory (rlv train --out RUN), trained with its replay saved (the default)."""
    out: Path
    """Dataset directory to create."""
    from_step: int | None = None
    """Keep the episodes that start after this env step (the run's env_step counter, as in
    train.csv); default: the oldest transition the replay keeps."""
    to_step: int | None = None
    """... and end at or before this env step; default: the newest. Both must lie in what the
    replay keeps (its newest replay_size transitions), e.g. --from-step 10000 --to-step 35000 for
    the 25 epochs of 1000 steps after the 10th."""
    checkpoint: Path | None = None
    """Checkpoint directory whose replay to read (default: the run's newest usable one)."""
    success: Annotated[str, tyro.conf.arg(metavar="{auto,terminated,reward,none}")] = "auto"
    """Which episodes end in success (the replay keeps no info['is_success']): auto = reward for
    pointmass and the Meta-World tasks (reward 0 exactly on success), terminated otherwise; terminated
    = the env ended the episode before the time limit; reward = the last reward is at least
    --success-reward; none."""
    success_reward: float = 0.0
    """With --success reward: the last transition's reward that counts as success (at least this)."""
    overwrite: bool = False
    """Replace an existing dataset at --out."""


def run_from_run(args: FromRunArgs) -> str:
    from rlv.collect.from_run import dataset_from_run

    rule = success_word(args.success, ("auto", "terminated", "reward", "none"))
    meta = dataset_from_run(args.run, args.out, args.from_step, args.to_step, args.checkpoint,
                            rule, args.success_reward, args.overwrite)  # fmt: skip
    how = meta["how_made"]
    return (
        f"wrote {args.out}: {meta['num_episodes']} episodes, {meta['num_transitions']} transitions of env "
        f"steps {how['from_step'] + 1}..{how['to_step']} ({how['checkpoint']}), average return "
        f"{meta['average_return']:.2f}, success rate {meta['success_rate']:.2f}"
    )


def run_from_minari(args: FromMinariArgs) -> str:
    from rlv.collect.converters import from_minari

    word = success_word(args.success, ("terminated", "all", "none"))
    success = "last" if word == "all" else word  # the converter's spelling
    meta = from_minari(args.dataset_id, args.out, args.root, args.obs_key, args.keep, success,
                       {"domain": args.domain}, args.overwrite, args.progress)  # fmt: skip
    return f"wrote {args.out}: {meta['num_episodes']} episodes, {meta['num_transitions']} transitions"


def run_from_lerobot(args: FromLeRobotArgs) -> str:
    from rlv.collect.converters import from_lerobot

    meta = from_lerobot(args.root, args.out, args.camera, args.options.library(), args.keep_actions,
                        {"domain": args.domain}, args.overwrite, args.progress)  # fmt: skip
    return f"wrote {args.out}: {meta['num_episodes']} episodes, {meta['num_transitions']} transitions"


def run_info(args: InfoArgs) -> str:
    from rlv.data.info import dataset_summary

    return dataset_summary(args.dataset)


def run_preview(args: PreviewArgs) -> str:
    from rlv.data.preview import write_contact_sheet

    return f"wrote {write_contact_sheet(args.datasets, args.out, args.rows, args.columns)}"


def run_import(args: ImportVideoArgs) -> str:
    from rlv.collect.video_import import import_videos

    meta: dict[str, Any] = {"domain": args.domain, "source": "rlv data import-video"}
    if args.env is not None:
        meta["env"] = args.env
    report = import_videos(
        list(args.paths), args.out, args.options.library(), meta, args.skip_bad, args.overwrite, args.progress
    )
    meta = report.meta
    lines = [
        f"wrote {args.out}: {meta['num_episodes']} episodes, {meta['num_transitions']} transitions, "
        f"frames {tuple(meta['obs_shape'])}, domain {meta['domain']}"
    ]
    if report.skipped:
        lines.append(f"skipped {len(report.skipped)} input(s) (listed in meta.json):")
        lines += [f"  {item['reason']}" for item in report.skipped]
    return "\n".join(lines)


def run_to_video(args: ToVideoArgs) -> str:
    from rlv.data.tools import dataset_to_video

    out, frames = dataset_to_video(args.dataset, args.out, args.episodes, args.fps)
    return f"wrote {out}: {frames} frames at {args.fps:g} fps"


def run_merge(args: MergeArgs) -> str:
    from rlv.data.tools import merge_datasets

    meta = merge_datasets(list(args.datasets), args.out, args.overwrite)
    return f"wrote {args.out}: {meta['num_episodes']} episodes from {len(args.datasets)} datasets"


def run_split(args: SplitArgs) -> str:
    from rlv.data.tools import split_dataset

    train, held = split_dataset(
        args.dataset, args.train, args.heldout, args.fraction, args.seed, args.overwrite
    )
    return json.dumps(
        {
            "train": str(args.train),
            "train_episodes": train,
            "heldout": str(args.heldout),
            "heldout_episodes": held,
        }
    )


DATA_COMMANDS: dict[str, tuple[type, Callable[[Any], str]]] = {
    "import-video": (ImportVideoArgs, run_import),
    "info": (InfoArgs, run_info),
    "preview": (PreviewArgs, run_preview),
    "to-video": (ToVideoArgs, run_to_video),
    "merge": (MergeArgs, run_merge),
    "split": (SplitArgs, run_split),
    "from-minari": (FromMinariArgs, run_from_minari),
    "from-lerobot": (FromLeRobotArgs, run_from_lerobot),
    "from-run": (FromRunArgs, run_from_run),
}
"""`rlv data` subcommand name -> (argument dataclass, function returning the text to print)."""


def data_help() -> str:
    """`rlv data --help`: the usage and one line per data command."""
    width = max(map(len, DATA_COMMANDS))
    lines = [
        f"  {name:<{width}}  {first_sentence(kind.__doc__ or '')}"
        for name, (kind, _) in DATA_COMMANDS.items()
    ]
    return "\n".join(
        ["usage: rlv data COMMAND [options]  (rlv data COMMAND --help lists a command's options)", "",
         "Make, inspect and convert observation datasets. Commands:", *lines]
    )  # fmt: skip


def first_sentence(text: str) -> str:
    """A docstring's first sentence (up to '. ' or '; '), on one line, without its full stop."""
    return re.split(r"(?<=[.;]) ", " ".join(text.split()))[0].rstrip(".;")
