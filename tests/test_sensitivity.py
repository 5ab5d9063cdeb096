"""Sensitivity analysis: SALib through our pipeline on Ishigami, the model adapter, the command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from SALib.test_functions import Ishigami

from experiments.batch import replicate_seeds
from experiments.cli import main
from experiments.sensitivity import (
    SensitivityError,
    analyse,
    indices,
    model_outcome,
    parse_outcome,
    parse_parameters,
    problem_of,
    sample,
)
from model.scenario import ScenarioError
from tests.conftest import BASELINE

# Ishigami-Homma, a = 7, b = 0.1, x_i ~ U(-pi, pi): analytic indices (Saltelli et al. 2008)
ISHIGAMI = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}
A, B = 7.0, 0.1
VARIANCE = A**2 / 8 + B * np.pi**4 / 5 + B**2 * np.pi**8 / 18 + 0.5
S1 = np.array([(0.5 * (1 + B * np.pi**4 / 5) ** 2) / VARIANCE, (A**2 / 8) / VARIANCE, 0.0])
ST = np.array(
    [
        (0.5 * (1 + B * np.pi**4 / 5) ** 2 + 8 * B**2 * np.pi**8 / 225) / VARIANCE,
        (A**2 / 8) / VARIANCE,
        (8 * B**2 * np.pi**8 / 225) / VARIANCE,
    ]
)
NOISE_SD = 1.0
KAZ = "states.KAZ.balancing_propensity"
RUS = "powers.RUS.rivalry_response"


def ishigami(X, seeds):
    """Deterministic: every seed gives the same outcome."""
    return np.repeat(Ishigami.evaluate(X, A, B)[:, None], len(seeds), axis=1)


def noisy_ishigami(X, seeds):
    """Ishigami plus N(0, NOISE_SD^2) noise drawn from each seed (the same seed at every point)."""
    noise = np.stack(
        [np.random.default_rng(int(s)).normal(0.0, NOISE_SD, len(X)) for s in seeds], axis=1
    )
    return Ishigami.evaluate(X, A, B)[:, None] + noise


def test_analytic_ishigami_values():
    np.testing.assert_allclose(S1, [0.3139, 0.4424, 0.0], atol=1e-4)
    np.testing.assert_allclose(ST, [0.5576, 0.4424, 0.2437], atol=1e-4)


def test_sobol_on_ishigami_matches_the_analytic_indices():
    table = indices(ishigami, ISHIGAMI, method="sobol", samples=1024, seeds=[7], seed=3)
    assert list(table.index) == ["x1", "x2", "x3"]
    np.testing.assert_allclose(table["S1"], S1, atol=0.05)
    np.testing.assert_allclose(table["ST"], ST, atol=0.05)
    assert (table[["S1_conf", "ST_conf"]] > 0).all().all()
    # the analytic values lie inside the bootstrap intervals
    assert (np.abs(table["ST"] - ST) <= table["ST_conf"] + 0.01).all()
    assert table.attrs["model_runs"] == 1024 * (3 + 2)
    assert table.attrs["seed_variance_share"] == 0.0
    assert table[["S1_seed_sd", "ST_seed_sd"]].isna().all().all()


def test_noisy_ishigami_averaged_over_seeds_and_seed_variance_reported():
    seeds = replicate_seeds(11, 16)
    table = indices(noisy_ishigami, ISHIGAMI, method="sobol", samples=1024, seeds=seeds, seed=3)
    np.testing.assert_allclose(table["S1"], S1, atol=0.05)
    np.testing.assert_allclose(table["ST"], ST, atol=0.05)
    share = table.attrs["seed_variance_share"]
    expected = NOISE_SD**2 / (VARIANCE + NOISE_SD**2)
    assert share > 0
    assert share == pytest.approx(expected, abs=0.01)
    # averaging 16 seeds leaves about 1 / 16 of the noise variance
    noise_left = NOISE_SD**2 / 16 / VARIANCE
    assert table.attrs["mean_noise_share"] == pytest.approx(noise_left, rel=0.2)
    assert table.attrs["seeds"] == 16
    assert table.attrs["model_runs"] == 1024 * 5 * 16
    assert (table[["S1_seed_sd", "ST_seed_sd"]] > 0).all().all()


def test_same_seed_same_indices():
    seeds = replicate_seeds(11, 4)
    first = indices(noisy_ishigami, ISHIGAMI, method="sobol", samples=64, seeds=seeds, seed=5)
    again = indices(noisy_ishigami, ISHIGAMI, method="sobol", samples=64, seeds=seeds, seed=5)
    pd.testing.assert_frame_equal(first, again)
    other = indices(noisy_ishigami, ISHIGAMI, method="sobol", samples=64, seeds=seeds, seed=6)
    assert not np.allclose(first["S1"], other["S1"])


def test_seed_variance_share_is_the_law_of_total_variance():
    problem = {"num_vars": 1, "names": ["x"], "bounds": [[0.0, 1.0]]}
    X = sample(problem, method="sobol", samples=64, seed=0)
    Y = X[:, [0]] + np.array([[-1.0, 1.0]])  # seed noise of variance 1, x variance ~1/12
    table = analyse(problem, X, Y, method="sobol", samples=64, seed=0)
    expected = 1.0 / (X[:, 0].var() + 1.0)
    assert table.attrs["seed_variance_share"] == pytest.approx(expected)
    assert table.loc["x", "ST"] == pytest.approx(1.0, abs=0.05)


def test_constant_or_nan_outcomes_are_clear_errors():
    problem = {"num_vars": 1, "names": ["x"], "bounds": [[0.0, 1.0]]}
    X = sample(problem, method="sobol", samples=8, seed=0)
    with pytest.raises(SensitivityError, match="same at every design point"):
        analyse(problem, X, np.ones((len(X), 2)), method="sobol", samples=8, seed=0)
    Y = np.ones((len(X), 2)) * X
    Y[3, 1] = np.nan
    with pytest.raises(SensitivityError, match="not a finite number in 1 of"):
        analyse(problem, X, Y, method="sobol", samples=8, seed=0)


def test_morris_on_ishigami_ranks_x1_and_x2_above_x3():
    table = indices(ishigami, ISHIGAMI, method="morris", samples=500, seeds=[7], seed=3)
    assert table.attrs["model_runs"] == 500 * (3 + 1)
    mu_star = table["mu_star"]
    assert min(mu_star["x1"], mu_star["x2"]) > mu_star["x3"]
    # on the 4-level grid, x2 moves sin^2 between 0 and 3/4 in steps of 2/3 of its range:
    # every elementary effect is +-7 * 0.75 / (2/3) = 7.875
    assert mu_star["x2"] == pytest.approx(7.875)
    assert table.loc["x2", "sigma"] > 0  # the signs differ
    assert (table["mu_star_conf"] >= 0).all()


def test_model_adapter_on_the_baseline(baseline):
    parameters = parse_parameters(baseline, [f"{KAZ}=0.5:3", f"{RUS}=0.2:3"])
    model = model_outcome(baseline, parameters, "dependence:KAZ", threads=2)
    problem = problem_of(parameters)
    seeds = replicate_seeds(1, 2)
    table = indices(model, problem, method="sobol", samples=8, seeds=seeds, seed=1)
    assert list(table.index) == [KAZ, RUS]
    assert np.isfinite(table[["S1", "S1_conf", "ST", "ST_conf"]].to_numpy()).all()
    assert table.attrs["model_runs"] == 8 * 4 * 2
    assert 0 <= table.attrs["seed_variance_share"] < 1
    # the adapter is evaluate() picking one state's metric, in point-major order
    X = sample(problem, method="sobol", samples=2, seed=5)[:3]
    Y = model(X, seeds)
    assert Y.shape == (3, 2)
    from experiments.batch import evaluate

    direct = evaluate(baseline, pd.DataFrame(X, columns=[KAZ, RUS]), seeds)
    kaz = direct[direct["state"] == "KAZ"].sort_values("run")
    np.testing.assert_allclose(Y.ravel(), kaz["dependence"].to_numpy(dtype=float))


def test_outcome_syntax(baseline):
    final = str(baseline.dates[-1])
    assert parse_outcome(baseline, "dependence:KAZ").date == final
    outcome = parse_outcome(baseline, "pole_China:KAZ:2015-12")
    assert (outcome.metric, outcome.state, outcome.date) == ("pole_China", "KAZ", "2015-12")
    regional = parse_outcome(baseline, "regional_cooperation")
    assert regional.regional and regional.date == final
    assert parse_outcome(baseline, "regional_cooperation:2010-06").date == "2010-06"
    for bad, what in [
        ("happiness:KAZ", "metric"),
        ("largest_partner:KAZ", "a numeric metric"),
        ("dependence:RUS", "state"),
        ("dependence", "state"),
        ("dependence:KAZ:2040-01", "date"),
        ("dependence:KAZ:June", "date"),
        ("dependence:KAZ:2010-01:x", "METRIC:STATE"),
    ]:
        with pytest.raises(ScenarioError, match=what):
            parse_outcome(baseline, bad)


# --------------------------------------------------------------------------------------------
# the command, through the multivector command line


def run(argv):
    return main(argv)


def _tiny(out, *extra):
    return [
        "sensitivity",
        str(BASELINE),
        "--params",
        f"{KAZ}=0.5:3",
        f"{RUS}=0.2:3",
        "--outcome",
        "dependence:KAZ",
        "--samples",
        "4",
        "--runs",
        "2",
        "--workers",
        "2",
        "--out",
        str(out),
        *extra,
    ]


@pytest.mark.parametrize("method", ["sobol", "morris"])
def test_command_writes_its_folder(tmp_path, capsys, method):
    out = tmp_path / "results"
    assert run(_tiny(out, "--method", method)) == 0
    (folder,) = (out / "baseline").iterdir()
    assert folder.name.startswith("sensitivity-")
    for name in ("indices.parquet", "indices.md", "outcomes.parquet", "manifest.json"):
        assert (folder / name).is_file()
    for ext in ("png", "svg"):
        assert (folder / f"sensitivity.{ext}").stat().st_size > 10_000
    table = pd.read_parquet(folder / "indices.parquet")
    assert list(table["parameter"]) == [KAZ, RUS]
    points = 4 * (2 + 2) if method == "sobol" else 4 * (2 + 1)
    outcomes = pd.read_parquet(folder / "outcomes.parquet")
    assert len(outcomes) == points * 2
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["analysis"]["model_runs"] == points * 2
    assert manifest["outcome"].startswith("dependence:KAZ:")
    report = (folder / "indices.md").read_text()
    assert "multivector sensitivity" in report and "Seed-variance share" in report
    printed = capsys.readouterr().out
    assert str(folder) in printed and KAZ in printed


@pytest.mark.parametrize(
    "change",
    [
        {"--params": ["states.KAZ.balancing_propensty=0.5:3"]},  # misspelt key
        {"--params": [f"{KAZ}=0.5:30"]},  # out of the key's range
        {"--params": [f"{KAZ}=3:0.5"]},
        {"--params": [f"{KAZ}=0.5,1,2"]},
        {"--params": [f"{KAZ}=0.5:3", f"{KAZ}=1:2"]},
        {"--outcome": ["dependency:KAZ"]},
        {"--outcome": ["dependence:RUS"]},
        {"--outcome": ["dependence:KAZ:2031-01"]},
        {"--samples": ["6"]},  # not a power of two for Sobol'
    ],
)
def test_user_errors_are_one_line_exit_2_and_write_nothing(tmp_path, capsys, change):
    out = tmp_path / "results"
    argv = _tiny(out)
    for flag, values in change.items():
        at = argv.index(flag)
        end = at + 1
        while end < len(argv) and not argv[end].startswith("--"):
            end += 1
        argv[at + 1 : end] = values
    assert run(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("multivector: error: ") and "\n" not in err
    assert flag.lstrip("-") in err
    assert not out.exists()


def test_bad_scenario_path_and_out_file(tmp_path, capsys):
    argv = _tiny(tmp_path / "results")
    argv[1] = str(tmp_path / "missing.toml")
    assert run(argv) == 2
    assert capsys.readouterr().err.count("\n") == 1
    out = tmp_path / "a-file"
    out.write_text("")
    assert run(_tiny(out)) == 2
    err = capsys.readouterr().err
    assert err.startswith("multivector: error: --out") and err.count("\n") == 1


def test_the_multivector_command_runs_a_small_sobol_analysis(tmp_path, capsys):

    code = main(
        [
            "sensitivity",
            str(BASELINE),
            "--method",
            "sobol",
            "--params",
            "states.KAZ.balancing_propensity=0.5:3",
            "powers.RUS.rivalry_response=0.2:3",
            "--outcome",
            "dependence:KAZ",
            "--samples",
            "8",
            "--runs",
            "2",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0, capsys.readouterr().err
    (folder,) = (tmp_path / "baseline").glob("sensitivity-*")
    assert (folder / "indices.md").exists() and (folder / "sensitivity.png").exists()
    assert main(["sensitivity", str(BASELINE), "--params", "x=1:2", "--outcome", "d:K"]) == 2
