"""Property tests at scale: generated bad command lines (600), bad config.json contents (400) and
damaged checkpoints (200) each end in one `rlv: error:` line with exit status 1 and change nothing
on disk. The CLI runs in-process (`rlv.cli.main`); training itself is patched to fail the test, so
a command line that is wrongly accepted cannot start a run. `RLV_FUZZ_SCALE` scales the example
counts (CI: 1, on a fixed example sequence with HYPOTHESIS_PROFILE=ci)."""

import json
import math
import os
import shutil
import string

import pytest
import torch
from conftest import tiny_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_validation import METHOD_OPTIONS, RANGE_BAD, all_fields, kind_of, method_of, set_field, snapshot

from rlv.checkpoint import checkpoint_dirs
from rlv.cli import main
from rlv.config import config_to_dict
from rlv.methods.registry import ranges_of
from rlv.train import Trainer, train
from rlv.validation import option_name

SCALE = float(os.environ.get("RLV_FUZZ_SCALE", "1"))


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=max(1, round(examples * SCALE)),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@pytest.fixture(autouse=True)
def no_training(monkeypatch):
    monkeypatch.setattr(Trainer, "run", lambda self: pytest.fail("bad input started training"))


def assert_one_error(capsys, argv: list[str]) -> str:
    code = main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("rlv: error: "), (argv, lines)
    return lines[0]


# ------------------------------------------------------------------ command lines
RANGES = ranges_of("rlv")
"""Range checks of every field of an rlv run (the run's, --sac.* and --rlv.*)."""
ALL_RANGES = {name: check for method in METHOD_OPTIONS for name, check in ranges_of(method).items()}
"""Range checks of every field of a run of any method with options (config.json edits)."""
NUMBER_FIELDS = [name for name in RANGES if kind_of(name) in ("int", "float")]
CHOICE_FIELDS = {name: values[0] for name, values in RANGE_BAD.items() if kind_of(name) == "str" and values}
VALID_EXTRAS = [
    ["--seed", "3"],
    ["--total-steps", "500"],
    ["--sac.lr", "0.001"],
    ["--no-progress"],
    ["--env", "acrobot"],
]
GARBAGE = st.text(string.ascii_letters + string.punctuation + " ", min_size=1, max_size=12).filter(
    lambda text: not text.startswith("-") and text.strip() not in ("", "nan", "inf", "None")
)
"""Text no option accepts (`None` is a valid value of the optional ones, e.g. --horizon None)."""


def out_of_range(name: str):
    """Numbers the field's range check refuses (non-finite floats included), as option text."""
    return refused_numbers(name).map(repr)


def refused_numbers(name: str, ranges: dict | None = None):
    """Numbers the field's range check (in `ranges`, default RANGES) refuses (non-finite floats included)."""
    numbers = st.integers(-(10**12), 10**12)
    if kind_of(name) == "float":
        numbers = numbers | st.floats(allow_nan=True, allow_infinity=True)

    def refused(value):
        return not math.isfinite(value) or (ranges or RANGES)[name](value) is not None

    return numbers.filter(refused)


def bad_option():
    number = st.sampled_from(NUMBER_FIELDS).flatmap(lambda n: st.tuples(st.just(n), out_of_range(n)))
    garbage = st.tuples(st.sampled_from(NUMBER_FIELDS), GARBAGE)
    choice = st.tuples(st.sampled_from(sorted(CHOICE_FIELDS)), GARBAGE)
    unknown = st.tuples(
        st.text(string.ascii_lowercase, min_size=3, max_size=10).map(lambda t: "zz." + t), GARBAGE
    )
    return st.one_of(number, garbage, choice, unknown).map(lambda pair: [option_name(pair[0]), pair[1]])


def bad_train_argv():
    """Valid options, then a bad one (last, so that no valid one overrides it)."""
    extras = st.lists(st.sampled_from(VALID_EXTRAS), max_size=3).map(
        lambda pairs: [a for p in pairs for a in p]
    )
    preset = st.sampled_from([[], ["acrobot-sac"], ["acrobot-rlv"], ["pendulum-sac"]])
    return st.tuples(preset, extras, bad_option()).map(
        lambda t: ["train", *t[0], "--out", "new-run", *t[1], *t[2]]
    )


def bad_other_argv():
    non_positive = st.integers(-(10**6), 0).map(str)
    negative = st.integers(-(10**9), -1).map(str)
    return st.one_of(
        st.tuples(st.just(["eval", "RUN", "--episodes"]), non_positive | GARBAGE),
        st.tuples(st.just(["eval", "RUN", "--seed"]), negative | GARBAGE),
        st.tuples(
            st.just(["collect", "--out", "ds", "--noise", "0.1", "--episodes"]), non_positive | GARBAGE
        ),
        st.tuples(st.just(["collect", "--out", "ds", "--noise"]), st.floats(1.001, 1e9).map(str) | GARBAGE),
        st.tuples(st.just(["collect", "--out", "ds", "--success-rate"]), st.floats(-1e9, -0.001).map(str)),
        st.tuples(st.just(["train", "--resume", "RUN", "--total-steps"]), non_positive | GARBAGE),
        st.tuples(st.just(["data", "info"]), GARBAGE.map(lambda t: "no-such-" + t.replace("/", "_"))),
        st.tuples(st.just(["plot", "--metric"]), GARBAGE),
    ).map(lambda pair: [*pair[0], pair[1]])


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    config = tiny_config(tmp_path_factory.mktemp("fuzz"), "sac", total_steps=300, random_steps=200)
    train(config)
    return config.out


@fuzz_settings(450)
@given(argv=bad_train_argv())
def test_bad_train_command_lines(tmp_path, capsys, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    assert_one_error(capsys, argv)
    assert os.listdir(tmp_path) == []


@fuzz_settings(150)
@given(argv=bad_other_argv())
def test_bad_command_lines_of_other_commands(finished_run, tmp_path, capsys, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    before = snapshot(finished_run)
    argv = [str(finished_run) if arg == "RUN" else arg for arg in argv]
    if argv[0] == "plot":
        argv.insert(1, str(finished_run))
    assert_one_error(capsys, argv)
    assert os.listdir(tmp_path) == [] and snapshot(finished_run) == before


# -------------------------------------------------------------------- config.json
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
WRONG_JSON = {
    "int": JSON.filter(lambda v: type(v) is not int),
    "float": JSON.filter(lambda v: type(v) not in (int, float)),
    "str": JSON.filter(lambda v: type(v) is not str),
    "bool": JSON.filter(lambda v: type(v) is not bool),
    "tuple": JSON.filter(lambda v: not (isinstance(v, list) and all(type(i) is int for i in v))),
    "path": JSON.filter(lambda v: not (isinstance(v, str) and v)),
    **{block: JSON.filter(lambda v: not isinstance(v, dict)) for block in ("sac", *METHOD_OPTIONS)},
}
OPTIONAL = {name for name, item in all_fields().items() if "None" in str(item.type)}


def wrong_value(name: str):
    strategy = WRONG_JSON[kind_of(name)]
    if name in OPTIONAL:
        strategy = strategy.filter(lambda v: v is not None)
    if name in ALL_RANGES and kind_of(name) in ("int", "float"):
        strategy = strategy | refused_numbers(name, ALL_RANGES)
    if name in CHOICE_FIELDS and name != "env":  # any env name is a string; make_env judges it
        strategy = strategy | GARBAGE
    return strategy


def bad_config_edit():
    field = st.sampled_from(sorted(all_fields())).flatmap(
        lambda n: st.tuples(st.just("field"), st.just(n), wrong_value(n))
    )
    unknown = st.tuples(
        st.just("unknown"),
        st.sampled_from(["", "sac.", "rlv."]),
        st.text(string.ascii_letters, min_size=1, max_size=8),
    )
    whole = st.tuples(
        st.just("whole"),
        st.just(""),
        st.binary(max_size=200).filter(lambda b: not b.strip().startswith(b"{"))
        | JSON.filter(lambda v: not isinstance(v, dict)).map(json.dumps),
    )
    return st.one_of(field, unknown, whole)  # fmt: skip


def apply_edit(original: dict, edit: tuple) -> bytes:
    kind, where, value = edit
    data = json.loads(json.dumps(original))
    method = method_of(where) or (where if where in METHOD_OPTIONS else None)
    if method:  # the finished run is SAC's; make it a run of the method whose option this is
        data |= {"algo": method, method: config_to_dict(METHOD_OPTIONS[method]())}
    if kind == "field":
        set_field(data, where, value)
    elif kind == "unknown":
        set_field(data, where + "zz_" + value, 1)
    else:
        return value if isinstance(value, bytes) else value.encode()
    return json.dumps(data).encode()


@fuzz_settings(400)
@given(edit=bad_config_edit())
def test_bad_config_json(finished_run, capsys, edit):
    path = finished_run / "config.json"
    original = path.read_bytes()
    path.write_bytes(apply_edit(json.loads(original), edit))
    before = snapshot(finished_run)
    try:
        line = assert_one_error(capsys, ["train", "--resume", str(finished_run), "--no-progress"])
        assert str(path) in line
        assert snapshot(finished_run) == before
    finally:
        path.write_bytes(original)


# -------------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def single_checkpoint_run(finished_run, tmp_path_factory):
    """A finished run whose only checkpoint is `final` (no older one to fall back to)."""
    run = tmp_path_factory.mktemp("damaged") / "run"
    shutil.copytree(finished_run, run)
    for step in checkpoint_dirs(run):
        shutil.rmtree(step)
    files = [run / "checkpoints" / "final" / name for name in ("state.pt", "replay.json")]
    files += sorted((run / "replay").glob("*.npz"))  # the replay chunks
    return run, Pristine({str(path.relative_to(run)): path.read_bytes() for path in files})


class Pristine(dict):
    """The undamaged checkpoint files (a short repr keeps hypothesis' reports readable)."""

    def __repr__(self) -> str:
        return f"Pristine({sorted(self)})"


def paths(state, prefix=()):
    """Key paths of nested dicts (skipping contents a fresh run leaves empty) and tensor paths."""
    keys, tensors = [], []
    for key, value in state.items():
        path = (*prefix, key)
        keys.append(path)
        if isinstance(value, dict) and key not in ("state", "sums", "counts"):
            more_keys, more_tensors = paths(value, path)
            keys, tensors = keys + more_keys, tensors + more_tensors
        elif isinstance(value, dict) and key == "state":  # optimizer moments
            tensors += [(*path, i, k) for i in value for k, v in value[i].items() if v.ndim]
        elif isinstance(value, torch.Tensor):
            tensors.append(path)
    return keys, tensors


def get(state, path):
    for key in path:
        state = state[key]
    return state


SHAPES = st.lists(st.integers(1, 4), max_size=3)
REPLAY_ARRAYS = ["obs", "action", "reward", "done", "ended", "ends"]
MANIFEST_KEYS = ["format", "capacity", "total", "obs_shape", "obs_dtype", "act_dim", "rng", "chunks"]
STATE = "checkpoints/final/state.pt"
MANIFEST = "checkpoints/final/replay.json"


def damage(pristine: dict[str, bytes]):
    state = torch.load(__import__("io").BytesIO(pristine[STATE]), weights_only=True)
    chunks = sorted(name for name in pristine if name.startswith("replay/"))
    keys, tensors = paths(state)
    size = {name: len(data) for name, data in pristine.items()}
    return st.one_of(
        st.tuples(st.just("truncate"), st.sampled_from(sorted(size)), st.integers(0, min(size.values()) - 1)),
        st.tuples(st.just("bytes"), st.sampled_from(sorted(size)), st.binary(max_size=2000)),
        st.tuples(st.just("drop-key"), st.just(STATE), st.sampled_from(keys)),
        st.tuples(st.just("rename-key"), st.just(STATE), st.sampled_from(keys)),
        st.tuples(st.just("shape"), st.just(STATE), st.tuples(st.sampled_from(tensors), SHAPES)),
        st.tuples(st.just("replay-array"), st.sampled_from(chunks), st.sampled_from(REPLAY_ARRAYS)),
        st.tuples(st.just("manifest-key"), st.just(MANIFEST), st.sampled_from(MANIFEST_KEYS)),
    )  # fmt: skip


def damaged_bytes(pristine: dict[str, bytes], how: tuple) -> bytes:
    import io

    import numpy as np

    kind, name, arg = how
    if kind == "truncate":
        return pristine[name][:arg]
    if kind == "bytes":
        return arg
    if kind == "manifest-key":
        manifest = json.loads(pristine[name])
        manifest.pop(arg)
        return json.dumps(manifest).encode()
    if kind == "replay-array":
        with np.load(io.BytesIO(pristine[name])) as data:
            arrays = {key: data[key] for key in data.files}
        arrays[arg] = np.zeros((3, 2), dtype=np.float32)  # a wrong shape
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()
    state = torch.load(io.BytesIO(pristine[name]), weights_only=True)
    if kind == "shape":
        path, shape = arg
        if tuple(shape) == tuple(get(state, path).shape):
            shape = [*shape, 2]
        get(state, path[:-1])[path[-1]] = torch.zeros(shape, dtype=get(state, path).dtype)
    else:
        parent = get(state, arg[:-1])
        value = parent.pop(arg[-1])
        if kind == "rename-key":
            parent[f"{arg[-1]}_renamed"] = value
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def damages(single_checkpoint_run):
    return damage(single_checkpoint_run[1])


@fuzz_settings(200)
@given(data=st.data())
def test_damaged_checkpoints(single_checkpoint_run, damages, capsys, data):
    run, pristine = single_checkpoint_run
    how = data.draw(damages)
    (run / how[1]).write_bytes(damaged_bytes(pristine, how))
    before = snapshot(run)
    try:
        line = assert_one_error(
            capsys, ["train", "--resume", str(run), "--total-steps", "400", "--no-progress"]
        )
        assert "no usable checkpoint" in line
        assert snapshot(run) == before
    finally:
        for name, content in pristine.items():
            (run / name).write_bytes(content)
