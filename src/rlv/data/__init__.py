"""Data: the action-free dataset format, the replay buffer, collectors."""
