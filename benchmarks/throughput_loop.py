"""The whole `rlv train` loop on an image task (render, act, store, sample, update), end to end (the
conv encoder trains inside every update, today's path) against a frozen pretrained encoder (each
frame encoded once; the methods learn on its features), side by side in one process, same task,
presets and batch sizes.

    python benchmarks/throughput_loop.py                      # push, SAC and RLV, one thread
    python benchmarks/throughput_loop.py --env pointmass --steps 40 400

Each row times `steps` env steps after as many uniform-random ones (the updates start there), from
the trainer's own wall-clock column in train.csv; no evaluation or checkpoint falls in the timed
window. The encoder file is pretrained here for a few updates on random frames: its quality does
not change the cost of a step. The videos are random-action frames in the human domain.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

from rlv.collect.commands import CollectArgs, collect_from_args
from rlv.presets import get_preset
from rlv.pretrain import PretrainConfig, pretrain
from rlv.train import train


def make_data(env: str, work: Path, channels: tuple[int, ...], kernel: int) -> tuple[Path, Path]:
    """Random-action robot frames and human-domain frames of `env`, and an encoder file pretrained
    on them for a few updates; returns (videos, encoder)."""
    for name, domain in (("robot", "robot"), ("videos", "human")):
        args = CollectArgs(work / name, env=env, episodes=4, policy="random", domain=domain, progress=False)
        collect_from_args(args, "benchmarks/throughput_loop.py")
    encoder = work / "encoder.pt"
    config = PretrainConfig(
        out=encoder, robot=work / "robot", updates=5, batch_size=16, conv_channels=channels,
        conv_kernel=kernel, progress=False,
    )  # fmt: skip
    pretrain(config)
    return work / "videos", encoder


def loop_rate(env: str, algo: str, steps: int, videos: Path, encoder: Path | None, work: Path) -> float:
    """Env steps/s of the loop over `steps` steps after `steps` random ones (train.csv wall_time)."""
    base = get_preset(f"{env}-{algo}")
    run = work / f"{algo}-{'frozen' if encoder else 'end-to-end'}-{time.monotonic_ns()}"
    changes = {
        "total_steps": 2 * steps, "random_steps": steps, "log_every": steps, "eval_every": 10 * steps,
        "eval_episodes": 1, "checkpoint_every": 10 * steps, "save_replay": False, "progress": False,
        "encoder": encoder, "out": run,
    }  # fmt: skip
    if algo == "rlv":
        changes["rlv"] = dataclasses.replace(base.rlv, dataset=videos)
    train(dataclasses.replace(base, **changes))
    with open(run / "train.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return steps / (float(rows[1]["wall_time"]) - float(rows[0]["wall_time"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="push", help="image task with presets ENV-sac and ENV-rlv")
    parser.add_argument("--algos", nargs="+", default=["sac", "rlv"])
    parser.add_argument("--steps", nargs=2, type=int, default=(20, 200), metavar=("END_TO_END", "FROZEN"),
                        help="timed env steps of the end-to-end and of the frozen loop")  # fmt: skip
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sac = get_preset(f"{args.env}-sac").sac
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        videos, encoder = make_data(args.env, work, sac.conv_channels, sac.conv_kernel)
        print(f"Training loop on {args.env} (render, act, store, update), cpu, {args.threads} thread(s); "
              f"encoder {sac.conv_kernel}x{sac.conv_kernel} convs {list(sac.conv_channels)}, "
              f"robot batch {sac.batch_size} (RLV: + as many video rows)")  # fmt: skip
        print("| method | encoder | timed env steps | env steps/s | frozen vs end to end |")
        print("|---|---|---|---|---|")
        for algo in args.algos:
            end_to_end = loop_rate(args.env, algo, args.steps[0], videos, None, work)
            frozen = loop_rate(args.env, algo, args.steps[1], videos, encoder, work)
            print(f"| {algo} | end to end (trains each update) | {args.steps[0]} | {end_to_end:.2f} | 1 |")
            print(f"| {algo} | frozen, pretrained (--encoder) | {args.steps[1]} | {frozen:.2f} | "
                  f"{frozen / end_to_end:.1f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
