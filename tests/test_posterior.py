"""Posterior batches: reading a posterior file, drawing particles, identical tables, resuming,
one-line errors, and bands that say they carry posterior uncertainty."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.analysis import compare, regional_figure, trajectory_figure, write_report
from experiments.batch import make_plan, replicate_seeds, run_batch
from experiments.cli import main
from experiments.posterior import (
    PARTICLE_SPAWN_KEY,
    PosteriorError,
    draw_particles,
    load_posterior,
    read_posterior,
)
from experiments.store import Batch, BatchError, load
from tests.conftest import BASELINE, ROOT

KAZ = "states.KAZ.balancing_propensity"
TEMPERATURE = "model.temperature"
# four particles over two parameters; particle 2 has weight 0 and must never be drawn
PARTICLES = pd.DataFrame(
    {
        KAZ: [0.5, 1.5, 3.0, 2.0],
        TEMPERATURE: [0.3, 0.4, 0.5, 0.45],
        "weight": [1.0, 2.0, 0.0, 1.0],
        "distance": [0.1, 0.2, 0.3, 0.1],
    }
)
RUNS = 6
SEED = 2  # its first six runs draw particles 1, 1, 0, 1, 1, 3


def _write(frame: pd.DataFrame, path):
    frame.to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def posterior_file(tmp_path_factory):
    return _write(PARTICLES, tmp_path_factory.mktemp("posterior") / "posterior.parquet")


@pytest.fixture(scope="module")
def posterior(baseline, posterior_file):
    return load_posterior(posterior_file, baseline)


def _batch(baseline, posterior, out, **options):
    options = {"runs": RUNS, "seed": SEED, "progress": False, "out": out, **options}
    options["posterior"] = posterior
    return run_batch(baseline, **options).path


def _all_tables(path):
    manifest = json.loads((path / "manifest.json").read_text())
    return {t: load(path, t) for t in manifest["batch"]["tables"]}


@pytest.fixture(scope="module")
def reference(baseline, posterior, tmp_path_factory):
    """A serial, one-chunk-per-run posterior batch of the Mesa engine: the reference tables."""
    out = tmp_path_factory.mktemp("reference")
    path = _batch(
        baseline, posterior, out, executor="serial", workers=1, chunk_size=1, engine="mesa"
    )
    return path, _all_tables(path)


# ---------------------------------------------------------------------------------------------
# reading a posterior file


def test_read_posterior_returns_particles_and_normalised_weights(baseline, posterior_file):
    table = read_posterior(posterior_file, baseline)
    assert list(table.columns) == [KAZ, TEMPERATURE, "weight"]  # distance is ignored
    assert table.index.name == "point" and list(table.index) == [0, 1, 2, 3]
    assert table["weight"].tolist() == [0.25, 0.5, 0.0, 0.25]
    assert table[KAZ].dtype == np.float64
    pd.testing.assert_frame_equal(
        table[[KAZ, TEMPERATURE]], PARTICLES[[KAZ, TEMPERATURE]].rename_axis("point")
    )


def test_a_posterior_knows_its_file(posterior, posterior_file):
    assert posterior.sha256 == hashlib.sha256(posterior_file.read_bytes()).hexdigest()
    assert posterior.path == posterior_file.resolve() and posterior.keys == [KAZ, TEMPERATURE]


# ---------------------------------------------------------------------------------------------
# drawing particles


def test_draws_follow_the_weights_and_never_a_zero_weight():
    weights = PARTICLES["weight"].to_numpy() / PARTICLES["weight"].sum()
    draws = draw_particles(weights, 7, 40_000)
    counts = np.bincount(draws, minlength=4)
    assert counts[2] == 0
    # binomial standard error at 40,000 draws is at most 0.0025: five of them
    assert np.allclose(counts / draws.size, weights, atol=0.0125)
    assert np.array_equal(draws, draw_particles(weights, 7, 40_000))  # seeded
    assert not np.array_equal(draws[:50], draw_particles(weights, 8, 50))


def test_the_draws_have_a_stream_of_their_own(baseline):
    # the draws' generator is seeded under the batch seed with a two-word spawn key, which no
    # replicate seed (spawn key (r,)) shares
    own = np.random.SeedSequence(7, spawn_key=PARTICLE_SPAWN_KEY).generate_state(4, np.uint64)
    assert not set(own.tolist()) & set(replicate_seeds(7, 10_000).tolist())
    assert len(PARTICLE_SPAWN_KEY) == 2


def test_a_posterior_plan_pairs_each_replicate_with_its_particle(baseline, posterior):
    plan = make_plan(baseline, runs=50, seed=3, posterior=posterior, chunk_size=7)
    assert plan.n_runs == 50 and plan.n_points == 4 and plan.uncertainty == "posterior+seeds"
    points, replicates = plan.locate(np.arange(50))
    assert np.array_equal(replicates, np.arange(50))
    assert np.array_equal(points, draw_particles(posterior.weights, 3, 50))
    assert 2 not in set(points)
    # the variants built to check the particles are reused here, and never sent to workers
    assert set(plan.built) == set(points) and plan.variant(points[0]) is plan.built[points[0]]
    assert pickle.loads(pickle.dumps(plan)).built == {}
    with pytest.raises(BatchError, match="not with a sweep"):
        from experiments.design import parse_sweep_option, sweep_of

        sweep = sweep_of(baseline, [parse_sweep_option(f"{KAZ}=0.5,3.0")])
        make_plan(baseline, runs=2, sweep=sweep, posterior=posterior)


# ---------------------------------------------------------------------------------------------
# identical results whatever the executor, workers, chunking or engine


@settings(max_examples=5, deadline=None)
@given(
    executor=st.sampled_from(["serial", "threads", "processes"]),
    workers=st.integers(1, 2),
    chunk_size=st.integers(1, 4),
    engine=st.sampled_from(["ensemble", "mesa"]),
)
def test_tables_identical_for_any_executor_workers_chunks_and_engine(
    baseline, posterior, reference, tmp_path_factory, executor, workers, chunk_size, engine
):
    _, expected = reference
    out = tmp_path_factory.mktemp("any")
    path = _batch(
        baseline,
        posterior,
        out,
        executor=executor,
        workers=workers,
        chunk_size=chunk_size,
        engine=engine,
    )
    for name, table in _all_tables(path).items():
        pd.testing.assert_frame_equal(table, expected[name])


def test_a_dask_local_cluster_gives_identical_tables(baseline, posterior, reference, tmp_path):
    pytest.importorskip("dask.distributed")
    _, expected = reference
    path = _batch(baseline, posterior, tmp_path, executor="dask", workers=2, chunk_size=2)
    for name, table in _all_tables(path).items():
        pd.testing.assert_frame_equal(table, expected[name])


# ---------------------------------------------------------------------------------------------
# each run's parameters are its particle's


def test_each_run_has_its_drawn_particles_values(baseline, posterior, posterior_file, reference):
    path, tables = reference
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["uncertainty"] == "posterior+seeds"
    spec = manifest["posterior"]
    assert spec["sha256"] == posterior.sha256 and spec["path"] == str(posterior_file.resolve())
    assert spec["parameters"] == [KAZ, TEMPERATURE] and spec["particles"] == 4
    design = pd.read_parquet(path / "design.parquet").set_index("point")
    pd.testing.assert_frame_equal(design, posterior.particles)
    draws = pd.read_parquet(path / "posterior.parquet")
    expected = draw_particles(posterior.weights, SEED, RUNS)
    assert sorted(set(expected)) == [0, 1, 3]
    assert draws["run"].tolist() == list(range(RUNS)) == draws["replicate"].tolist()
    assert np.array_equal(draws["point"], expected)
    assert np.array_equal(draws["seed"], replicate_seeds(SEED, RUNS))
    assert np.array_equal(draws["weight"], posterior.weights[expected])
    for key in (KAZ, TEMPERATURE):
        assert np.array_equal(draws[key], design[key].to_numpy()[expected])
    metrics = tables["metrics"]
    per_run = metrics.groupby("run")[["point", KAZ, TEMPERATURE, "seed"]].first()
    pd.testing.assert_frame_equal(
        per_run.reset_index(drop=True),
        draws[["point", KAZ, TEMPERATURE, "seed"]],
        check_dtype=False,
    )
    assert "weight" not in metrics and KAZ not in Batch(path).metric_names()


def test_a_run_equals_a_plain_set_run_of_its_particle(reference, tmp_path):
    path, tables = reference
    draws = pd.read_parquet(path / "posterior.parquet")
    run = int(draws.index[draws["point"] == 3][0])
    row = draws.iloc[run]
    out = tmp_path / "plain"
    argv = ["run", str(BASELINE), "--runs", str(run + 1), "--seed", str(SEED)]
    argv += ["--out", str(out), "--quiet"]
    argv += ["--set", f"{KAZ}={float(row[KAZ])!r}"]
    argv += ["--set", f"{TEMPERATURE}={float(row[TEMPERATURE])!r}"]
    assert main([*argv, "--no-figures"]) == 0
    (plain,) = (out / "baseline").iterdir()
    ours = tables["metrics"]
    ours = ours[ours["run"] == run].drop(columns=["point", KAZ, TEMPERATURE])
    theirs = load(plain)
    theirs = theirs[theirs["run"] == run].drop(columns=["point"])
    pd.testing.assert_frame_equal(ours.reset_index(drop=True), theirs.reset_index(drop=True))
    assert json.loads((plain / "manifest.json").read_text())["uncertainty"] == "seeds"


# ---------------------------------------------------------------------------------------------
# resuming


def _cli(*args):
    return [sys.executable, "-m", "experiments.cli", *args]


SLOW_BATCH = ["--engine", "mesa", "--executor", "serial", "--workers", "1", "--store", "metrics"]


def test_a_killed_posterior_batch_resumes_to_identical_tables(baseline, tmp_path, capsys):
    posterior_file = _write(PARTICLES, tmp_path / "posterior.parquet")
    args = ["run", str(BASELINE), "--posterior", str(posterior_file), "--runs", "24"]
    args += ["--seed", str(SEED)]
    args += ["--chunk-size", "2", *SLOW_BATCH, "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    killed = subprocess.Popen(_cli(*args, "--out", str(tmp_path / "a")), env=env, cwd=ROOT)
    parts = []
    deadline = time.monotonic() + 120
    while len(parts) < 3 and time.monotonic() < deadline and killed.poll() is None:
        time.sleep(0.05)
        parts = list((tmp_path / "a").glob("baseline/*.incomplete/metrics/part-*.parquet"))
    assert killed.poll() is None, "the batch ended before it could be killed"
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    (incomplete,) = (tmp_path / "a" / "baseline").iterdir()
    assert incomplete.name.endswith(".incomplete")
    spare = tmp_path / "spare" / incomplete.name
    shutil.copytree(incomplete, spare)
    # the plan is in the folder: --posterior again is refused, as other plan options are
    assert _exit_code(["run", "--resume", str(incomplete), "--posterior", "x.parquet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "drop --posterior" in err
    resumed = subprocess.run(
        _cli("run", "--resume", str(incomplete), "--quiet", "--workers", "2"),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    (finished,) = (tmp_path / "a" / "baseline").iterdir()
    manifest = json.loads((finished / "manifest.json").read_text())
    assert [s["status"] for s in manifest["sessions"]] == ["interrupted", "complete"]
    whole = _batch(
        baseline,
        load_posterior(posterior_file, baseline),
        tmp_path / "b",
        runs=24,
        store="metrics",
        chunk_size=5,
    )
    metrics = load(finished)
    assert metrics["run"].nunique() == 24 and len(metrics) == 24 * 5  # none lost or repeated
    pd.testing.assert_frame_equal(metrics, load(whole))
    # a posterior file changed (or gone) since the batch started is refused on resume
    _write(PARTICLES.assign(weight=[1.0, 1.0, 1.0, 1.0]), posterior_file)
    assert _exit_code(["run", "--resume", str(spare), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has changed since the batch started" in err
    posterior_file.unlink()
    assert _exit_code(["run", "--resume", str(spare), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "can no longer be read" in err


# ---------------------------------------------------------------------------------------------
# bad files and refused combinations: one line, exit status 2, no folder

BAD_FILES = {
    "an extra column": (PARTICLES.assign(prior=1.0), "column 'prior': not allowed"),
    "a name that is no key path": (
        PARTICLES.rename(columns={KAZ: "Kazakhstan"}),
        "column 'Kazakhstan': not allowed",
    ),
    "an unknown key": (
        PARTICLES.rename(columns={KAZ: "states.KAZ.balance"}),
        "column states.KAZ.balance, particle 0 = 0.5: unknown key",
    ),
    "an unknown state": (
        PARTICLES.rename(columns={KAZ: "states.XYZ.balancing_propensity"}),
        "column states.XYZ.balancing_propensity, particle 0 = 0.5: a known state id",
    ),
    "a value out of range": (
        PARTICLES.assign(**{KAZ: [0.5, 1.5, 30.0, 2.0]}),
        f"column {KAZ}, particle 2 = 30.0: a number in [0.0, 20.0]",
    ),
    "a value an event pushes out of range": (
        PARTICLES.assign(**{"states.KGZ.balancing_propensity": [1.0, 1.0, 20.0, 1.0]}),
        "column states.KGZ.balancing_propensity, particle 2 = 20.0: values for which",
    ),
    "NaN": (PARTICLES.assign(**{TEMPERATURE: [0.3, np.nan, 0.5, 0.45]}), "particle 1 = nan"),
    "inf": (PARTICLES.assign(**{TEMPERATURE: [0.3, np.inf, 0.5, 0.45]}), "particle 1 = inf"),
    "an infinite weight": (
        PARTICLES.assign(weight=[1.0, np.inf, 0.0, 1.0]),
        "column weight, particle 1 = inf: a finite weight >= 0",
    ),
    "a negative weight": (
        PARTICLES.assign(weight=[1.0, -2.0, 0.0, 1.0]),
        "column weight, particle 1 = -2.0: a finite weight >= 0",
    ),
    "weights all zero": (PARTICLES.assign(weight=0.0), "column weight: weights that are not all"),
    "no weight column": (PARTICLES.drop(columns="weight"), "column weight: a 'weight' column"),
    "no parameter column": (PARTICLES[["weight"]], ": no parameter column"),
    "no rows": (PARTICLES.iloc[:0], ": no particles"),
    "text values": (PARTICLES.assign(**{KAZ: "high"}), f"column {KAZ}: float64 values"),
    "a switch, not a number": (
        PARTICLES.assign(**{"events.bri_2013.enabled": 1.0}),
        "column events.bri_2013.enabled",
    ),
    "a stored index": (PARTICLES.set_axis([5, 6, 7, 8]), "column '__index_level_0__'"),
}


def _exit_code(argv):
    try:
        return main(argv)
    except SystemExit as stop:  # argparse's own errors
        return stop.code


def _refused(argv, capsys, out):
    code = _exit_code([*argv, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()
    return err


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_posterior_file_is_one_line_exit_2_and_no_folder(case, tmp_path, capsys):
    frame, expected = BAD_FILES[case]
    file = tmp_path / "bad.parquet"
    frame.to_parquet(file, index=case == "a stored index")
    err = _refused(["run", str(BASELINE), "--posterior", str(file)], capsys, tmp_path / "out")
    assert err.startswith(f"multivector: error: {file}") and expected in err, err


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "no such file"), (b"run,weight\n1,2\n", "not a Parquet file"), (b"", "not a Parquet")],
)
def test_a_missing_or_unreadable_posterior_file_is_one_line(content, expected, tmp_path, capsys):
    file = tmp_path / "posterior.parquet"
    if content is not None:
        file.write_bytes(content)
    err = _refused(["run", str(BASELINE), "--posterior", str(file)], capsys, tmp_path / "out")
    assert f"{file}: {expected}" in err


def test_a_combination_the_scenario_refuses_names_its_particle(baseline, tmp_path, capsys):
    # each column's values are fine alone, but particle 1 leaves Kazakhstan no security tie
    keys = [f"ties.KAZ.{p.id}.security" for p in baseline.powers]
    particles = {k: [baseline.parameters[k].value, 0.0] for k in keys}
    file = _write(pd.DataFrame({**particles, "weight": [0.0, 1.0]}), tmp_path / "p.parquet")
    load_posterior(file, baseline)  # each column alone passes
    err = _refused(["run", str(BASELINE), "--posterior", str(file)], capsys, tmp_path / "out")
    assert f"{file}: column {keys[0]}, particle 1 = 0.0: a positive initial tie" in err
    zero = file.with_name("zero.parquet")
    _write(pd.DataFrame({keys[0]: [-1.0], "weight": [1.0]}), zero)
    with pytest.raises(PosteriorError, match=r"particle 0 = -1\.0: a number in \[0\.0, 100\.0\]"):
        load_posterior(zero, baseline)


def test_posterior_refuses_a_sweep_and_a_clashing_set(posterior_file, tmp_path, capsys):
    run = ["run", str(BASELINE), "--posterior", str(posterior_file)]
    err = _refused([*run, "--sweep", f"{KAZ}=1,2"], capsys, tmp_path / "out")
    assert "not with a sweep (--sweep)" in err
    swept = tmp_path / "swept.toml"
    swept.write_text(
        f'extends = "{BASELINE}"\n[sweep]\ndesign = "grid"\n'
        f'[sweep.parameters]\n"{KAZ}" = [0.5, 3.0]\n'
    )
    err = _refused(["run", str(swept), "--posterior", str(posterior_file)], capsys, tmp_path / "o")
    assert f"not with a sweep (the [sweep] of {swept})" in err
    err = _refused([*run, "--set", f"{TEMPERATURE}=0.2"], capsys, tmp_path / "out")
    assert f"--set {TEMPERATURE}: the posterior" in err


# ---------------------------------------------------------------------------------------------
# bands say what they show


def _legend_texts(fig):
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes)]
    return [t.get_text() for legend in legends if legend is not None for t in legend.get_texts()]


def test_bands_say_posterior_and_seeds(reference, tmp_path):
    path, _ = reference
    batch = Batch(path)
    assert batch.band_note == "posterior and seeds"
    texts = _legend_texts(trajectory_figure(batch, "dependence"))
    assert (
        "90% of runs (posterior and seeds)" in texts
        and "50% of runs (posterior and seeds)" in texts
    )
    assert "90% of runs (posterior and seeds)" in _legend_texts(regional_figure(batch))
    overlay = trajectory_figure(batch, "hhi", ["KAZ", "UZB"], overlay=True)
    assert overlay.legends[0].get_title().get_text() == (
        "median and 50% of runs (posterior and seeds)"
    )
    report = write_report(path).read_text()
    assert "Uncertainty in the bands: <strong>posterior and seeds</strong>" in report
    assert posterior_sha(path)[:12] in report
    folder, _ = compare(path, path, out=tmp_path)
    assert "Runs vary in posterior and seeds." in (folder / "compare-dependence.md").read_text()


def posterior_sha(path) -> str:
    return json.loads((path / "manifest.json").read_text())["posterior"]["sha256"]
