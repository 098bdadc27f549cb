"""Environment factory: `acrobot` (continuous-action Acrobot of the RLV paper) and any `gym:<id>`."""

from rlv.envs.factory import ENV_NAMES, make_env

__all__ = ["ENV_NAMES", "make_env"]
