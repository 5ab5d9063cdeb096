"""Batches: sweeps, executors, chunking, resuming, concurrent folders, reading back, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import mesa
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.batch import (
    evaluate,
    make_plan,
    recording,
    replicate_seeds,
    run_batch,
)
from experiments.cli import main
from experiments.design import parse_sweep_option, sweep_of
from experiments.store import BatchError, load
from model.model import MultivectorModel
from model.scenario import ScenarioError
from tests.conftest import BASELINE, ROOT

KAZ = "states.KAZ.balancing_propensity"
UZB = "states.UZB.balancing_propensity"


def _sweep(baseline, design="grid", samples=None, *specs):
    return sweep_of(
        baseline,
        [parse_sweep_option(s) for s in specs or (f"{KAZ}=0.5,3.0",)],
        design=design,
        samples=samples,
    )


def _batch(baseline, out, **options):
    options = {"runs": 3, "progress": False, "out": out, **options}
    return run_batch(baseline, **options).path


def _all_tables(path):
    manifest = json.loads((path / "manifest.json").read_text())
    return {t: load(path, t) for t in manifest["batch"]["tables"]}


# ---------------------------------------------------------------------------------------------
# identical results whatever the executor, workers, chunking or engine


@pytest.fixture(scope="module")
def reference(baseline, tmp_path_factory):
    """A serial, one-chunk-per-run sweep batch of the Mesa engine: the reference tables."""
    out = tmp_path_factory.mktemp("reference")
    sweep = _sweep(baseline)
    path = _batch(
        baseline, out, sweep=sweep, executor="serial", workers=1, chunk_size=1, engine="mesa"
    )
    return sweep, _all_tables(path)


@settings(max_examples=6, deadline=None)
@given(
    executor=st.sampled_from(["serial", "threads", "processes"]),
    workers=st.integers(1, 2),
    chunk_size=st.integers(1, 7),
    engine=st.sampled_from(["ensemble", "mesa"]),
)
def test_tables_identical_for_any_executor_workers_chunks_and_engine(
    baseline, reference, tmp_path_factory, executor, workers, chunk_size, engine
):
    sweep, expected = reference
    out = tmp_path_factory.mktemp("any")
    path = _batch(
        baseline,
        out,
        sweep=sweep,
        executor=executor,
        workers=workers,
        chunk_size=chunk_size,
        engine=engine,
    )
    for name, table in _all_tables(path).items():
        pd.testing.assert_frame_equal(table, expected[name])


def test_a_dask_local_cluster_gives_identical_tables(baseline, reference, tmp_path):
    pytest.importorskip("dask.distributed")
    sweep, expected = reference
    path = _batch(baseline, tmp_path, sweep=sweep, executor="dask", workers=2, chunk_size=2)
    for name, table in _all_tables(path).items():
        pd.testing.assert_frame_equal(table, expected[name])


def test_sweep_batch_records_points_replicates_and_common_seeds(reference):
    _, tables = reference
    metrics = tables["metrics"]
    assert sorted(metrics["point"].unique()) == [0, 1]
    assert sorted(metrics[KAZ].unique()) == [0.5, 3.0]
    assert (metrics["run"] == metrics["point"] * 3 + metrics["replicate"]).all()
    seeds = metrics.groupby(["point", "replicate"])["seed"].first().unstack("point")
    assert (seeds[0] == seeds[1]).all()  # common random numbers across points
    assert list(seeds[0]) == [int(s) for s in replicate_seeds(BASELINE_SEED, 3)]
    # balancing more lowers Kazakhstan's dependence in the final year, on every seed
    final = metrics[(metrics["state"] == "KAZ")].pivot_table(
        index="replicate", columns=KAZ, values="dependence", aggfunc="last"
    )
    assert (final[3.0] < final[0.5]).all()


BASELINE_SEED = 20211231


def test_the_baseline_seed_is_what_the_reference_used(baseline):
    assert baseline.seed == BASELINE_SEED


def test_each_store_keeps_its_months(baseline, tmp_path):
    ends = {}
    for store in ("metrics", "annual", "monthly"):
        path = _batch(baseline, tmp_path / store, runs=2, store=store)
        metrics = load(path)
        ends[store] = metrics
        months = np.sort(metrics["date"].unique())
        expected = {"metrics": 1, "annual": 31, "monthly": 361}[store]
        assert len(months) == expected
        assert months[-1] == np.datetime64("2021-12-01")
    # the final month is the same whatever the store, drifts included
    final = [m[m["date"] == m["date"].max()].reset_index(drop=True) for m in ends.values()]
    pd.testing.assert_frame_equal(final[0], final[1])
    pd.testing.assert_frame_equal(final[0], final[2])
    with pytest.raises(BatchError, match="no table 'shares'"):
        load(next((tmp_path / "metrics" / "baseline").iterdir()), "shares")


def test_recording_includes_the_drift_references():
    steps, keep = recording("annual", 30)
    assert list(steps[keep]) == [0, 12, 24, 30]
    assert 18 in steps  # the year before the last month
    steps, keep = recording("metrics", 360)
    assert list(steps) == [0, 348, 360] and list(steps[keep]) == [360]


def test_evaluate_is_the_model_as_a_function(baseline, tmp_path):
    params = pd.DataFrame({KAZ: [0.5, 3.0]})
    out = evaluate(baseline, params, [11, 12])
    again = evaluate(baseline, params, [11, 12], engine="mesa")
    pd.testing.assert_frame_equal(out, again)
    assert len(out) == 2 * 2 * len(baseline.states)
    alone = evaluate(baseline.with_overrides({KAZ: 3.0}), None, [12])
    row = out[(out[KAZ] == 3.0) & (out["seed"] == 12)].reset_index(drop=True)
    for column in ("dependence", "hhi", "drift_year_on_year", "pole_China"):
        assert np.array_equal(row[column], alone[column]), column
    with pytest.raises(ScenarioError, match=r"states\.KAZ\.balancing_propensity"):
        evaluate(baseline, pd.DataFrame({KAZ: [-1.0]}), [1])


def test_mesa_batch_run_still_drives_our_model(baseline):
    results = mesa.batch_run(
        MultivectorModel,
        {"scenario": baseline},
        rng=[1, 2],
        max_steps=10_000,
        number_processes=1,
        display_progress=False,
    )
    frame = pd.DataFrame(results)
    assert set(frame["rng"]) == {1, 2} and "dependence_KAZ" in frame
    ours = evaluate(baseline, None, [2])
    final = frame[(frame["rng"] == 2) & (frame["Step"] == frame["Step"].max())]
    kaz = ours.loc[ours["state"] == "KAZ", "dependence"].iloc[0]
    assert final["dependence_KAZ"].iloc[0] == pytest.approx(kaz, rel=1e-6)


# ---------------------------------------------------------------------------------------------
# designs


def test_lhs_is_seeded_stratified_and_inside_its_ranges(baseline):
    sweep = _sweep(baseline, "lhs", 20, f"{KAZ}=0.5:3.0", f"{UZB}=1:2")
    points = sweep.points(7)
    assert points.equals(sweep.points(7)) and not points.equals(sweep.points(8))
    for key, (lo, hi) in {KAZ: (0.5, 3.0), UZB: (1.0, 2.0)}.items():
        cells = np.floor((points[key] - lo) / (hi - lo) * 20).astype(int)
        assert sorted(cells) == list(range(20))  # one point per stratum


def test_sobol_and_grid_designs(baseline):
    sobol = _sweep(baseline, "sobol", 16, f"{KAZ}=0.5:3.0", f"{UZB}=1:2").points(1)
    assert len(sobol) == 16 and sobol[KAZ].between(0.5, 3.0).all()
    grid = _sweep(baseline, "grid", 3, f"{KAZ}=0.5:3.0", f"{UZB}=1,2").points(0)
    assert len(grid) == 6 and sorted(grid[KAZ].unique()) == [0.5, 1.75, 3.0]


def test_a_sweep_table_in_a_scenario_file(tmp_path):
    what_if = tmp_path / "sweep.toml"
    what_if.write_text(
        f'extends = "{BASELINE}"\n'
        '[sweep]\ndesign = "lhs"\nsamples = 4\nseed = 3\n'
        f'[sweep.parameters]\n"{KAZ}" = [0.5, 3.0]\n'
        "[sweep.parameters.powers.CHN]\ninterest = [0.8, 1.2]\n"
    )
    out = tmp_path / "out"
    assert main(["run", str(what_if), "--runs", "2", "--out", str(out), "--quiet"]) == 0
    (path,) = (out / "baseline").iterdir()
    metrics = load(path)
    assert metrics["point"].nunique() == 4 and metrics["run"].nunique() == 8
    assert metrics["powers.CHN.interest"].between(0.8, 1.2).all()
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["sweep"]["design"] == "lhs" and manifest["sweep"]["seed"] == 3
    design = pd.read_parquet(path / "design.parquet")
    assert len(design) == 4 and set(design.columns) == {"point", KAZ, "powers.CHN.interest"}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--sweep", "nonsense"], "KEY=LO:HI"),
        (["--sweep", f"{KAZ}=0.5:300"], "sweep.parameters.states.KAZ.balancing_propensity"),
        (["--sweep", "states.KAZ.balance=1:2"], "unknown key"),
        (["--sweep", f"{KAZ}=1:x"], "two numbers"),
        (["--sweep", f"{KAZ}=2:1"], "low < high"),
        (["--sweep", f"{KAZ}=a,b"], "numbers or true/false"),
        (["--sweep", f"{KAZ}=0.5:3", "--design", "sobol", "--samples", "10"], "power of two"),
        (["--sweep", f"{KAZ}=1,2,3", "--design", "lhs", "--samples", "8"], "a range"),
        (["--sweep", f"{KAZ}=0.5:3", "--design", "lhs"], "sweep.samples"),
        (["--design", "lhs"], "at least one swept key"),
        (["--store", "all"], "--store"),
        (["--engine", "fast"], "--engine"),
        (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler"),
    ],
)
def test_bad_sweeps_and_options_are_one_line_exit_2(args, expected, tmp_path, capsys):
    code = _exit_code(["run", str(BASELINE), *args, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_bad_sweep_table_names_its_file_and_key(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(f'extends = "{BASELINE}"\n[sweep]\ndesign = "grid"\nsize = 3\n')
    assert _exit_code(["run", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: sweep.size = 3: unknown key" in err


def _exit_code(argv):
    try:
        return main(argv)
    except SystemExit as stop:  # argparse's own errors
        return stop.code


# ---------------------------------------------------------------------------------------------
# interrupting, resuming, concurrent batches


def _cli(*args):
    return [sys.executable, "-m", "experiments.cli", *args]


SLOW_BATCH = ["--engine", "mesa", "--executor", "serial", "--workers", "1", "--store", "metrics"]


def test_a_killed_batch_resumes_to_identical_tables(tmp_path):
    args = ["run", str(BASELINE), "--runs", "60", "--chunk-size", "4", *SLOW_BATCH, "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    killed = subprocess.Popen(_cli(*args, "--out", str(tmp_path / "a")), env=env, cwd=ROOT)
    parts = []
    deadline = time.monotonic() + 120
    while len(parts) < 3 and time.monotonic() < deadline and killed.poll() is None:
        time.sleep(0.05)
        parts = list((tmp_path / "a").glob("baseline/*.incomplete/metrics/part-*.parquet"))
    assert killed.poll() is None, "the batch ended before it could be killed"
    killed.send_signal(signal.SIGKILL)  # mid-chunk: no chance to clean up
    killed.wait()
    (incomplete,) = (tmp_path / "a" / "baseline").iterdir()
    assert incomplete.name.endswith(".incomplete")
    with pytest.raises(BatchError, match="--resume"):
        load(incomplete)
    resumed = subprocess.run(
        _cli("run", "--resume", str(incomplete), "--quiet", "--workers", "2"),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    (finished,) = (tmp_path / "a" / "baseline").iterdir()
    assert not finished.name.endswith(".incomplete")
    whole = subprocess.run(
        _cli(*args, "--out", str(tmp_path / "b")), env=env, cwd=ROOT, capture_output=True
    )
    assert whole.returncode == 0
    (uninterrupted,) = (tmp_path / "b" / "baseline").iterdir()
    metrics = load(finished)
    assert metrics["run"].nunique() == 60 and len(metrics) == 60 * 5  # none lost or repeated
    pd.testing.assert_frame_equal(metrics, load(uninterrupted))
    manifest = json.loads((finished / "manifest.json").read_text())
    first, second = manifest["sessions"]  # the killed session is kept, marked interrupted
    assert first["status"] == "interrupted" and second["status"] == "complete"
    assert 0 < second["runs_stored_before"] < 60
    assert second["runs"] == 60 - second["runs_stored_before"]


def test_concurrent_batches_into_one_folder_never_mix(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["run", str(BASELINE), "--runs", "12", "--chunk-size", "3", *SLOW_BATCH, "--quiet"]
    procs = [
        subprocess.Popen(
            _cli(*args, "--seed", str(seed), "--out", str(tmp_path)),
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for seed in (1, 2, 3)
    ]
    for proc in procs:
        assert proc.wait() == 0, proc.stderr.read()
    folders = sorted((tmp_path / "baseline").iterdir())
    assert len(folders) == 3 and not any(f.name.endswith(".incomplete") for f in folders)
    seen = set()
    for folder in folders:
        manifest = json.loads((folder / "manifest.json").read_text())
        metrics = load(folder)
        assert metrics["run"].nunique() == 12
        assert set(metrics["seed"]) == set(manifest["batch"]["seeds"])
        seen.add(manifest["batch"]["batch_seed"])
    assert seen == {1, 2, 3}


def test_resume_refuses_what_it_cannot_finish(tmp_path, capsys, baseline):
    assert _exit_code(["run", "--resume", str(tmp_path)]) == 2
    assert "not a batch folder" in capsys.readouterr().err
    path = _batch(baseline, tmp_path, runs=2)
    assert _exit_code(["run", "--resume", str(path)]) == 2
    assert "already complete" in capsys.readouterr().err
    assert _exit_code(["run", str(BASELINE), "--resume", str(path)]) == 2
    assert "drop SCENARIO" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "flag"),
    [
        (["--seed", "0"], "--seed"),  # a falsy value was accepted silently
        (["--seed", "1"], "--seed"),
        (["--runs", "1"], "--runs"),
        (["--store", "metrics"], "--store"),
        (["--engine", "mesa"], "--engine"),
        (["--out", "elsewhere"], "--out"),
        (["--set", "model.noise=0"], "--set"),
    ],
)
def test_resume_refuses_options_of_a_fixed_plan(tmp_path, capsys, extra, flag):
    folder = tmp_path / "x.incomplete"
    folder.mkdir()
    assert _exit_code(["run", "--resume", str(folder), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"drop {flag}" in err


def test_plans_cut_runs_into_contiguous_chunks(baseline):
    plan = make_plan(baseline, runs=10, sweep=_sweep(baseline), chunk_size=3)
    assert plan.n_runs == 20
    assert plan.chunks[0] == (0, 3) and plan.chunks[-1] == (18, 20)
    covered = [r for lo, hi in plan.chunks for r in range(lo, hi)]
    assert covered == list(range(20))
