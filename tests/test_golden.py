"""One small golden result: yearly dependence of one baseline run, guarding silent changes.

Regenerate deliberately, after a change of behaviour you mean, with
``MULTIVECTOR_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and say why in the commit.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from model.metrics import alignment_shares, largest_share, partner_shares
from model.model import MultivectorModel
from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "golden" / "baseline-seed-7-dependence.csv"


def test_baseline_matches_golden(baseline):
    model = MultivectorModel(baseline, rng=7).run()
    yearly = model.ties_history[::12]
    dependence = largest_share(
        alignment_shares(partner_shares(yearly), baseline.compiled.dimension_weight)
    )
    frame = pd.DataFrame(dependence, columns=list(baseline.state_ids))
    frame.insert(0, "date", baseline.dates[::12].astype(str))
    if os.environ.get("MULTIVECTOR_UPDATE_GOLDEN"):
        frame.to_csv(GOLDEN, index=False, float_format="%.17g")
    golden = pd.read_csv(GOLDEN)
    assert list(golden.columns) == list(frame.columns)
    assert (golden["date"] == frame["date"]).all()
    np.testing.assert_allclose(
        frame[list(baseline.state_ids)].to_numpy(),
        golden[list(baseline.state_ids)].to_numpy(),
        rtol=1e-10,
        atol=0,
    )
