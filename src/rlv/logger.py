"""Run logs: CSV files with fixed columns, optional TensorBoard and Weights & Biases, window
averages of metrics."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import secrets
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rlv.config import config_to_dict
from rlv.errors import RlvError
from rlv.files import write_text_atomic

EVAL_COLUMNS = ["env_step", "grad_step", "eval/return", "eval/return_std", "eval/length", "eval/success"]
TRAIN_COLUMNS = [
    "env_step",
    "grad_step",
    "episodes",
    "wall_time",
    "train/sps",
    "train/episode_return",
    "train/episode_length",
    "train/episode_success",
]


class CsvLog:
    """Append-only CSV with a fixed header; rows are flushed as they are written."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        fresh = not path.exists() or path.stat().st_size == 0  # empty: killed before the header
        if not fresh:  # a resumed run keeps the header it was started with (older runs: fewer metrics)
            with open(path, newline="") as handle:
                columns = next(csv.reader(handle), None) or columns
        self.path, self.columns = path, columns
        self.handle = open(path, "a", newline="")  # noqa: SIM115 - kept open for the run
        self.writer = csv.DictWriter(self.handle, fieldnames=columns, extrasaction="ignore")
        if fresh:
            self.writer.writeheader()
            self.handle.flush()

    def write(self, row: dict[str, Any]) -> None:
        self.writer.writerow({key: _fmt(value) for key, value in row.items()})
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value


def read_csv(path: Path) -> list[dict[str, float]]:
    """Rows of a run CSV as floats (blank cells become NaN)."""
    try:
        with open(path, newline="") as handle:
            return [
                {key: float(value) if value not in ("", None) else math.nan for key, value in row.items()}
                for row in csv.DictReader(handle)
            ]
    except FileNotFoundError as error:
        raise RlvError(f"{path}: no such file") from error
    except ValueError as error:
        raise RlvError(f"{path}: not a numeric run log ({error})") from error


def truncate_csv(path: Path, max_step: int, step_column: str = "env_step") -> None:
    """Drop rows logged after `max_step` (used when a run resumes from an earlier checkpoint)."""
    if not path.exists():
        return
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames
        if not columns:  # empty (killed before its header): CsvLog writes the header
            return
        rows = [row for row in reader if int(float(row[step_column])) <= max_step]
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


class MetricWindow:
    """Running sums of metrics between two log rows; its state is part of a checkpoint."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value)
            self.counts[key] = self.counts.get(key, 0) + 1

    def means(self) -> dict[str, float]:
        """Means since the last `reset`, NaN-free (absent keys are simply missing)."""
        return {key: self.sums[key] / self.counts[key] for key in self.sums}

    def reset(self) -> None:
        self.sums, self.counts = {}, {}

    def state_dict(self) -> dict[str, Any]:
        return {"sums": dict(self.sums), "counts": dict(self.counts)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sums, self.counts = dict(state["sums"]), dict(state["counts"])


class TensorBoard:
    """Thin optional TensorBoard writer (the `tensorboard` extra)."""

    def __init__(self, directory: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:
            raise RlvError(
                "--tensorboard needs the tensorboard package: pip install 'rlv[tensorboard]'"
            ) from error
        self.writer = SummaryWriter(str(directory))

    def write(self, row: dict[str, Any], step: int) -> None:
        for key, value in scalars(row).items():
            self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        self.writer.close()


def scalars(row: dict[str, Any]) -> dict[str, float]:
    """The metrics of a log row that TensorBoard and W&B get: `group/name` keys with a number."""
    return {
        key: value
        for key, value in row.items()
        if "/" in key and isinstance(value, float) and not math.isnan(value)
    }


WANDB_FILE = "wandb.json"
"""In a run directory logged with --wandb: the W&B run's id (a resume continues that W&B run)."""
NO_WANDB = "--wandb needs the wandb package: pip install 'rlv[wandb]'"


def check_wandb(config: Any) -> None:
    """With --wandb, an RlvError unless the wandb package is installed (checked before the run
    directory is written; the package is imported only when the run starts logging)."""
    if getattr(config, "wandb", False) and importlib.util.find_spec("wandb") is None:
        raise RlvError(NO_WANDB)


def wandb_id(run_dir: Path) -> str:
    """The W&B run id of a run directory: the one in its wandb.json, else a new one recorded there."""
    record = run_dir / WANDB_FILE
    if record.is_file():
        try:
            run_id = json.loads(record.read_text())["id"]
        except (ValueError, KeyError, TypeError) as error:
            raise RlvError(
                f"{record}: not a W&B run record ({error}); remove it to start a new W&B run"
            ) from error
        if isinstance(run_id, str) and run_id:
            return run_id
        raise RlvError(f"{record}: id must be a non-empty string; remove it to start a new W&B run")
    run_id = secrets.token_hex(6)
    write_text_atomic(record, json.dumps({"id": run_id}) + "\n")
    return run_id


class WandbLog:
    """Optional Weights & Biases logging (the `wandb` extra): the resolved config, then the same
    metrics as TensorBoard, with env_step as their x axis. The run's id is kept in the run
    directory (wandb.json), so a resumed run logs into the same W&B run. Files go to the run's
    directory (its wandb/ folder) unless $WANDB_DIR says otherwise."""

    def __init__(self, run_dir: Path, config: Any) -> None:
        try:
            import wandb
        except ImportError as error:
            raise RlvError(NO_WANDB) from error
        try:
            self.run = wandb.init(
                project=config.wandb_project,
                id=wandb_id(run_dir),
                name=run_dir.name,
                resume="allow",
                mode=config.wandb_mode,
                dir=None if os.environ.get("WANDB_DIR") else str(run_dir),
                config=config_to_dict(config),
                allow_val_change=True,
                settings=wandb.Settings(console="off", silent=True, disable_git=True),
            )
        except wandb.errors.Error as error:  # e.g. --wandb-mode online without a login
            message = (str(error).splitlines() or [""])[0]
            raise RlvError(
                f"--wandb: could not start the W&B run ({type(error).__name__}: {message})"
            ) from error
        self.run.define_metric("env_step")
        self.run.define_metric("*", step_metric="env_step")

    def write(self, row: dict[str, Any], step: int) -> None:
        self.run.log({"env_step": step, **scalars(row)})

    def close(self) -> None:
        self.run.finish()


class RunLogs:
    """What a training run writes while it runs: train.csv (the counters, then `metrics`, the
    agent's update metrics), eval.csv, TensorBoard events when `config.tensorboard`, W&B when
    `config.wandb`, and the progress bar; `start_time` and `start_step` are when and where this
    session of the run began. A resumed run's CSV files keep the header they were started with."""

    def __init__(self, run_dir: Path, metrics: list[str], config: Any, start_step: int) -> None:
        self.board = TensorBoard(run_dir / "tb") if config.tensorboard else None
        try:
            self.wandb = WandbLog(run_dir, config) if getattr(config, "wandb", False) else None
        except RlvError:
            if self.board:
                self.board.close()
            raise
        self.sinks = [sink for sink in (self.board, self.wandb) if sink is not None]
        self.train_log = CsvLog(run_dir / "train.csv", TRAIN_COLUMNS + metrics)
        self.eval_log = CsvLog(run_dir / "eval.csv", EVAL_COLUMNS)
        self.bar = tqdm(
            total=config.total_steps,
            initial=start_step,
            disable=not config.progress,
            unit="step",
            dynamic_ncols=True,
        )
        self.start_time, self.start_step = time.perf_counter(), start_step

    def write_train(self, row: dict[str, Any], step: int) -> None:
        self.train_log.write(row)
        for sink in self.sinks:
            sink.write(row, step)

    def write_eval(self, row: dict[str, Any], step: int) -> None:
        self.eval_log.write(row)
        for sink in self.sinks:
            sink.write(row, step)

    def close(self) -> None:
        self.bar.close()
        self.train_log.close()
        self.eval_log.close()
        for sink in self.sinks:
            sink.close()
