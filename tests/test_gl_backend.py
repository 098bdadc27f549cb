"""The choice of MuJoCo's OpenGL backend (rlv.envs.gl), under monkeypatched machines."""

import subprocess

import pytest

import rlv.envs.gl
from rlv.envs.gl import choose_gl_backend, egl_works, gpu_present


def fail():
    raise AssertionError("must not be asked")


@pytest.mark.parametrize(
    ("gpu", "egl", "expected"),
    [(True, True, "egl"), (True, False, "osmesa"), (False, True, "osmesa"), (False, False, "osmesa")],
)
def test_egl_only_with_a_gpu_that_egl_can_use(gpu, egl, expected):
    environ = {}
    asked = []

    def probe():
        asked.append(True)
        return egl

    assert choose_gl_backend(environ, lambda: gpu, probe) == expected
    assert environ == {"MUJOCO_GL": expected}
    assert asked == ([True] if gpu else [])  # no child process on a machine without a GPU


@pytest.mark.parametrize("chosen", ["osmesa", "egl", "glfw"])
def test_a_backend_the_user_set_is_kept(chosen):
    environ = {"MUJOCO_GL": chosen}
    assert choose_gl_backend(environ, fail, fail) == chosen
    assert environ == {"MUJOCO_GL": chosen}


def test_gpu_device_nodes(tmp_path):
    assert not gpu_present(tmp_path)
    (tmp_path / "nvidiactl").touch()  # the control node alone is no GPU
    assert not gpu_present(tmp_path)
    (tmp_path / "nvidia0").touch()
    assert gpu_present(tmp_path)
    (tmp_path / "nvidia0").unlink()
    (tmp_path / "dri").mkdir()
    (tmp_path / "dri" / "card0").touch()
    assert not gpu_present(tmp_path)
    (tmp_path / "dri" / "renderD128").touch()
    assert gpu_present(tmp_path)


@pytest.mark.parametrize(("outcome", "expected"), [(0, True), (1, False), ("timeout", False)])
def test_the_egl_probe_reads_the_child_process(monkeypatch, outcome, expected):
    seen = {}

    def run(command, env, **kwargs):
        seen.update(env)
        if outcome == "timeout":
            raise subprocess.TimeoutExpired(command, kwargs["timeout"])
        return subprocess.CompletedProcess(command, outcome)

    monkeypatch.setattr(rlv.envs.gl.subprocess, "run", run)
    assert egl_works() is expected
    assert seen["MUJOCO_GL"] == "egl" and seen["PYOPENGL_PLATFORM"] == "egl"
