"""Up-front validation: every config field, given bad values on the command line or in a run's
config.json, is one `rlv: error:` line naming the option (or the file and key), exit status 1,
before anything is written."""

import dataclasses
import hashlib
import json
import math
import os
from pathlib import Path

import pytest
import torch
from conftest import tiny_config

from rlv.cli import main
from rlv.config import SACConfig, config_to_dict
from rlv.methods.bco import BCOConfig
from rlv.methods.gaifo import GAIfOConfig
from rlv.methods.registry import config_type
from rlv.methods.rlv import RLVConfig
from rlv.train import Trainer, train
from rlv.validation import option_name

NAN = math.nan

RANGE_BAD: dict[str, list] = {
    "sac.lr": [0.0, -0.001, NAN],
    "sac.gamma": [-0.1, 1.5],
    "sac.tau": [0.0, 2.0],
    "sac.batch_size": [0, -5],
    "sac.hidden": [[0], [32, -1]],
    "sac.init_alpha": [0.0, -1.0],
    "sac.target_entropy": [NAN, math.inf],
    "sac.log_std_min": [5.0],
    "sac.log_std_max": [-30.0],
    "sac.conv_channels": [[0, 16]],
    "sac.conv_kernel": [0, -3],
    "sac.feature_dim": [0, -50],
    "sac.augment": ["rotate"],
    "sac.shift_pad": [-1],
    "sac.appearance": ["paint"],
    "sac.compile": [],
    "sac.critic_layer_norm": [],
    "sac.critic_ensemble": [0, -2],
    "sac.target_subset": [0, 3],
    "sac.actor_q": ["median"],
    "rlv.dataset": [],
    "rlv.obs_batch_size": [0],
    "rlv.max_episodes": [0, -2],
    "rlv.idm_hidden": [[-4]],
    "rlv.idm_lr": [0.0],
    "rlv.idm_dataset": [],
    "rlv.idm_dataset_batch_size": [0, -3],
    "rlv.reward_scale": [NAN],
    "rlv.reward_bottom": [-math.inf],
    "rlv.action_source": ["guess"],
    "rlv.clip_labels": [],
    "rlv.reward_source": ["made-up"],
    "rlv.timelimit_done": [],
    "rlv.alignment": ["magic"],
    "rlv.generator_weight": [-1.0],
    "rlv.alignment_ramp_steps": [0, -10],
    "rlv.paired_dataset": [],
    "rlv.paired_weight": [-0.5],
    "rlv.paired_batch_size": [0],
    "rlv.contrastive_weight": [-1.0],
    "rlv.contrastive_similarity": ["dot"],
    "rlv.contrastive_temperature": [0.0, -0.1],
    "rlv.temporal_weight": [-2.0],
    "rlv.discriminator_lr": [-0.001],
    "rlv.scale_free_alignment": [],
    "rlv.idm_encoder_weight": [-1.0],
    "bco.dataset": [],
    "bco.obs_batch_size": [0],
    "bco.max_episodes": [0],
    "bco.alpha": [0.0, -1.0],
    "bco.idm_fraction": [0.0, 1.0],
    "bco.idm_hidden": [[0]],
    "bco.idm_lr": [0.0],
    "bco.bc_lr": [-0.001],
    "bco.log_std_min": [-21.0, 3.0, NAN],
    "gaifo.dataset": [],
    "gaifo.obs_batch_size": [0, -3],
    "gaifo.max_episodes": [0],
    "gaifo.hidden": [[0], [16, -2]],
    "gaifo.lr": [0.0, -1e-4, NAN],
    "gaifo.reward": ["exp"],
    "gaifo.regulariser": ["dropout"],
    "gaifo.gradient_penalty_weight": [-1.0, math.inf],
    "env": [""],
    "domain": ["alien"],
    "encoder": [],
    "encoder_mode": ["thaw"],
    "algo": ["ppo"],
    "label": [],
    "seed": [-1, 2**32],
    "total_steps": [0, -5],
    "random_steps": [-1],
    "updates_per_step": [0],
    "horizon": [0, -100],
    "eval_every": [0, -1000],
    "eval_episodes": [0],
    "log_every": [0],
    "checkpoint_every": [0, -1],
    "keep_checkpoints": [0],
    "save_replay": [],
    "replay_size": [0],
    "out": [],
    "tensorboard": [],
    "wandb": [],
    "wandb_project": [],
    "wandb_mode": ["sometimes"],
    "threads": [0],
    "device": ["tpu", "cuda:99", "cuda" if not torch.cuda.is_available() else "cuda:99"],
    "progress": [],
    "sample_on_device": [],
}
"""Values of the right type but outside what the field allows (usable on the command line too)."""

WRONG_TYPE: dict[str, list] = {
    "sac": [5, "fast", []],
    "rlv": [None, [1, 2]],
    "bco": [None, [1, 2]],
    "gaifo": [None, [1, 2]],
    "int": ["abc", 1.5, True, [3]],
    "float": ["abc", [1.0], False],
    "str": [42, ["a"], False],
    "bool": ["yes", 1, None],
    "tuple": ["abc", 7, [1, "a"], [1.5]],
    "path": [42, ["a"], True],
}
"""Values of the wrong JSON type for a field (config.json only), by the field's kind."""


METHOD_OPTIONS = {"rlv": RLVConfig, "bco": BCOConfig, "gaifo": GAIfOConfig}
"""The methods with options of their own (`--<method>.*`, a `<method>` block in config.json)."""
NESTED = {"sac": SACConfig, **METHOD_OPTIONS}


def all_fields(cls: type | None = None, prefix: str = "") -> dict[str, dataclasses.Field]:
    """Every field of a run of any method: the run's own, `sac.*` and each method's options."""
    if cls is None:
        runs = [dataclasses.fields(config_type(method)) for method in METHOD_OPTIONS]
        items = {item.name: item for run in runs for item in run}.values()
    else:
        items = dataclasses.fields(cls)
    fields = {}
    for item in items:
        if item.name in NESTED:
            fields[item.name] = item
            fields |= all_fields(NESTED[item.name], item.name + ".")
        else:
            fields[prefix + item.name] = item
    return fields


def method_of(name: str) -> str | None:
    """The method whose own option `name` is (None: a field of every run)."""
    method = name.split(".")[0]
    return method if method in METHOD_OPTIONS else None


def kind_of(name: str) -> str:
    default = dataclasses.asdict(config_type(method_of(name) or "rlv")())
    for part in name.split("."):
        default = default[part]
    annotation = str(all_fields()[name].type)
    if name in NESTED:
        return name
    if "Path" in annotation:
        return "path"
    if "tuple" in annotation:
        return "tuple"
    for kind in ("bool", "int", "float", "str"):
        if annotation.startswith(kind) or annotation == kind or f"{kind} |" in annotation:
            return kind
    return "str"  # Literal[...]


def json_cases() -> list[tuple[str, object]]:
    cases = []
    for name in all_fields():
        cases += [(name, value) for value in RANGE_BAD.get(name, [])]
        cases += [(name, value) for value in WRONG_TYPE[kind_of(name)][:2]]
    return cases


def cli_cases() -> list[tuple[str, object]]:
    return [(name, value) for name, values in RANGE_BAD.items() for value in values]


def test_every_config_field_has_bad_values():
    from rlv.methods import METHODS

    assert {name for name, spec in METHODS.items() if spec.options} == set(METHOD_OPTIONS)
    assert set(RANGE_BAD) | set(NESTED) == set(all_fields()), "a new config field needs bad values here"
    assert all(RANGE_BAD[name] or kind_of(name) in WRONG_TYPE for name in RANGE_BAD)


def run_cli(capsys, *args: str) -> tuple[int, list[str]]:
    code = main(list(args))
    lines = capsys.readouterr().err.strip().splitlines()
    return code, lines


def tokens(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


@pytest.mark.parametrize(("name", "value"), cli_cases(), ids=lambda v: str(v))
def test_bad_option_is_one_line_naming_it_and_writes_nothing(tmp_path, capsys, monkeypatch, name, value):
    monkeypatch.setattr(Trainer, "run", lambda self: pytest.fail("a bad option started training"))
    monkeypatch.chdir(tmp_path)
    method = ["--algo", method_of(name)] if method_of(name) else []  # a method's own options
    code, lines = run_cli(capsys, "train", "--out", "run", *method, option_name(name), *tokens(value))
    assert code == 1 and len(lines) == 1 and lines[0].startswith("rlv: error: "), lines
    expected = "--sac.log-std" if name.startswith("sac.log_std") else option_name(name)
    assert expected in lines[0], lines
    assert os.listdir(tmp_path) == []


def snapshot(directory: Path) -> dict[str, tuple[str, int]]:
    """Every file under `directory`: content hash and mode."""
    return {
        str(path.relative_to(directory)): (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mode)
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    config = tiny_config(tmp_path_factory.mktemp("runs"), "sac", total_steps=300, random_steps=200)
    train(config)
    return config.out


def set_field(data: dict, name: str, value: object) -> None:
    *parents, last = name.split(".")
    for part in parents:
        data = data[part]
    data[last] = value


@pytest.mark.parametrize(("name", "value"), json_cases(), ids=lambda v: str(v))
def test_bad_config_json_field_is_refused_naming_file_and_key(finished_run, capsys, monkeypatch, name, value):
    monkeypatch.setattr(Trainer, "run", lambda self: pytest.fail("a bad config.json started training"))
    path = finished_run / "config.json"
    original = path.read_text()
    data = json.loads(original)
    method = method_of(name)
    if method:  # the finished run is SAC's; make it a run of the method
        data |= {"algo": method, method: config_to_dict(METHOD_OPTIONS[method]())}
    set_field(data, name, value)
    path.write_text(json.dumps(data))
    before = snapshot(finished_run)
    try:
        for command in (["train", "--resume", str(finished_run)], ["eval", str(finished_run)]):
            code, lines = run_cli(capsys, *command)
            assert code == 1 and len(lines) == 1 and lines[0].startswith("rlv: error: "), lines
            key = "sac.log_std" if name.startswith("sac.log_std") else name
            assert f"{path}: {key}" in lines[0], lines
            assert snapshot(finished_run) == before
    finally:
        path.write_text(original)
    assert (finished_run / "summary.json").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"sac": {"nope": 1}}', "unknown config keys for SACConfig: ['nope']"),
        ('{"total_steps": 1, "extra": 2}', "unknown config keys for TrainConfig"),
        ("[1, 2]", "the top level: must be an object"),
        ("{not json", "not valid JSON"),
        ('{"seed": 1' + "0" * 5000 + "}", "unreadable"),
    ],
)
def test_config_json_structure_errors_name_the_file(finished_run, capsys, content, message):
    path = finished_run / "config.json"
    original = path.read_text()
    path.write_text(content)
    try:
        code, lines = run_cli(capsys, "train", "--resume", str(finished_run))
    finally:
        path.write_text(original)
    assert (
        code == 1 and len(lines) == 1 and lines[0].startswith(f"rlv: error: {path}: ") and message in lines[0]
    )


def test_valid_config_json_with_integer_floats_is_accepted(finished_run):
    from rlv.methods.registry import load_config

    path = finished_run / "config.json"
    original = path.read_text()
    data = json.loads(original)
    data["sac"]["lr"] = 1
    path.write_text(json.dumps(data))
    try:
        assert load_config(path).sac.lr == 1.0
    finally:
        path.write_text(original)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--total-steps", "abc"], "Error parsing --total-steps"),
        (["train", "--no-such-option", "1"], "unrecognized option --no-such-option (see"),
        (["train", "acrobot-sac", "--sac.hidden", "a"], "--sac.hidden"),
        (["nope"], "unknown command 'nope'"),
        (["eval", "RUN", "--episodes", "0"], "--episodes: must be at least 1"),
        (["eval", "RUN", "--video", "x.gif"], "does not render frames"),
        (["eval", "RUN", "--video", "x.avi"], "unsupported video type"),
        (["train", "--resume", "RUN", "--total-steps", "0"], "--total-steps: must be at least 1"),
        (["train", "--resume", "RUN", "--total-steps", "100"], "is already at env step 300"),
        (["collect", "--out", "ds", "--seed", "-1", "--noise", "0.1"], "--seed must be in"),
        (["plot"], "at least one run"),
    ],
)
def test_bad_command_lines_are_one_line_with_status_1(
    finished_run, tmp_path, capsys, monkeypatch, args, message
):
    monkeypatch.chdir(tmp_path)
    before = snapshot(finished_run)
    code, lines = run_cli(capsys, *[str(finished_run) if a == "RUN" else a for a in args])
    assert code == 1 and len(lines) == 1 and lines[0].startswith("rlv: error: ") and message in lines[0], (
        lines
    )
    assert os.listdir(tmp_path) == [] and snapshot(finished_run) == before
