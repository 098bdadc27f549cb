"""`rlv sweep`: run a grid of trials (rlv.experiments.sweep_spec) on Ray, each an ordinary run directory.

Every trial is one Ray task that calls `rlv.train.train` (a new run) or `rlv.train.resume` (a run
directory that exists: killed before it finished) in a fresh worker process (`max_calls=1`: no
torch or RNG state carries over from one trial to the next), with `cpus_per_trial` CPUs and
`gpus_per_trial` GPUs reserved. In-process rather than an `rlv train` subprocess, so that a
trial dies with its worker: no orphan trainer keeps writing a run directory after the sweep is
killed. A finished trial (summary.json) is never run again; a failing trial's error line is
reported and the others go on.

Ray: an embedded local instance by default (all CPUs of this machine unless `num_cpus`; no
dashboard; the workers' output goes to the trials' logs, not the terminal), or an existing
cluster with `address` (`ray start --head` on one node; paths in the spec and the sweep
directory must then be the same on every node, e.g. a shared filesystem)."""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from rlv.command_line import train_config
from rlv.config import config_to_dict
from rlv.errors import RlvError
from rlv.experiments.sweep_spec import SweepResources, Trial
from rlv.logger import read_csv
from rlv.methods.registry import load_config
from rlv.train import resume, train

SUMMARY_FILE = "summary.json"
LOG_DIR = "logs"


def other_options(config: Any, run: Path) -> list[str]:
    """The config fields in which the run already in `run` differs from what its trial asks for
    (its output path and progress bar aside); [] when there is no run there yet."""
    if not (run / "config.json").exists():
        return []
    old, new = config_to_dict(load_config(run / "config.json")), config_to_dict(config)
    return sorted(
        key
        for key in old.keys() | new.keys()
        if key not in ("out", "progress") and old.get(key) != new.get(key)
    )


def run_trial(train_args: list[str], cwd: str, log: str) -> dict[str, Any]:
    """Train (or resume) the trial of an `rlv train` command line; runs inside a Ray worker (the
    command line travels, not the config: method config types are made at run time). Output goes
    to `log` (appended). Returns {"status": "finished" | "failed", "error": one line, "summary"}."""
    with contextlib.suppress(OSError):
        os.chdir(cwd)  # relative paths in the spec are relative to where the sweep was started
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as handle, contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle):
        try:
            config = train_config(train_args)
            if Path(config.out).exists():
                print(f"rlv sweep: resuming {config.out}", flush=True)
                summary = resume(Path(config.out), progress=False)
            else:
                print(f"rlv sweep: training {config.out}", flush=True)
                summary = train(config)
        except RlvError as error:
            print(f"rlv: error: {error}", flush=True)
            return {"status": "failed", "error": str(error)}
        except Exception as error:  # a trial's crash is reported; the other trials go on
            traceback.print_exc()
            first = (str(error).splitlines() or [""])[0]
            return {"status": "failed", "error": f"{type(error).__name__}: {first}"}
    return {"status": "finished", "summary": summary}


def start_ray(resources: SweepResources) -> None:
    """Start (or join) Ray, quietly and small: no dashboard, workers' output not forwarded."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError as error:
        raise RlvError("rlv sweep runs on Ray, which is not installed: pip install 'rlv[sweep]'") from error

    # "local": always a new Ray of our own, even if another cluster runs on this machine
    settings: dict[str, Any] = {"address": resources.address or "local", "log_to_driver": False}
    settings["logging_level"] = "ERROR"
    if not resources.address:
        settings.update(
            num_cpus=resources.num_cpus or os.cpu_count() or 1,
            include_dashboard=False,
            object_store_memory=100 * 2**20,  # trials exchange only small dicts
            # Ray runs its workers at niceness 15; trials are the work here, and a niced trial gets
            # a fraction of a core whenever anything else runs (measured: 18% beside two busy jobs)
            _system_config={"worker_niceness": 0},
        )
    try:
        ray.init(**settings)
    except (ConnectionError, RuntimeError, ValueError) as error:
        if not resources.address:
            raise RlvError(f"could not start a local Ray: {last_line(str(error))}") from error
        raise RlvError(
            f"could not join the Ray cluster at {resources.address}: {last_line(str(error))} (a cluster "
            "with token authentication, Ray's default, needs RAY_AUTH_MODE=token and its token here)"
        ) from error


def progress_line(sweep: Path, running: list[Trial]) -> str:
    """Env steps (of the newest evaluation) of each unfinished trial, running or queued."""
    parts = []
    for trial in running:
        rows = read_csv(sweep / trial.name / "eval.csv") if (sweep / trial.name / "eval.csv").exists() else []
        parts.append(f"{trial.name} at {int(rows[-1]['env_step']) if rows else 0}")
    return "  unfinished (env steps): " + ", ".join(parts)


def last_line(text: str) -> str:
    """The last non-empty line of a Ray error (where its cause is named)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "the trial's Ray task failed"


def outcome_line(trial: Trial, result: dict[str, Any], seconds: float, log: Path) -> str:
    if result["status"] == "finished":
        summary = result["summary"]
        return (
            f"finished {trial.name} in {seconds:.0f} s: env steps {summary['env_step']}, "
            f"eval/return {summary['eval/return']:.2f}, eval/success {summary['eval/success']:.2f}"
        )
    return f"FAILED {trial.name}: {result['error']} (log: {log})"


def run_sweep(sweep: Path, trials: list[Trial], resources: SweepResources) -> int:
    """Run the unfinished `trials` on Ray; print a line as each ends and, every so often, the
    unfinished trials' progress. Returns how many failed."""
    sweep = Path(sweep).resolve()
    todo = [t for t in trials if not (sweep / t.name / SUMMARY_FILE).exists()]
    print(
        f"rlv sweep: {len(trials)} trials in {sweep}: "
        f"{len(trials) - len(todo)} finished before, {len(todo)} to run"
    )
    if not todo:
        return 0
    start_ray(resources)
    import ray

    remote = ray.remote(max_calls=1)(run_trial).options(
        num_cpus=resources.cpus_per_trial, num_gpus=resources.gpus_per_trial
    )
    try:
        return wait_all(sweep, todo, remote, resources.progress_every)
    finally:
        ray.shutdown()


def wait_all(sweep: Path, todo: list[Trial], remote: Any, every: float) -> int:
    """Submit every trial, then report them as they end. Returns how many failed."""
    import ray

    started = time.perf_counter()
    logs = {t.name: sweep / LOG_DIR / f"{t.name}.log" for t in todo}
    pending = {remote.remote(t.train_args(sweep), os.getcwd(), str(logs[t.name])): t for t in todo}
    failed, done, last_progress = 0, 0, time.perf_counter()
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=every or None)
        for ref in ready:
            trial = pending.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayError as error:  # the worker died, or could not import rlv
                result = {"status": "failed", "error": last_line(str(error))}
            done += 1
            failed += result["status"] == "failed"
            seconds = time.perf_counter() - started
            print(
                f"[{done}/{len(todo)}] {outcome_line(trial, result, seconds, logs[trial.name])}", flush=True
            )
        if pending and every and time.perf_counter() - last_progress >= every:
            print(progress_line(sweep, list(pending.values())), flush=True)
            last_progress = time.perf_counter()
    print(f"rlv sweep: {len(todo) - failed} of {len(todo)} trials finished, {failed} failed", file=sys.stdout)
    return failed
