"""Which robot frames RLV's inverse model must fit to label the human videos: an offline screen.

A fresh inverse model, as RLV builds it (--rlv.idm-hidden, --rlv.idm-lr, batch 256), on a frozen
pretrained encoder's features, fits robot transitions of (a) the random policy (what RLV's replay
holds early on), (b) the noisy expert of
the encoder's pretraining (`vision_pretrained.py --robot-noise`), (c) both, and with --replay-run
(d) an RL run's replay, alone and mixed with (b) in two proportions; it is scored on the
human videos' true actions: MSE (raw, and clipped to the action box [-1, 1]) beside chance (always
guessing their mean action) and the share of labels outside the box. Reads the datasets and encoder
of a vision_pretrained.py work directory (run it first); collects the random-policy episodes into
it (seeded, once). Prints and writes results/idm_probe_NAME.txt.

    python benchmarks/idm_probe.py            # drawer-open, encoders pretrained on noise-0.5 frames
    python benchmarks/idm_probe.py --replay-run \
        benchmarks/runs/vision/drawer-open_robot-noise0.5/rlv_clip_idm_data/seed_0
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import common
import torch
import tyro
from common import rlv_command
from torch.nn import functional as F  # noqa: N812

from rlv.data.dataset import load_dataset
from rlv.data.replay import ObservationSampler
from rlv.encoders import encode_dataset, load_encoder
from rlv.methods.rlv import RLVConfig
from rlv.nets import InverseModel

ROOT = Path(__file__).resolve().parent
Transitions = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
"""Features of o (M, D), of o' (M, D) and the true actions (M, act_dim)."""


@dataclass(frozen=True)
class Args:
    env: str = "drawer-open"
    """The task of the vision benchmark's work directory."""
    name: str = "drawer-open_robot-noise0.5"
    """Its name (ENV or ENV_robot-noiseX): the directory under --work and the results' name."""
    encoder: str = "encoder_human"
    """The encoder file (without .pt) whose frozen features the inverse model reads."""
    random_episodes: int = 100
    """Episodes of the random policy to collect (as many as the pretraining's robot episodes)."""
    checkpoints: tuple[int, ...] = (1000, 3000, 10000)
    """Inverse-model updates after which it is scored (the last is the run's length)."""
    batch_size: int = 256
    """Transitions per update."""
    weight_decay: float = 0.0
    """Decoupled weight decay of the inverse model's optimiser (AdamW; 0: Adam, as RLV); above 0 the
    results file's name ends in _wdX."""
    replay_run: Path | None = None
    """A finished run on this encoder's frozen features (RLV with --rlv.idm-dataset, say): its
    replay is fitted too, alone and mixed with the noisy expert's frames in two proportions."""
    work: Path = ROOT / "runs" / "vision"
    results: Path = ROOT / "results"


def transitions(encoder: torch.nn.Module, path: Path) -> Transitions:
    """Every transition of the dataset at `path`, its frames replaced by their features."""
    sampler = ObservationSampler(encode_dataset(encoder, load_dataset(path)), seed=0)
    assert sampler.true_action is not None, f"{path} keeps its actions"
    return (
        torch.from_numpy(sampler.obs),
        torch.from_numpy(sampler.next_obs),
        torch.from_numpy(sampler.true_action),
    )


Mixture = list[tuple[Transitions, int]]
"""Parts of each update's batch: (transitions, rows drawn from them)."""


def fit_and_score(mixture: Mixture, human: Transitions, args: Args) -> list[dict[str, float]]:
    """Fit a fresh inverse model on batches drawn from `mixture`; its scores on `human` at each
    of `args.checkpoints`."""
    torch.manual_seed(0)
    options = RLVConfig()
    idm = InverseModel(human[0].shape[1], human[2].shape[1], options.idm_hidden)
    optimizer = (
        torch.optim.AdamW(idm.parameters(), lr=options.idm_lr, weight_decay=args.weight_decay)
        if args.weight_decay > 0
        else torch.optim.Adam(idm.parameters(), lr=options.idm_lr)
    )
    chance = (human[2] - human[2].mean(dim=0)).pow(2).mean().item()
    scores = []
    for update in range(1, max(args.checkpoints) + 1):
        parts = [(part, torch.randint(len(part[0]), (rows,))) for part, rows in mixture]
        obs, next_obs, action = (torch.cat([part[i][rows] for part, rows in parts]) for i in range(3))
        loss = F.mse_loss(idm(obs, next_obs), action)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if update in args.checkpoints:
            with torch.no_grad():
                labels = idm(human[0], human[1])
            scores.append({
                "updates": update,
                "mse": F.mse_loss(labels, human[2]).item(),
                "mse_clipped": F.mse_loss(labels.clamp(-1.0, 1.0), human[2]).item(),
                "chance": chance,
                "outside": (labels.abs() > 1.0).any(dim=1).float().mean().item(),
            })  # fmt: skip
    return scores


def replay_transitions(run: Path, fingerprint: str) -> Transitions:
    """A run's final replay as transitions (as many uniform draws as it holds); the run must have
    used the encoder file of `fingerprint`, frozen (its replay then holds that encoder's features)."""
    from rlv.data.replay_files import open_replay

    record = json.loads((run / "encoder.json").read_text())
    if record["fingerprint"] != fingerprint or record["mode"] != "frozen":
        sys.exit(f"--replay-run {run}: it did not run on this encoder file, frozen ({record['path']})")
    replay = open_replay(run / "checkpoints" / "final", run / "replay")
    batch = replay.sample(replay.size, torch.device("cpu"))
    return batch.obs, batch.next_obs, batch.action


def sources(args: Args, random: Transitions, expert: Transitions, fingerprint: str) -> dict[str, Mixture]:
    """{name: mixture} of the robot frames each inverse model fits."""
    rows = args.batch_size
    mixtures = {
        f"random policy ({len(random[0])} transitions)": [(random, rows)],
        f"noisy expert, the pretraining's ({len(expert[0])})": [(expert, rows)],
        "random + noisy expert, 1:1 per batch": [(random, rows // 2), (expert, rows // 2)],
    }
    if args.replay_run is not None:
        replay = replay_transitions(args.replay_run, fingerprint)
        mixtures |= {
            f"an RL run's replay ({len(replay[0])})": [(replay, rows)],
            "replay + noisy expert, 1:1 (idm-dataset batch = robot batch)": [
                (replay, rows // 2),
                (expert, rows // 2),
            ],
            "replay + noisy expert, 1:3": [(replay, rows // 4), (expert, 3 * rows // 4)],
        }
    return mixtures


def main(args: Args) -> None:
    started = time.perf_counter()
    torch.set_num_threads(1)
    work = args.work.resolve() / args.name
    random_data = work / "robot_random_probe"
    if not (random_data / "meta.json").exists():
        command = rlv_command("collect", "--env", args.env, "--policy", "random", "--episodes",
                              str(args.random_episodes), "--seed", "7", "--out", str(random_data),
                              "--overwrite", "--no-progress")  # fmt: skip
        common.run(command, work / "logs" / "collect_robot_random_probe.log")
    encoder_file = load_encoder(work / f"{args.encoder}.pt")
    encoder = encoder_file.encoder
    human = transitions(encoder, work / "human_videos")
    random, expert = transitions(encoder, random_data), transitions(encoder, work / "robot_expert")
    lines = [
        f"{args.name}: a fresh inverse model on the frozen features of {args.encoder}.pt, scored on the "
        f"{len(human[0])} human-video transitions' true actions"
        + (f"; AdamW, weight decay {args.weight_decay:g}" if args.weight_decay > 0 else ""),
        "",
        "| robot frames it fits | updates | MSE | MSE clipped to [-1, 1] | chance | labels outside the box |",
        "|---|---|---|---|---|---|",
    ]
    if args.replay_run is not None:
        lines.insert(1, f"replay: the final replay of the run {args.replay_run}")
    for source, mixture in sources(args, random, expert, encoder_file.fingerprint).items():
        for score in fit_and_score(mixture, human, args):
            lines.append(
                f"| {source} | {score['updates']} | {score['mse']:.3f} | {score['mse_clipped']:.3f} "
                f"| {score['chance']:.3f} | {score['outside']:.2f} |"
            )
    lines += ["", f"wall time {time.perf_counter() - started:.0f} s (one thread)"]
    args.results.mkdir(parents=True, exist_ok=True)
    suffix = f"_wd{args.weight_decay:g}" if args.weight_decay > 0 else ""
    (args.results / f"idm_probe_{args.name}{suffix}.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(tyro.cli(Args))
