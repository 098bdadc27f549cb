import importlib
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

from rlv.experiments.stats import iqm, median_ratio, ratio_interval, smooth, steps_to_reach

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def benchmark_module(name: str) -> ModuleType:
    """A script of benchmarks/ imported as a module (they import each other by plain name)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module(name)


def test_iqm_drops_the_tails():
    assert iqm(np.array([-1000.0, 1.0, 2.0, 3.0, 4.0, 1000.0, 2.5, 3.5])) == np.mean([2.0, 2.5, 3.0, 3.5])
    assert iqm(np.array([5.0])) == 5.0


def test_steps_to_reach():
    steps = np.array([1000, 2000, 3000])
    assert steps_to_reach(steps, np.array([-100, -80, -60]), -80) == 2000
    assert np.isnan(steps_to_reach(steps, np.array([-100, -90, -95]), -80))


def test_ratio_interval_brackets_the_median_ratio():
    fast = np.array([10e3, 12e3, 13e3, 9e3, 11e3])
    slow = np.array([50e3, 45e3, 60e3, 40e3, 70e3])
    point, low, high = ratio_interval(fast, slow)
    assert point == 11e3 / 50e3
    assert 9e3 / 70e3 <= low < point < high <= 13e3 / 40e3
    assert ratio_interval(fast, slow) == (point, low, high)  # seeded


def test_ratio_interval_with_runs_that_never_get_there():
    """A run that never reaches the return is inf: the bounds stay defined (0 or inf), not NaN."""
    never = np.full(5, np.inf)
    assert median_ratio(never, np.ones(5)) == np.inf and median_ratio(np.ones(5), never) == 0.0
    point, low, high = ratio_interval(
        np.array([1e3, 2e3, np.inf, 3e3, 2e3]), np.array([4e3, np.inf, 5e3, 6e3, np.inf])
    )
    assert point == 2e3 / 6e3 and low == 0.0 and high == np.inf


def test_smooth():
    np.testing.assert_allclose(smooth(np.array([0.0, 2.0, 4.0]), 2), [0.0, 1.0, 3.0])


def test_plot_band_covers_the_seed_mean():
    from rlv.experiments.plot import band

    steps = np.array([1000, 2000, 3000])
    curves = [(steps, np.array([-100.0, -90.0, -80.0])), (steps, np.array([-100.0, -70.0, -60.0]))]
    common, mean, low, high = band(curves)
    np.testing.assert_array_equal(common, steps)
    np.testing.assert_allclose(mean, [-100.0, -80.0, -70.0])
    assert np.all(low <= mean) and np.all(mean <= high) and high[1] - low[1] > 0


def test_benchmark_curves_csv_round_trips_and_redraws(tmp_path):
    """A benchmark's committed per-run CSV reads back as the curves it was written from, and those
    redraw into a figure (what `--replot` does)."""
    common = benchmark_module("common")

    from rlv.experiments.plot import plot_curves

    runs = {}
    for method, offset in (("sac", 0.0), ("rlv", 0.25)):
        runs[method] = []
        for seed in range(2):
            run_dir = tmp_path / method / f"seed_{seed}"
            run_dir.mkdir(parents=True)
            rows = [f"{1000 * k},{offset + 0.125 * k + 0.0625 * seed}" for k in range(1, 4)]
            (run_dir / "eval.csv").write_text("env_step,eval/success\n" + "\n".join(rows) + "\n")
            runs[method].append(run_dir)
    common.write_curves(tmp_path / "runs.csv", runs, "eval/success")
    curves = common.read_curves(tmp_path / "runs.csv")
    assert list(curves) == ["sac", "rlv"] and [len(c) for c in curves.values()] == [2, 2]
    for method, run_dirs in runs.items():
        for (steps, values), run_dir in zip(curves[method], run_dirs, strict=True):
            expected_steps, expected_values = common.curve(run_dir, "eval/success")
            np.testing.assert_array_equal(steps, expected_steps)
            np.testing.assert_allclose(values, expected_values, atol=1e-4)
    out = plot_curves(curves, tmp_path / "fig.png", "eval/success", "a title " * 20)
    assert out.stat().st_size > 1000 and not list(tmp_path.glob(".fig*"))


def test_benchmark_budget_where_sac_converges_and_cut_curves():
    """The converged budget is the first eval where the IQM over runs of the smoothed curves reaches
    the threshold; cutting there keeps only what runs of that budget would have logged."""
    common = benchmark_module("common")

    steps = np.array([1000, 2000, 3000, 4000])
    runs = [
        (steps, np.array([-100.0, -90.0, -80.0, -80.0])),
        (steps, np.array([-100.0, -100.0, -84.0, -70.0])),
    ]
    assert common.budget_reaching(runs, -85.0, 1) == 3000
    assert common.budget_reaching(runs, -85.0, 2) == 4000
    assert common.budget_reaching(runs, -60.0, 1) is None
    cut = common.truncated({"sac": runs}, 2000)["sac"]
    assert [list(s) for s, _ in cut] == [[1000, 2000]] * 2 and list(cut[1][1]) == [-100.0, -100.0]


def test_acrobot_benchmark_pools_and_train_options():
    """The default pools include -63, beyond the expert: it is collected at the noise its bisection
    used to end at (with seed 63), not asked of `rlv collect` as a target it refuses; --train-options
    reach every run's command line."""
    bench = benchmark_module("acrobot_sample_efficiency")

    recipes = bench.dataset_recipes(bench.Args())
    assert recipes["q63"] == (["--noise", "0.00390625"], 63)
    assert recipes["q79"] == (["--quality", "-79"], 79)
    schedule = bench.schedule(bench.Args(train_options="--sac.compile --device cpu"), 5000)
    assert schedule[:2] == ["--total-steps", "5000"] and schedule[-3:] == ["--sac.compile", "--device", "cpu"]
    assert bench.schedule(bench.Args(), 5000)[-1] == "5000"  # nothing added by default


def test_benchmark_keeps_finished_runs_and_restores_them(tmp_path):
    common = benchmark_module("common")
    work, kept = tmp_path / "work", tmp_path / "kept"
    finished, running = work / "rlv" / "seed_0", work / "sac" / "seed_1"
    for run_dir in (finished, running):
        (run_dir / "checkpoints").mkdir(parents=True)
        (run_dir / "checkpoints" / "latest.pt").write_bytes(b"weights")
        (run_dir / "eval.csv").write_text("env_step,eval/success\n1000,0.5\n")
    (finished / "summary.json").write_text("{}\n")
    assert common.keep_finished(work, kept) == ["rlv/seed_0"]
    assert common.keep_finished(work, kept) == []  # kept once
    assert sorted(f.name for f in (kept / "rlv" / "seed_0").iterdir()) == ["eval.csv", "summary.json"]
    assert not (kept / "sac").exists()  # unfinished: not kept
    fresh = tmp_path / "fresh"
    (fresh / "rlv" / "seed_1").mkdir(parents=True)
    assert common.restore_finished(kept, fresh) == [fresh / "rlv" / "seed_0"]
    assert (fresh / "rlv" / "seed_0" / "eval.csv").read_text() == (finished / "eval.csv").read_text()
    assert common.restore_finished(kept, fresh) == []  # a run already there is left alone
