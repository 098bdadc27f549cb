"""The `make demo` run: collect an Acrobot observation dataset, train SAC and RLV side by side
(one process each), plot both curves and print a comparison, with a line per evaluation while
they train. `make demo` runs 15,000 steps per method.

    python benchmarks/demo.py --out demo --steps 15000
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import tyro

from rlv.logger import read_csv


@dataclass(frozen=True)
class Args:
    out: Path = Path("demo")
    """Directory for the dataset, the two runs and the plot."""
    steps: int = 10_000
    """Env steps per run."""
    noise: float = 0.0
    """Probability of a random action in the observation data: 0 is the scripted expert itself
    (average return about -66, next to the paper's best Acrobot pool, -63, which our expert does
    not reach: `rlv collect --quality -63` is refused as out of reach)."""
    episodes: int = 100
    """Episodes of observation data."""
    seed: int = 0
    """Seed of both runs."""


def rlv(*args: str) -> list[str]:
    return [sys.executable, "-m", "rlv", *args]


def wait_showing_evaluations(
    processes: list[subprocess.Popen], runs: dict[str, Path], steps: int, every: float = 2.0
) -> list[int]:
    """Wait for the training processes, printing each evaluation row their runs write (the runs
    train with --no-progress: two progress bars would overwrite each other); their exit codes."""
    shown = dict.fromkeys(runs, -1)  # env step of the last row shown, per run
    started = time.perf_counter()
    while True:
        finished = all(process.poll() is not None for process in processes)
        for name, run in runs.items():
            for row in eval_rows(run / "eval.csv"):
                step = int(row["env_step"])
                if step <= shown[name]:
                    continue
                minutes, seconds = divmod(int(time.perf_counter() - started), 60)
                print(
                    f"  [{minutes:d}:{seconds:02d}] {name}: env step {step:>6}/{steps}"
                    f"  eval return {float(row['eval/return']):7.1f}",
                    flush=True,
                )
                shown[name] = step
        if finished:
            return [process.returncode for process in processes]
        time.sleep(every)


def eval_rows(path: Path) -> list[dict[str, str]]:
    """The complete rows of a run's eval.csv so far (none before it exists)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    complete = text[: text.rfind("\n") + 1]  # a row being written is shown next time
    return list(csv.DictReader(io.StringIO(complete)))


def main(args: Args) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    dataset = args.out / "observations"
    if not dataset.exists():
        subprocess.run(
            rlv(
                "collect",
                "--out",
                str(dataset),
                "--noise",
                str(args.noise),
                "--episodes",
                str(args.episodes),
            ),
            check=True,
        )
    runs = {"sac": args.out / "acrobot-sac", "rlv": args.out / "acrobot-rlv"}
    common = ["--total-steps", str(args.steps), "--seed", str(args.seed), "--no-progress"]
    processes = []
    for name, run in runs.items():
        if (run / "summary.json").exists():
            continue
        extra = ["--rlv.dataset", str(dataset)] if name == "rlv" else []
        command = (
            rlv("train", f"acrobot-{name}", "--out", str(run), *common, *extra)
            if not run.exists()
            else rlv("train", "--resume", str(run), "--no-progress")
        )
        print("running:", " ".join(command[2:]), flush=True)
        processes.append(subprocess.Popen(command))
    if any(code != 0 for code in wait_showing_evaluations(processes, runs, args.steps)):
        sys.exit("demo: a training run failed (see its output above)")
    subprocess.run(
        rlv(
            "plot",
            *map(str, runs.values()),
            "--out",
            str(args.out / "curves.png"),
            "--title",
            f"Acrobot, {args.steps} env steps, seed {args.seed}",
        ),
        check=True,
    )
    print(f"\n{'method':<12} {'final eval return':>18} {'best eval return':>17} {'final success':>14}")
    for name, run in runs.items():
        rows = read_csv(run / "eval.csv")
        returns = [row["eval/return"] for row in rows]
        print(f"{name:<12} {returns[-1]:>18.1f} {max(returns):>17.1f} {rows[-1]['eval/success']:>14.2f}")
    print(f"\ncurves: {args.out / 'curves.png'}  (one seed: see benchmarks/ for the multi-seed comparison)")


if __name__ == "__main__":
    main(tyro.cli(Args))
