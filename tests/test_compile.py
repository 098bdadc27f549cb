"""`--sac.compile`: refused in one line where torch.compile cannot build code; compiled networks
keep eager mode's parameter names and give its losses to rounding (slow: compiling takes minutes)."""

import importlib.util
import shutil

import pytest
import torch
from test_agents import obs_batch, robot_batch

from rlv.cli import main
from rlv.config import SACConfig
from rlv.errors import RlvError
from rlv.methods import RLV, SAC, Batches
from rlv.methods.rlv import RLVConfig
from rlv.validation import check_compile


def test_compile_without_a_cxx_compiler_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    out = tmp_path / "run"
    code = main(["train", "acrobot-sac", "--sac.compile", "--out", str(out), "--no-progress"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(lines) == 1
    assert lines[0].startswith("rlv: error: --sac.compile: torch.compile on cpu needs a C++ compiler")
    assert not out.exists()


def test_compile_on_cuda_needs_triton(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RlvError, match=r"--sac\.compile: torch\.compile on cuda needs Triton"):
        check_compile(True, "cuda")
    check_compile(False, "cuda")  # off: nothing to check


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["sac", "rlv", "sac_rlpd"])
def test_compiled_updates_match_eager_mode(algo):
    """sac_rlpd: RLPD's critics, whose TD target indexes a random subset of the compiled ensemble."""
    rlpd = {"critic_layer_norm": True, "critic_ensemble": 4, "target_subset": 2, "actor_q": "mean"}

    def agent(compile_networks):
        torch.manual_seed(0)
        options = rlpd if algo == "sac_rlpd" else {}
        config = SACConfig(hidden=(32, 32), batch_size=32, compile=compile_networks, **options)
        return RLV(6, 1, config, RLVConfig()) if algo == "rlv" else SAC(6, 1, config)

    eager, compiled = agent(False), agent(True)
    assert compiled.state_dict().keys() == eager.state_dict().keys()
    for step in range(3):
        batches = Batches(robot_batch(step), obs_batch(step + 100) if algo == "rlv" else None)
        torch.manual_seed(step)
        expected = eager.update(batches)
        torch.manual_seed(step)
        got = compiled.update(batches)
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, rel=1e-4, abs=1e-5), key
