"""Build the environment in which tests/lerobot_writer.py writes datasets with the LeRobot library.

    python tests/lerobot_env.py [--venv .venv-lerobot] [--allow-download]

LeRobot cannot live in rlv's own environment: every LeRobot release for Python 3.11 needs
torchvision, and PyPI's torchvision does not load beside rlv's CPU build of torch 2.13 (its
compiled operators look for CUDA libraries). So the writer gets a venv of its own with a matching
torch/torchvision pair and two LeRobot releases:
- lerobot 0.3.2 (writes format v2.1), installed normally;
- lerobot 0.4.4 (writes format v3.0) in VENV/lerobot-v3, put first on PYTHONPATH by the tests.
  Its metadata asks for torch<2.11, so it goes in without dependency resolution (with the
  `datasets` and `accelerate` it imports); the writer path runs on the newer torch.

The torch pair must already be on local disk (a wheel directory or local index pip is configured
with): a CUDA build from PyPI is several GB, and this script refuses to download one unless given
--allow-download. Exit status 3 means "refused: would download torch"."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

TORCH = ["torch==2.14.1", "torchvision==0.29.1"]
LEROBOT_V2 = "lerobot==0.3.2"
LEROBOT_V3 = ["lerobot==0.4.4", "datasets==4.1.1", "accelerate==1.15.0"]
LOCK = Path(__file__).with_name("lerobot_constraints.txt")  # the versions of a writer venv that worked


def pip(python: Path, *args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [str(python), "-m", "pip", *args], check=True, text=True, stdout=subprocess.PIPE if capture else None
    )
    return result.stdout or ""


def torch_from_local_disk(python: Path, torch: list[str]) -> bool:
    """Whether pip would take the torch pair from files on this machine (no download)."""
    report = json.loads(pip(python, "install", "--dry-run", "--quiet", "--report", "-", *torch, capture=True))
    urls = {
        item["metadata"]["name"].lower(): item["download_info"]["url"]
        for item in report["install"]
        if item["metadata"]["name"].lower() in {"torch", "torchvision"}
    }
    return len(urls) == 2 and all(url.startswith("file:") for url in urls.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=Path(".venv-lerobot"))
    parser.add_argument("--torch", nargs=2, default=TORCH, metavar=("TORCH", "TORCHVISION"))
    parser.add_argument("--allow-download", action="store_true", help="let pip download torch if not local")
    args = parser.parse_args()
    python = args.venv / "bin" / "python"
    if (args.venv / ".complete").exists():
        print(f"{args.venv}: LeRobot writer environment already built")
        return 0
    created = not args.venv.exists()
    subprocess.run([sys.executable, "-m", "venv", str(args.venv)], check=True)
    if not args.allow_download and not torch_from_local_disk(python, args.torch):
        if created:
            shutil.rmtree(args.venv)
        print(f"refused: {' '.join(args.torch)} are not on local disk and would be downloaded (several GB); "
              "pass --allow-download to accept")  # fmt: skip
        return 3
    pip(python, "install", "-qq", *args.torch)
    constraints = args.venv / "constraints.txt"
    constraints.write_text("\n".join(args.torch) + "\n" + LOCK.read_text())
    pip(python, "install", "-qq", LEROBOT_V2, "-c", str(constraints))
    pip(python, "install", "-qq", "--no-deps", "--target", str(args.venv / "lerobot-v3"), *LEROBOT_V3)
    (args.venv / ".complete").touch()
    print(f"{args.venv}: LeRobot writer environment ready ({LEROBOT_V2} -> v2.1, {LEROBOT_V3[0]} -> v3.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
