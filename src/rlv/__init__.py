"""rlv: Reinforcement Learning with Videos (Schmeckpeper et al., CoRL 2020) in PyTorch."""

__version__ = "0.1.0"
