"""The transfer probe (no RL): screens domain-transfer methods for human-domain videos in minutes.

Every method trains the shared encoder and the inverse model of its RLV agent on the same fixed
pointmass data (robot interaction with the noisy scripted expert, human-domain videos, paired
frames) for --updates steps and is scored on held-out episodes; see `rlv.experiments.probe` for each column.
Methods run --workers at a time, one torch thread each; one row per method, all in one run.
Writes results/transfer_probe.csv and .txt.

    python benchmarks/transfer_probe.py                       # every method, the committed table
    python benchmarks/transfer_probe.py --methods none contrastive --updates 500
"""

from __future__ import annotations

import csv
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch
import tyro

from rlv.experiments.probe import PROBE_METHODS, ProbeConfig, ProbeMethod, make_probe_data, run_probe

ROOT = Path(__file__).resolve().parent
COLUMNS = (
    ("idm_robot_mse", "IDM MSE robot"),
    ("idm_human_mse", "IDM MSE human"),
    ("chance_mse", "chance MSE"),
    ("retrieval_top1", "retrieval top-1"),
    ("retrieval_distance", "retrieved state error"),
    ("state_robot_rmse", "state probe robot"),
    ("state_human_rmse", "state probe human"),
    ("state_chance_rmse", "state chance"),
    ("feature_std_robot", "feature std robot"),
    ("feature_std_human", "feature std human"),
)


@dataclass(frozen=True)
class Args:
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    methods: tuple[str, ...] = ()
    """Run only these methods (default: all of rlv.experiments.probe.PROBE_METHODS)."""
    workers: int = 2
    """Methods in parallel (one per core, one torch thread each)."""
    results: Path = ROOT / "results"
    """Where transfer_probe.csv and .txt go (committed)."""


def probe_one(config: ProbeConfig, method: ProbeMethod) -> dict[str, object]:
    torch.set_num_threads(1)
    robot_domains = tuple(dict.fromkeys(["robot", method.robot_domain]))
    return run_probe(config, [method], make_probe_data(config, robot_domains))[0]


def table(rows: list[dict[str, object]], config: ProbeConfig, descriptions: dict[str, str]) -> str:
    lines = [
        f"Transfer probe on {config.env}: {config.updates} encoder updates per method, seed {config.seed}; "
        f"{config.robot_episodes} robot episodes, {config.human_episodes} human videos, {config.paired} "
        f"paired frames; scores on {config.eval_episodes} held-out episodes, retrieval among "
        f"{config.eval_pairs} candidates (random pick: state error {rows[0]['random_distance']:.2f})",
        "| method | " + " | ".join(title for _, title in COLUMNS) + " | what it is |",
        "|---|" + "---|" * (len(COLUMNS) + 1),
    ]
    for row in rows:
        cells = " | ".join(f"{float(row[key]):.3f}" for key, _ in COLUMNS)
        lines.append(f"| {row['method']} | {cells} | {descriptions[str(row['method'])]} |")
    return "\n".join(lines)


def main(args: Args) -> None:
    started = time.perf_counter()
    methods = [m for m in PROBE_METHODS if not args.methods or m.name in args.methods]
    unknown = set(args.methods) - {m.name for m in PROBE_METHODS}
    if unknown:
        raise SystemExit(f"unknown methods {sorted(unknown)}; known: {[m.name for m in PROBE_METHODS]}")
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(probe_one, args.probe, method) for method in methods]
        rows = []
        for method, future in zip(methods, futures, strict=True):
            rows.append(future.result())
            print(f"  done {method.name} at {time.perf_counter() - started:.0f} s", flush=True)
    args.results.mkdir(parents=True, exist_ok=True)
    with open(args.results / "transfer_probe.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    text = table(rows, args.probe, {m.name: m.description for m in methods})
    text += f"\n\ntotal wall time {time.perf_counter() - started:.0f} s ({args.workers} workers)"
    (args.results / "transfer_probe.txt").write_text(text + "\n")
    print("\n" + text)


if __name__ == "__main__":
    main(tyro.cli(Args))
