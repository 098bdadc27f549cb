import numpy as np

from rlv.stats import iqm, smooth, steps_to_reach


def test_iqm_drops_the_tails():
    assert iqm(np.array([-1000.0, 1.0, 2.0, 3.0, 4.0, 1000.0, 2.5, 3.5])) == np.mean([2.0, 2.5, 3.0, 3.5])
    assert iqm(np.array([5.0])) == 5.0


def test_steps_to_reach():
    steps = np.array([1000, 2000, 3000])
    assert steps_to_reach(steps, np.array([-100, -80, -60]), -80) == 2000
    assert np.isnan(steps_to_reach(steps, np.array([-100, -90, -95]), -80))


def test_smooth():
    np.testing.assert_allclose(smooth(np.array([0.0, 2.0, 4.0]), 2), [0.0, 1.0, 3.0])


def test_plot_band_covers_the_seed_mean():
    from rlv.plot import band

    steps = np.array([1000, 2000, 3000])
    curves = [(steps, np.array([-100.0, -90.0, -80.0])), (steps, np.array([-100.0, -70.0, -60.0]))]
    common, mean, low, high = band(curves)
    np.testing.assert_array_equal(common, steps)
    np.testing.assert_allclose(mean, [-100.0, -80.0, -70.0])
    assert np.all(low <= mean) and np.all(mean <= high) and high[1] - low[1] > 0


def test_benchmark_curves_csv_round_trips_and_redraws(tmp_path):
    """A benchmark's committed per-run CSV reads back as the curves it was written from, and those
    redraw into a figure (what `--replot` does)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import common

    from rlv.plot import plot_curves

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
