"""Runs are never damaged: refused resumes change nothing, a run killed before its first checkpoint
starts over, a corrupt newest checkpoint falls back to the previous one, one trainer per run
directory, durable checkpoints, a full disk is one line, outputs get the usual permissions."""

import csv
import dataclasses
import errno
import json
import os
import shutil

import numpy as np
import pytest
import torch
from conftest import random_episode, tiny_config
from test_train import train_interrupted_at
from test_validation import snapshot

import rlv.checkpoint
import rlv.data.dataset
from rlv.checkpoint import checkpoint_candidates, load_state
from rlv.cli import main
from rlv.data.dataset import load_dataset, write_dataset
from rlv.errors import RlvError
from rlv.files import make_dir_atomic, run_lock
from rlv.logger import CsvLog, read_csv, truncate_csv
from rlv.train import resume, train

VOLATILE = {"wall_time", "train/sps"}


def rows(path):
    with open(path, newline="") as handle:
        return [{k: v for k, v in row.items() if k not in VOLATILE} for row in csv.DictReader(handle)]


def short(tmp_path, name, **changes):
    """400 env steps, checkpoints every 100 (acrobot episodes end every 100 steps)."""
    base = tiny_config(
        tmp_path, "sac", total_steps=400, random_steps=100, eval_every=100, checkpoint_every=100
    )
    return dataclasses.replace(base, out=tmp_path / name, keep_checkpoints=3, **changes)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    config = short(tmp_path_factory.mktemp("reference"), "run")
    train(config)
    return config.out


def agents_equal(a, b):
    state_a = load_state(a / "checkpoints" / "final" / "state.pt")["agent"]
    state_b = load_state(b / "checkpoints" / "final" / "state.pt")["agent"]
    return all(torch.equal(x, y) for x, y in zip(flat(state_a), flat(state_b), strict=True))


def flat(state):
    if isinstance(state, dict):
        return [t for key in sorted(state, key=str) for t in flat(state[key])]
    return [state] if isinstance(state, torch.Tensor) else []


def test_run_killed_before_its_first_checkpoint_starts_over_on_resume(
    tmp_path, reference, monkeypatch, capsys
):
    config = short(tmp_path, "run", checkpoint_every=200)
    train_interrupted_at(monkeypatch, config, 150)  # the first checkpoint is due at the episode end at 200
    assert not (config.out / "checkpoints").exists() and rows(config.out / "eval.csv")
    resume(config.out, progress=False)
    assert "has no checkpoint yet; starting it over" in capsys.readouterr().err
    assert rows(config.out / "eval.csv") == rows(reference / "eval.csv")
    assert rows(config.out / "train.csv") == rows(reference / "train.csv")
    assert agents_equal(config.out, reference)


def test_corrupt_newest_checkpoints_fall_back_with_a_warning(tmp_path, reference, capsys):
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    newest = checkpoint_candidates(run)
    assert [path.name for path in newest[:2]] == ["final", "step_000000400"]
    (newest[0] / "state.pt").write_bytes(b"garbage")  # corrupt
    (newest[1] / "state.pt").unlink()  # half-deleted
    (run / "summary.json").unlink()
    resume(run, progress=False)
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("rlv: warning:")]
    assert len(warnings) == 2 and "falling back to" in warnings[0] and "step_000000300" in warnings[1]
    assert rows(run / "eval.csv") == rows(reference / "eval.csv")
    assert agents_equal(run, reference)


def test_refused_resumes_change_nothing(tmp_path, reference, capsys):
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    before = snapshot(run)
    with pytest.raises(RlvError, match="is already at env step 400"):
        resume(run, total_steps=300, progress=False)
    for path in checkpoint_candidates(run):
        (path / "state.pt").write_bytes((path / "state.pt").read_bytes()[:100])
    damaged = snapshot(run)
    with pytest.raises(RlvError, match="no usable checkpoint"):
        resume(run, total_steps=800, progress=False)
    assert snapshot(run) == damaged and before.keys() == damaged.keys()
    assert json.loads((run / "summary.json").read_text())["status"] == "finished"


def test_two_trainers_cannot_write_one_run(tmp_path, reference):
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    before = snapshot(run)
    with run_lock(run), pytest.raises(RlvError, match=r"another rlv train \(pid \d+\) is writing"):
        resume(run, total_steps=500, progress=False)
    assert snapshot(run) == before


def test_checkpoints_are_flushed_to_disk_before_the_rename(tmp_path, monkeypatch):
    flushed = []
    original_fsync = os.fsync

    def recording_fsync(fd):
        flushed.append(os.readlink(f"/proc/self/fd/{fd}"))
        return original_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    rlv.checkpoint.save_checkpoint(
        tmp_path / "final", {"x": torch.zeros(2)}, lambda path: path.write_bytes(b"r")
    )
    names = [os.path.basename(path) for path in flushed]
    assert "state.pt" in names and rlv.checkpoint.REPLAY_FILE in names
    assert any(".final.tmp-" in path for path in flushed)  # flushed under the temporary name
    assert (tmp_path / "final" / "state.pt").exists()


def test_full_disk_during_a_checkpoint_is_one_line_and_keeps_the_previous(tmp_path, monkeypatch, capsys):
    config = short(tmp_path, "run")
    original_save = torch.save
    calls = []

    def failing_save(obj, file, *args, **kwargs):
        calls.append(file)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original_save(obj, file, *args, **kwargs)

    monkeypatch.setattr(rlv.checkpoint.torch, "save", failing_save)
    monkeypatch.chdir(tmp_path)
    args = ["train", "--out", "run", "--total-steps", "400", "--random-steps", "100", "--eval-every", "100"]
    args += [
        "--checkpoint-every",
        "100",
        "--sac.hidden",
        "32",
        "32",
        "--sac.batch-size",
        "32",
        "--no-progress",
    ]
    assert main(args) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "could not write (No space left on device)" in lines[0], lines
    assert "previous checkpoints are intact" in lines[0]
    assert [path.name for path in checkpoint_candidates(config.out)] == ["step_000000100"]
    assert not [p for p in (config.out / "checkpoints").iterdir() if p.name.startswith(".")]
    monkeypatch.setattr(rlv.checkpoint.torch, "save", original_save)
    assert main(["train", "--resume", "run", "--no-progress"]) == 0


def test_full_disk_during_a_dataset_write_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    def failing_savez(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rlv.data.dataset.np, "savez_compressed", failing_savez)
    with pytest.raises(
        RlvError, match=r"ds: could not write \(No space left on device\); nothing was written"
    ):
        write_dataset(tmp_path / "ds", [random_episode()], {})
    assert os.listdir(tmp_path) == []


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_outputs_get_the_usual_permissions(tmp_path, umask_022):
    write_dataset(tmp_path / "ds", [random_episode()], {})
    assert (tmp_path / "ds").stat().st_mode & 0o777 == 0o755
    assert all(path.stat().st_mode & 0o777 == 0o644 for path in (tmp_path / "ds").rglob("*.npz"))
    config = tiny_config(tmp_path, "sac", total_steps=200, random_steps=200)
    train(config)
    for path in [config.out, *config.out.rglob("*")]:
        assert path.stat().st_mode & 0o777 == (0o755 if path.is_dir() else 0o644), path


def test_a_damaged_episode_file_gets_no_pickle_advice(tmp_path):
    write_dataset(tmp_path / "ds", [random_episode()], {})
    episode = next((tmp_path / "ds" / "episodes").glob("*.npz"))
    episode.write_text("this is not an archive\n" * 10)
    with pytest.raises(RlvError) as error:
        load_dataset(tmp_path / "ds")
    assert "pickle" not in str(error.value).replace("never stores pickles", "")
    assert "not a numpy .npz archive" in str(error.value) and str(episode) in str(error.value)


def test_a_damaged_old_replay_file_is_one_line(tmp_path):
    from rlv.data.replay import ReplayBuffer
    from rlv.data.replay_files import load_replay

    arrays = {"obs": np.ones((1, 3)), "action": np.ones((1, 1)), "reward": np.ones(1)}
    arrays |= {"next_obs": np.ones((1, 3)), "done": np.zeros(1), "state": np.array('{"cursor": 1}')}
    np.savez(tmp_path / "replay.npz", **arrays)  # as written before replay chunks
    other = ReplayBuffer((4,), 1, 10, seed=0)
    with pytest.raises(RlvError, match="obs has shape"):
        load_replay(other, tmp_path, tmp_path / "replay")
    (tmp_path / "replay.npz").write_text("text")
    with pytest.raises(RlvError, match=r"replay\.npz: corrupt replay file \(not a numpy \.npz archive"):
        load_replay(ReplayBuffer((3,), 1, 10, seed=0), tmp_path, tmp_path / "replay")
    assert len(other) == 0


def test_a_run_directory_appears_whole_or_not_at_all(tmp_path):
    def failing_fill(staging):
        (staging / "config.json").write_text("{}")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        make_dir_atomic(tmp_path / "run", failing_fill)
    assert os.listdir(tmp_path) == []
    make_dir_atomic(tmp_path / "run", lambda staging: (staging / "config.json").write_text("{}"))
    with pytest.raises(FileExistsError):
        make_dir_atomic(tmp_path / "run", lambda staging: (staging / "other").write_text(""))
    assert sorted(os.listdir(tmp_path)) == ["run"] and os.listdir(tmp_path / "run") == ["config.json"]


def test_a_log_killed_before_its_header_gets_one_on_resume(tmp_path):
    path = tmp_path / "train.csv"
    path.touch()  # opened, then killed before the header was written
    truncate_csv(path, 0)
    log = CsvLog(path, ["env_step", "loss"])
    log.write({"env_step": 100, "loss": 0.5})
    log.close()
    assert read_csv(path) == [{"env_step": 100.0, "loss": 0.5}]
