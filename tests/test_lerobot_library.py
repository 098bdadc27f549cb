"""`rlv data from-lerobot` on datasets written by the LeRobot library itself: lerobot 0.3.2
(format v2.1, one AV1 mp4 per episode) and lerobot 0.4.4 (format v3.0, episodes sharing one mp4
and one parquet), each run in the writer environment built by tests/lerobot_env.py.

LeRobot cannot be installed beside rlv's torch (see tests/lerobot_env.py), so the writer runs in
its own interpreter: RLV_LEROBOT_VENV, or .venv-lerobot at the repository root. Without it these
tests skip, unless RLV_REQUIRE_LEROBOT=1 (then they fail)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_cli import rlv
from videos import frame, marker_row

from rlv.collect.converters import from_lerobot
from rlv.collect.video_import import ImportOptions, transform
from rlv.data.dataset import load_dataset

pytest.importorskip("pyarrow")

TESTS = Path(__file__).parent
VENV = Path(os.environ.get("RLV_LEROBOT_VENV", TESTS.parent / ".venv-lerobot"))
LENGTHS = (6, 5)
pytestmark = pytest.mark.skipif(
    not (VENV / ".complete").exists() and not os.environ.get("RLV_REQUIRE_LEROBOT"),
    reason=f"no LeRobot writer environment at {VENV} (python tests/lerobot_env.py builds it)",
)


def write_with_lerobot(root: Path, version: str) -> dict[str, str]:
    """Run tests/lerobot_writer.py under the LeRobot venv; returns the versions it reports."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(TESTS) if version == "v2.1" else f"{VENV / 'lerobot-v3'}{os.pathsep}{TESTS}"
    env["HF_HUB_OFFLINE"] = "1"
    result = subprocess.run(
        [str(VENV / "bin" / "python"), str(TESTS / "lerobot_writer.py"), str(root), *map(str, LENGTHS)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module", params=["v2.1", "v3.0"])
def lerobot_root(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lerobot") / "toy"
    versions = write_with_lerobot(root, request.param)
    assert versions["codebase_version"] == request.param, versions
    return root


def test_library_written_dataset_converts_frames_and_actions(lerobot_root: Path, tmp_path: Path) -> None:
    meta = from_lerobot(lerobot_root, tmp_path / "ds", keep_actions=True, progress=False)
    episodes = load_dataset(tmp_path / "ds").episodes
    assert meta["num_episodes"] == 2 and [e.length for e in episodes] == [n - 1 for n in LENGTHS]
    for index, episode in enumerate(episodes):
        assert episode.obs.shape == (LENGTHS[index], 48, 48, 3)
        assert np.array_equal(episode.true_actions, [[index, t] for t in range(LENGTHS[index] - 1)])
        expected = np.stack([transform(frame(t), ImportOptions(), "source") for t in range(LENGTHS[index])])
        error = np.abs(episode.obs.astype(float) - expected).mean(axis=(1, 2, 3))
        assert error.max() < 4.0, error  # LeRobot's AV1 at crf 30: measured 0.6-1.4 of 255
        rows = [marker_row(o) for o in episode.obs]
        assert np.all(np.diff(rows) > 0), rows  # frames in recording order


def test_library_written_dataset_through_cli(lerobot_root: Path, tmp_path: Path) -> None:
    out = rlv("data", "from-lerobot", str(lerobot_root), "--out", "ds", "--reverse", "--no-progress",
              cwd=tmp_path).stdout  # fmt: skip
    assert "2 episodes" in out
    first = load_dataset(tmp_path / "ds").episodes[0]
    rows = [marker_row(o) for o in first.obs]
    assert first.true_actions is None and np.all(np.diff(rows) < 0), rows
