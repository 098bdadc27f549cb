"""End to end on the fast visual task through the `rlv` command line: human-domain data at a chosen
success rate, paired frames, contact sheets, training RLV with alignment and the paired loss,
evaluation; and the one-line errors for image options that cannot apply."""

import json

import pytest
from test_cli import rlv

TINY_IMAGE = [
    "--sac.hidden", "16",
    "--sac.batch-size", "8",
    "--sac.conv-channels", "4", "4",
    "--rlv.obs-batch-size", "8",
    "--rlv.paired-batch-size", "8",
    "--rlv.idm-hidden", "8",
    "--total-steps", "120",
    "--random-steps", "80",
    "--eval-every", "60",
    "--eval-episodes", "1",
    "--log-every", "40",
    "--checkpoint-every", "60",
    "--no-progress",
]  # fmt: skip


@pytest.fixture(scope="module")
def visual(tmp_path_factory):
    path = tmp_path_factory.mktemp("visual")
    out = rlv(
        "collect",
        "--env",
        "pointmass",
        "--domain",
        "human",
        "--success-rate",
        "0.5",
        "--episodes",
        "30",
        "--out",
        "human",
        "--no-progress",
        cwd=path,
    )
    assert "wrote human: 30 episodes" in out.stdout and "domain human" in out.stdout
    assert "asked success rate 0.5" in out.stdout
    out = rlv("collect", "--env", "pointmass", "--paired", "64", "--out", "pairs", "--no-progress", cwd=path)
    assert "64 paired frames" in out.stdout
    return path


def test_collected_data_is_uint8_human_and_near_the_asked_success_rate(visual):
    meta = json.loads((visual / "human" / "meta.json").read_text())
    assert meta["domain"] == "human" and meta["obs_dtype"] == "uint8" and meta["obs_shape"] == [48, 48, 3]
    assert 0.2 <= meta["success_rate"] <= 0.8
    assert meta["how_made"]["target_success_rate"] == 0.5
    info = rlv("data", "info", "pairs", cwd=visual).stdout
    assert "pairs        64" in info and "domains robot, human" in info


@pytest.mark.parametrize("dataset", ["human", "pairs"])
def test_preview_writes_a_contact_sheet(visual, dataset):
    out = rlv(
        "data", "preview", dataset, "--out", f"{dataset}.png", "--rows", "3", "--columns", "4", cwd=visual
    )
    assert out.stdout.strip() == f"wrote {dataset}.png"
    import matplotlib.image

    sheet = matplotlib.image.imread(visual / f"{dataset}.png")
    assert sheet.shape[0] > 48 and sheet.shape[1] > 4 * 48 and sheet[..., :3].std() > 0.05


def test_train_rlv_with_alignment_and_paired_frames_then_eval(visual):
    rlv(
        "train",
        "pointmass-rlv-align",
        "--rlv.dataset",
        "human",
        "--rlv.paired-dataset",
        "pairs",
        "--out",
        "run",
        *TINY_IMAGE,
        cwd=visual,
    )
    summary = json.loads((visual / "run" / "summary.json").read_text())
    assert summary["env_step"] == 120 and summary["grad_step"] == 40
    header = (visual / "run" / "train.csv").read_text().splitlines()[0].split(",")
    transfer = {
        "loss/contrastive",
        "loss/temporal",
        "loss/generator",
        "stat/domain_accuracy",
        "stat/paired_retrieval",
    }
    assert transfer <= set(header)
    config = json.loads((visual / "run" / "config.json").read_text())
    assert config["rlv"]["alignment"] == "dann" and config["rlv"]["paired_dataset"] == "pairs"
    assert config["rlv"]["contrastive_weight"] == 1.0 and config["rlv"]["temporal_weight"] == 1.0
    metrics = json.loads(rlv("eval", "run", "--episodes", "2", "--video", "rollout.gif", cwd=visual).stdout)
    assert -40 <= metrics["eval/return"] <= 0 and 0 <= metrics["eval/success"] <= 1
    from PIL import Image

    with Image.open(visual / "rollout.gif") as gif:
        assert gif.n_frames > 10 and gif.size == (4 * 48, 4 * 48)  # identical frames are merged


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "pointmass-sac", "--rlv.alignment", "adversarial"], "--rlv.alignment"),
        (["train", "acrobot-rlv", "--rlv.dataset", "human"], "observations have shape (48, 48, 3)"),
        (
            ["train", "pointmass-rlv", "--rlv.dataset", "human", "--rlv.paired-dataset", "human"],
            "not rlv paired frames",
        ),
        (["collect", "--env", "acrobot", "--paired", "5"], "no scripted expert"),
        (["collect", "--env", "pointmass", "--success-rate", "1.5"], "--success-rate must be in [0, 1]"),
        (["collect", "--env", "pointmass", "--success-rate", "0.5", "--noise", "0.1"], "exactly one of"),
        (["data", "preview", "missing"], "missing: dataset directory not found"),
        (["data", "preview", "human", "--out", "sheet.txt"], "unsupported image type"),
    ],
)
def test_image_option_errors_are_one_line(visual, args, message):
    if args[0] != "data":
        args = [*args, "--out", "new_out", "--no-progress"]
    result = rlv(*args, cwd=visual, check=False)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rlv: error:") and message in lines[0], result.stderr
    assert not (visual / "new_out").exists()


def test_state_dataset_preview_is_refused(tmp_path, acrobot_dataset):
    result = rlv("data", "preview", str(acrobot_dataset), "--out", "x.png", cwd=tmp_path, check=False)
    assert result.returncode == 1 and "not RGB images" in result.stderr
    assert not (tmp_path / "x.png").exists()
