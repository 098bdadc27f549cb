"""The Python API (`import rlv`, docs/api.md): lazy loading, the names that are modules too,
overrides, policies in the env's own action units, the thin wrappers over what the CLI runs, and
docs/api.md's example, run as it is written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from conftest import random_episode, tiny_config

import rlv
import rlv.api
from rlv.methods.rlv import RLVConfig

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str) -> None:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]


def test_import_rlv_loads_neither_torch_nor_the_library_and_dir_lists_the_api():
    run_python(
        "import sys\nimport rlv.errors\nassert 'torch' not in sys.modules\nimport rlv\n"
        "assert set(rlv.__all__) <= set(dir(rlv)), dir(rlv)\n"
        "assert rlv.RlvError is rlv.errors.RlvError and rlv.TrainConfig().env == 'acrobot'\n"
        "assert 'torch' not in sys.modules and 'rlv.api' not in sys.modules\n"
        "assert callable(rlv.load_policy) and 'torch' in sys.modules\n"
    )


def test_every_exported_name_is_the_api_s():
    assert sorted(rlv.__all__) == sorted(rlv.api.__all__)
    for name in rlv.__all__:
        value = getattr(rlv, name)
        assert value is getattr(rlv.api, name) or (callable(value) and value.__name__ == f"rlv.{name}")
    with pytest.raises(AttributeError, match="no_such_name"):
        rlv.no_such_name  # noqa: B018


SHARED_NAMES = """
import sys
import rlv
import rlv.train as module
from rlv import evaluate
import rlv.collect.commands
assert module is sys.modules["rlv.train"] is rlv.train and module.Trainer.__name__ == "Trainer"
assert evaluate is sys.modules["rlv.evaluate"] and callable(evaluate) and callable(rlv.train)
assert callable(rlv.pretrain) and callable(rlv.collect) and rlv.collect.commands.collect_from_args
"""


FIRST_IMPORTS = ["from rlv.train import Trainer", "import rlv; rlv.train", "import rlv.pretrain"]


@pytest.mark.parametrize("first", FIRST_IMPORTS)
def test_names_shared_with_submodules_are_the_modules_made_callable_in_any_import_order(first):
    run_python(first + SHARED_NAMES)


def test_calling_a_module_name_calls_the_api_function(monkeypatch, tmp_path):
    asked = []
    monkeypatch.setattr("rlv.api.train_run", lambda config: asked.append(config) or {"env_step": 1})
    monkeypatch.setattr("rlv.api.evaluate_run", lambda *args: asked.append(args) or {"eval/return": 0.0})
    assert rlv.train(rlv.TrainConfig(out=tmp_path / "run"), total_steps=50) == {"env_step": 1}
    assert asked[0].total_steps == 50 and asked[0].label == "sac"  # labelled as on the command line
    (tmp_path / "run").mkdir()
    assert rlv.evaluate(tmp_path / "run", episodes=3) == {"eval/return": 0.0}
    assert asked[1] == (tmp_path / "run", 3, 12345, None, None)


def test_monkeypatching_the_modules_by_name_still_reaches_them(monkeypatch):
    marker = object()
    monkeypatch.setattr("rlv.train.build", marker)
    assert sys.modules["rlv.train"].build is marker
    monkeypatch.setattr(rlv, "evaluate", marker)  # a patched package attribute, until undone
    assert rlv.evaluate is marker
    monkeypatch.undo()
    assert callable(rlv.evaluate) and rlv.evaluate is sys.modules["rlv.evaluate"]


def test_the_api_calls_what_the_cli_calls():
    from rlv.collect.commands import collect_from_args
    from rlv.evaluate import evaluate_run
    from rlv.pretrain import pretrain
    from rlv.train import resume, train

    api = rlv.api
    assert (api.train_run, api.resume_run, api.evaluate_run) == (train, resume, evaluate_run)
    assert (api.collect_from_args, api.pretrain_encoder) == (collect_from_args, pretrain)


def test_overrides_nest_convert_and_switch_methods(tmp_path):
    out = str(tmp_path / "a")
    config = rlv.get_preset("acrobot-rlv", out=out, total_steps=5, sac={"hidden": [64]}, rlv={"dataset": "d"})
    assert config.out == tmp_path / "a" and config.total_steps == 5 and config.sac.hidden == (64,)
    assert config.rlv.dataset == Path("d") and config.rlv.reward_scale == 10.0
    assert config.label == "acrobot-rlv"
    assert config.sac.batch_size == rlv.SACConfig().batch_size  # the other fields are kept
    switched = rlv.configure(rlv.TrainConfig(), algo="rlv", rlv={"dataset": "ds"})
    assert switched.algo == "rlv" and switched.rlv == RLVConfig(dataset=Path("ds"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"totl_steps": 5}, "unknown option 'totl_steps' for TrainConfig (algo 'rlv'); did you mean 'total_"),
        ({"rlv": {"datset": "x"}}, "unknown option 'rlv.datset' for RLVConfig; did you mean 'rlv.dataset'?"),
        ({"sac": {"a": 1, "b": 2}}, "unknown options 'sac.a', 'sac.b' for SACConfig; its options: lr, "),
        ({"total_steps": 0}, "--total-steps: must be at least 1, got 0"),
        ({"total_steps": "many"}, "--total-steps: must be an integer"),
        ({"algo": "nope"}, "algo: unknown method 'nope'"),
    ],
)
def test_bad_overrides_are_one_line_errors(overrides, message):
    with pytest.raises(rlv.RlvError) as error:
        rlv.get_preset("acrobot-rlv", **overrides)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_method_options_for_another_method_say_how():
    with pytest.raises(rlv.RlvError, match="'rlv' holds the options of algo 'rlv': pass algo='rlv' too"):
        rlv.get_preset("acrobot-sac", rlv={"dataset": "x"})


class FixedAgent:
    """Acts with the unit action (-1, 0, 1, 0.5) whatever it sees."""

    def act(self, obs, deterministic=False):
        return np.array([-1.0, 0.0, 1.0, 0.5], dtype=np.float32)


class BoxEnv(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
    action_space = gym.spaces.Box(
        np.array([0, -3, 2, -1e3], np.float32), np.array([10, 1, 2.5, 7], np.float32)
    )


def test_policy_actions_are_rescale_action_s_mapping_of_the_agent_s():
    policy = rlv.Policy(FixedAgent(), BoxEnv.observation_space, BoxEnv.action_space)
    unit = np.ones(4, np.float32)  # as make_env wraps the env
    expected = gym.wrappers.RescaleAction(BoxEnv(), -unit, unit).action(FixedAgent().act(None))
    action = policy.act(np.zeros(2, np.float32))
    np.testing.assert_array_equal(action, expected)
    assert action.dtype == np.float32 and action[0] == 0 and action[2] == np.float32(2.5)
    batch = policy.act(np.zeros((5, 2)))
    assert batch.shape == (5, 4) and np.array_equal(batch, np.tile(expected, (5, 1)))
    assert policy.act(np.zeros((0, 2))).shape == (0, 4)
    with pytest.raises(rlv.RlvError, match=r"shape \(3,\): the policy takes \(2,\), or a batch \(B, 2\)"):
        policy.act(np.zeros(3))


@pytest.fixture(scope="module")
def pendulum_run(tmp_path_factory):
    """A tiny SAC run on gym:Pendulum-v1, whose action box is [-2, 2]."""
    out = tmp_path_factory.mktemp("api")
    config = tiny_config(out, "sac", env="gym:Pendulum-v1", eval_episodes=1, total_steps=400)
    rlv.train(config)
    return config.out


def test_loaded_policy_acts_in_the_env_s_units_and_matches_rlv_eval(pendulum_run):
    policy = rlv.load_policy(pendulum_run)
    assert policy.checkpoint == pendulum_run / "checkpoints" / "final"
    assert rlv.load_config(pendulum_run) == rlv.load_config(pendulum_run / "config.json") == policy.config
    env = policy.env(seed=3)
    assert (env.action_space.low, env.action_space.high) == (np.float32(-2), np.float32(2))
    observations = np.stack([env.reset(seed=seed)[0] for seed in range(4)])
    unit = np.stack([policy.agent.act(obs, deterministic=True) for obs in observations])
    actions = policy.act(observations)
    np.testing.assert_allclose(actions, 2 * unit, rtol=1e-6)
    np.testing.assert_array_equal(policy.act(observations[1]), actions[1])
    returns = []
    for seed in (11, 12):
        obs, _, total, done = *env.reset(seed=seed), 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy.act(obs))
            total, done = total + reward, terminated or truncated
        returns.append(total)
    scores = rlv.evaluate(pendulum_run / "config.json", episodes=2, seed=11)
    assert scores["eval/return"] == pytest.approx(np.mean(returns), rel=1e-6)


def test_collect_with_a_policy_and_the_command_it_records(pendulum_run, tmp_path):
    policy = rlv.load_policy(pendulum_run)
    out = rlv.collect(out=tmp_path / "ds", policy=policy, episodes=1, noise=0.5, progress=False)
    meta = rlv.load_dataset(out).meta
    assert meta["env"] == "gym:Pendulum-v1" and meta["how_made"]["checkpoint"] == str(policy.checkpoint)
    command = f"rlv.collect(out={str(out)!r}, episodes=1, noise=0.5, policy="
    assert meta["how_made"]["command"].startswith(command)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda tmp: rlv.load_policy(tmp / "none"), "none: no such run directory"),
        (lambda tmp: rlv.load_config(tmp), "config.json: no such file"),
        (lambda tmp: rlv.evaluate(tmp, episodes=0), "episodes: must be an integer at least 1, got 0"),
        (lambda tmp: rlv.collect(out=tmp / "d", episodes="3"), "episodes: must be an integer, got '3'"),
        (lambda tmp: rlv.collect(out=tmp / "d", policy="random", episodes=0), "--episodes must be at least"),
        (lambda tmp: rlv.write_dataset(tmp / "d", [np.zeros((3, 2))]), "episode 0 must be an rlv.Episode"),
        (lambda tmp: rlv.pretrain(robot=None, out=tmp / "e.pt"), "--robot: the robot's frames"),
        (lambda tmp: rlv.pretrain(robo="x"), "unknown option 'robo' for PretrainConfig; did you mean 'robo"),
        (lambda tmp: rlv.train("acrobot-sac"), "expected a TrainConfig"),
    ],
)
def test_bad_input_is_one_line_errors(tmp_path, call, message):
    with pytest.raises(rlv.RlvError) as error:
        call(tmp_path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_write_and_load_dataset(tmp_path):
    episodes = (random_episode(4, seed=seed) for seed in range(2))
    path = rlv.write_dataset(tmp_path / "ds", episodes, {"env": "acrobot"})
    dataset = rlv.load_dataset(str(path))
    assert isinstance(dataset, rlv.Dataset) and dataset.meta["num_transitions"] == 8
    assert isinstance(dataset.episodes[0], rlv.Episode) and dataset.meta["env"] == "acrobot"


def example_code() -> str:
    """The code block of docs/api.md's example (the block after its marker line)."""
    text = (ROOT / "docs" / "api.md").read_text()
    marker = "<!-- the example: tests/test_api.py runs this block -->"
    found = re.search(re.escape(marker) + r"\n```python\n(.*?)```", text, re.S)
    assert found, "docs/api.md: the example's marker and python block"
    return found.group(1)


def test_the_docs_example_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(example_code(), str(ROOT / "docs" / "api.md"), "exec"), namespace)
    assert namespace["sac"]["env_step"] == 600 and namespace["rlv_run"]["env_step"] == 400
    summaries = [json.loads((tmp_path / "runs" / run / "summary.json").read_text()) for run in ("sac", "rlv")]
    assert [summary["status"] for summary in summaries] == ["finished", "finished"]
    assert rlv.load_config("runs/rlv").rlv.dataset == Path("data/expert")
    assert namespace["action"].shape == (1,) and namespace["actions"].shape == (3, 1)
    assert np.all(np.abs(namespace["actions"]) <= 1)
    assert np.array_equal(namespace["actions"][0], namespace["action"])
    assert rlv.load_dataset("data/expert").meta["num_episodes"] == 5
    assert rlv.load_dataset(namespace["from_policy"]).meta["num_episodes"] == 2
    assert rlv.load_dataset(namespace["mine"]).meta["num_episodes"] == 3
    scores = namespace["scores"]
    assert scores["checkpoint"] == str(Path("runs/rlv/checkpoints/final"))
    assert -100 <= scores["eval/return"] <= 0
    assert "SAC" in capsys.readouterr().out


def test_policy_of_a_frozen_encoder_run_takes_frames(tmp_path):
    """rlv.pretrain, then a pointmass run on the frozen encoder: its policy acts on the env's frames
    (it encodes them) exactly as rlv eval's features env does."""
    robot = rlv.collect(out=tmp_path / "robot", env="pointmass", policy="random", episodes=2, progress=False)
    encoder = tmp_path / "encoder.pt"
    meta = rlv.pretrain(
        robot=robot, out=encoder, updates=4, batch_size=8, conv_channels=[4, 4], conv_kernel=3, progress=False
    )
    assert meta["fingerprint"] and encoder.is_file()
    tiny = dict(total_steps=60, random_steps=40, eval_every=60, eval_episodes=1, progress=False)
    rlv.train_preset("pointmass-sac", out=tmp_path / "run", encoder=encoder, sac={"hidden": (16,)}, **tiny)
    policy = rlv.load_policy(tmp_path / "run")
    env = policy.env(seed=5)
    frames = np.stack([env.reset(seed=seed)[0] for seed in range(3)])
    assert frames.dtype == np.uint8 and frames.shape[1:] == (48, 48, 3)
    actions = policy.act(frames)
    assert actions.shape == (3, 2) and np.array_equal(policy.act(frames[2]), actions[2])
    obs, _, total, done = *env.reset(seed=9), 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(policy.act(obs))
        total, done = total + reward, terminated or truncated
    assert rlv.evaluate(tmp_path / "run", episodes=1, seed=9)["eval/return"] == pytest.approx(total)
    with pytest.raises(rlv.RlvError, match="image observations must be uint8, not float32"):
        policy.act(frames.astype(np.float32))
