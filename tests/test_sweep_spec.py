"""`rlv sweep`'s grid and its record, without Ray: spec files, override labels, conflicts."""

from __future__ import annotations

import json

import pytest

from rlv.errors import RlvError
from rlv.experiments.sweep_spec import SWEEP_FILE, grid, parse_overrides, read_spec, record, recorded


def test_spec_file_grid_names_labels_and_command_lines(tmp_path):
    spec = {
        "methods": {
            "sac": {"preset": "acrobot-sac"},
            "rlv": {"preset": "acrobot-rlv", "options": "--rlv.dataset d"},
        },
        "seeds": [3, 4],
        "options": ["--total-steps", 300],
        "overrides": {"bs64": "--sac.batch-size 64", "plain": []},
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    trials = read_spec(tmp_path / "spec.json")
    assert [t.name for t in trials] == [
        f"{m}+{o}/seed_{s}" for s in (3, 4) for m in ("sac", "rlv") for o in ("bs64", "plain")
    ]  # seed by seed: a sweep cut short has every method at the same number of seeds
    rlv_bs64 = trials[2]
    assert (rlv_bs64.label, rlv_bs64.seed) == ("rlv+bs64", 3)
    assert rlv_bs64.argv == (
        "acrobot-rlv", "--rlv.dataset", "d", "--total-steps", "300", "--sac.batch-size", "64",
        "--seed", "3", "--label", "rlv+bs64",
    )  # fmt: skip
    assert rlv_bs64.train_args(tmp_path)[-3:] == [
        "--out",
        str(tmp_path / "rlv+bs64" / "seed_3"),
        "--no-progress",
    ]
    plain = grid({"sac": ("acrobot-sac", [])}, [0], [], {})
    assert [(t.name, t.label) for t in plain] == [("sac/seed_0", "sac")]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{", "not a readable JSON spec"),
        ('{"methods": []}', 'a "methods" object'),
        ('{"methods": {"a": {}}}', 'needs a "preset"'),
        ('{"methods": {"a b": {"preset": "acrobot-sac"}}}', "not a usable name"),
        ('{"methods": {"a": {"preset": "acrobot-sac"}}, "seeds": [0, 0]}', "without repeats"),
        ('{"methods": {"a": {"preset": "acrobot-sac"}}, "seeds": ["0"]}', "list of integers"),
        ('{"methods": {"a": {"preset": "acrobot-sac", "options": 3}}}', "string or a list"),
        ('{"methods": {"a": {"preset": "acrobot-sac"}}, "seed": [1]}', "unknown keys ['seed']"),
        ('{"methods": {}}', "no methods"),
    ],
)
def test_bad_spec_files_are_one_error_naming_the_file(tmp_path, spec, message):
    (tmp_path / "spec.json").write_text(spec)
    with pytest.raises(RlvError) as error:
        read_spec(tmp_path / "spec.json")
    assert message in str(error.value) and str(error.value).startswith(f"{tmp_path / 'spec.json'}: ")
    with pytest.raises(RlvError, match="no such spec file"):
        read_spec(tmp_path / "missing.json")


def test_overrides_from_the_command_line():
    assert parse_overrides(("bs64=--sac.batch-size 64", "none=")) == {
        "bs64": ["--sac.batch-size", "64"],
        "none": [],
    }
    with pytest.raises(RlvError, match="expected NAME=OPTIONS"):
        parse_overrides(("--sac.batch-size 64",))


def test_record_adds_trials_and_refuses_other_options_for_a_recorded_one(tmp_path):
    first = grid({"sac": ("acrobot-sac", ["--total-steps", "300"])}, [0, 1], [], {})
    record(tmp_path, first)
    more = grid({"rlv": ("acrobot-rlv", [])}, [0], [], {})
    assert list(record(tmp_path, more)) == ["sac/seed_0", "sac/seed_1", "rlv/seed_0"]
    assert recorded(tmp_path)["sac/seed_1"] == first[1]
    changed = grid({"sac": ("acrobot-sac", ["--total-steps", "500"])}, [0], [], {})
    with pytest.raises(RlvError, match=r"already in .* with other options"):
        record(tmp_path, changed)
    assert len(json.loads((tmp_path / SWEEP_FILE).read_text())["trials"]) == 3
    (tmp_path / SWEEP_FILE).write_text("[]")
    with pytest.raises(RlvError, match="not a sweep record"):
        recorded(tmp_path)
