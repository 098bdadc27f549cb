"""Which OpenGL backend MuJoCo renders the Meta-World frames with: EGL on a GPU, else OSMesa.

MuJoCo (through Gymnasium's renderer) reads `MUJOCO_GL` when it first renders, and PyOpenGL fixes
its platform at its first import, so the choice is made once, before Meta-World is imported, and
written to `MUJOCO_GL` (child processes inherit it and need not choose again):

- a `MUJOCO_GL` the user set is always kept;
- `egl` when the machine shows a GPU device node (NVIDIA's `/dev/nvidia0`, ... or a DRM render
  node `/dev/dri/renderD*`) and a child process can make an EGL context with MuJoCo (a container
  without the driver's graphics libraries has the device but no EGL);
- `osmesa` otherwise: software rendering on the CPU (Debian's `libosmesa6`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, MutableMapping
from pathlib import Path

EGL_PROBE = "from mujoco.egl import GLContext; c = GLContext(8, 8); c.make_current(); c.free()"
"""What the child process runs to find out whether MuJoCo can render through EGL."""


def gpu_present(dev: Path = Path("/dev")) -> bool:
    """Whether `dev` holds an NVIDIA GPU device node or a DRM render node."""
    return any(dev.glob("nvidia[0-9]*")) or any((dev / "dri").glob("renderD*"))


def egl_works(timeout_s: float = 120.0) -> bool:
    """Whether MuJoCo makes an EGL context in a child process (its PyOpenGL platform stays free)."""
    environment = {**os.environ, "MUJOCO_GL": "egl", "PYOPENGL_PLATFORM": "egl"}
    command = [sys.executable, "-c", EGL_PROBE]
    try:
        result = subprocess.run(command, env=environment, capture_output=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def choose_gl_backend(
    environ: MutableMapping[str, str] = os.environ,
    gpu: Callable[[], bool] = gpu_present,
    egl: Callable[[], bool] = egl_works,
) -> str:
    """Set `MUJOCO_GL` in `environ` unless it is set already (see the module docstring); the
    backend MuJoCo will use."""
    if environ.get("MUJOCO_GL"):
        return environ["MUJOCO_GL"]
    backend = "egl" if gpu() and egl() else "osmesa"
    environ["MUJOCO_GL"] = backend
    return backend
