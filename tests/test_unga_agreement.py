"""Tests of tools/unga_agreement.py: Scott's pi, the EU membership and the observed CSV."""

from __future__ import annotations

import csv
import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import load_tool

ROOT = Path(__file__).resolve().parents[1]
CSV_PATH = ROOT / "data" / "observed" / "political-unga.csv"
SHARED_VOTES = ROOT.parent / "shared" / "data" / "unga-votes"


ua = load_tool("unga_agreement")

YES, ABSTAIN, NO = 1, 2, 3


# --- scott_pi -----------------------------------------------------------------------------------


@pytest.mark.parametrize("weights", ["absolute", "squared"])
def test_perfect_agreement_is_one(weights):
    a = [YES, YES, ABSTAIN, NO, YES, NO]
    assert ua.scott_pi(a, a, weights=weights) == 1.0


@pytest.mark.parametrize("weights", ["absolute", "squared"])
def test_independent_pairing_with_same_marginals_is_zero(weights):
    # Every one of the 9 (a, b) combinations once: both voters have the uniform marginal and
    # the pairing is exactly the product of the marginals, so D_o = D_e and pi = 0.
    a = [YES] * 3 + [ABSTAIN] * 3 + [NO] * 3
    b = [YES, ABSTAIN, NO] * 3
    assert ua.scott_pi(a, b, weights=weights) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("weights", ["absolute", "squared"])
def test_random_independent_voters_are_near_zero(weights):
    rng = np.random.default_rng(2011)
    p = [0.7, 0.2, 0.1]
    a = rng.choice([YES, ABSTAIN, NO], size=20_000, p=p)
    b = rng.choice([YES, ABSTAIN, NO], size=20_000, p=p)
    assert abs(ua.scott_pi(a, b, weights=weights)) < 0.03


def test_worked_example_by_hand():
    # a = yes yes yes abstain no;  b = yes yes abstain abstain yes  (n = 5)
    # absolute distances per roll call: 0 0 1 0 2 -> D_o = 3/5 = 0.6
    # pooled counts over the 10 choices: yes 6, abstain 3, no 1 -> p = (0.6, 0.3, 0.1)
    # D_e = sum_k sum_l p_k p_l |k - l| = 2 (0.6*0.3*1 + 0.6*0.1*2 + 0.3*0.1*1)
    #     = 2 (0.18 + 0.12 + 0.03) = 0.66
    # pi = 1 - 0.6 / 0.66 = 1 - 10/11 = 1/11
    a = [YES, YES, YES, ABSTAIN, NO]
    b = [YES, YES, ABSTAIN, ABSTAIN, YES]
    assert ua.scott_pi(a, b) == pytest.approx(1 / 11, rel=1e-12)
    # squared distances: 0 0 1 0 4 -> D_o = 1.0;
    # D_e = 2 (0.18*1 + 0.06*4 + 0.03*1) = 0.9; pi = 1 - 1/0.9 = -1/9
    assert ua.scott_pi(a, b, weights="squared") == pytest.approx(-1 / 9, rel=1e-12)
    # raw agreement: 3 of 5 the same
    assert ua.raw_agreement(a, b) == pytest.approx(0.6)


def test_opposite_votes_give_minus_one():
    # D_o = 2; pooled p = (0.5, 0, 0.5); D_e = 2 * 0.25 * 2 = 1; pi = 1 - 2/1 = -1
    assert ua.scott_pi([YES, NO], [NO, YES]) == pytest.approx(-1.0)


def test_symmetric():
    a = [YES, YES, ABSTAIN, NO, YES, YES, NO]
    b = [YES, NO, ABSTAIN, ABSTAIN, YES, ABSTAIN, NO]
    assert ua.scott_pi(a, b) == pytest.approx(ua.scott_pi(b, a), rel=1e-15)


def test_same_single_choice_throughout_is_nan():
    assert math.isnan(ua.scott_pi([YES] * 4, [YES] * 4))


@pytest.mark.parametrize(
    ("a", "b"),
    [([], []), ([YES, NO], [YES]), ([YES, 4], [YES, NO]), ([[YES]], [[YES]])],
)
def test_invalid_input_raises(a, b):
    with pytest.raises(ValueError):
        ua.scott_pi(a, b)


def test_unknown_weights_raise():
    with pytest.raises(ValueError):
        ua.scott_pi([YES, NO], [YES, NO], weights="cubic")


# --- EU membership ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "size"),
    [
        (date(1992, 1, 1), 12),
        (date(1994, 12, 31), 12),
        (date(1995, 1, 1), 15),
        (date(2004, 4, 30), 15),
        (date(2004, 5, 1), 25),
        (date(2006, 12, 31), 25),
        (date(2007, 1, 1), 27),
        (date(2013, 6, 30), 27),
        (date(2013, 7, 1), 28),
        (date(2019, 12, 31), 28),
        (date(2020, 1, 31), 28),
        (date(2020, 2, 1), 27),
    ],
)
def test_eu_membership_changes_on_accession_dates(day, size):
    assert len(ua.eu_members_on(day)) == size


def test_eu_members_by_year():
    sizes = {1992: 12, 1994: 12, 1995: 15, 2003: 15, 2004: 25, 2006: 25, 2007: 27, 2012: 27}
    sizes |= {2013: 28, 2019: 28}
    for year, size in sizes.items():
        assert len(ua.eu_members(year)) == size, year
    assert set(ua.eu_members(1995)) - set(ua.eu_members(1994)) == {"AT", "FI", "SE"}
    assert set(ua.eu_members(2007)) - set(ua.eu_members(2006)) == {"BG", "RO"}
    assert set(ua.eu_members(2013)) - set(ua.eu_members(2012)) == {"HR"}
    assert "GB" in ua.eu_members(2019)
    assert "GB" not in ua.eu_members_on(date(2020, 2, 1))


# --- yearly_agreement on a toy table ------------------------------------------------------------


def _toy():
    # Two years; state "AA" and partners "BB", "CC", "DD".
    # 2000 (rcid 1-3): AA yes abstain no; BB the same; CC no no yes; DD absent.
    # 2001 (rcid 4-5): AA yes yes; BB yes yes (D_e = 0); CC yes no.
    rows = [
        (1, "AA", "yes"), (2, "AA", "abstain"), (3, "AA", "no"),
        (1, "BB", "yes"), (2, "BB", "abstain"), (3, "BB", "no"),
        (1, "CC", "no"), (2, "CC", "no"), (3, "CC", "yes"),
        (4, "AA", "yes"), (5, "AA", "yes"),
        (4, "BB", "yes"), (5, "BB", "yes"),
        (4, "CC", "yes"), (5, "CC", "no"),
    ]  # fmt: skip
    votes = pd.DataFrame(rows, columns=["rcid", "country_code", "vote"])
    votes["rcid"] = votes["rcid"].astype(float)  # as in un_votes.parquet
    calls = pd.DataFrame(
        {
            "rcid": [1, 2, 3, 4, 5],
            "date": [date(2000, 10, 1)] * 3 + [date(2001, 12, 1)] * 2,
        }
    )
    return votes, calls


def test_yearly_agreement_group_mean_and_skips():
    votes, calls = _toy()
    rows, skipped = ua.yearly_agreement(
        votes, calls, "AA", ["BB", "CC", "DD"], years=[2000, 2001, 2002]
    )
    by_year = rows.set_index("year")
    pi_cc_2000 = ua.scott_pi([1, 2, 3], [3, 3, 1])
    assert by_year.loc[2000, "pi"] == pytest.approx((1.0 + pi_cc_2000) / 2)
    assert by_year.loc[2000, "members"] == "BB CC"
    assert by_year.loc[2000, "raw_agreement"] == pytest.approx((1.0 + 0.0) / 2)
    # 2001: BB degenerate (yes, yes on both sides), so only CC counts
    assert by_year.loc[2001, "members"] == "CC"
    assert by_year.loc[2001, "pi"] == pytest.approx(ua.scott_pi([1, 1], [1, 3]))
    assert 2002 not in by_year.index  # no roll calls: no row
    reasons = {(r.year, r.code): r.reason for r in skipped.itertuples()}
    assert reasons[(2000, "DD")] == ua.NO_COMMON
    assert reasons[(2001, "BB")] == ua.DEGENERATE
    assert reasons[(2002, "BB")] == ua.NO_COMMON


def test_yearly_agreement_partner_codes_by_year():
    votes, calls = _toy()
    rows, _ = ua.yearly_agreement(
        votes, calls, "AA", lambda year: ["BB"] if year == 2000 else ["CC"], years=[2000, 2001]
    )
    assert rows["members"].tolist() == ["BB", "CC"]
    assert rows["n_common_min"].tolist() == [3, 2]


def test_unknown_vote_raises():
    votes, calls = _toy()
    votes.loc[0, "vote"] = "present"
    with pytest.raises(ValueError, match="unknown vote"):
        ua.yearly_agreement(votes, calls, "AA", ["BB"], years=[2000])


# --- the observed CSV ---------------------------------------------------------------------------


def test_csv_layout():
    with CSV_PATH.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    assert header == list(ua.CSV_HEADER)
    assert rows
    for r in rows:
        rec = dict(zip(header, r, strict=True))
        assert rec["state"] in ua.STATES
        assert rec["partner"] in ua.PARTNERS
        assert rec["dimension"] == "political"
        assert rec["indicator"] == "unga_agreement"
        assert rec["year_start"] == rec["year"]
        assert ua.FIRST_YEAR <= int(rec["year"]) <= ua.LAST_YEAR
        assert -1.0 <= float(rec["value"]) <= 1.0
        assert rec["source"] == ua.SOURCE


@pytest.mark.skipif(
    not SHARED_VOTES.is_dir(),
    reason=f"{SHARED_VOTES} is absent (CI has no ../shared): cannot regenerate the CSV",
)
def test_csv_is_what_the_script_produces(tmp_path):
    out = tmp_path / "political-unga.csv"
    assert ua.main(["--votes", str(SHARED_VOTES), "--out", str(out)]) == 0
    assert out.read_bytes() == CSV_PATH.read_bytes()
