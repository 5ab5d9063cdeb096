"""Calibration with observed data: the fit reads the fit window only, and the targets' loss
is what its docstring says."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from experiments.calibration import (
    calibrate,
    calibrate_posterior,
    calibration_spec,
    fit_identity,
    fit_targets,
    patterns_for,
)
from experiments.observed import (
    FIT_END,
    OBSERVED_SCALE,
    ObservationTargets,
    fit_window,
    load_observed,
)
from model.scenario import load_scenario
from tests.conftest import SCENARIOS

PRIOR = SCENARIOS / "baseline-prior.toml"


@pytest.fixture(scope="module")
def prior():
    return load_scenario(PRIOR)


@pytest.fixture(scope="module")
def observed():
    return load_observed()


def test_targets_refuse_a_validation_window_row(prior, observed):
    with pytest.raises(ValueError, match="validation-window"):
        ObservationTargets(prior, observed)
    targets = ObservationTargets(prior, fit_window(observed))
    assert targets.groups and all(end <= FIT_END for _, _, _, _, end, _, _ in targets.groups)
    assert targets.last_step == (FIT_END * 12 + 11) - prior.start


def _poisoned(observed: pd.DataFrame) -> pd.DataFrame:
    """The dataset with every validation-window value replaced by nonsense."""
    late = observed["year"] > FIT_END
    out = observed.copy()
    rng = np.random.default_rng(0)
    out.loc[late, "value"] = rng.uniform(0, 100, int(late.sum()))
    return out


def test_a_fit_never_sees_the_validation_window(prior, observed):
    """Two fits, one on the data and one with the validation window replaced by random
    numbers, give the same values, loss and identity: nothing after 2012 reaches the fit."""
    full = calibration_spec(prior)
    spec = replace(full, free=full.free[-2:], maxiter=1, popsize=2, runs=2)
    assert spec.observed_weight > 0
    patterns, _ = patterns_for(prior)
    fits = [
        calibrate(prior, patterns=patterns, spec=spec, progress=False, observed=data)
        for data in (observed, _poisoned(observed))
    ]
    assert fits[0].values == fits[1].values
    assert fits[0].loss == fits[1].loss
    assert fits[0].id == fits[1].id
    assert fits[0].observed > 0
    # and the fit-window rows do reach it: change one and the identity changes
    early = observed.copy()
    row = early.index[(early["indicator"] == "trade_share") & (early["year"] == 2005)][0]
    early.loc[row, "value"] += 1.0
    identities = {
        fit_identity(prior, spec, patterns, None, fit_targets(prior, spec, data))
        for data in (observed, _poisoned(observed), early)
    }
    assert len(identities) == 2  # the poisoned validation window changes nothing


def test_a_posterior_never_sees_the_validation_window(prior, observed):
    """The ABC-SMC posterior too: poisoning the validation window changes no particle."""
    full = calibration_spec(prior)
    spec = replace(full, free=full.free[-2:], particles=12, generations=1, moves=1, runs=2)
    patterns, _ = patterns_for(prior)
    fits = [
        calibrate_posterior(prior, patterns=patterns, spec=spec, progress=False, observed=data)
        for data in (observed, _poisoned(observed))
    ]
    np.testing.assert_array_equal(fits[0].posterior.particles, fits[1].posterior.particles)
    np.testing.assert_array_equal(fits[0].posterior.distances, fits[1].posterior.distances)
    assert fits[0].id == fits[1].id and fits[0].observed > 0


def test_simulated_targets_are_the_runs_own_values(prior):
    """A recovery study's synthetic targets: the runs that made them have loss 0, others not."""
    from model.ensemble import simulate_ensemble
    from model.metrics import partner_shares

    targets = fit_targets(prior, calibration_spec(prior))
    ties, _ = simulate_ensemble(prior.compiled, np.array([1, 2, 3], dtype=np.uint64))
    shares = partner_shares(ties[:, : targets.last_step + 1])
    synthetic = targets.simulated(shares)
    assert len(synthetic.groups) == len(targets.groups)
    assert synthetic.loss(shares) == 0.0
    assert targets.loss(shares) > 0.0
    other, _ = simulate_ensemble(prior.compiled, np.array([7], dtype=np.uint64))
    assert synthetic.loss(partner_shares(other[:, : targets.last_step + 1])) > 0.0


def test_the_targets_loss_by_hand(prior):
    """Two indicators, one group each: loss = mean over indicators of min(|e| / 0.1, 2)."""
    rows = [
        ("KAZ", "RUS", "trade_share", 2000, 2000, 60.0),
        ("KAZ", "CHN", "trade_share", 2000, 2000, 40.0),
        ("TJK", "RUS", "emigrant_stock_share", 2005, 2005, 90.0),
        ("TJK", "USA", "emigrant_stock_share", 2005, 2005, 10.0),
    ]
    data = pd.DataFrame(
        [
            {
                "state": s,
                "partner": p,
                "indicator": i,
                "year_start": a,
                "year": b,
                "value": v,
                "kind": "shares",
            }
            for s, p, i, a, b, v in rows
        ]
    )
    targets = ObservationTargets(prior, data)
    shares = np.zeros((3, prior.n_steps + 1, 5, 6, 4))
    kaz, tjk = prior.state_ids.index("KAZ"), prior.state_ids.index("TJK")
    rus, chn = prior.power_ids.index("RUS"), prior.power_ids.index("CHN")
    econ, soc = prior.dimension_ids.index("economic"), prior.dimension_ids.index("societal")
    # model: KAZ economic RUS:CHN = 0.5:0.5 (errors 0.1, 0.1); TJK societal RUS:USA = 1:0
    # (errors 0.1 and 0.1); each indicator's mean scaled error is 1.0
    shares[:, :, kaz, rus, econ] = shares[:, :, kaz, chn, econ] = 0.25
    shares[:, :, tjk, rus, soc] = 0.5
    shares = shares[:, : targets.last_step + 1]
    errors = targets.errors(shares)
    np.testing.assert_allclose(errors["trade_share"], [[0.1, 0.1]])
    np.testing.assert_allclose(errors["emigrant_stock_share"], [[0.1, 0.1]])
    assert targets.loss(shares) == pytest.approx(0.1 / OBSERVED_SCALE)
    # three candidates of one run each: the third has the observed shares (loss 0)
    usa = prior.power_ids.index("USA")
    shares[2, :, kaz, rus, econ], shares[2, :, kaz, chn, econ] = 0.3, 0.2
    shares[2, :, tjk, rus, soc], shares[2, :, tjk, usa, soc] = 0.45, 0.05
    np.testing.assert_allclose(
        targets.losses(shares, variants=3), [0.1 / OBSERVED_SCALE] * 2 + [0.0], atol=1e-12
    )
