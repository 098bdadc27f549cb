"""Observation data from any environment: `rlv collect --policy RUN` and `rlv data from-run RUN`,
end to end through the command line on tiny runs (acrobot, gym:Pendulum-v1, gym:InvertedPendulum-v5,
pointmass), checked by replaying each episode's true actions in a fresh copy of the run's env."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from test_cli import rlv
from test_replay import to_old_format

from rlv.cli import main
from rlv.collect.experts import episode_seed, rollout
from rlv.collect.from_run import episode_bounds, success_function
from rlv.data.dataset import load_dataset
from rlv.envs import make_env
from rlv.envs.factory import episode_success
from rlv.evaluate import load_run_agent
from rlv.methods.registry import load_config


def cli(*args: str, cwd: Path, check: bool = True) -> tuple[int, str, str]:
    """`rlv ARGS` run in this process (the same entry point as the console script, without a
    Python start-up per call) in directory `cwd`: exit status, stdout, stderr."""
    out, err, previous = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.chdir(previous)
    if check and code != 0:
        raise AssertionError(f"rlv {' '.join(args)} failed:\n{err.getvalue()}")
    return code, out.getvalue(), err.getvalue()


TINY = ["--sac.hidden", "32", "32", "--sac.batch-size", "32", "--eval-episodes", "1", "--no-progress"]
RUNS = {
    # acrobot: 100-step episodes, a replay of 450 < 600 steps (wrapped: env steps 151..600 kept)
    "acrobot": ["acrobot-sac", "--total-steps", "600", "--random-steps", "450", "--replay-size", "450",
                "--eval-every", "600", "--checkpoint-every", "200"],
    # Pendulum never terminates: 50-step episodes cut by the time limit
    "pendulum": ["--env", "gym:Pendulum-v1", "--horizon", "50", "--total-steps", "300", "--random-steps",
                 "250", "--eval-every", "300", "--checkpoint-every", "100"],
    # InvertedPendulum falls within a few random steps (terminated) or reaches the limit of 8
    "inverted": ["--env", "gym:InvertedPendulum-v5", "--horizon", "8", "--total-steps", "203",
                 "--random-steps", "203", "--eval-every", "203", "--checkpoint-every", "50"],
}  # fmt: skip


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny runs of RUNS, trained through `rlv train`."""
    path = tmp_path_factory.mktemp("from-run")
    for name, args in RUNS.items():
        if name != "inverted" or HAS_MUJOCO:
            cli("train", *args, *TINY, "--out", name, cwd=path)
    return path


HAS_MUJOCO = importlib.util.find_spec("mujoco") is not None
needs_mujoco = pytest.mark.skipif(not HAS_MUJOCO, reason="gym:InvertedPendulum-v5 needs MuJoCo (make setup)")


def replayed(run: Path, episodes: list, first_reset: int = 0) -> list[tuple[bool, bool]]:
    """Replay each episode's true actions in a fresh copy of the run's env, reset as the trainer
    reset it (episode k of the run is its k-th reset after `make_env`); assert every observation
    matches and the env goes on until the episode's last step; returns (terminated, truncated) there."""
    config = load_config(run / "config.json")
    env = make_env(config.env, config.seed, config.horizon, config.domain)
    for _ in range(first_reset):
        env.reset()
    ends = []
    for episode in episodes:
        obs, _ = env.reset()
        np.testing.assert_array_equal(episode.obs[0], obs.astype(np.float32))
        for step, action in enumerate(episode.true_actions):
            obs, reward, terminated, truncated, _ = env.step(action)
            np.testing.assert_array_equal(episode.obs[step + 1], obs.astype(np.float32))
            assert episode.rewards[step] == np.float32(reward)
            if step + 1 < episode.length:
                assert not (terminated or truncated), f"episode goes on after step {step}"
        assert terminated or truncated, "episode split before its end"
        ends.append((terminated, truncated))
    return ends


def reset_index(run: Path, first_obs: np.ndarray, tries: int = 200) -> int:
    """Which reset of the run's env (0, 1, ...) gave `first_obs`."""
    config = load_config(run / "config.json")
    env = make_env(config.env, config.seed, config.horizon, config.domain)
    for index in range(tries):
        if np.array_equal(env.reset()[0].astype(np.float32), first_obs):
            return index
    raise AssertionError("no reset gives this first observation")


@pytest.mark.parametrize("name", ["pendulum", pytest.param("inverted", marks=needs_mujoco)])
def test_from_run_splits_a_whole_replay_into_the_episodes_that_were_run(workdir, name):
    out = rlv("data", "from-run", name, "--out", f"{name}-all", cwd=workdir).stdout  # the console script
    dataset = load_dataset(workdir / f"{name}-all")
    ends = replayed(workdir / name, dataset.episodes)
    lengths = [episode.length for episode in dataset.episodes]
    limit = 50 if name == "pendulum" else 8
    assert all(length <= limit for length in lengths)
    assert [episode.success for episode in dataset.episodes] == [terminated for terminated, _ in ends]
    total = int(json.loads((workdir / name / "summary.json").read_text())["env_step"])
    assert sum(lengths) <= total and total - sum(lengths) < limit  # only a cut-off last episode is left out
    assert f"{len(lengths)} episodes, {sum(lengths)} transitions of env steps 1..{total}" in out
    meta = dataset.meta
    assert meta["has_true_actions"] and meta["has_rewards"] and meta["source"] == "rlv data from-run"
    assert meta["env"] == load_config(workdir / name / "config.json").env
    if name == "inverted":  # both ends occur: falls (terminated) and the time limit
        assert {True, False} <= {terminated for terminated, _ in ends}
        assert min(lengths) < limit
    else:
        assert lengths == [50] * 6 and not any(episode.success for episode in dataset.episodes)


def test_from_run_on_a_wrapped_replay_leaves_out_the_episode_that_lost_its_start(workdir):
    cli("data", "from-run", "acrobot", "--out", "acrobot-all", cwd=workdir)
    dataset = load_dataset(workdir / "acrobot-all")
    assert [episode.length for episode in dataset.episodes] == [100] * 4  # env steps 201..600
    first = reset_index(workdir / "acrobot", dataset.episodes[0].obs[0])
    assert first == 2
    assert replayed(workdir / "acrobot", dataset.episodes, first_reset=first) == [(False, True)] * 4
    assert dataset.meta["success_rate"] == 0.0 and dataset.meta["average_return"] == -100.0


def test_from_run_reads_a_run_checkpointed_before_replay_chunks_alike(workdir):
    shutil.copytree(workdir / "acrobot", workdir / "acrobot-old")
    to_old_format(workdir / "acrobot-old")  # replay.npz in each checkpoint, no chunks
    assert not (workdir / "acrobot-old" / "replay").exists()
    for name in ("acrobot", "acrobot-old"):
        cli("data", "from-run", name, "--out", f"{name}-npz-test", "--from-step", "200", cwd=workdir)
    new, old = (load_dataset(workdir / f"{name}-npz-test").episodes for name in ("acrobot", "acrobot-old"))
    assert len(new) == len(old) == 4
    for a, b in zip(new, old, strict=True):
        assert a.obs.tobytes() == b.obs.tobytes() and a.true_actions.tobytes() == b.true_actions.tobytes()


@needs_mujoco
def test_from_run_window_keeps_the_episodes_inside_it(workdir):
    cli("data", "from-run", "inverted", "--out", "inv-all", "--overwrite", cwd=workdir)
    episodes = load_dataset(workdir / "inv-all").episodes
    starts = np.concatenate([[0], np.cumsum([episode.length for episode in episodes])])
    low, high = 40, 120
    inside = [i for i in range(len(episodes)) if starts[i] >= low and starts[i + 1] <= high]
    cli("data", "from-run", "inverted", "--out", "inv-window", "--from-step", str(low), "--to-step",
        str(high), cwd=workdir)  # fmt: skip
    window = load_dataset(workdir / "inv-window")
    assert len(window.episodes) == len(inside) >= 3
    for kept, index in zip(window.episodes, inside, strict=True):
        np.testing.assert_array_equal(kept.obs, episodes[index].obs)
        np.testing.assert_array_equal(kept.true_actions, episodes[index].true_actions)
    assert window.meta["how_made"]["from_step"] == low and window.meta["how_made"]["to_step"] == high


@needs_mujoco
def test_from_run_success_rules(workdir):
    for rule, expected in (("none", lambda e: False), ("reward", lambda e: e.rewards[-1] >= 1.0)):
        cli("data", "from-run", "inverted", "--out", f"inv-{rule}", "--success", rule, "--success-reward",
            "1", cwd=workdir)  # fmt: skip
        dataset = load_dataset(workdir / f"inv-{rule}")
        assert [e.success for e in dataset.episodes] == [expected(e) for e in dataset.episodes]
    oldest = sorted((workdir / "inverted" / "checkpoints").glob("step_*"))[0]
    older = cli("data", "from-run", "inverted", "--out", "inv-old", "--checkpoint", str(oldest), cwd=workdir)[
        1
    ]
    step = int(oldest.name.removeprefix("step_"))
    assert step < 203 and f"of env steps 1..{step} ({oldest})" in older
    assert load_dataset(workdir / "inv-old").num_transitions == step  # taken at an episode end


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "from-run", "nowhere", "--out", "x"], "nowhere: no such run directory"),
        (["data", "from-run", "NOT_A_RUN", "--out", "x"], "config.json: no such file (not a run directory?)"),
        (["data", "from-run", "acrobot", "--out", "x", "--from-step", "100"],
         "--from-step 100: acrobot's replay (checkpoint final) keeps the transitions of env steps 151..600"),
        (["data", "from-run", "acrobot", "--out", "x", "--to-step", "700"], "--to-step 700: "),
        (["data", "from-run", "acrobot", "--out", "x", "--from-step", "300", "--to-step", "300"],
         "--from-step 300 must be below --to-step 300"),
        (["data", "from-run", "acrobot", "--out", "x", "--from-step", "160", "--to-step", "250"],
         "no whole episode lies in env steps 161..250"),
        (["data", "from-run", "NO_REPLAY", "--out", "x"], "NO_REPLAY: its checkpoints hold no replay"),
        (["data", "from-run", "acrobot", "--out", "acrobot"], "acrobot: already exists"),
        (["collect", "--out", "x", "--policy", "nowhere"], "--policy nowhere: neither expert, random nor"),
        (["collect", "--out", "x", "--checkpoint", "acrobot/checkpoints/final"], "need --policy RUN"),
        (["collect", "--out", "x", "--policy", "acrobot", "--env", "gym:Pendulum-v1"],
         "--env gym:Pendulum-v1: the policy of acrobot (trained on acrobot) cannot act in it"),
        (["collect", "--out", "x", "--policy", "acrobot", "--noise", "0.1", "--quality", "-90"],
         "at most one of"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_writes_nothing(workdir, args, message):
    if "NOT_A_RUN" in args:
        (workdir / "NOT_A_RUN").mkdir(exist_ok=True)
    if "NO_REPLAY" in args and not (workdir / "NO_REPLAY").exists():
        cli("train", "--env", "gym:Pendulum-v1", "--total-steps", "50", "--random-steps", "50",
            "--eval-every", "50", *TINY, "--no-save-replay", "--out", "NO_REPLAY", cwd=workdir)  # fmt: skip
    before = sorted(os.listdir(workdir))
    code, _, stderr = cli(*args, cwd=workdir, check=False)
    assert code == 1
    assert stderr.count("\n") == 1 and stderr.startswith("rlv: error: ")
    assert message in stderr
    assert sorted(os.listdir(workdir)) == before


@pytest.mark.parametrize("name", ["acrobot", "pendulum"])
def test_collect_with_a_run_policy_takes_the_policy_actions(workdir, name):
    cli("collect", "--policy", name, "--out", f"{name}-policy", "--episodes", "2", "--seed", "3",
        "--no-progress", cwd=workdir)  # fmt: skip
    dataset = load_dataset(workdir / f"{name}-policy")
    config = load_config(workdir / name / "config.json")
    env = make_env(config.env, 3, config.horizon)
    agent, checkpoint = load_run_agent(workdir / name, config, env)
    assert checkpoint.name == "final" and dataset.meta["how_made"]["checkpoint"].endswith("final")
    for index, episode in enumerate(dataset.episodes):
        expected = np.stack([agent.act(obs, deterministic=True) for obs in episode.obs[:-1]])
        np.testing.assert_allclose(episode.true_actions, expected, rtol=0, atol=1e-6)
        obs, _ = env.reset(seed=episode_seed(3, index))
        np.testing.assert_array_equal(episode.obs[0], obs.astype(np.float32))
        assert episode.length <= (100 if name == "acrobot" else 50)
    assert dataset.meta["env"] == config.env and dataset.meta["source"] == "rlv collect --policy RUN"

    noisy = ["collect", "--policy", name, "--noise", "0.5", "--sample-actions", "--episodes", "1",
             "--no-progress"]  # fmt: skip
    cli(*noisy, "--out", f"{name}-noisy-a", cwd=workdir)
    cli(*noisy, "--out", f"{name}-noisy-b", cwd=workdir)
    a, b = (load_dataset(workdir / f"{name}-noisy-{x}").episodes[0] for x in "ab")
    np.testing.assert_array_equal(a.true_actions, b.true_actions)  # seeded
    deterministic = np.stack([agent.act(obs, deterministic=True) for obs in a.obs[:-1]])
    assert np.abs(a.true_actions - deterministic).max() > 0.1


def test_collect_with_a_pointmass_run_policy_in_the_human_domain(tmp_path):
    cli("train", "pointmass-sac", "--total-steps", "80", "--random-steps", "80", "--eval-every", "80",
        "--sac.conv-channels", "4", "4", "--sac.hidden", "16", "16", "--eval-episodes", "1", "--no-progress",
        "--out", "run", cwd=tmp_path)  # fmt: skip
    for domain in ("robot", "human"):
        out = cli("collect", "--policy", "run", "--domain", domain, "--episodes", "2", "--noise", "0.2",
                  "--out", domain, "--no-progress", cwd=tmp_path)[1]  # fmt: skip
        assert f"domain {domain}" in out
    robot, human = load_dataset(tmp_path / "robot"), load_dataset(tmp_path / "human")
    assert human.meta["domain"] == "human" and human.meta["how_made"]["acting_domain"] == "robot"
    for r, h in zip(robot.episodes, human.episodes, strict=True):
        np.testing.assert_array_equal(r.true_actions, h.true_actions)  # the policy saw robot frames
        assert r.obs.shape == h.obs.shape and r.obs.dtype == np.uint8
        assert not np.array_equal(r.obs, h.obs)
        assert r.success == h.success
    cli("data", "from-run", "run", "--out", "replay", cwd=tmp_path)
    replay = load_dataset(tmp_path / "replay")
    assert [e.length for e in replay.episodes] == [40, 40] and replay.meta["obs_dtype"] == "uint8"
    assert [e.success for e in replay.episodes] == [e.rewards[-1] == 0 for e in replay.episodes]


def test_episode_bounds_rules():
    done = np.zeros(12, dtype=bool)
    ended = np.zeros(12, dtype=bool)
    done[2], ended[6], ended[11] = True, True, True
    # a truncation at the limit 4 whose reset had the same bytes (no ended flag) still splits
    assert episode_bounds(done, ended, 4, True, True) == [(0, 3), (3, 7), (7, 11)]  # (11, 12): cut short
    assert episode_bounds(done, ended, None, True, True) == [(0, 3), (3, 7), (7, 12)]
    assert episode_bounds(done, ended, None, False, False) == [(3, 7)]
    assert episode_bounds(done, ended, 5, True, True) == [(0, 3), (7, 12)]  # (3, 7): cut short


class ReportingEnv(gym.Env):
    """Reports info['is_success'] = `flag` at every step; terminates at step 2 when `terminates`."""

    observation_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)

    def __init__(self, flag: bool | None, terminates: bool) -> None:
        self.flag, self.terminates, self.steps = flag, terminates, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.steps = 0
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.steps += 1
        info = {} if self.flag is None else {"is_success": self.flag}
        return np.full(1, self.steps, dtype=np.float32), 0.0, self.terminates and self.steps == 2, False, info


@pytest.mark.parametrize(
    ("flag", "terminates", "success"),
    [(True, False, True), (False, True, False), (None, True, True), (None, False, False)],
)
def test_collected_success_is_the_reported_flag_else_termination(flag, terminates, success):
    env = gym.wrappers.TimeLimit(ReportingEnv(flag, terminates), max_episode_steps=5)
    episode = rollout(env, lambda env, obs: np.zeros(1, dtype=np.float32), seed=0)
    assert episode.length == (2 if terminates else 5) and episode.success is success


def test_success_rules():
    assert episode_success({"is_success": 1.0}, terminated=False)
    assert not episode_success({"is_success": 0.0}, terminated=True)
    assert episode_success({}, terminated=True) and not episode_success({}, terminated=False)
    assert success_function("auto", "pointmass", 5.0)(False, 0.0)
    assert not success_function("auto", "pointmass", 5.0)(True, -1.0)
    assert success_function("auto", "gym:Pendulum-v1", 0.0)(True, -3.0)
    assert success_function("reward", "acrobot", -0.5)(False, 0.0)
    assert not success_function("none", "acrobot", 0.0)(True, 0.0)


def test_from_run_leaves_out_the_episode_a_resume_restarted(tmp_path):
    cli("train", "acrobot-sac", "--total-steps", "250", "--random-steps", "450", "--eval-every", "250",
        "--checkpoint-every", "100", *TINY, "--out", "run", cwd=tmp_path)  # fmt: skip
    final = load_dataset_from(tmp_path, "run", "before")
    assert [e.length for e in final] == [100, 100]  # env steps 201..250: cut off by the final checkpoint
    cli("train", "--resume", "run", "--total-steps", "450", "--no-progress", cwd=tmp_path)
    episodes = load_dataset_from(tmp_path, "run", "after")
    assert [e.length for e in episodes] == [100] * 4  # 1..100, 101..200, (201..250 cut), 251..350, 351..450
    assert [reset_index(tmp_path / "run", e.obs[0]) for e in episodes] == [0, 1, 3, 4]
    for first, episode in zip([0, 1, 3, 4], episodes, strict=True):
        assert replayed(tmp_path / "run", [episode], first_reset=first) == [(False, True)]


def load_dataset_from(cwd: Path, run: str, out: str) -> list:
    """The episodes `rlv data from-run RUN --out OUT` writes."""
    cli("data", "from-run", run, "--out", out, cwd=cwd)
    return load_dataset(cwd / out).episodes
