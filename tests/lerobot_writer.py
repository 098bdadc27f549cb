"""Write a small LeRobot dataset with the LeRobot library itself (LeRobotDataset.create,
add_frame, save_episode, its default video encoding).

Run by tests/test_converters.py with an interpreter that has `lerobot` (see `make test-lerobot`):
    python tests/lerobot_writer.py ROOT LENGTH [LENGTH ...]
Episode e, frame t: image `videos.frame(t)` (64x96 RGB), action [e, t]. Prints the LeRobot
version and the dataset's codebase version as JSON on the last line."""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import numpy as np
from videos import frame

CAMERA = "observation.images.top"


def main(root: Path, lengths: list[int]) -> None:
    from importlib.metadata import version

    from lerobot.datasets.lerobot_dataset import CODEBASE_VERSION, LeRobotDataset

    features = {
        CAMERA: {"dtype": "video", "shape": (64, 96, 3), "names": ["height", "width", "channels"]},
        "action": {"dtype": "float32", "shape": (2,), "names": ["episode", "step"]},
    }
    dataset = LeRobotDataset.create("rlv/toy", fps=10, features=features, root=root, robot_type="toy")
    task_in_frame = "task" not in inspect.signature(dataset.add_frame).parameters  # v3.x writers
    for episode, length in enumerate(lengths):
        for step in range(length):
            values = {CAMERA: frame(step), "action": np.array([episode, step], dtype=np.float32)}
            if task_in_frame:
                dataset.add_frame(values | {"task": "move the bar"})
            else:
                dataset.add_frame(values, task="move the bar")
        dataset.save_episode()
    finalize = getattr(dataset, "finalize", None)  # v3.x writers close their shared files here
    if finalize is not None:
        finalize()
    print(json.dumps({"lerobot": version("lerobot"), "codebase_version": CODEBASE_VERSION}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), [int(length) for length in sys.argv[2:]])
