"""The `make demo` run: collect an Acrobot observation dataset, train SAC and RLV side by side
(one process each), plot both curves and print a comparison. About 5 minutes on 2 cores.

    python benchmarks/demo.py --out demo --steps 10000
"""

from __future__ import annotations

import subprocess
import sys
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
    quality: float = -63.0
    """Average return of the observation data (the paper's best Acrobot pool)."""
    episodes: int = 100
    """Episodes of observation data."""
    seed: int = 0
    """Seed of both runs."""


def rlv(*args: str) -> list[str]:
    return [sys.executable, "-m", "rlv", *args]


def main(args: Args) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    dataset = args.out / "observations"
    if not dataset.exists():
        subprocess.run(
            rlv(
                "collect",
                "--out",
                str(dataset),
                "--quality",
                str(args.quality),
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
    if any(process.wait() != 0 for process in processes):
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
