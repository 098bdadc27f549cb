"""Update throughput, measured side by side in one process:

1. our SAC updates/s against Stable-Baselines3 SAC with identical networks (256-256 MLPs, twin
   critics) and batch (256) on the same continuous-Acrobot replay data;
2. the cost of one RLV update (256 robot + 256 observation rows, plus the inverse model) relative
   to one SAC update of ours;
   with `--rlpd` (the default), also SAC with LayerNorm critics (N = 2), and SAC and RLV with the
   `*-rlpd` presets' critics (`RLPD_SAC`: LayerNorm, 10 critics, target min over 2 of them, mean-Q
   actor), one update each (the presets' UTD multiplies the cost per environment step); with
   `--compile`, also those two RLPD learners under torch.compile (`--sac.compile`);
3. images (`--images`): our image SAC and RLV against Stable-Baselines3 SAC with a CNN policy of
   the same conv layers, on the same 48x48x3 uint8 frames, with the pointmass encoder (3x3 convs,
   8-16-16, batch 32) and the push preset's original encoder (5x5 convs, 16-16-32, batch 128);
   with `--compile`, also our SAC under torch.compile (`--sac.compile`).

Needs the `bench` extra (stable-baselines3). Prints tables; `--csv` / `--image-csv` also write them.

    python benchmarks/throughput.py --threads 1 --updates 300
    python benchmarks/throughput.py --no-vector --images --threads 1 --image-updates 100
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import tyro

from rlv.config import SACConfig
from rlv.data.dataset import Dataset, Episode
from rlv.data.replay import ObservationSampler, ReplayBuffer
from rlv.envs import make_env
from rlv.methods import RLV, SAC, Batches
from rlv.methods.rlv import RLVConfig
from rlv.presets import RLPD_SAC


@dataclass(frozen=True)
class Args:
    updates: int = 300
    """Timed updates per learner (after warm-up)."""
    warmup: int = 30
    """Untimed updates first."""
    repeats: int = 3
    """Timing repeats; the best (least disturbed) is reported."""
    threads: int = 1
    """torch CPU threads."""
    csv: Path | None = None
    """Also write the table here."""
    sb3: bool = True
    """Measure Stable-Baselines3 SAC (needs the `bench` extra)."""
    rlpd: bool = True
    """Also measure the RLPD critic options (LayerNorm, ensemble of 10, target subset 2)."""
    vector: bool = True
    """Measure the state-vector (Acrobot) rows."""
    images: bool = False
    """Measure the image rows (48x48x3 frames)."""
    image_updates: int = 100
    """Timed updates per image learner (after warm-up)."""
    compile: bool = False
    """Also our SAC under torch.compile (`--sac.compile`; compiling takes minutes): the image rows,
    and with --rlpd the RLPD-critic SAC and RLV rows."""
    device: str = "cpu"
    """torch device of the image rows (ours sample on it; SB3 trains on it)."""
    image_csv: Path | None = None
    """Also write the image table here."""


def best_rate(step: Callable[[], object], updates: int, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        step()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(updates):
            step()
        rates.append(updates / (time.perf_counter() - start))
    return max(rates)


def best_rates(
    steps: dict[str, Callable[[], object]], updates: int, warmup: int, repeats: int
) -> dict[str, float]:
    """Best rate of each learner; every repeat times each learner in turn, so a load that comes and
    goes falls on all of them alike."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    rates: dict[str, float] = dict.fromkeys(steps, 0.0)
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(updates):
                step()
            rates[name] = max(rates[name], updates / (time.perf_counter() - start))
    return rates


def random_transitions(count: int, seed: int) -> list[tuple[np.ndarray, ...]]:
    env = make_env("acrobot", seed)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    transitions = []
    for _ in range(count):
        action = rng.uniform(-1, 1, size=1).astype(np.float32)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        transitions.append((obs, action, reward, next_obs, terminated))
        obs = env.reset()[0] if terminated or truncated else next_obs
    return transitions


def sb3_learner(transitions: list[tuple[np.ndarray, ...]]) -> Callable[[], None]:
    from stable_baselines3 import SAC as SB3SAC

    model = SB3SAC(
        "MlpPolicy",
        make_env("acrobot", 0),
        batch_size=256,
        learning_rate=3e-4,
        buffer_size=10_000,
        tau=0.005,
        gamma=0.99,
        policy_kwargs={"net_arch": [256, 256]},
        device="cpu",
        seed=0,
    )
    for obs, action, reward, next_obs, terminated in transitions:
        model.replay_buffer.add(
            obs[None], next_obs[None], action[None], np.array([reward]), np.array([terminated]), [{}]
        )
    model._setup_learn(total_timesteps=1)
    return lambda: model.train(gradient_steps=1, batch_size=256)


def acrobot_replay_and_observations(
    transitions: list[tuple[np.ndarray, ...]],
) -> tuple[ReplayBuffer, ObservationSampler]:
    """The transitions in a replay buffer, and their observations as 100-step episodes to sample."""
    replay = ReplayBuffer((6,), 1, 10_000, seed=0)
    for transition in transitions:
        replay.add(*transition)
    episodes = [
        Episode(
            obs=np.stack([t[0] for t in transitions[i : i + 100]] + [transitions[i + 99][3]]), success=True
        )
        for i in range(0, 5000, 100)
    ]
    sampler = ObservationSampler(Dataset(Path("."), {"obs_shape": [6]}, episodes), seed=0)
    return replay, sampler


def vector_learners(args: Args, transitions: list[tuple[np.ndarray, ...]]) -> dict[str, Callable[[], object]]:
    """One update step of each state-vector learner that `args` asks for, by table row name
    (built in this order: network initialisation draws from torch's seeded generator)."""
    replay, sampler = acrobot_replay_and_observations(transitions)
    device = torch.device("cpu")

    def sac_step(config: SACConfig) -> Callable[[], object]:
        sac = SAC(6, 1, config)
        return lambda: sac.update(Batches(replay.sample(256, device)))

    def rlv_step(config: SACConfig) -> Callable[[], object]:
        rlv = RLV(6, 1, config, RLVConfig())
        return lambda: rlv.update(Batches(replay.sample(256, device), sampler.sample(256, device)))

    steps = {"rlv SAC (ours)": sac_step(SACConfig())}
    if args.sb3:
        steps["Stable-Baselines3 SAC"] = sb3_learner(transitions)
    steps["rlv RLV (ours)"] = rlv_step(SACConfig())
    if args.rlpd:
        steps |= {
            "rlv SAC, LayerNorm critics, N=2": sac_step(SACConfig(critic_layer_norm=True)),
            "rlv SAC, RLPD critics (LayerNorm, N=10, subset 2)": sac_step(SACConfig(**RLPD_SAC)),
            "rlv RLV, RLPD critics (LayerNorm, N=10, subset 2)": rlv_step(SACConfig(**RLPD_SAC)),
        }
    if args.rlpd and args.compile:
        steps |= {
            "rlv SAC, RLPD critics, torch.compile": sac_step(SACConfig(**RLPD_SAC, compile=True)),
            "rlv RLV, RLPD critics, torch.compile": rlv_step(SACConfig(**RLPD_SAC, compile=True)),
        }
    return steps


def print_vector_table(args: Args, rows: list[dict[str, object]]) -> None:
    """The state-vector rows as a Markdown table, under a line that says how they were timed."""
    print(
        f"Update throughput, batch 256 (+256 observation rows for RLV), MLP 256-256, "
        f"{args.threads} torch thread(s), best of {args.repeats} rounds x {args.updates} updates "
        "(each round times every learner in turn)"
    )
    print("| learner | updates/s | ms/update | cost relative to our SAC update |")
    print("|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['learner']} | {row['updates_per_s']:.1f} | {row['ms_per_update']:.2f} | "
            f"{row['relative_cost_vs_our_sac']:.2f} |"
        )


def vector_rows(args: Args) -> None:
    """Time the state-vector (Acrobot) learners; print their table (and write it to `--csv`)."""
    torch.manual_seed(0)
    transitions = random_transitions(5000, seed=0)
    rates = best_rates(vector_learners(args, transitions), args.updates, args.warmup, args.repeats)
    sac_rate = rates["rlv SAC (ours)"]
    rows = [
        {
            "learner": name,
            "updates_per_s": rate,
            "ms_per_update": 1000 / rate,
            "relative_cost_vs_our_sac": sac_rate / rate,
        }
        for name, rate in rates.items()
    ]
    print_vector_table(args, rows)
    if args.sb3:
        print(f"our SAC / SB3 SAC speed: {sac_rate / rates['Stable-Baselines3 SAC']:.2f}x")
    if args.csv:
        write_csv(args.csv, rows)


def write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main(args: Args) -> None:
    torch.set_num_threads(args.threads)
    if args.vector:
        vector_rows(args)
    if args.images:
        from throughput_images import image_rows

        rows = image_rows(args, best_rate)
        if args.image_csv:
            write_csv(args.image_csv, rows)


if __name__ == "__main__":
    main(tyro.cli(Args))
