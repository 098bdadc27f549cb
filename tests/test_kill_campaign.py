"""Kill campaign: tiny runs killed with SIGKILL at random moments, several times each, then resumed
until they finish; each must end bit-identical to its uninterrupted run (train.csv and eval.csv rows
except the timing columns, the whole final checkpoint state and its replay).

The uninterrupted references run through the real command line; the killed attempts are forked from
this process (torch already imported), so a kill costs the run's own work, not an interpreter start.
Kill moments come from a seeded RNG as fractions of an attempt's expected life, which spreads them
over start-up, updates, evaluations, log rows and checkpoint writes. Marked slow.
"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import numpy as np
import pytest
from test_cli import SAC_TINY, TINY, rlv
from test_cli_images import TINY_IMAGE, visual  # noqa: F401 - `visual` is a fixture used below
from test_train import assert_same_state, rows

from rlv.checkpoint import load_state
from rlv.cli import main
from rlv.data.replay import rng_state
from rlv.data.replay_files import open_replay

pytestmark = pytest.mark.slow

FORK = multiprocessing.get_context("fork")
KILL_SEED = 20_240_610
KILLS_PER_RUN = 3
ACROBOT = ["--total-steps", "400", "--random-steps", "100", "--eval-every", "100"]
ACROBOT += ["--log-every", "50", "--checkpoint-every", "50"]
POINTMASS = [*TINY_IMAGE, "--total-steps", "240", "--eval-every", "80", "--checkpoint-every", "40"]
RUNS = {"acrobot-sac": 8, "acrobot-rlv": 8, "pointmass-rlv-align": 4}
"""Killed copies of each uninterrupted run: 20 runs, three kills each."""


def train_args(preset: str, acrobot_data: Path, visual_data: Path) -> list[str]:
    """The `rlv train` arguments of a campaign run (without --out)."""
    if preset == "acrobot-sac":
        return ["train", preset, *SAC_TINY, *ACROBOT]
    if preset == "acrobot-rlv":
        return ["train", preset, "--rlv.dataset", str(acrobot_data), *TINY, *ACROBOT]
    data = ["--rlv.dataset", str(visual_data / "human"), "--rlv.paired-dataset", str(visual_data / "pairs")]
    return ["train", preset, *data, *POINTMASS]


def run_cli(args: list[str]) -> None:
    raise SystemExit(main(args))


def attempt(args: list[str], delay: float) -> bool:
    """Run `rlv ARGS` in a forked process and SIGKILL it after `delay` seconds unless it finished
    first; True when it finished (with status 0), False when it was killed."""
    process = FORK.Process(target=run_cli, args=(args,))
    process.start()
    process.join(delay)
    if process.is_alive():
        process.kill()
        process.join()
        return False
    assert process.exitcode == 0, f"rlv {' '.join(args)} exited with status {process.exitcode}"
    return True


def done_steps(run: Path) -> int:
    """Env step of the newest step checkpoint (0 without one)."""
    steps = [int(path.name.removeprefix("step_")) for path in (run / "checkpoints").glob("step_*")]
    return max(steps, default=0)


def where_killed(run: Path) -> str:
    if not run.exists():
        return "no run directory yet"
    if (run / "checkpoints" / "final").exists():
        return "final checkpoint written"
    return f"newest checkpoint: step {done_steps(run)}" if done_steps(run) else "no checkpoint yet"


def kill_and_resume(
    args: list[str], run: Path, life: float, total: int, rng: np.random.Generator
) -> list[str]:
    """Start the run, kill it KILLS_PER_RUN times at random moments (each a random fraction of the
    attempt's expected life), then resume it to the end; returns where each kill landed."""
    kills: list[str] = []
    while len(kills) <= KILLS_PER_RUN:
        resume = ["train", "--resume", str(run), "--no-progress"]
        command = resume if run.exists() else [*args, "--out", str(run)]
        remaining = max(1 - done_steps(run) / total, 0.25)
        delay = rng.uniform(0.05, 0.95) * life * remaining if len(kills) < KILLS_PER_RUN else 600.0
        if attempt(command, delay):
            return kills
        kills.append(f"{delay:.2f} s ({where_killed(run)})")
    raise AssertionError(f"{run}: still running after 600 s")


@pytest.fixture(scope="module")
def references(tmp_path_factory, acrobot_dataset, visual):  # noqa: F811 - the imported fixture
    """Each preset's uninterrupted run through the command line, and how long the same run lives
    as a forked attempt (start-up included), made once."""
    made: dict[str, tuple[Path, float]] = {}

    def reference(preset: str) -> tuple[Path, float]:
        if preset not in made:
            run = tmp_path_factory.mktemp("reference") / preset
            args = train_args(preset, acrobot_dataset, visual)
            rlv(*args, "--out", str(run), cwd=run.parent)
            start = time.perf_counter()
            assert attempt([*args, "--out", str(run.with_name("timed"))], 600.0)
            made[preset] = run, time.perf_counter() - start
        return made[preset]

    return reference


def final_state(run: Path) -> dict:
    state = load_state(run / "checkpoints" / "final" / "state.pt")
    state.pop("at_episode_boundary")  # a run killed after its final checkpoint re-saves it at one
    return state


def assert_bit_identical(run: Path, reference: Path) -> None:
    assert rows(run / "eval.csv") == rows(reference / "eval.csv")
    assert rows(run / "train.csv") == rows(reference / "train.csv")
    assert_same_state(final_state(run), final_state(reference))
    replay = open_replay(run / "checkpoints" / "final", run / "replay")
    expected = open_replay(reference / "checkpoints" / "final", reference / "replay")
    assert (replay.total, rng_state(replay.rng)) == (expected.total, rng_state(expected.rng))
    for key, array in expected.transitions().items():
        assert replay.transitions()[key].tobytes() == array.tobytes(), key


@pytest.mark.parametrize(
    ("preset", "copy"), [(preset, copy) for preset, copies in RUNS.items() for copy in range(copies)]
)
def test_killed_run_resumes_bit_identical(tmp_path, references, acrobot_dataset, visual, preset, copy):  # noqa: F811
    reference, wall_time = references(preset)
    rng = np.random.default_rng([KILL_SEED, list(RUNS).index(preset), copy])
    total = int(load_state(reference / "checkpoints" / "final" / "state.pt")["counters"]["env_step"])
    run = tmp_path / preset
    kills = kill_and_resume(train_args(preset, acrobot_dataset, visual), run, wall_time, total, rng)
    print(f"{preset} copy {copy}: killed after {', '.join(kills)}")  # shown by pytest -s
    assert len(kills) >= 2, f"only {len(kills)} of {KILLS_PER_RUN} kills landed before the run finished"
    assert (run / "summary.json").exists()
    assert_bit_identical(run, reference)
