"""Run logs: CSV files with fixed columns, optional TensorBoard, window averages of metrics."""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rlv.errors import RlvError

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
        for key, value in row.items():
            if "/" in key and isinstance(value, float) and not math.isnan(value):
                self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        self.writer.close()


class RunLogs:
    """What a training run writes while it runs: train.csv (the counters, then `metrics`, the
    agent's update metrics), eval.csv, TensorBoard events when `config.tensorboard`, and the
    progress bar; `start_time` and `start_step` are when and where this session of the run began."""

    def __init__(self, run_dir: Path, metrics: list[str], config: Any, start_step: int) -> None:
        self.train_log = CsvLog(run_dir / "train.csv", TRAIN_COLUMNS + metrics)
        self.eval_log = CsvLog(run_dir / "eval.csv", EVAL_COLUMNS)
        self.board = TensorBoard(run_dir / "tb") if config.tensorboard else None
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
        if self.board:
            self.board.write(row, step)

    def write_eval(self, row: dict[str, Any], step: int) -> None:
        self.eval_log.write(row)
        if self.board:
            self.board.write(row, step)

    def close(self) -> None:
        self.bar.close()
        self.train_log.close()
        self.eval_log.close()
        if self.board:
            self.board.close()
