"""The vision benchmark's kept encoders and runs (results/vision_NAME_run_logs, committed): copied
there as they finish, restored into a work directory of a fresh checkout (wherever it lies) once
the datasets it made are those the encoders saw, and checked so that no row mixes encoders."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path


def keep_encoders(work: Path, kept: Path) -> None:
    """Copy the encoder files of `work` to kept/encoders (where not there yet)."""
    (kept / "encoders").mkdir(parents=True, exist_ok=True)
    for encoder in sorted(work.glob("encoder_*.pt")):
        if not (kept / "encoders" / encoder.name).exists():
            shutil.copy2(encoder, kept / "encoders" / encoder.name)


def fingerprint_made_at(data: Path, made_at: str) -> str:
    """The fingerprint `data` would have had, had it been collected into `made_at`: its meta.json
    records the command that made it, so the same data collected elsewhere differs by that path."""
    from rlv.files import directory_fingerprint

    if str(data) == made_at or not (data / "meta.json").is_file():
        return directory_fingerprint(data)
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / data.name
        shutil.copytree(data, copy)
        meta = copy / "meta.json"
        meta.write_text(meta.read_text().replace(str(data), made_at))
        return directory_fingerprint(copy)


def restore_encoders(kept: Path, work: Path) -> None:
    """Copy kept encoder files that `work` lacks into it; exit with one line if a dataset they saw
    (by the name of its directory in `work`) now has other contents."""
    from rlv.encoders import load_encoder

    fingerprints: dict[Path, str] = {}  # each dataset hashed once (every encoder saw the robot's)
    for encoder in sorted((kept / "encoders").glob("encoder_*.pt")):
        for item in load_encoder(encoder).meta["data"]:
            data = work / Path(item["path"]).name
            if data not in fingerprints:
                fingerprints[data] = fingerprint_made_at(data, item["path"])
            if fingerprints[data] != item["fingerprint"]:
                sys.exit(f"{data}: not the data {encoder} was pretrained on (another fingerprint); "
                         "move the kept runs and encoders away to start afresh")  # fmt: skip
        if not (work / encoder.name).exists():
            shutil.copy2(encoder, work / encoder.name)


def check_encoders(work: Path) -> None:
    """Exit with one line if a run in `work` (one restored from the kept logs, say) recorded an
    encoder whose file now has another fingerprint: rows trained on other encoders do not compare."""
    from rlv.encoders import ENCODER_RECORD
    from rlv.files import file_fingerprint

    for record_file in sorted(work.glob(f"*/seed_*/{ENCODER_RECORD}")):
        record = json.loads(record_file.read_text())
        path = work / Path(record["path"]).name  # the encoder of that name made here
        found = file_fingerprint(path) if path.is_file() else "missing"
        if found != record["fingerprint"]:
            sys.exit(
                f"{record_file.parent}: the run used {path} with fingerprint {record['fingerprint'][:12]}, "
                f"the file here is {found[:12]}; the pretraining did not reproduce it (move the kept run "
                "away to run it again)"
            )


def relocate_runs(work: Path) -> None:
    """Point the configs of the runs in `work` that ran in another work directory (runs restored
    from a checkout elsewhere) at this one: they record its absolute paths (own directory, encoder,
    videos), which `rlv sweep` compares; the files here are the same (restore_encoders and
    check_encoders compare fingerprints). The committed copies keep the paths they ran with."""
    for config_file in sorted(work.glob("*/seed_*/config.json")):
        text = config_file.read_text()
        ran_in = str(Path(json.loads(text)["out"]).parent.parent)
        if ran_in != str(work):
            config_file.write_text(text.replace(ran_in, str(work)))
