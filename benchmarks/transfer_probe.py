"""The transfer probe (no RL): screens domain-transfer methods for human-domain videos.

Every method is `rlv pretrain` (EncoderPretrainer) with its own options, trained for --updates
steps on the same datasets of one env (robot frames with actions and states from the noisy scripted
expert, human-domain videos, paired frames; made once by `rlv collect`'s code under --work and
reused) and scored on their held-out part; see `rlv.experiments.probe` and `rlv.encoder_scores` for
each column. Methods run --workers at a time, one torch thread each; one row per method.
Writes results/transfer_probe.csv and .txt for pointmass, results/transfer_probe_ENV.csv and .txt
for the other envs.

    python benchmarks/transfer_probe.py                       # every method, the committed table
    python benchmarks/transfer_probe.py --env push            # the same on the paper's push
    python benchmarks/transfer_probe.py --methods none contrastive --updates 500
"""

from __future__ import annotations

import csv
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import tyro

from rlv.experiments.probe import (
    PROBE_METHODS,
    ProbeConfig,
    ProbeData,
    ProbeMethod,
    make_probe_data,
    run_probe,
)

ROOT = Path(__file__).resolve().parent
COLUMNS = (
    ("idm_robot_mse", "IDM MSE robot"),
    ("chance_robot_mse", "chance MSE robot"),
    ("idm_video_mse", "IDM MSE human"),
    ("chance_video_mse", "chance MSE human"),
    ("retrieval_top1", "retrieval top-1"),
    ("state_robot_rmse", "state probe robot"),
    ("state_video_rmse", "state probe human"),
    ("state_chance_video_rmse", "state chance human"),
    ("feature_std_robot", "feature std robot"),
    ("feature_std_video", "feature std human"),
)


@dataclass(frozen=True)
class Args:
    probe: Annotated[ProbeConfig, tyro.conf.OmitArgPrefixes] = field(
        default_factory=lambda: ProbeConfig(work=ROOT / "runs" / "transfer_probe")
    )
    methods: tuple[str, ...] = ()
    """Run only these methods (default: all of rlv.experiments.probe.PROBE_METHODS)."""
    workers: int = 2
    """Methods in parallel (one per core, one torch thread each)."""
    results: Path = ROOT / "results"
    """Where transfer_probe[_ENV].csv and .txt go (committed)."""


def results_name(env: str) -> str:
    """transfer_probe for pointmass (the first table), transfer_probe_ENV for the others."""
    return "transfer_probe" if env == "pointmass" else f"transfer_probe_{env}"


def probe_one(config: ProbeConfig, method: ProbeMethod, data: ProbeData) -> dict[str, Any]:
    return run_probe(config, [method], data)[0]


def cell(row: dict[str, Any], key: str) -> str:
    return f"{float(row[key]):.3f}" if key in row else "-"


def table(rows: list[dict[str, Any]], config: ProbeConfig, descriptions: dict[str, str]) -> str:
    chance = f"{float(rows[0]['retrieval_chance']):.3f}" if "retrieval_chance" in rows[0] else "-"
    lines = [
        f"Transfer probe on {config.env}: {config.updates} encoder updates (rlv pretrain) per method, "
        f"seed {config.seed}; {config.robot_episodes} robot episodes ({config.robot_policy}), "
        f"{config.human_episodes} human videos, {config.paired} paired frames; scores on the held-out "
        f"{config.heldout:g} of each (retrieval chance {chance}; the state probe is fitted on half "
        "of the held-out robot episodes)",
        "| method | " + " | ".join(title for _, title in COLUMNS) + " | seconds | what it is |",
        "|---|" + "---|" * (len(COLUMNS) + 2),
    ]
    for row in rows:
        cells = " | ".join(cell(row, key) for key, _ in COLUMNS)
        seconds = float(row["seconds"])
        lines.append(f"| {row['method']} | {cells} | {seconds:.0f} | {descriptions[str(row['method'])]} |")
    return "\n".join(lines)


def main(args: Args) -> None:
    started = time.perf_counter()
    unknown = set(args.methods) - {m.name for m in PROBE_METHODS}
    if unknown:
        raise SystemExit(f"unknown methods {sorted(unknown)}; known: {[m.name for m in PROBE_METHODS]}")
    methods = [m for m in PROBE_METHODS if not args.methods or m.name in args.methods]
    data = make_probe_data(args.probe, tuple(dict.fromkeys(m.robot_domain for m in methods)))
    print(f"  data ready at {time.perf_counter() - started:.0f} s ({args.probe.work / args.probe.env})")
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(probe_one, args.probe, method, data) for method in methods]
        rows = []
        for method, future in zip(methods, futures, strict=True):
            rows.append(future.result())
            print(f"  done {method.name} at {time.perf_counter() - started:.0f} s", flush=True)
    args.results.mkdir(parents=True, exist_ok=True)
    name = results_name(args.probe.env)
    with open(args.results / f"{name}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(dict.fromkeys(k for row in rows for k in row)))
        writer.writeheader()
        writer.writerows(rows)
    text = table(rows, args.probe, {m.name: m.description for m in methods})
    text += f"\n\ntotal wall time {time.perf_counter() - started:.0f} s ({args.workers} workers)"
    (args.results / f"{name}.txt").write_text(text + "\n")
    print("\n" + text)


if __name__ == "__main__":
    main(tyro.cli(Args))
