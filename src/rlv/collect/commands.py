"""`rlv collect`: a dataset from a scripted expert (with noise calibrated to a target quality),
uniform random actions or a trained run's policy, or paired frames of one state in both domains."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from rlv.collect.experts import (
    NoisyAcrobotExpert,
    NoisyScriptedExpert,
    Policy,
    collect_expert,
    collect_paired,
    collect_random,
    has_scripted_expert,
)
from rlv.collect.options import CollectArgs, check_collect_args, collected_line, collected_meta
from rlv.collect.run_policy import collect_with_run
from rlv.data.dataset import write_dataset
from rlv.data.paired import write_paired
from rlv.envs import make_env
from rlv.errors import RlvError

__all__ = ["CollectArgs", "collect_from_args"]


def collect_from_args(args: CollectArgs, command: str) -> str:
    """`rlv collect`: validate, collect, write atomically; returns the line to print."""
    check_collect_args(args)
    if args.policy not in ("expert", "random"):
        return collect_with_run(args, command)
    env_name, domain = args.env or "acrobot", args.domain or "robot"
    targets = [t for t in (args.quality, args.success_rate, args.noise) if t is not None]
    env = make_env(env_name, args.seed, domain=domain)
    how_made = {"policy": args.policy, "seed": args.seed, "command": command}
    if args.paired is not None:
        if domain != "robot":
            raise RlvError("--paired renders both domains itself; leave --domain at robot")
        if not has_scripted_expert(env):
            raise RlvError(f"no scripted expert for {env_name!r} to make paired frames with")
        noise = 0.3 if args.noise is None else args.noise
        robot, human = collect_paired(
            env, make_env(env_name, args.seed, domain="human"), args.paired, args.seed, noise, args.progress
        )
        meta = {"env": env_name, "source": "rlv collect --paired", "how_made": how_made | {"noise": noise}}
        write_paired(args.out, robot, human, meta, overwrite=args.overwrite)
        return f"wrote {args.out}: {len(robot)} paired frames of shape {robot.shape[1:]} (noise {noise:.3f})"
    if args.policy == "random":
        result = collect_random(env, args.episodes, args.seed, progress=args.progress)
    else:
        make_expert = scripted_expert(env_name, env)  # said first: before a target is asked for
        if len(targets) != 1:
            raise RlvError("give exactly one of --quality R, --success-rate P or --noise P")
        quality = "success" if args.success_rate is not None else "return"
        target = args.success_rate if args.success_rate is not None else args.quality
        result = collect_expert(
            env, make_expert, args.episodes, args.seed, target, args.noise, quality, progress=args.progress
        )
    meta = collected_meta(args, result, env_name, domain, how_made)
    write_dataset(args.out, result.episodes, meta, overwrite=args.overwrite)
    return collected_line(args, result, domain)


def scripted_expert(env_name: str, env: gym.Env) -> Callable[[float, np.random.Generator], Policy]:
    """The noisy scripted expert of `env`, or an RlvError saying what to collect with instead."""
    if env_name == "acrobot":
        return NoisyAcrobotExpert
    if has_scripted_expert(env):
        return NoisyScriptedExpert
    raise RlvError(
        f"no scripted expert for {env_name!r} (--policy expert, the default); use --policy random "
        "(uniform random actions) or --policy RUN (a trained run's policy, rlv train --out RUN)"
    )
