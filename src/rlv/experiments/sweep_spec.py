"""What `rlv sweep` runs: a grid of methods (a preset plus options) x override sets x seeds, read
from the command line or a JSON spec file, and the record of it kept in the sweep directory.

Spec file (JSON; every key but "methods" optional):

    {
      "methods": {"sac": {"preset": "acrobot-sac"},
                  "rlv_q79": {"preset": "acrobot-rlv", "options": "--rlv.dataset data/q79"}},
      "seeds": [0, 1, 2],
      "options": ["--total-steps", "20000"],
      "overrides": {"bs128": "--sac.batch-size 128", "bs256": []}
    }

Options are `rlv train` options, a list or one string. A trial is (method, override, seed); it
runs `rlv train PRESET METHOD-OPTIONS COMMON-OPTIONS OVERRIDE-OPTIONS --seed S --label LABEL` in
SWEEP/LABEL/seed_S, where LABEL is the method's name, or METHOD+OVERRIDE when overrides are given.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlv.errors import RlvError
from rlv.files import write_text_atomic

SWEEP_FILE = "sweep.json"
"""The sweep directory's record: every trial ever asked of it, by name, with its command line."""

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Trial:
    """One run of the grid."""

    name: str
    """LABEL/seed_S: its run directory relative to the sweep directory."""
    label: str
    """The method's name in the run's config (what rlv report groups by)."""
    seed: int
    argv: tuple[str, ...]
    """`rlv train` arguments, without --out."""

    def train_args(self, sweep: Path) -> list[str]:
        """The full `rlv train` command line of this trial in `sweep`."""
        return [*self.argv, "--out", str(sweep / self.name), "--no-progress"]


def options_list(value: Any, where: str) -> list[str]:
    """Options given as a list of strings or as one shell-quoted string."""
    if isinstance(value, str):
        return shlex.split(value)
    if isinstance(value, list) and all(isinstance(item, str | int | float) for item in value):
        return [str(item) for item in value]
    raise RlvError(f"{where}: options must be a string or a list of strings, got {value!r}")


def checked_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise RlvError(f"{where}: {name!r} is not a usable name (letters, digits, '.', '_', '-')")
    return name


def grid(
    methods: dict[str, tuple[str, list[str]]],
    seeds: list[int],
    options: list[str],
    overrides: dict[str, list[str]],
) -> list[Trial]:
    """The trials of methods {name: (preset, options)} x overrides {name: options} x seeds, seed by
    seed (every method's first seed, then every method's second, ...): trials start in this order,
    so a sweep cut short has each method at the same number of seeds, give or take one."""
    if not methods:
        raise RlvError('the sweep has no methods (--presets or a spec file\'s "methods")')
    if not seeds or len(set(seeds)) != len(seeds):
        raise RlvError(f"seeds must be a non-empty list without repeats, got {seeds}")
    sets = overrides or {"": []}
    trials = []
    for seed in seeds:
        for method, (preset, method_options) in methods.items():
            for override, override_options in sets.items():
                label = f"{method}+{override}" if override else method
                argv = (preset, *method_options, *options, *override_options, "--seed", str(seed))
                trials.append(Trial(f"{label}/seed_{seed}", label, seed, (*argv, "--label", label)))
    return trials


def read_spec(path: Path) -> list[Trial]:
    """The trials of a JSON spec file; any problem is one RlvError line naming the file."""
    try:
        spec = json.loads(Path(path).read_text())
    except FileNotFoundError as error:
        raise RlvError(f"{path}: no such spec file") from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RlvError(f"{path}: not a readable JSON spec ({error})") from error
    if not isinstance(spec, dict) or not isinstance(spec.get("methods"), dict):
        raise RlvError(f'{path}: a spec is a JSON object with a "methods" object')
    unknown = set(spec) - {"methods", "seeds", "options", "overrides"}
    if unknown:
        raise RlvError(f"{path}: unknown keys {sorted(unknown)} (known: methods, seeds, options, overrides)")
    methods = {}
    for name, entry in spec["methods"].items():
        where = f"{path}: methods.{name}"
        if not isinstance(entry, dict) or not isinstance(entry.get("preset"), str):
            raise RlvError(f'{where}: needs a "preset" (rlv presets lists them)')
        methods[checked_name(name, where)] = (entry["preset"], options_list(entry.get("options", []), where))
    seeds = spec.get("seeds", [0])
    if not isinstance(seeds, list) or not all(type(seed) is int for seed in seeds):
        raise RlvError(f"{path}: seeds must be a list of integers, got {seeds!r}")
    overrides = spec.get("overrides", {})
    if not isinstance(overrides, dict):
        raise RlvError(f"{path}: overrides must be an object {{name: options}}")
    override_sets = {
        checked_name(name, f"{path}: overrides"): options_list(value, f"{path}: overrides.{name}")
        for name, value in overrides.items()
    }
    options = options_list(spec.get("options", []), f"{path}: options")
    try:
        return grid(methods, seeds, options, override_sets)
    except RlvError as error:
        raise RlvError(f"{path}: {error}") from error


def parse_overrides(values: tuple[str, ...]) -> dict[str, list[str]]:
    """--override NAME=OPTIONS ... as {name: options}."""
    overrides = {}
    for value in values:
        name, equals, options = value.partition("=")
        if not equals:
            raise RlvError(f"--override {value!r}: expected NAME=OPTIONS, e.g. bs64='--sac.batch-size 64'")
        overrides[checked_name(name, "--override")] = shlex.split(options)
    return overrides


def recorded(sweep: Path) -> dict[str, Trial]:
    """The trials recorded in SWEEP/sweep.json ({} when there is none)."""
    path = Path(sweep) / SWEEP_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        return {
            name: Trial(name, entry["label"], int(entry["seed"]), tuple(entry["argv"]))
            for name, entry in data["trials"].items()
        }
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise RlvError(f"{path}: not a sweep record rlv can read ({error})") from error


def record(sweep: Path, trials: list[Trial]) -> dict[str, Trial]:
    """Add `trials` to SWEEP/sweep.json; a trial already recorded must ask for the same command
    (otherwise its run directory would hold a different experiment). Returns every recorded trial."""
    known = recorded(sweep)
    for trial in trials:
        old = known.get(trial.name)
        if old is not None and old.argv != trial.argv:
            raise RlvError(
                f"trial {trial.name} is already in {Path(sweep) / SWEEP_FILE} with other options "
                f"({shlex.join(old.argv)}); use another sweep directory or the same options"
            )
        known[trial.name] = trial
    entries = {t.name: {"label": t.label, "seed": t.seed, "argv": list(t.argv)} for t in known.values()}
    Path(sweep).mkdir(parents=True, exist_ok=True)
    write_text_atomic(Path(sweep) / SWEEP_FILE, json.dumps({"trials": entries}, indent=2) + "\n")
    return known


@dataclass(frozen=True)
class SweepResources:
    """Where and with what the trials run."""

    address: str | None = None
    """Join this Ray cluster (e.g. auto, or HOST:6379) instead of starting a local Ray."""
    num_cpus: int | None = None
    """CPUs of the local Ray (default: all of this machine's); ignored with --address."""
    cpus_per_trial: float = 1.0
    """CPUs reserved per trial (Ray runs as many trials at once as fit)."""
    gpus_per_trial: float = 0.0
    """GPUs (or a fraction of one) reserved per trial; pair it with --options='--device cuda'."""
    progress_every: float = 30.0
    """Seconds between progress lines (env steps of the running trials); 0: only at trial ends."""
