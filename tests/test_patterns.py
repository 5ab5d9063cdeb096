"""Patterns, validation and calibration: predicates, the registry, parameter recovery, CLI."""

from __future__ import annotations

import ast
import re

import numpy as np
import pytest

from experiments.batch import replicate_seeds
from experiments.calibration import (
    CalibrationSpec,
    calibrate,
    calibration_spec,
    losses,
    validate,
)
from experiments.cli import main
from experiments.design import SweepParameter
from experiments.patterns import (
    FUNCTIONS,
    Observation,
    Pattern,
    load_patterns,
    months_needed,
    pattern_loss,
    verdict,
)
from model.scenario import ScenarioError
from tests.conftest import BASELINE, SCENARIOS

PATTERNS = SCENARIOS / "patterns.toml"


def _synthetic(baseline, n_runs=4):
    """Ties equal across powers, but China's Kazakh economic tie trebles from 2010."""
    n = baseline.n_steps + 1
    s, p, d = baseline.compiled.initial_ties.shape
    ties = np.ones((n_runs, n, s, p, d))
    kaz, chn = baseline.state_ids.index("KAZ"), baseline.power_ids.index("CHN")
    economic = baseline.dimension_ids.index("economic")
    from_2010 = (np.datetime64("2010-01") - baseline.dates[0]).astype(int)
    ties[:, from_2010:, kaz, chn, economic] = 3.0
    regional = np.full((n_runs, n, s, s), 0.5)
    for k in range(s):
        regional[:, :, k, k] = 0.0
    return Observation(baseline, ties, regional, np.arange(n))


def _pattern(expect, **kw):
    return Pattern("p", "claim", "quote", "source", expect, **kw)


def test_a_predicate_holds_and_fails_on_hand_made_trajectories(baseline):
    obs = _synthetic(baseline)
    rise = _pattern("share(KAZ, CHN, economic, '2012-01') > share(KAZ, CHN, economic, '2008-01')")
    margins, left = obs.margins(rise)
    # 3 / (3 + 5) = 0.375 against 1/6
    np.testing.assert_allclose(left, 3 / 8)
    np.testing.assert_allclose(margins, 3 / 8 - 1 / 6)
    assert verdict(np.mean(margins > 0)) == "holds"
    fall = _pattern("share(KAZ, CHN, economic, '2012-01') < share(KAZ, CHN, economic, '2008-01')")
    assert verdict(np.mean(obs.margins(fall)[0] > 0)) == "fails"
    # a tolerance larger than the margin makes it fail
    strict = _pattern(rise.expect, tolerance=0.3)
    assert np.all(obs.margins(strict)[0] <= strict.tolerance)
    # windows average month by month: 2009-01..2010-12 is half 1/6 and half 3/8
    window = _pattern("share(KAZ, CHN, economic, '2009-01..2010-12') > 0")
    np.testing.assert_allclose(obs.margins(window)[1], (1 / 6 + 3 / 8) / 2)
    # for_each takes the worst state: only Kazakhstan's share rose
    each = _pattern("share({state}, CHN, economic, '2012-01') > 0.2", for_each=("KAZ", "KGZ"))
    np.testing.assert_allclose(obs.margins(each)[0], 1 / 6 - 0.2)
    rival = _pattern("share(KAZ, CHN, economic, '2012-01') > rival(KAZ, CHN, economic, '2012-01')")
    np.testing.assert_allclose(obs.margins(rival)[0], 3 / 8 - 1 / 8)
    assert obs.margins(_pattern("cooperation('2015-06') < 0.6"))[0] == pytest.approx(0.1)


def test_verdicts_and_the_fit_loss():
    assert verdict(0.8) == "holds" and verdict(0.2) == "fails"
    assert verdict(0.55) == "holds in 55% of runs"
    p = _pattern("cooperation('2015-06') < 0.6", scale=0.1)
    assert pattern_loss(np.array([0.1, 0.2]), p) == 0.0
    assert pattern_loss(np.array([0.0]), p) == pytest.approx(1.0)
    assert pattern_loss(np.array([-5.0]), p) == 2.0  # capped
    assert pattern_loss(np.array([np.nan]), p) == 2.0


def test_the_registry_references_existing_quantities_ids_and_dates(baseline):
    patterns = load_patterns(PATTERNS, baseline)
    assert len(patterns) >= 15
    states, powers, regional = set(), set(), False
    for p in patterns:
        assert p.quote and p.source.startswith("article")
        assert baseline.start <= p.months[0] <= p.months[1] <= baseline.end
        for expression in p.expressions():
            for node in ast.walk(ast.parse(expression, mode="eval")):
                if isinstance(node, ast.Call):
                    assert node.func.id in FUNCTIONS
                    regional |= node.func.id in ("cooperation", "engagement")
                if isinstance(node, ast.Name):
                    states |= {node.id} & set(baseline.state_ids)
                    powers |= {node.id} & set(baseline.power_ids)
    assert states == set(baseline.state_ids)  # every state
    assert powers == set(baseline.power_ids)  # every power the article discusses
    assert regional
    steps = months_needed(patterns, baseline)
    assert steps[0] == 0 and steps[-1] <= baseline.n_steps


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("expect = \"shares(KAZ, CHN, economic, '2010-01') > 0\"", "functions"),
        ("expect = \"share(KAZ, XYZ, economic, '2010-01') > 0\"", "a power id"),
        ("expect = \"share(KAZ, CHN, economic, '1980-01') > 0\"", "horizon"),
        ("expect = \"share(KAZ, CHN, economic, '2010-01') == 0\"", "one comparison"),
        ('expect = "share(KAZ, CHN, economic, 2010) > 0"', "quoted"),
        ("expect = \"__import__('os') > 0\"", "functions"),
        ("expect = \"share(KAZ, CHN, economic, '2010-01') > \"", "expression"),
        ("expect = \"dependence({state}, '2010-01') > 0\"", "{state} exactly"),
        ("expect = \"cooperation('2010-01') > 0\"\nweight = 2", "unknown key"),
    ],
)
def test_bad_registry_entries_name_file_and_key(tmp_path, baseline, entry, expected):
    bad = tmp_path / "patterns.toml"
    bad.write_text(f'[patterns.x]\nclaim = "c"\nquote = "q"\nsource = "s"\n{entry}\n')
    with pytest.raises(ScenarioError) as error:
        load_patterns(bad, baseline)
    assert str(bad) in str(error.value) and "patterns.x" in str(error.value)
    assert expected in str(error.value)


def test_validate_scores_every_pattern(baseline):
    patterns = load_patterns(PATTERNS, baseline)
    table = validate(baseline, patterns, replicate_seeds(1, 8), threads=2)
    assert list(table["pattern"]) == [p.id for p in patterns]
    assert table["fraction_holding"].between(0, 1).all()
    assert (table["holds"] == (table["fraction_holding"] >= 0.8)).all()


def test_the_fit_recovers_a_parameter_from_patterns_the_model_made(baseline):
    """Parameter recovery: data from Kazakhstan's balancing propensity 2.0; fit it back."""
    truth = 2.0
    seeds = replicate_seeds(3, 4)
    at_truth = baseline.with_overrides({"states.KAZ.balancing_propensity": truth})
    probe = _pattern("dependence(KAZ, '2021-12') > 0")
    target = float(validate(at_truth, [probe], seeds)["lhs_median"].iloc[0])
    patterns = [
        _pattern(f"dependence(KAZ, '2021-12') > {target - 0.004}", scale=0.004),
        _pattern(f"dependence(KAZ, '2021-12') < {target + 0.004}", scale=0.004),
    ]
    spec = CalibrationSpec(
        (SweepParameter("states.KAZ.balancing_propensity", None, 0.5, 4.0),),
        runs=4,
        seed=3,
        maxiter=8,
        popsize=6,
    )
    fit = calibrate(baseline, patterns=patterns, spec=spec, threads=2, progress=False)
    assert fit.values["states.KAZ.balancing_propensity"] == pytest.approx(truth, abs=0.25)
    again = calibrate(baseline, patterns=patterns, spec=spec, threads=1, progress=False)
    assert again.values == fit.values and again.id == fit.id  # reproducible from its seed
    worse = losses(
        [baseline.with_overrides({"states.KAZ.balancing_propensity": 0.6})], patterns, seeds
    )
    assert fit.loss < worse[0]


def test_the_baseline_marks_its_free_parameters_with_ranges(baseline):
    spec = calibration_spec(baseline)
    assert len(spec.free) >= 4
    for p in spec.free:
        assert p.low < baseline.parameters[p.key].value <= p.high or p.key in _fitted(baseline)


def _fitted(scenario):
    return {k for k, v in scenario.parameters.items() if v.source.startswith("fitted")}


def test_validate_command_prints_the_table_and_writes_reports(tmp_path, capsys):
    code = main(
        ["validate", str(BASELINE), "--runs", "4", "--out", str(tmp_path), "--workers", "2"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"\d+ of \d+ patterns hold", out)
    (folder,) = (tmp_path / "baseline").glob("validation-*")
    assert (folder / "validation.md").read_text().count("| `") >= 15
    assert (folder / "validation.parquet").stat().st_size > 0


def test_validate_with_a_bad_pattern_file_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "p.toml"
    bad.write_text("[patterns.x]\nclaim = 'c'\n")
    code = main(["validate", str(BASELINE), "--patterns", str(bad), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "patterns.x.quote" in err
    assert not (tmp_path / "baseline").exists()


def test_the_committed_calibration_matches_its_inputs():
    """scenarios/baseline.toml was fitted from the current prior, registry and settings.

    If the prior, the patterns or the [calibration] settings change, the fit id changes and
    this test asks for the fit to be rerun (the command is in the file's first line).
    """
    from experiments.calibration import fit_identity, fit_targets
    from model.scenario import load_scenario

    text = BASELINE.read_text()
    command, fit_id = re.search(r"`(multivector calibrate [^`]+)` \(fit (\w+)\)", text).groups()
    prior = load_scenario(SCENARIOS / "baseline-prior.toml")
    patterns = load_patterns(PATTERNS, prior)
    spec = calibration_spec(prior)
    targets = fit_targets(prior, spec)
    assert fit_identity(prior, spec, patterns, None, targets) == fit_id, (
        f"scenarios/baseline.toml is stale: rerun {command}"
    )
    fitted = load_scenario(BASELINE)
    for p in calibration_spec(prior).free:
        leaf = fitted.parameters[p.key]
        assert leaf.source.startswith("fitted:") and f"fit {fit_id}" in leaf.source
        assert p.low <= leaf.value <= p.high


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("scenarios/baseline-prior.toml", "other than the scenario and its parents"),
        ("scenarios/no-balancing.toml", "add --force"),
        ("/nonexistent/fit.toml", "writable folder"),
    ],
)
def test_calibrate_refuses_a_bad_output_before_fitting(output, expected, capsys, monkeypatch):
    monkeypatch.chdir(SCENARIOS.parent)
    before = (SCENARIOS / "baseline-prior.toml").read_text()
    assert main(["calibrate", "scenarios/baseline-prior.toml", "--output", output]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err
    assert (SCENARIOS / "baseline-prior.toml").read_text() == before


def test_the_baseline_meets_its_documented_pattern_score():
    """docs/calibration.md's headline "k of n patterns hold" (scored patterns) is what
    validate gives today."""
    from experiments.batch import replicate_seeds
    from experiments.calibration import validate
    from model.scenario import load_scenario

    docs = (SCENARIOS.parent / "docs" / "calibration.md").read_text()
    held, total = map(
        int, re.search(r"calibrated baseline: (\d+) of (\d+) patterns", docs).groups()
    )
    baseline = load_scenario(BASELINE)
    table = validate(
        baseline, load_patterns(PATTERNS, baseline), replicate_seeds(baseline.seed, 100)
    )
    scored = table[table["role"] == "scored"]
    assert (int(scored["holds"].sum()), len(scored)) == (held, total)


def test_the_fit_identity_covers_the_code(tmp_path):
    """Changing a rule's code (not a comment or docstring) changes the fit's identity."""
    import shutil

    from experiments.calibration import FIT_CODE, code_fingerprint

    root = SCENARIOS.parent
    for name in FIT_CODE:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / name, tmp_path / name)
    same = code_fingerprint(root=tmp_path)
    assert same == code_fingerprint()
    rules = tmp_path / "model" / "rules.py"
    text = rules.read_text()
    rules.write_text(text.replace('"""Offers of one power', '"""Offers (reworded) of one power'))
    assert code_fingerprint(root=tmp_path) == same  # a docstring is not code
    rules.write_text(text.replace("- 2.0 * balancing_propensity", "- 1.0 * balancing_propensity"))
    assert code_fingerprint(root=tmp_path) != same


def test_prior_check_rates_patterns_by_prior_draws(baseline):
    from experiments.calibration import calibration_spec, prior_check, prior_draws

    spec = calibration_spec(baseline)
    draws = prior_draws(baseline, spec, 6, seed=1)
    assert draws.shape == (6, len(spec.free))
    for p in spec.free:  # uniform within each free parameter's range
        assert draws[p.key].between(p.low, p.high).all()
    assert draws.equals(prior_draws(baseline, spec, 6, seed=1))  # seeded
    always = Pattern("always", "c", "q", "s", "cooperation('2000-01') > -1")
    never = Pattern("never", "c", "q", "s", "cooperation('2000-01') > 2")
    held = prior_check(baseline, [always, never], draws, replicate_seeds(1, 2))
    assert held["feasible"].all()
    assert held[always.id].all() and not held[never.id].any()


def test_validate_prior_check_ends_with_its_line(tmp_path, capsys):
    code = main(
        ["validate", str(BASELINE), "--prior-check", "3", "--runs", "2", "--out", str(tmp_path)]
    )
    assert code == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(
        r"prior check: 3 draws; \d+ patterns scored, \d+ kept as sanity checks; "
        r"median draw meets \d+(\.5)? of \d+",
        last,
    ), last
    (folder,) = (tmp_path / "baseline").iterdir()
    assert (folder / "prior-check.md").is_file() and (folder / "prior-check.parquet").is_file()
