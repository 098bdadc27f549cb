"""A user's own Gymnasium env as `--env gym:MODULE:ID{json keyword arguments}`: the name parsed, the
module imported, the keyword arguments passed to gym.make and recorded in the run, and every failure
to make it one line (`rlv: error: ...`, exit 1) in train, resume, eval and collect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rlv.envs import make_env
from rlv.envs.gym_envs import parse_gym_name
from rlv.errors import RlvError

LINE_ENV = """
import gymnasium as gym
import numpy as np


class Line(gym.Env):
    \"\"\"Move a point in DIM dimensions toward the origin: observations and actions of width dim.\"\"\"

    def __init__(self, dim=1, start=0.5):
        self.dim, self.start = dim, start
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (dim,), np.float32)
        self.action_space = gym.spaces.Box(-2.0, 2.0, (dim,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = np.full(self.dim, self.start, np.float32)
        return self.x.copy(), {}

    def step(self, action):
        self.x = np.clip(self.x + 0.1 * np.asarray(action, np.float32), -1.0, 1.0)
        done = bool(np.abs(self.x).max() < 0.05)
        return self.x.copy(), 0.0 if done else -1.0, done, False, {"is_success": done}


gym.register("{ID}", entry_point=Line, max_episode_steps=10)
"""

TINY = ["--total-steps", "60", "--random-steps", "30", "--eval-every", "30", "--eval-episodes", "1",
        "--log-every", "30", "--checkpoint-every", "30", "--sac.hidden", "16", "--sac.batch-size", "16",
        "--no-progress"]  # fmt: skip


def write_module(directory: Path, module: str, env_id: str, source: str = LINE_ENV) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{module}.py").write_text(textwrap.dedent(source).replace("{ID}", env_id))
    return directory


def rlv(*args: str, cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    command = [sys.executable, "-c", "import sys; from rlv.cli import main; sys.exit(main())", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert lines[0].startswith("rlv: error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("name", "env_id", "kwargs"),
    [
        ("gym:Pendulum-v1", "Pendulum-v1", {}),
        ("gym:my_envs:Reach-v0", "my_envs:Reach-v0", {}),
        (
            'gym:pkg.envs:Reach-v0{"radius": 0.05, "goal": [1, 2]}',
            "pkg.envs:Reach-v0",
            {"radius": 0.05, "goal": [1, 2]},
        ),
        ('gym:Pendulum-v1 {"g": 9.81}', "Pendulum-v1", {"g": 9.81}),
    ],
)
def test_gym_names_parse_into_an_id_and_keyword_arguments(name, env_id, kwargs):
    parsed = parse_gym_name(name)
    assert (parsed.env_id, parsed.kwargs) == (env_id, kwargs)
    assert parsed.module == (env_id.split(":")[0] if ":" in env_id else None)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("gym:Pendulum-v1{g: 3}", "keyword arguments after the id must be a JSON object"),
        ("gym:Pendulum-v1[3]", "unknown environment"),
        ('gym:Pendulum-v1{"g": 3', "keyword arguments after the id must be a JSON object"),
        ("gym:Pendulum-v1{}}", "keyword arguments after the id must be a JSON object"),
        ('gym:Pendulum-v1{"gravity": 3.0}', r"does not take these keyword arguments \(given: gravity\)"),
        ("gym:a:b:Reach-v0", "expected gym:"),
        ("gym:", "expected gym:"),
        ("gym::Reach-v0", "expected gym:"),
        ("gym:my_envs:", "expected gym:"),
        (
            "gym:no_such_module_for_rlv:Reach-v0",
            "Python cannot find module 'no_such_module_for_rlv'.*PYTHONPATH",
        ),
        (
            "gym:no_such_package_for_rlv.sub:Reach-v0",
            r"put the directory holding no_such_package_for_rlv/sub\.py",
        ),
        (
            "gym:json:Reach-v0",
            "module 'json' was imported, but it registers no 'Reach-v0'.*gymnasium.register",
        ),
        ("gym:NoSuchEnv-v0", "unknown environment 'gym:NoSuchEnv-v0'"),
    ],
)
def test_a_gym_name_that_cannot_be_made_is_an_rlv_error(name, message):
    with pytest.raises(RlvError, match=message):
        make_env(name, seed=0)


def test_keyword_arguments_reach_the_env_and_the_horizon_is_kept_apart(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(write_module(tmp_path, "rlv_test_line_kwargs", "LineKwargs-v0")))
    env = make_env('gym:rlv_test_line_kwargs:LineKwargs-v0{"dim": 3, "start": 0.25}', seed=0, horizon=7)
    assert env.observation_space.shape == (3,) and env.unwrapped.start == 0.25
    assert env.spec.max_episode_steps == 7
    assert env.action_space.high.tolist() == [1.0, 1.0, 1.0]  # the [-2, 2] box, rescaled for the policy
    env = make_env('gym:rlv_test_line_kwargs:LineKwargs-v0{"max_episode_steps": 4}', seed=0)
    assert env.spec.max_episode_steps == 4
    with pytest.raises(RlvError, match="both set the time limit"):
        make_env('gym:rlv_test_line_kwargs:LineKwargs-v0{"max_episode_steps": 4}', seed=0, horizon=7)


def test_a_module_whose_own_import_fails_names_what_it_lacks(tmp_path, monkeypatch):
    write_module(tmp_path, "rlv_test_needs_more", "NeedsMore-v0", "import rlv_missing_dependency_xyz\n")
    write_module(tmp_path, "rlv_test_bad_name", "BadName-v0", "from json import no_such_name\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        RlvError, match=r"imports 'rlv_missing_dependency_xyz', which is not installed.*pip install"
    ):
        make_env("gym:rlv_test_needs_more:NeedsMore-v0", seed=0)
    with pytest.raises(RlvError, match="importing module 'rlv_test_bad_name' failed: cannot import name"):
        make_env("gym:rlv_test_bad_name:BadName-v0", seed=0)


def test_a_users_env_module_through_the_command_line(tmp_path):
    envs = write_module(tmp_path / "my_envs", "line_env", "Line-v0")
    name = 'gym:line_env:Line-v0{"dim": 3}'
    missing = "Python cannot find module 'line_env'; put the directory holding line_env.py"

    # without the module on PYTHONPATH: one line, nothing written
    line = one_error_line(rlv("train", "--env", name, *TINY, "--out", "run", cwd=tmp_path))
    assert missing in line and "PYTHONPATH" in line
    line = one_error_line(rlv("collect", "--env", name, "--policy", "random", "--out", "ds", cwd=tmp_path))
    assert missing in line
    assert not (tmp_path / "run").exists() and not (tmp_path / "ds").exists()

    # with it: the keyword arguments are part of the run's env, and rebuild the same env later
    result = rlv("train", "--env", name, *TINY, "--out", "run", cwd=tmp_path, pythonpath=envs)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "run" / "config.json").read_text())["env"] == name
    result = rlv("eval", "run", "--episodes", "1", cwd=tmp_path, pythonpath=envs)
    assert result.returncode == 0, result.stderr  # the policy acts on 3 values: the env has dim 3 again
    collect = ["collect", "--policy", "run", "--episodes", "2", "--no-progress"]
    result = rlv(*collect, "--out", "ds", cwd=tmp_path, pythonpath=envs)
    assert result.returncode == 0, result.stderr
    meta = json.loads((tmp_path / "ds" / "meta.json").read_text())
    assert (meta["env"], meta["obs_shape"]) == (name, [3])

    # the run, later, in a shell without the module: eval, resume and collect say what to do
    for args in (["eval", "run"], ["train", "--resume", "run", "--total-steps", "90"],
                 ["collect", "--policy", "run", "--out", "ds2"]):  # fmt: skip
        assert missing in one_error_line(rlv(*args, cwd=tmp_path))
    assert not (tmp_path / "ds2").exists()
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["env_step"] == 60
