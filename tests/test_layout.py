"""The layout of the code stays what docs/design.md says: layers whose imports point down only
(import-linter's contract in pyproject.toml), ruff's size and complexity rules, short files and
functions, no import-time side effects, and one place that tells vectors from images."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "rlv"
CODE_DIRS = (SOURCE, ROOT / "tests", ROOT / "benchmarks")
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60

OPTIONAL_HEAVY = (
    "ray", "av", "minari", "pyarrow", "matplotlib", "metaworld", "mujoco", "torch.utils.tensorboard",
    "wandb",
)  # fmt: skip
"""Third-party modules a function may import when it runs (optional extras, or slow to load)."""

LAZY_SUBCOMMANDS = "rlv.cli"
"""The one place that imports rlv modules inside functions: each subcommand's module loads when that
subcommand runs (so `rlv data info` does not load Ray, rliable or the trainer)."""


def tool(name: str) -> str:
    """The path of a console script installed beside this Python (the project's venv)."""
    path = Path(sys.executable).with_name(name)
    found = str(path) if path.exists() else shutil.which(name)
    assert found, f"{name} is not installed (it is in the dev extra)"
    return found


def python_files(*dirs: Path) -> list[Path]:
    return sorted(path for directory in dirs for path in directory.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_layers_contract_is_kept() -> None:
    result = subprocess.run([tool("lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 kept, 0 broken" in result.stdout


def test_layers_contract_can_fail(tmp_path: Path) -> None:
    """The same contract with two layers swapped (the trainer below the methods) is broken: the
    check reads the real imports."""
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "rlv"\n\n[[tool.importlinter.contracts]]\n'
        'name = "swapped"\ntype = "layers"\nlayers = ["rlv.methods", "rlv.train"]\n'
    )
    result = subprocess.run(
        [tool("lint-imports"), "--config", str(config)], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode != 0 and "0 kept, 1 broken" in result.stdout, result.stdout[-2000:]


def test_ruff_rules_hold() -> None:
    """pyproject.toml's ruff rules, complexity (C901, PLR0912, PLR0915) included, on all the code."""
    result = subprocess.run(
        [tool("ruff"), "check", "src", "tests", "benchmarks"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_files_and_functions_are_short() -> None:
    long_files, long_functions = [], []
    for path in python_files(*CODE_DIRS):
        text = path.read_text()
        if len(text.splitlines()) > MAX_FILE_LINES:
            long_files.append(f"{path.relative_to(ROOT)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    long_functions.append(f"{where} {node.name}: {lines} lines")
    assert not long_files, long_files
    assert not long_functions, long_functions


def function_level_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import inside a function of `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and inner.module:
                    found.append((inner.lineno, inner.module))
                elif isinstance(inner, ast.Import):
                    found += [(inner.lineno, alias.name) for alias in inner.names]
    return found


def test_function_level_imports_only_for_optional_heavy_dependencies() -> None:
    """Never to dodge an import cycle: rlv modules are imported at the top (the CLI's subcommand
    dispatch aside), third-party ones inside a function only when optional or slow to load."""
    offenders = []
    for path in python_files(SOURCE):
        module = module_name(path)
        for line, imported in function_level_imports(path):
            if imported == "rlv" or imported.startswith("rlv."):
                allowed = module == LAZY_SUBCOMMANDS or module.startswith(LAZY_SUBCOMMANDS + ".")
            else:
                allowed = any(imported == name or imported.startswith(name + ".") for name in OPTIONAL_HEAVY)
            if not allowed:
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    assert not offenders, offenders


def test_importing_rlv_switches_no_matplotlib_backend() -> None:
    """Plots are drawn with matplotlib's Figure API: importing every rlv module leaves the user's
    backend (here svg) as it was."""
    modules = sorted(module_name(path) for path in python_files(SOURCE) if path.name != "__main__.py")
    code = (
        "import importlib, matplotlib\n"
        f"for name in {modules!r}:\n    importlib.import_module(name)\n"
        "print(matplotlib.get_backend())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ | {"MPLBACKEND": "svg"}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().lower() == "svg"


VECTOR_OR_IMAGE = re.compile(r"len\([^)]*shape\)\s*(==|!=)\s*[13]\b|dtype\s*==\s*(np|torch)\.uint8 else")
"""A decision by shape (`len(shape) == 3`) or by dtype (`... if x.dtype == uint8 else ...`)."""


def test_only_observation_kind_tells_vectors_from_images() -> None:
    """Shape or dtype tests of observations live in rlv.observation (ObservationKind, is_image,
    stored_dtype, observation_batch); everything else asks it."""
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in python_files(SOURCE)
        if module_name(path) != "rlv.observation"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if VECTOR_OR_IMAGE.search(line)
    ]
    assert not hits, hits
