"""`rlv data import-video` on real encoded files made here with PyAV: frame count, order, size and
colours within codec tolerance; every option; and each kind of bad input ending in one clear error
naming the file, with nothing left behind (or skipped and recorded with --skip-bad)."""

import json
import os
import random
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from test_cli import rlv
from videos import COLOURS, frame, marker_row, write_folder, write_video

from rlv.collect.video_import import ImportOptions, import_videos, read_episode
from rlv.data.dataset import load_dataset
from rlv.errors import RlvError

SUFFIXES = [".mp4", ".webm", ".avi", ".mov", ".gif"]


def expected_rows(indices):
    return [marker_row(frame(int(i))) for i in indices]


def assert_frames(obs, indices, size=(48, 48)):
    assert obs.shape == (len(indices), *size, 3) and obs.dtype == np.uint8
    left = obs[:, :, : size[1] // 2].reshape(len(obs), -1, 3).astype(float).mean(axis=1)
    assert np.abs(left - COLOURS[np.asarray(indices) % len(COLOURS)]).max() < 12, "colours (RGB order)"
    assert np.allclose([marker_row(o) for o in obs], expected_rows(indices), atol=0.05), "frame order"


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_each_container_imports_every_frame_in_order_and_in_rgb(tmp_path, suffix):
    episode = read_episode(write_video(tmp_path / f"clip{suffix}", 12), ImportOptions())
    assert_frames(episode.obs, range(12))
    assert episode.success


def test_frame_folder_uses_natural_order(tmp_path):
    episode = read_episode(write_folder(tmp_path / "frames", 12), ImportOptions(size=(32, 40)))
    assert_frames(episode.obs, range(12), size=(32, 40))


@pytest.mark.parametrize(
    ("options", "indices"),
    [
        (ImportOptions(stride=3), range(0, 20, 3)),
        (ImportOptions(fps=5), range(0, 20, 2)),  # the video is at 10 fps
        (ImportOptions(start=0.5, end=1.2), range(5, 12)),
        (ImportOptions(reverse=True), range(19, -1, -1)),
        (ImportOptions(success="7"), range(8)),
    ],
)
def test_selection_options(tmp_path, options, indices):
    episode = read_episode(write_video(tmp_path / "clip.mp4", 20), options)
    assert_frames(episode.obs, list(indices))


def test_success_none_and_crops(tmp_path):
    clip = write_video(tmp_path / "clip.webm", 6)
    assert not read_episode(clip, ImportOptions(success="none")).success
    centre = read_episode(clip, ImportOptions(crop="center")).obs  # 64x64 centre of 96x64
    assert centre.shape == (6, 48, 48, 3)
    box = read_episode(clip, ImportOptions(crop="0,0,48,64")).obs  # the coloured left half only
    assert np.abs(box[0].reshape(-1, 3).mean(0) - COLOURS[0]).max() < 12


def test_cli_import_then_train_on_the_matching_task(tmp_path):
    for index in range(3):
        write_video(tmp_path / f"v{index}.mp4", 10)
    out = rlv("data", "import-video", "v0.mp4", "v1.mp4", "v2.mp4", "--out", "ds", "--env", "pointmass",
              "--no-progress", cwd=tmp_path).stdout  # fmt: skip
    assert "wrote ds: 3 episodes, 27 transitions, frames (48, 48, 3), domain human" in out
    meta = json.loads((tmp_path / "ds" / "meta.json").read_text())
    assert meta["source"] == "rlv data import-video" and meta["how_made"]["options"]["size"] == [48, 48]
    rlv("train", "pointmass-rlv", "--rlv.dataset", "ds", "--total-steps", "60", "--random-steps", "40",
        "--eval-every", "60", "--eval-episodes", "1", "--sac.batch-size", "4", "--rlv.obs-batch-size", "4",
        "--out", "run", "--no-progress", cwd=tmp_path)  # fmt: skip
    assert (tmp_path / "run" / "summary.json").exists()
    rlv(
        "data",
        "import-video",
        "v0.mp4",
        "--size",
        "32",
        "32",
        "--out",
        "small",
        "--no-progress",
        cwd=tmp_path,
    )
    result = rlv(
        "train", "pointmass-rlv", "--rlv.dataset", "small", "--out", "bad", cwd=tmp_path, check=False
    )
    assert result.returncode == 1 and "observations have shape (32, 32, 3)" in result.stderr
    assert not (tmp_path / "bad").exists()


def bad_inputs(tmp_path):
    """(path, message) of every kind of bad input."""
    good = write_video(tmp_path / "good.mp4", 8)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(random.Random(0).randbytes(4000))
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    empty = tmp_path / "empty.webm"
    empty.write_bytes(b"")
    one = write_video(tmp_path / "one.gif", 1)
    text = tmp_path / "notes.txt"
    text.write_text("not a video")
    mixed = write_folder(tmp_path / "mixed", 3)
    from PIL import Image

    Image.fromarray(frame(3, 20, 30)).save(mixed / "frame3.png")
    broken_png = tmp_path / "broken"
    broken_png.mkdir()
    (broken_png / "frame0.png").write_bytes(b"\x89PNG\r\n\x1a\n" + random.Random(1).randbytes(100))
    (tmp_path / "no_frames").mkdir()
    dangling = tmp_path / "gone.mp4"
    dangling.symlink_to(tmp_path / "nowhere.mp4")
    return [
        (corrupt, "cannot open as a video"),
        (truncated, "truncated.mp4"),
        (empty, "empty.webm"),
        (one, "1 frame(s) after selection"),
        (text, "unsupported input"),
        (mixed, "frame3.png: frame size 30x20 differs"),
        (broken_png, "corrupt or unreadable image"),
        (tmp_path / "no_frames", "holds no PNG or JPEG frames"),
        (dangling, "no such file or folder"),
    ]


def test_each_bad_input_is_one_clear_error_and_leaves_nothing(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    good = write_video(inputs / "ok.mp4", 6)
    for path, message in bad_inputs(inputs):
        with pytest.raises(RlvError, match=re.escape(message)) as caught:
            import_videos([good, path], tmp_path / "ds", ImportOptions(), {}, progress=False)
        assert str(path) in str(caught.value)
        assert not (tmp_path / "ds").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("suffix", [".mp4", ".mov"])
def test_random_bytes_are_never_taken_for_a_truncated_container(tmp_path, suffix):
    """Random bytes can look like an MP4 box header with a huge size; the first box must be one an
    MP4/QuickTime file starts with, so they are reported as not a video rather than as truncated."""
    rng = random.Random(suffix)
    path = tmp_path / f"noise{suffix}"
    for trial in range(300):
        data = rng.randbytes(200)
        if trial % 3 == 0:  # a plausible size and letters where the box type goes
            letters = bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(4))
            data = (4000).to_bytes(4, "big") + letters + data
        path.write_bytes(data)
        with pytest.raises(RlvError, match="cannot open as a video"):
            read_episode(path, ImportOptions())


def test_skip_bad_keeps_going_and_records_what_it_skipped(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    good = write_video(inputs / "ok.mp4", 6)
    bad = bad_inputs(inputs)
    report = import_videos([good, *(p for p, _ in bad)], tmp_path / "ds", ImportOptions(), {}, skip_bad=True,
                           progress=False)  # fmt: skip
    assert len(report.skipped) == len(bad)
    meta = json.loads((tmp_path / "ds" / "meta.json").read_text())
    assert meta["num_episodes"] == 1 and [s["path"] for s in meta["skipped"]] == [str(p) for p, _ in bad]
    assert len(load_dataset(tmp_path / "ds").episodes) == 1
    info = rlv("data", "info", "ds", cwd=tmp_path).stdout
    assert "episodes     1   frames 6   transitions 5" in info and f"skipped      {len(bad)} input(s)" in info


def test_cli_bad_input_is_one_line_with_exit_status_1(tmp_path):
    (tmp_path / "x.mp4").write_bytes(b"garbage")
    result = rlv("data", "import-video", "x.mp4", "--out", "ds", "--no-progress", cwd=tmp_path, check=False)
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "x.mp4" in result.stderr
    assert not (tmp_path / "ds").exists() and leftovers(tmp_path) == []


def test_interrupted_import_leaves_nothing(tmp_path, monkeypatch):
    clips = [write_video(tmp_path / f"v{i}.mp4", 5) for i in range(3)]
    calls = []

    def interrupt_on_second(path, options, bar=None):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return read_episode(path, options, bar)

    monkeypatch.setattr("rlv.collect.video_import.read_episode", interrupt_on_second)
    with pytest.raises(KeyboardInterrupt):
        import_videos(clips, tmp_path / "ds", ImportOptions(), {}, progress=False)
    assert not (tmp_path / "ds").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ImportOptions(crop="1,2,3"), "--crop must be"),
        (ImportOptions(stride=0), "--stride must be at least 1"),
        (ImportOptions(start=2.0, end=1.0), "time range"),
        (ImportOptions(success="maybe"), "--success must be"),
        (ImportOptions(crop="80,0,40,40"), "does not fit"),
    ],
)
def test_bad_options_are_clear_errors(tmp_path, options, message):
    clip = write_video(tmp_path / "clip.mp4", 4)
    with pytest.raises(RlvError, match=message):
        import_videos([clip], tmp_path / "ds", options, {}, progress=False)
    assert not (tmp_path / "ds").exists()


def without_file_permission_override() -> list[str]:
    """Command prefix under which file modes apply: none for a normal user; for root, setpriv
    dropping CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (root otherwise reads a mode-000 file)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot make a file unreadable")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]


@pytest.mark.parametrize("kind", ["video", "frame", "folder"])
def test_unreadable_input_is_one_line_naming_it(tmp_path, kind):
    write_video(tmp_path / "ok.mp4", 6)
    target = {"video": lambda: write_video(tmp_path / "locked.mp4", 6),
              "frame": lambda: write_folder(tmp_path / "clip", 3) / "frame1.png",
              "folder": lambda: write_folder(tmp_path / "clip", 3)}[kind]()  # fmt: skip
    target.chmod(0)
    given = "clip" if kind != "video" else "locked.mp4"
    command = [*without_file_permission_override(), sys.executable, "-m", "rlv", "data", "import-video",
               "ok.mp4", given, "--out", "ds", "--no-progress"]  # fmt: skip
    try:
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    finally:
        target.chmod(0o755)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert str(target.relative_to(tmp_path)) in result.stderr and "ermission denied" in result.stderr
    assert not (tmp_path / "ds").exists() and leftovers(tmp_path) == []
