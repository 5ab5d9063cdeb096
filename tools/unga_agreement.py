r"""Chance-corrected UN General Assembly voting agreement of the five Central Asian states.

For every calendar year 1992-2019 (the year of a roll call's date), each of Kazakhstan (KAZ),
Kyrgyzstan (KGZ), Tajikistan (TJK), Turkmenistan (TKM) and Uzbekistan (UZB), and each partner --
Russia (RUS), China (CHN), the United States (USA), the European Union (EU), Turkey (TUR) and
Iran (IRN) -- this script computes Scott's pi with ordinal distance weights over the plenary
roll calls of that year on which both voted, as recommended by F. M. Häge (2011), "Choice or
Circumstance? Adjusting Measures of Foreign Policy Similarity for Chance Agreement", Political
Analysis 19(3):287-305, doi:10.1093/pan/mpr023. It writes one CSV row per state, partner and
year with a defined value to ``data/observed/political-unga.csv``.

The measure
-----------
Votes are coded on the ordinal scale yes = 1, abstain = 2, no = 3. For two voters with choices
:math:`a_i, b_i` on the :math:`n` roll calls where both voted,

.. math::

    \pi = 1 - D_o / D_e, \qquad
    D_o = \frac{1}{n} \sum_i d(a_i, b_i), \qquad
    D_e = \sum_k \sum_l p_k \, p_l \, d(k, l),

where :math:`p_k = (\#\{i: a_i = k\} + \#\{i: b_i = k\}) / 2n` is the POOLED share of choice
:math:`k` among both voters' :math:`2n` choices (Scott 1955; Cohen's kappa would instead use
each voter's own marginals) and :math:`d(k, l) = |k - l|` (absolute distance). pi is 1 for
identical votes, about 0 when the two vote as if independently from their pooled propensities,
and negative when they disagree more than that. Scott's pooled marginals count a difference in
the two voters' propensities (the USA voting no far more often than the Central Asian states) as
disagreement, which is what we want to measure; Cohen's kappa would correct it away.

Why absolute rather than squared distances: these are the two usual ordinal weights, and
Häge's published similarity scores come in both variants. Absolute distances count a
yes/abstain or abstain/no split as half of a yes/no split; squared distances count it as a
quarter. In the Assembly, abstaining where a partner votes yes or no is the usual way for a
small state to dissent without opposing (the Central Asian states vote no 0-6 times a year in
1992-2019), so these half-disagreements carry much of the signal and should not be discounted
to a quarter. Absolute distances also keep the measure comparable with Signorino and Ritter's
S, the field's earlier standard, usually computed with absolute distances. ``--weights
squared`` gives the alternative; ``--summary`` reports how closely the two agree.

Raw agreement (the share of common roll calls with the same choice) and the number of common
roll calls are recorded in the CSV's ``note`` next to pi.

The EU partner
--------------
The EU casts no vote in the Assembly. Its value for a state and year is the UNWEIGHTED MEAN of
the state's pi with each country that was a member of the EC/EU on 31 December of that year
(each pi computed as above over the roll calls both voted on): EC/EU-12 until 1994, EU-15
1995-2003, EU-25 2004-2006, EU-27 2007-2012, EU-28 2013-2019 (``EU_MEMBERSHIP`` below lists
each member's accession date). Members without a defined pi that year (see below) are left out
of the mean and named in the note.

Degenerate cases
----------------
* No common roll calls (the state, or the partner, cast no recorded vote that year, e.g.
  Uzbekistan in 1992-1993 or the years when Kyrgyzstan, Tajikistan or Uzbekistan cast none):
  pi is undefined and no row is written.
* :math:`D_e = 0`: both voters made the same single choice on every common roll call (in
  practice: yes throughout, possible for Turkmenistan, which votes on few roll calls). Agreement
  is then perfect but uninformative and pi is 0/0; no row is written (for an EU member: the
  member is left out of the mean) and the case is counted and reported as a warning on stderr.

Data: E. Voeten, "Data and Analyses of Voting in the UN General Assembly", in Routledge
Handbook of International Organization, ed. B. Reinalda, 2013, Harvard Dataverse
hdl:1902.1/12379, as distributed in the R package unvotes 0.3.0 (D. Robinson and
N. Goguen-Compagnoni, MIT licence, CRAN 2021), converted to Parquet in
``../shared/data/unga-votes`` (absences and non-membership are not rows). Uses numpy and pandas
only. Every float sum behind a written value (D_o, D_e, the yearly means) uses ``math.fsum``
(correctly rounded), so the CSV does not depend on the Python, numpy or BLAS version; the CSV
is written with ``\n`` line ends.

Run from the repository root::

    .venv/bin/python tools/unga_agreement.py [--votes DIR] [--out CSV] [--summary]
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments.observed import COLUMNS  # noqa: E402
from tools.observed.common import write_rows  # noqa: E402

DEFAULT_VOTES = ROOT.parent / "shared" / "data" / "unga-votes"
DEFAULT_OUT = ROOT / "data" / "observed" / "political-unga.csv"

FIRST_YEAR = 1992
LAST_YEAR = 2019

#: Ordinal coding of the vote scale.
VOTE_CODES: dict[str, int] = {"yes": 1, "abstain": 2, "no": 3}

#: The five states: project code -> ISO 3166-1 alpha-2 code in the vote data.
STATES: dict[str, str] = {"KAZ": "KZ", "KGZ": "KG", "TJK": "TJ", "TKM": "TM", "UZB": "UZ"}

#: Partners voting in their own right: project code -> ISO alpha-2. The EU is handled apart.
SINGLE_PARTNERS: dict[str, str] = {"RUS": "RU", "CHN": "CN", "USA": "US", "TUR": "TR", "IRN": "IR"}

#: Partner order of the output.
PARTNERS: tuple[str, ...] = ("RUS", "CHN", "USA", "EU", "TUR", "IRN")

#: EC/EU members: ISO alpha-2 -> (first day of membership, first day no longer a member or None).
#: "DE" is united Germany (3 October 1990 on); the vote data code West Germany before then
#: without an ISO code, which does not matter from 1992.
EU_MEMBERSHIP: dict[str, tuple[date, date | None]] = {
    # founding members of the European Communities (Treaty of Rome in force 1 January 1958)
    "BE": (date(1958, 1, 1), None),
    "DE": (date(1958, 1, 1), None),
    "FR": (date(1958, 1, 1), None),
    "IT": (date(1958, 1, 1), None),
    "LU": (date(1958, 1, 1), None),
    "NL": (date(1958, 1, 1), None),
    # 1973 enlargement; the United Kingdom left at the end of 31 January 2020
    "DK": (date(1973, 1, 1), None),
    "IE": (date(1973, 1, 1), None),
    "GB": (date(1973, 1, 1), date(2020, 2, 1)),
    # 1981 and 1986 enlargements (EC-12)
    "GR": (date(1981, 1, 1), None),
    "ES": (date(1986, 1, 1), None),
    "PT": (date(1986, 1, 1), None),
    # 1995 enlargement (EU-15)
    "AT": (date(1995, 1, 1), None),
    "FI": (date(1995, 1, 1), None),
    "SE": (date(1995, 1, 1), None),
    # 1 May 2004 enlargement (EU-25)
    "CY": (date(2004, 5, 1), None),
    "CZ": (date(2004, 5, 1), None),
    "EE": (date(2004, 5, 1), None),
    "HU": (date(2004, 5, 1), None),
    "LT": (date(2004, 5, 1), None),
    "LV": (date(2004, 5, 1), None),
    "MT": (date(2004, 5, 1), None),
    "PL": (date(2004, 5, 1), None),
    "SI": (date(2004, 5, 1), None),
    "SK": (date(2004, 5, 1), None),
    # 2007 enlargement (EU-27)
    "BG": (date(2007, 1, 1), None),
    "RO": (date(2007, 1, 1), None),
    # 1 July 2013 enlargement (EU-28)
    "HR": (date(2013, 7, 1), None),
}

#: Header of the CSV: the observed dataset's columns (kept under this name for callers).
CSV_HEADER: tuple[str, ...] = COLUMNS
UNIT = "Scott's pi, {weights} distance weights (Hage 2011)"
SOURCE = (
    "Voeten (2013), Harvard Dataverse hdl:1902.1/12379, via R package unvotes 0.3.0 "
    "(Robinson & Goguen-Compagnoni, CRAN 2021); derived by tools/unga_agreement.py"
)

NO_COMMON = "no common roll calls"
DEGENERATE = "D_expected = 0"

PERIODS: tuple[tuple[int, int], ...] = ((1992, 2000), (2001, 2012), (2013, 2019))


def distance_weights(weights: str = "absolute") -> np.ndarray:
    """Distance between the vote choices yes = 1, abstain = 2, no = 3.

    Parameters
    ----------
    weights : {"absolute", "squared"}
        ``"absolute"``: :math:`d(k, l) = |k - l|`; ``"squared"``: :math:`d(k, l) = (k - l)^2`.

    Returns
    -------
    numpy.ndarray
        3 x 3 float matrix; entry ``[k - 1, l - 1]`` is :math:`d(k, l)`.

    Raises
    ------
    ValueError
        For any other ``weights``.
    """
    scale = np.arange(1, 4, dtype=float)
    diff = scale[:, None] - scale[None, :]
    if weights == "absolute":
        return np.abs(diff)
    if weights == "squared":
        return diff**2
    raise ValueError(f"weights must be 'absolute' or 'squared', not {weights!r}")


def _choices(x: Iterable[int], name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if arr.size and not np.isin(arr, (1, 2, 3)).all():
        raise ValueError(f"{name} must hold the codes 1 (yes), 2 (abstain), 3 (no) only")
    return arr.astype(np.intp)


def scott_pi(a: Iterable[int], b: Iterable[int], weights: str = "absolute") -> float:
    r"""Scott's pi with ordinal distance weights for two voters' paired choices.

    .. math::

        \pi = 1 - D_o / D_e, \quad D_o = \frac{1}{n} \sum_{i=1}^{n} d(a_i, b_i), \quad
        D_e = \sum_{k=1}^{3} \sum_{l=1}^{3} p_k p_l \, d(k, l),

    with the pooled marginal shares :math:`p_k = (n_{a,k} + n_{b,k}) / 2n`, where
    :math:`n_{a,k}` is the number of roll calls on which voter ``a`` chose :math:`k`, and
    :math:`d` from :func:`distance_weights` (Scott 1955; Häge 2011).

    Parameters
    ----------
    a, b : array_like of int
        The two voters' choices on the same ``n`` roll calls, coded 1 (yes), 2 (abstain),
        3 (no); ``a[i]`` and ``b[i]`` belong to the same roll call.
    weights : {"absolute", "squared"}
        The distance; see :func:`distance_weights`.

    Returns
    -------
    float
        pi, at most 1; ``nan`` when :math:`D_e = 0`, i.e. both voters made one and the same
        choice on every roll call (pi is then 0/0).

    Raises
    ------
    ValueError
        If ``a`` and ``b`` differ in length, are empty or hold codes other than 1, 2, 3.
    """
    a_arr = _choices(a, "a")
    b_arr = _choices(b, "b")
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"a and b differ in length: {a_arr.size} and {b_arr.size}")
    n = a_arr.size
    if n == 0:
        raise ValueError("no common roll calls: pi is undefined")
    d = distance_weights(weights)
    d_observed = math.fsum(d[a_arr - 1, b_arr - 1].tolist()) / n
    pooled = (np.bincount(np.concatenate([a_arr, b_arr]) - 1, minlength=3) / (2 * n)).tolist()
    d_expected = math.fsum(
        pooled[k] * pooled[m] * float(d[k, m]) for k in range(3) for m in range(3)
    )
    if d_expected == 0:
        return float("nan")
    return float(1.0 - d_observed / d_expected)


def raw_agreement(a: Iterable[int], b: Iterable[int]) -> float:
    r"""Share of roll calls on which the two voters made the same choice.

    Parameters
    ----------
    a, b : array_like of int
        Paired choices coded 1, 2, 3 as for :func:`scott_pi`.

    Returns
    -------
    float
        :math:`\frac{1}{n} \#\{i: a_i = b_i\}`.

    Raises
    ------
    ValueError
        If ``a`` and ``b`` differ in length, are empty or hold codes other than 1, 2, 3.
    """
    a_arr = _choices(a, "a")
    b_arr = _choices(b, "b")
    if a_arr.shape != b_arr.shape or a_arr.size == 0:
        raise ValueError("a and b must be non-empty and of the same length")
    return int(np.count_nonzero(a_arr == b_arr)) / a_arr.size


def eu_members_on(day: date) -> tuple[str, ...]:
    """ISO alpha-2 codes of the EC/EU member states on a day, sorted.

    Parameters
    ----------
    day : datetime.date

    Returns
    -------
    tuple of str
        The members ``m`` of :data:`EU_MEMBERSHIP` with ``joined <= day < left``.
    """
    return tuple(
        sorted(
            code
            for code, (joined, left) in EU_MEMBERSHIP.items()
            if joined <= day and (left is None or day < left)
        )
    )


def eu_members(year: int) -> tuple[str, ...]:
    """The EC/EU member states of a year: those that were members on 31 December of it.

    A country that joined during the year counts for the whole year (the 2004 entrants from
    1 May 2004, Croatia from 1 July 2013); most Assembly roll calls fall in the autumn session.

    Parameters
    ----------
    year : int

    Returns
    -------
    tuple of str
        Sorted ISO alpha-2 codes, ``eu_members_on(date(year, 12, 31))``.
    """
    return eu_members_on(date(year, 12, 31))


def coded_votes(votes: pd.DataFrame, calls: pd.DataFrame, codes: Iterable[str]) -> pd.DataFrame:
    """The votes of some countries with the year of their roll call and the ordinal choice.

    Parameters
    ----------
    votes : pandas.DataFrame
        Columns ``rcid``, ``country_code`` (ISO alpha-2), ``vote`` (yes / abstain / no).
    calls : pandas.DataFrame
        Columns ``rcid`` and ``date`` (anything :func:`pandas.to_datetime` reads).
    codes : iterable of str
        The ISO alpha-2 codes to keep.

    Returns
    -------
    pandas.DataFrame
        Columns ``rcid`` (int64), ``year`` (int), ``country_code``, ``choice`` (1, 2, 3).

    Raises
    ------
    ValueError
        On a vote other than yes / abstain / no, a non-integer rcid, an rcid without a roll
        call, or two votes of one country on one roll call.
    """
    codes = set(codes)
    sub = votes.loc[votes["country_code"].isin(codes), ["rcid", "country_code", "vote"]].copy()
    rcid = sub["rcid"].to_numpy(dtype=float)
    if not np.array_equal(rcid, np.round(rcid)):
        raise ValueError("non-integer rcid in the votes")
    sub["rcid"] = rcid.astype(np.int64)
    choice = sub["vote"].astype(str).map(VOTE_CODES)
    if choice.isna().any():
        bad = sorted(set(sub.loc[choice.isna(), "vote"].astype(str)))
        raise ValueError(f"unknown vote values: {bad}")
    sub["choice"] = choice.astype(np.int64)
    years = pd.DataFrame(
        {
            "rcid": calls["rcid"].to_numpy(dtype=np.int64),
            "year": pd.to_datetime(calls["date"]).dt.year.to_numpy(),
        }
    )
    out = sub.merge(years, on="rcid", how="left", validate="many_to_one")
    if out["year"].isna().any():
        raise ValueError("votes on roll calls missing from the roll-call table")
    if out.duplicated(["rcid", "country_code"]).any():
        raise ValueError("a country votes twice on one roll call")
    out["year"] = out["year"].astype(int)
    return out[["rcid", "year", "country_code", "choice"]].reset_index(drop=True)


def yearly_agreement(
    votes: pd.DataFrame,
    calls: pd.DataFrame,
    state: str,
    partner_codes: Sequence[str] | Callable[[int], Sequence[str]],
    *,
    years: Iterable[int] = range(FIRST_YEAR, LAST_YEAR + 1),
    weights: str = "absolute",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    r"""A state's yearly chance-corrected voting agreement with a partner or a group.

    For each year, for each partner code ``c`` of that year, :math:`\pi_c` is
    :func:`scott_pi` over the roll calls of that calendar year on which both the state and
    ``c`` voted. The year's value is the unweighted mean

    .. math:: \bar\pi = \frac{1}{|M|} \sum_{c \in M} \pi_c

    over the codes ``M`` with a defined :math:`\pi_c` (for a single partner: that partner's pi).
    A code with no common roll call, or with :math:`D_e = 0`, is left out of ``M`` and listed in
    ``skipped``; a year with empty ``M`` has no row.

    Parameters
    ----------
    votes, calls : pandas.DataFrame
        The vote and roll-call tables, as for :func:`coded_votes`.
    state : str
        ISO alpha-2 code of the state.
    partner_codes : sequence of str, or callable
        ISO alpha-2 codes of the partner (one code) or group; or a function of the year giving
        them (e.g. :func:`eu_members`).
    years : iterable of int
        Calendar years of the roll calls' dates.
    weights : {"absolute", "squared"}
        Distance weights of :func:`scott_pi`.

    Returns
    -------
    rows : pandas.DataFrame
        One row per year with a value: ``year``, ``pi`` (the mean above), ``raw_agreement``
        (mean of the codes' :func:`raw_agreement`), ``n_common_min``, ``n_common_max`` (number
        of common roll calls, fewest and most over ``M``), ``members`` (the codes of ``M``,
        sorted and space-separated), ``n_members``.
    skipped : pandas.DataFrame
        One row per year and code left out: ``year``, ``code``, ``reason`` (``"no common roll
        calls"`` or ``"D_expected = 0"``), ``n_common``.
    """
    years = list(years)
    codes_of: Callable[[int], Sequence[str]] = (
        partner_codes if callable(partner_codes) else (lambda _year: partner_codes)
    )
    wanted = {state}
    for year in years:
        wanted.update(codes_of(year))
    coded = coded_votes(votes, calls, wanted)
    coded = coded[coded["year"].isin(years)]
    wide = coded.pivot(index="rcid", columns="country_code", values="choice")
    year_of = coded.drop_duplicates("rcid").set_index("rcid")["year"].reindex(wide.index)

    rows, skipped = [], []
    for year in years:
        in_year = wide[(year_of == year).to_numpy()]
        pis, raws, counts, members = [], [], [], []
        for code in sorted(codes_of(year)):
            if state not in in_year or code not in in_year:
                pair = in_year.iloc[:0, :0]
            else:
                pair = in_year[[state, code]].dropna()
            if len(pair) == 0:
                skipped.append({"year": year, "code": code, "reason": NO_COMMON, "n_common": 0})
                continue
            a = pair[state].to_numpy(dtype=np.int64)
            b = pair[code].to_numpy(dtype=np.int64)
            pi = scott_pi(a, b, weights=weights)
            if np.isnan(pi):
                skipped.append(
                    {"year": year, "code": code, "reason": DEGENERATE, "n_common": len(pair)}
                )
                continue
            pis.append(pi)
            raws.append(raw_agreement(a, b))
            counts.append(len(pair))
            members.append(code)
        if pis:
            rows.append(
                {
                    "year": year,
                    "pi": math.fsum(pis) / len(pis),
                    "raw_agreement": math.fsum(raws) / len(raws),
                    "n_common_min": min(counts),
                    "n_common_max": max(counts),
                    "members": " ".join(members),
                    "n_members": len(members),
                }
            )
    row_columns = ["year", "pi", "raw_agreement", "n_common_min", "n_common_max", "members"]
    return (
        pd.DataFrame(rows, columns=[*row_columns, "n_members"]),
        pd.DataFrame(skipped, columns=["year", "code", "reason", "n_common"]),
    )


def _note(partner: str, year: int, row: pd.Series, skipped: pd.DataFrame) -> str:
    """The CSV note: common roll calls, raw agreement and, for the EU, the members averaged."""
    if partner != "EU":
        return (
            f"{row['n_common_min']} common roll calls; raw agreement "
            f"{row['raw_agreement']:.4f} (rounded to 4 decimals)"
        )
    group = eu_members(year)
    counts = (
        f"{row['n_common_min']}"
        if row["n_common_min"] == row["n_common_max"]
        else f"{row['n_common_min']}-{row['n_common_max']}"
    )
    note = (
        f"unweighted mean of pi with {row['n_members']} of the {len(group)} EU member states of "
        f"{year}: {row['members']}; common roll calls per member {counts}; "
        f"mean raw agreement {row['raw_agreement']:.4f} (rounded to 4 decimals)"
    )
    out = skipped[skipped["year"] == year]
    if len(out):
        left = ", ".join(f"{r.code} ({r.reason})" for r in out.itertuples())
        note += f"; left out: {left}"
    return note


def agreement_table(
    votes: pd.DataFrame,
    calls: pd.DataFrame,
    *,
    years: Iterable[int] = range(FIRST_YEAR, LAST_YEAR + 1),
    weights: str = "absolute",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All states, partners and years.

    Parameters
    ----------
    votes, calls : pandas.DataFrame
        As for :func:`coded_votes`.
    years : iterable of int
    weights : {"absolute", "squared"}

    Returns
    -------
    table : pandas.DataFrame
        Columns ``state``, ``partner`` (project codes), ``year``, ``pi``, ``raw_agreement``,
        ``n_common_min``, ``n_common_max``, ``note``; ordered by state, partner (as in
        :data:`PARTNERS`) and year.
    skipped : pandas.DataFrame
        ``state``, ``partner``, ``year``, ``code``, ``reason``, ``n_common`` for every
        partner code left out (see :func:`yearly_agreement`).
    """
    years = list(years)
    wanted = {*STATES.values(), *SINGLE_PARTNERS.values(), *EU_MEMBERSHIP}
    votes = votes[votes["country_code"].isin(wanted)]  # once, not in every yearly_agreement
    tables, skips = [], []
    for state, state_code in STATES.items():
        for partner in PARTNERS:
            codes = eu_members if partner == "EU" else [SINGLE_PARTNERS[partner]]
            rows, skipped = yearly_agreement(
                votes, calls, state_code, codes, years=years, weights=weights
            )
            rows.insert(0, "partner", partner)
            rows.insert(0, "state", state)
            rows["note"] = [_note(partner, r.year, r, skipped) for _, r in rows.iterrows()]
            skipped.insert(0, "partner", partner)
            skipped.insert(0, "state", state)
            tables.append(rows)
            skips.append(skipped)
    table = pd.concat(tables, ignore_index=True).drop(columns=["members", "n_members"])
    return table, pd.concat(skips, ignore_index=True)


def write_csv(table: pd.DataFrame, path: Path, weights: str = "absolute") -> int:
    r"""Write the observed-data CSV (UTF-8, ``\n`` line ends) and return its number of rows.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`agreement_table`.
    path : pathlib.Path
    weights : {"absolute", "squared"}
        Named in the ``unit`` column.

    Returns
    -------
    int
    """
    unit = UNIT.format(weights=weights)
    rows = (
        {
            "state": r.state,
            "partner": r.partner,
            "dimension": "political",
            "indicator": "unga_agreement",
            "year_start": r.year,
            "year": r.year,
            "value": repr(float(r.pi)),
            "unit": unit,
            "source": SOURCE,
            "note": r.note,
        }
        for r in table.itertuples(index=False)
    )
    write_rows(path, rows)
    return len(table)


def missing_years(
    table: pd.DataFrame,
    skipped: pd.DataFrame,
    votes: pd.DataFrame,
    calls: pd.DataFrame,
    years: Iterable[int] = range(FIRST_YEAR, LAST_YEAR + 1),
) -> pd.DataFrame:
    """State-partner-years without a row, with the reason.

    Returns
    -------
    pandas.DataFrame
        ``state``, ``partner``, ``year``, ``reason``: ``"state cast no recorded vote"``,
        ``"D_expected = 0 (n common roll calls)"`` or ``"no common roll calls"``.
    """
    years = list(years)
    coded = coded_votes(votes, calls, STATES.values())
    voted = set(zip(coded["country_code"], coded["year"], strict=True))
    have = set(zip(table["state"], table["partner"], table["year"], strict=True))
    out = []
    for state, code in STATES.items():
        for partner in PARTNERS:
            for year in years:
                if (state, partner, year) in have:
                    continue
                if (code, year) not in voted:
                    reason = "state cast no recorded vote"
                else:
                    s = skipped[
                        (skipped["state"] == state)
                        & (skipped["partner"] == partner)
                        & (skipped["year"] == year)
                    ]
                    if partner != "EU" and (s["reason"] == DEGENERATE).all() and len(s):
                        reason = f"{DEGENERATE} ({int(s['n_common'].iloc[0])} common roll calls)"
                    else:
                        reason = NO_COMMON
                out.append({"state": state, "partner": partner, "year": year, "reason": reason})
    return pd.DataFrame(out, columns=["state", "partner", "year", "reason"])


def summary(
    table: pd.DataFrame,
    skipped: pd.DataFrame,
    missing: pd.DataFrame,
    alternative: pd.DataFrame | None = None,
    calls: pd.DataFrame | None = None,
    votes: pd.DataFrame | None = None,
) -> str:
    """Markdown summary: period means of pi and raw agreement, missing years, warnings.

    Parameters
    ----------
    table, skipped : pandas.DataFrame
        From :func:`agreement_table`.
    missing : pandas.DataFrame
        From :func:`missing_years`.
    alternative : pandas.DataFrame, optional
        :func:`agreement_table` with the other distance weights, to report their agreement.
    calls : pandas.DataFrame, optional
        The roll calls with ``date``, ``amend`` and ``para``, to report their number per year.
    votes : pandas.DataFrame, optional
        With ``calls``: the votes, to report how many each state cast per year.

    Returns
    -------
    str
    """
    lines = []

    def period_table(column: str, title: str) -> None:
        lines.append(f"{title} (number of years with a value in brackets when fewer than all)\n")
        lines.append("| state | period | " + " | ".join(PARTNERS) + " |")
        lines.append("|---|---|" + "---:|" * len(PARTNERS))
        for state in STATES:
            for first, last in PERIODS:
                cells = []
                for partner in PARTNERS:
                    sel = table[
                        (table["state"] == state)
                        & (table["partner"] == partner)
                        & table["year"].between(first, last)
                    ][column]
                    full = last - first + 1
                    cell = f"{sel.mean():.2f}" if len(sel) else "–"
                    if len(sel) < full:
                        cell += f" ({len(sel)})"
                    cells.append(cell)
                lines.append(f"| {state} | {first}-{last} | " + " | ".join(cells) + " |")
        lines.append("")

    period_table("pi", "Mean Scott's pi")
    period_table("raw_agreement", "Mean raw agreement")

    possible = len(STATES) * len(PARTNERS) * (LAST_YEAR - FIRST_YEAR + 1)
    lines.append(f"Rows: {len(table)} of {possible} state-partner-years.\n")
    lines.append(f"Missing state-partner-years: {len(missing)}\n")
    if len(missing):
        grouped = missing.groupby(["state", "reason"])
        for (state, reason), grp in grouped:
            parts = []
            for partner in PARTNERS:
                yrs = grp.loc[grp["partner"] == partner, "year"].tolist()
                if yrs:
                    parts.append(f"{partner} {_spans(yrs)}")
            lines.append(f"- {state}, {reason}: {len(grp)} ({'; '.join(parts)})")
        lines.append("")
    degenerate = skipped[skipped["reason"] == DEGENERATE]
    lines.append(f"Pairs with D_expected = 0 (warnings): {len(degenerate)}\n")
    for r in degenerate.itertuples():
        lines.append(f"- {r.state}-{r.partner} {r.year} ({r.code}, {r.n_common} common roll calls)")
    lines.append("")
    small = table[table["n_common_min"] < 20]
    lines.append(
        f"Rows resting on fewer than 20 common roll calls (for the EU: with at least one member "
        f"below 20): {len(small)}"
    )
    for state, grp in small.groupby("state", sort=False):
        parts = [
            f"{partner} {_spans(grp.loc[grp['partner'] == partner, 'year'].tolist())}"
            for partner in PARTNERS
            if (grp["partner"] == partner).any()
        ]
        lines.append(f"- {state}: {'; '.join(parts)}")
    lines.append("")
    if alternative is not None:
        merged = table.merge(alternative, on=["state", "partner", "year"], suffixes=("", "_alt"))
        r = np.corrcoef(merged["pi"], merged["pi_alt"])[0, 1]
        lines.append(
            f"Other distance weights: {len(merged)} common rows, Pearson r = {r:.3f}, mean pi "
            f"{merged['pi'].mean():.3f} (these weights) vs {merged['pi_alt'].mean():.3f} (other)."
        )
        by_partner = merged.groupby("partner")[["pi", "pi_alt"]].mean().reindex(PARTNERS)
        lines.append(
            "Mean by partner (these / other): "
            + ", ".join(f"{p} {v.pi:.2f} / {v.pi_alt:.2f}" for p, v in by_partner.iterrows())
        )
        lines.append("")
    if calls is not None:
        years = pd.to_datetime(calls["date"]).dt.year
        sel = calls[years.between(FIRST_YEAR, LAST_YEAR).to_numpy()]
        part = (sel["amend"].fillna(0) > 0) | (sel["para"].fillna(0) > 0)
        counts = pd.DataFrame({"year": years[sel.index], "part": part}).groupby("year")["part"]
        lines.append(
            "Roll calls per year (of which on an amendment or a separate paragraph): "
            + ", ".join(f"{y} {n} ({k})" for y, n, k in zip(*_pairs(counts), strict=True))
        )
        lines.append("")
    if calls is not None and votes is not None:
        coded = coded_votes(votes, calls, STATES.values())
        coded = coded[coded["year"].between(FIRST_YEAR, LAST_YEAR)]
        cast = coded.groupby(["year", "country_code"]).size().unstack(fill_value=0)
        no = (
            (coded["choice"] == VOTE_CODES["no"])
            .groupby([coded["year"], coded["country_code"]])
            .sum()
        )
        no = no.unstack(fill_value=0).reindex_like(cast).fillna(0).astype(int)
        lines.append("Votes cast per year by each state (of which no)\n")
        lines.append("| year | " + " | ".join(STATES) + " |")
        lines.append("|---|" + "---:|" * len(STATES))
        for year in range(FIRST_YEAR, LAST_YEAR + 1):
            cells = [
                f"{cast.at[year, c]} ({no.at[year, c]})"
                if year in cast.index and c in cast.columns
                else "0"
                for c in STATES.values()
            ]
            lines.append(f"| {year} | " + " | ".join(cells) + " |")
        lines.append("")
        members = coded_votes(votes, calls, EU_MEMBERSHIP)
        per_year = pd.to_datetime(calls["date"]).dt.year.value_counts()
        sparse = [
            f"{code} {year} ({n} of {per_year[year]})"
            for (year, code), n in members.groupby(["year", "country_code"]).size().items()
            if FIRST_YEAR <= year <= LAST_YEAR
            and code in eu_members(year)
            and n < per_year[year] / 2
        ]
        lines.append(
            "EU members voting on fewer than half of a year's roll calls: "
            + (", ".join(sparse) if sparse else "none")
        )
        lines.append("")
    return "\n".join(lines)


def _pairs(grouped) -> tuple[list[int], list[int], list[int]]:
    """Years, group sizes and sums of a boolean column grouped by year."""
    size, total = grouped.size(), grouped.sum()
    return list(size.index), [int(v) for v in size], [int(v) for v in total]


def _spans(years: Sequence[int]) -> str:
    """``[1992, 1993, 1995]`` -> ``"1992-1993, 1995"``."""
    years = sorted(years)
    spans, start, prev = [], years[0], years[0]
    for y in [*years[1:], None]:
        if y is not None and y == prev + 1:
            prev = y
            continue
        spans.append(f"{start}" if start == prev else f"{start}-{prev}")
        if y is not None:
            start = prev = y
    return ", ".join(spans)


def load(votes_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read ``un_votes.parquet`` and ``un_roll_calls.parquet`` from a folder."""
    votes = pd.read_parquet(
        votes_dir / "un_votes.parquet", columns=["rcid", "country_code", "vote"]
    )
    calls = pd.read_parquet(
        votes_dir / "un_roll_calls.parquet", columns=["rcid", "date", "amend", "para"]
    )
    return votes, calls


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the CSV, warn about D_expected = 0, optionally print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=Path, default=DEFAULT_VOTES, help="unga-votes folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="CSV to write")
    parser.add_argument("--weights", choices=("absolute", "squared"), default="absolute")
    parser.add_argument("--summary", action="store_true", help="print a Markdown summary to stdout")
    args = parser.parse_args(argv)

    votes, calls = load(args.votes)
    table, skipped = agreement_table(votes, calls, weights=args.weights)
    n = write_csv(table, args.out, weights=args.weights)
    print(f"{n} rows written to {args.out}", file=sys.stderr)
    degenerate = skipped[skipped["reason"] == DEGENERATE]
    if len(degenerate):
        print(
            f"warning: {len(degenerate)} state-partner(-member)-years with D_expected = 0 "
            "(same single choice throughout) left out",
            file=sys.stderr,
        )
    if args.summary:
        other = "squared" if args.weights == "absolute" else "absolute"
        alternative, _ = agreement_table(votes, calls, weights=other)
        missing = missing_years(table, skipped, votes, calls)
        print(summary(table, skipped, missing, alternative, calls, votes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
