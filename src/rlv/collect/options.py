"""The arguments of `rlv collect`, the checks every collection makes before it rolls anything out,
and how a collected dataset is described (meta.json and the printed line)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlv.collect.experts import Collected, success_rate
from rlv.errors import RlvError
from rlv.validation import MAX_SEED


@dataclass(frozen=True)
class CollectArgs:
    """Write an action-free observation dataset (or paired frames) by rolling out a scripted policy
    or a trained run's policy."""

    out: Path
    """Dataset directory to create."""
    env: str | None = None
    """Environment to collect in (acrobot, pointmass, push, drawer-open, push-mw, drawer-open-mw,
    gym:[MODULE:]ID[{JSON kwargs}] with --policy random or RUN); default acrobot, or with
    --policy RUN the run's own environment (and time limit)."""
    episodes: int = 250
    """Episodes to collect (the paper's Acrobot pools hold about 25,000 transitions)."""
    quality: float | None = None
    """Target average return; the policy's noise is calibrated to reach it.
    The paper's Acrobot pools: -99, -79, -63."""
    success_rate: float | None = None
    """Target success rate in [0, 1]; the policy's noise is calibrated to reach it (instead of --quality)."""
    noise: float | None = None
    """Probability of a uniform random action instead of the policy's (instead of a target; with
    --policy RUN default 0)."""
    policy: str = "expert"
    """expert (the task's scripted expert), random (uniform random actions, any env), or a run
    directory (rlv train --out RUN): that run's trained policy, in any environment it can act in."""
    checkpoint: Path | None = None
    """With --policy RUN: the checkpoint directory to load (default: the run's newest usable one)."""
    sample_actions: bool = False
    """With --policy RUN: sample actions from the stochastic policy instead of its deterministic
    tanh(mean) action (the one rlv eval scores)."""
    seed: int = 0
    """Seed of the rollouts and of the noise."""
    domain: str | None = None
    """Visual domain: robot (the agent's camera); image tasks: human, or humanlike (robot, human scene).
    Default robot, or with --policy RUN the run's own; a run's policy acts on its own domain's frames
    while the dataset records this one's (same states)."""
    paired: int | None = None
    """Instead of a dataset, write this many paired frames (one state in both domains) for the
    paired feature loss (--rlv.paired-dataset). Noise: --noise, default 0.3."""
    overwrite: bool = False
    """Replace an existing dataset at --out."""
    progress: bool = True
    """Show progress bars."""


def check_collect_args(args: CollectArgs) -> None:
    """The checks every `rlv collect` makes before it rolls anything out."""
    if args.out.exists() and not args.overwrite:
        raise RlvError(f"{args.out}: already exists (use --overwrite or another --out)")
    if args.episodes < 1:
        raise RlvError(f"--episodes must be at least 1, got {args.episodes}")
    if not 0 <= args.seed <= MAX_SEED:
        raise RlvError(f"--seed must be in [0, {MAX_SEED}], got {args.seed}")
    if args.quality is not None and not math.isfinite(args.quality):
        raise RlvError(f"--quality must be a finite number, got {args.quality}")
    if args.success_rate is not None and not 0.0 <= args.success_rate <= 1.0:
        raise RlvError(f"--success-rate must be in [0, 1], got {args.success_rate}")
    if args.noise is not None and not 0.0 <= args.noise <= 1.0:
        raise RlvError(f"--noise must be in [0, 1], got {args.noise}")
    if args.paired is not None and args.paired < 1:
        raise RlvError(f"--paired must be at least 1, got {args.paired}")
    scripted = args.policy in ("expert", "random")
    if scripted and (args.checkpoint is not None or args.sample_actions):
        raise RlvError("--checkpoint and --sample-actions need --policy RUN (a run directory)")


def collected_meta(
    args: CollectArgs, result: Collected, env_name: str, domain: str, how_made: dict[str, Any]
) -> dict[str, Any]:
    """meta.json fields of a collected dataset (counts and shapes are added by the writer)."""
    policy = args.policy if args.policy in ("expert", "random") else "RUN"
    return {
        "env": env_name,
        "domain": domain,
        "source": f"rlv collect --policy {policy}",
        "how_made": how_made
        | {"noise": result.noise, "target_return": args.quality, "target_success_rate": args.success_rate},
        "average_return": result.measured_return,
        "success_rate": success_rate(result.episodes),
    }


def collected_line(args: CollectArgs, result: Collected, domain: str) -> str:
    """The line `rlv collect` prints about what it wrote."""
    transitions = sum(episode.length for episode in result.episodes)
    asked = [
        f"asked {name} {value:g}"
        for name, value in (("return", args.quality), ("success rate", args.success_rate))
        if value is not None
    ]
    return (
        f"wrote {args.out}: {len(result.episodes)} episodes, {transitions} transitions, "
        f"domain {domain}, "
        f"average return {result.measured_return:.2f}, success rate {success_rate(result.episodes):.2f}"
        + (f" ({asked[0]})" if asked else "")
        + f", noise {result.noise:.3f}"
    )
