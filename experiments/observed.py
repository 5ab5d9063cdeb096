"""Observed data and the observation model: scoring the model against the real world.

The dataset in ``data/observed/`` is tidy CSV, one row per observation (the README there gives
every source and licence)::

    state,partner,dimension,indicator,year_start,year,value,unit,source,note

:func:`load_observed` reads and checks it: a malformed row is one line naming the file, the
row, the column, the value and what is allowed. :data:`INDICATORS` declares each indicator once:
its dimension, unit, and how the model observes it (its *kind*):

``shares``
    A partner's share of the state's exchange of one kind (trade, gas exports, emigrants,
    remittance origins, arms imports). Observed and model shares are both renormalised over
    the same subset ``K`` of the six powers that the source reports for that state and year:
    ``y_j = v_j / sum_{k in K} v_k`` and ``m_j = s[i, j, d] / sum_{k in K} s[i, k, d]``, with
    ``s`` the model's partner shares on the indicator's dimension ``d``, averaged over the
    months the observation covers (:func:`subset_shares`). The rest of the world (``ROW``)
    has no counterpart among the model's powers and is left out.
``agreement``
    UN General Assembly voting agreement (Scott's pi, in [-1, 1]): not a share, so only the
    ranking of the partners is compared, with the model's political shares (Spearman's rank
    correlation, :func:`rank_agreement`).
``cross_state``
    A state-level figure (personal remittances, % of GDP): compared across states by rank with
    the model's societal tie volume with Russia, ``T[i, RUS, societal]`` (the labour-migration
    channel), in each year.
``context``
    Inputs and context (arms-import totals, military presence, alliance membership, China's
    share of external debt): not observable through the model's shares, reported but not
    scored (the README says why for each).

Windows: observations covering years up to :data:`FIT_END` (2012) form the *fit window*, those
from :data:`VALIDATION_START` (2013) on the *validation window*; an observation spanning both
belongs to neither. Only fit-window observations may reach a fit (:func:`fit_window`).

:func:`score` compares a scenario's runs with every scored observation, next to three
reference forecasts built from the same data (:func:`reference_forecasts`): persistence (the
last fit-window observation of the series carried forward), a linear trend fitted in the fit
window, and equal shares ``1 / |K|``.
"""

from __future__ import annotations

import copy
import csv
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from model.metrics import month_means, partner_shares
from model.scenario import Scenario, ScenarioError

__all__ = [
    "COLUMNS",
    "DATA",
    "FIT_END",
    "INDICATORS",
    "OBSERVED_SCALE",
    "VALIDATION_END",
    "VALIDATION_START",
    "Indicator",
    "ObservationTargets",
    "ObservedDataError",
    "Score",
    "comparable",
    "fit_window",
    "load_observed",
    "rank_agreement",
    "rank_summary",
    "reference_forecasts",
    "score",
    "span_mean",
    "span_months",
    "subset_shares",
    "summarise",
    "summary_line",
    "windows",
]

DATA = Path(__file__).resolve().parents[1] / "data" / "observed"
"""The dataset's folder in the repository (read at run time; nothing touches the network)."""
COLUMNS = (
    "state",
    "partner",
    "dimension",
    "indicator",
    "year_start",
    "year",
    "value",
    "unit",
    "source",
    "note",
)
STATES = ("KAZ", "KGZ", "TJK", "TKM", "UZB")
POWERS = ("RUS", "CHN", "USA", "EU", "TUR", "IRN")
PARTNERS = (*POWERS, "ROW", "ALL")
DIMENSIONS = ("economic", "security", "political", "societal")
FIT_END = 2012
VALIDATION_START = 2013
VALIDATION_END = 2021
FIRST_YEAR, LAST_YEAR = 1946, 2100
MAX_ROWS = 200_000  # per file; the dataset holds a few thousand
MAX_FIELD = 20_000  # characters per field


class ObservedDataError(ScenarioError):
    """A malformed file or row of the observed dataset: one line naming file, row, column."""


@dataclass(frozen=True)
class Indicator:
    """One observed indicator and how the model observes it.

    Attributes
    ----------
    name : the ``indicator`` column's value
    dimension : the model dimension it belongs to
    unit : the ``unit`` column's value (checked)
    kind : ``shares``, ``agreement``, ``cross_state`` or ``context`` (module docstring)
    doc : what it is
    periods : for ``shares``: score only rows covering several years (``year_start < year``),
        where a source gives both annual and period figures (arms imports are lumpy by year)
    low, high : the range of its values
    why_context : for ``context``: why the model's shares cannot observe it
    """

    name: str
    dimension: str
    unit: str
    kind: str
    doc: str
    low: float = 0.0
    high: float = 100.0
    periods: bool = False
    why_context: str = ""


INDICATORS: dict[str, Indicator] = {
    i.name: i
    for i in (
        Indicator(
            "trade_share",
            "economic",
            "percent",
            "shares",
            "the partner's share of the state's merchandise trade (exports + imports)",
        ),
        Indicator(
            "gas_export_share",
            "economic",
            "percent",
            "shares",
            "the partner's share of the state's natural-gas exports (volume)",
        ),
        Indicator(
            "external_debt_share",
            "economic",
            "percent",
            "context",
            "the creditor's share of the state's external public debt",
            why_context="a share of all creditors, most of them multilateral lenders the model "
            "does not have; one or two of the six powers per year cannot be renormalised",
        ),
        Indicator(
            "emigrant_stock_share",
            "societal",
            "percent",
            "shares",
            "the share of the state's emigrants living in the partner country (UN DESA)",
        ),
        Indicator(
            "remittance_origin_share",
            "societal",
            "percent",
            "shares",
            "the partner's share of the state's remittance inflows (World Bank/KNOMAD)",
        ),
        Indicator(
            "remittances_gdp",
            "societal",
            "percent of GDP",
            "cross_state",
            "personal remittances received, % of GDP (World Bank WDI)",
        ),
        Indicator(
            "arms_import_share",
            "security",
            "percent",
            "shares",
            "the supplier's share of the state's arms imports (SIPRI TIV)",
            periods=True,
        ),
        Indicator(
            "arms_import_tiv",
            "security",
            "TIV million",
            "context",
            "the state's arms imports (SIPRI trend-indicator values)",
            high=1e6,
            why_context="a volume in SIPRI's units; it checks the shares, the model has no "
            "counterpart in its relative tie units",
        ),
        Indicator(
            "military_presence",
            "security",
            "presence",
            "context",
            "a power's base or facility in the state during the years",
            high=1.0,
            why_context="an input: the scenario's events (e.g. the 2001 Afghanistan operation) "
            "carry it; not an outcome of the model",
        ),
        Indicator(
            "alliance_membership",
            "security",
            "member",
            "context",
            "membership spells in the CSTO (partner RUS) and the SCO (partner CHN)",
            high=1.0,
            why_context="an input: memberships change only by the scenario's events "
            "(tests/test_observed.py checks that the two agree)",
        ),
        Indicator(
            "unga_agreement",
            "political",
            "Scott's pi, absolute distance weights (Hage 2011)",
            "agreement",
            "UN General Assembly voting agreement with the partner (Scott's pi)",
            low=-1.0,
            high=1.0,
        ),
    )
}
"""Every indicator of the dataset, declared once."""

_CROSS_STATE_OBSERVABLE = ("RUS", "societal")  # remittances: the tie with Russia, societal


# --------------------------------------------------------------------------------------------
# loading and checking


def _fail(file: str, row: int, column: str, value, allowed: str):
    shown = value if len(str(value)) <= 80 else str(value)[:77] + "..."
    raise ObservedDataError(file, f"row {row}, column {column}", shown, allowed)


def _read_file(path: Path) -> list[dict]:
    file = str(path)
    if not path.is_file():
        raise ObservedDataError(file, "(file)", file, "a CSV file of the observed dataset")
    if path.stat().st_size > MAX_ROWS * 2_000:
        raise ObservedDataError(file, "(file)", f"{path.stat().st_size} bytes", "a smaller file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ObservedDataError(file, "(file)", "not UTF-8", "UTF-8 text") from None
    csv.field_size_limit(MAX_FIELD)
    try:
        reader = csv.reader(text.splitlines())
        header = next(reader, None)
        if header != list(COLUMNS):
            raise ObservedDataError(file, "header", header, f"the columns {','.join(COLUMNS)}")
        rows = []
        for number, fields in enumerate(reader, start=2):
            if len(rows) >= MAX_ROWS:
                raise ObservedDataError(file, "(file)", f"over {MAX_ROWS} rows", "fewer rows")
            if len(fields) != len(COLUMNS):
                _fail(file, number, "(all)", f"{len(fields)} fields", f"{len(COLUMNS)} fields")
            rows.append(
                {"file": path.name, "row": number, **dict(zip(COLUMNS, fields, strict=True))}
            )
    except csv.Error as error:
        raise ObservedDataError(file, "(syntax)", str(error), "valid CSV") from None
    return rows


def _check_row(row: dict, file: str) -> dict:
    n = row["row"]
    for column, allowed in (
        ("state", STATES),
        ("partner", PARTNERS),
        ("dimension", DIMENSIONS),
        ("indicator", tuple(INDICATORS)),
    ):
        if row[column] not in allowed:
            _fail(file, n, column, row[column], f"one of {', '.join(allowed)}")
    indicator = INDICATORS[row["indicator"]]
    if row["dimension"] != indicator.dimension:
        _fail(file, n, "dimension", row["dimension"], f"{indicator.dimension} for {indicator.name}")
    years = {}
    for column in ("year_start", "year"):
        text = row[column]
        if not re.fullmatch(r"[0-9]{4}", text) or not FIRST_YEAR <= int(text) <= LAST_YEAR:
            _fail(file, n, column, text, f"a year from {FIRST_YEAR} to {LAST_YEAR}")
        years[column] = int(text)
    if years["year_start"] > years["year"]:
        _fail(file, n, "year_start", row["year_start"], f"a year up to year ({row['year']})")
    try:
        value = float(row["value"])
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not indicator.low <= value <= indicator.high:
        _fail(
            file, n, "value", row["value"], f"a number in [{indicator.low:g}, {indicator.high:g}]"
        )
    if row["unit"] != indicator.unit:
        _fail(file, n, "unit", row["unit"], f"{indicator.unit!r} for {indicator.name}")
    if not row["source"].strip():
        _fail(file, n, "source", row["source"], "the publication or dataset, table and URL")
    return {**row, **years, "value": value}


def load_observed(folder: str | Path = DATA) -> pd.DataFrame:
    """Every ``*.csv`` of the dataset folder, checked, as one table.

    Returns the dataset's columns (``year_start``, ``year`` as integers, ``value`` as float)
    plus ``file`` and ``row`` (where each row comes from), ``kind`` (its indicator's kind) and
    ``window`` (``fit``, ``validation`` or ``both`` for a span across 2012/2013).

    Raises
    ------
    ObservedDataError
        For a missing or unreadable file, a wrong header, or a malformed row; a key (state,
        partner, indicator, years) given twice is refused too (but for military presence,
        where one power may have several facilities).
    """
    folder = Path(folder)
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise ObservedDataError(str(folder), "(folder)", str(folder), "a folder of CSV files")
    rows = []
    for path in files:
        rows += [_check_row(row, str(path)) for row in _read_file(path)]
    table = pd.DataFrame(rows)
    key = ["state", "partner", "indicator", "year_start", "year"]
    # several facilities of one power may share their years; every other key is unique
    measured = table["indicator"] != "military_presence"
    duplicated = table.duplicated(key, keep="first") & measured
    if duplicated.any():
        first = table[duplicated].iloc[0]
        raise ObservedDataError(
            str(folder / first["file"]),
            f"row {first['row']}",
            "/".join(str(first[k]) for k in key),
            "each state, partner, indicator and years at most once",
        )
    table["kind"] = table["indicator"].map(lambda name: INDICATORS[name].kind)
    table["window"] = windows(table["year_start"], table["year"])
    return table


def windows(year_start: Iterable[int], year: Iterable[int]) -> np.ndarray:
    """``fit`` (ends by 2012), ``validation`` (starts 2013 or later) or ``both``."""
    start, end = np.asarray(list(year_start)), np.asarray(list(year))
    return np.where(
        end <= FIT_END, "fit", np.where(start >= VALIDATION_START, "validation", "both")
    )


def fit_window(observed: pd.DataFrame) -> pd.DataFrame:
    """The observations a fit may read: those ending by :data:`FIT_END` (2012), only.

    Every path from the dataset to a fit or to a hand-set value goes through here; a
    validation-window row can never pass (checked again on the way out).
    """
    fit = observed[np.asarray(observed["year"]) <= FIT_END].copy()
    assert (fit["year"] <= FIT_END).all()
    return fit


# --------------------------------------------------------------------------------------------
# the observation model


def span_mean(values: np.ndarray, scenario: Scenario, year_start: int, year: int) -> np.ndarray:
    """The mean of monthly ``values`` (time on axis 1) over the calendar years covered.

    The months from January of ``year_start`` to December of ``year``, clipped to the
    scenario's horizon; an annual trade figure is a flow over the year, so the model's
    monthly shares are averaged over the same months. Raises ``ValueError`` if no month of the
    span is in the horizon.
    """
    return values[:, span_months(scenario, year_start, year)].mean(axis=1)


def span_months(scenario: Scenario, year_start: int, year: int) -> slice:
    """The months (steps from the scenario's start) of :func:`span_mean`'s span."""
    first = max(year_start * 12, scenario.start) - scenario.start
    last = min(year * 12 + 11, scenario.end) - scenario.start
    if last < first:
        raise ValueError(f"{year_start}-{year} is outside the scenario's horizon")
    return slice(first, last + 1)


def subset_shares(shares: np.ndarray, subset: Sequence[int]) -> np.ndarray:
    """Shares renormalised over a subset of partners (the last axis).

    ``m_j = s_j / sum_{k in K} s_k`` for ``j`` in ``K``; ``NaN`` where the subset's total is 0.

    Parameters
    ----------
    shares : (..., P) partner shares in [0, 1]
    subset : indices ``K`` of the partners the observation reports

    Returns
    -------
    (..., len(K)) shares summing to 1 over ``K``
    """
    part = shares[..., list(subset)]
    total = part.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, part / total, np.nan)


def rank_agreement(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation of two vectors; NaN for fewer than 3 or a constant vector.

    ``rho = corr(rank(a), rank(b))`` with average ranks for ties (Spearman 1904); 1 when the
    two order the items alike, -1 when reversed.
    """
    from scipy.stats import spearmanr

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(spearmanr(a, b).statistic)


def reference_forecasts(series: pd.DataFrame, *, clip: bool = True) -> pd.DataFrame:
    """Persistence, linear-trend and equal-share forecasts of a series' observed values.

    ``series`` holds one series (one state, indicator and partner): columns ``year_start``,
    ``year``, ``observed`` (the renormalised share, or the value for ranks), ``n_partners``
    and ``window``, in time order. Built from the same data, in the same way for both windows:

    * **persistence**: in the validation window, the last fit-window observation; in the fit
      window, the previous observation (a naive one-step forecast). NaN without one.
    * **trend**: least squares ``a + b t`` on the fit-window observations (``t`` the middle of
      each span, at least two), evaluated at the observation's middle year; with ``clip``
      (shares) clipped to [0, 1]. In the fit window this is the in-sample fit.
    * **equal**: ``1 / |K|``, every reported partner alike.

    Returns the columns ``persistence``, ``trend`` and ``equal`` on ``series``' index.
    """
    t = (series["year_start"].to_numpy() + series["year"].to_numpy()) / 2
    y = series["observed"].to_numpy(dtype=float)
    fit = (series["window"] == "fit").to_numpy() & np.isfinite(y)
    persistence = np.full(len(series), np.nan)
    previous = np.nan
    last_fit = y[fit][-1] if fit.any() else np.nan
    for k in range(len(series)):
        if series["window"].iloc[k] == "validation":
            persistence[k] = last_fit
        elif series["window"].iloc[k] == "fit":
            persistence[k] = previous
            if np.isfinite(y[k]):
                previous = y[k]
    trend = np.full(len(series), np.nan)
    if fit.sum() >= 2 and np.ptp(t[fit]) > 0:
        slope, intercept = np.polyfit(t[fit], y[fit], 1)
        trend = intercept + slope * t
        trend = np.clip(trend, 0.0, 1.0) if clip else trend
    equal = 1.0 / series["n_partners"].to_numpy(dtype=float)
    return pd.DataFrame(
        {"persistence": persistence, "trend": trend, "equal": equal}, index=series.index
    )


# --------------------------------------------------------------------------------------------
# scoring a scenario's runs


@dataclass
class Score:
    """What :func:`score` returns: share observations, rank comparisons, context and runs."""

    shares: pd.DataFrame
    ranks: pd.DataFrame
    context: pd.DataFrame
    runs: int
    trajectories: dict


def _simulate(scenario: Scenario, seeds: Sequence[int], threads: int, variants=None):
    from model.ensemble import simulate_ensemble, stack_variants

    if variants is None:
        ties, _ = simulate_ensemble(scenario.compiled, seeds, threads=threads)
    else:  # run r: variants[r] with seeds[r]
        stack = stack_variants([v.compiled for v in variants])
        index = np.arange(len(variants))
        ties, _ = simulate_ensemble(stack, seeds, variant=index, threads=threads)
    return ties, partner_shares(ties)  # (R, T + 1, S, P, D) each


def score(
    scenario: Scenario,
    seeds: Sequence[int],
    observed: pd.DataFrame | None = None,
    *,
    threads: int = 1,
    variants: Sequence[Scenario] | None = None,
) -> Score:
    """Compare runs of ``scenario`` (one per seed) with every scored observation.

    With ``variants`` (one per seed: e.g. parameter vectors drawn from a posterior), run ``r``
    is ``variants[r]`` with ``seeds[r]``; ``scenario`` then only gives the states, powers and
    calendar (every variant shares them).

    Returns a :class:`Score`: ``shares`` has one row per share observation (``kind`` =
    ``shares``) with the observed and model shares renormalised over the reported partners
    (the model's median and 5th/95th percentiles over runs), the three reference forecasts and
    each one's absolute error; ``ranks`` one row per group compared by rank (a state and year
    across partners for ``agreement`` and ``shares``, a year across states for
    ``cross_state``) with Spearman's rho of the model and of the reference forecasts;
    ``context`` the rows not scored, with the reason.
    """
    observed = load_observed() if observed is None else observed
    states = {s: k for k, s in enumerate(scenario.state_ids)}
    powers = {p: k for k, p in enumerate(scenario.power_ids)}
    dims = {d: k for k, d in enumerate(scenario.dimension_ids)}
    ties, shares = _simulate(scenario, seeds, threads, variants)
    last_year = scenario.end // 12
    first_year = scenario.start // 12
    covered = (observed["year"] >= first_year + 1) & (observed["year_start"] <= last_year)
    usable = observed["state"].isin(list(states)) & covered & (observed["window"] != "both")
    scored = observed[(observed["kind"] != "context") & usable]
    context = observed[~observed.index.isin(scored.index)].copy()
    context["why"] = [
        INDICATORS[i].why_context
        if INDICATORS[i].kind == "context"
        else "outside the horizon"
        if not c
        else "spans both windows"
        for i, c in zip(context["indicator"], covered[context.index], strict=True)
    ]
    share_rows, rank_rows = [], []
    for (state, indicator, start, end), group in scored[scored["kind"] == "shares"].groupby(
        ["state", "indicator", "year_start", "year"], sort=True
    ):
        spec = INDICATORS[indicator]
        if spec.periods and start == end:
            continue
        group = group[group["partner"].isin(list(powers))]
        if len(group) < 2 or group["value"].sum() <= 0:
            continue
        subset = [powers[p] for p in group["partner"]]
        d = dims[spec.dimension]
        monthly = shares[:, :, states[state], :, d]  # (R, T + 1, P)
        model = subset_shares(span_mean(monthly, scenario, start, end), subset)  # (R, K)
        low, median, high = np.nanquantile(model, [0.05, 0.5, 0.95], axis=0)
        values = group["value"].to_numpy()
        for k, (_, row) in enumerate(group.iterrows()):
            share_rows.append(
                {
                    "state": state,
                    "dimension": spec.dimension,
                    "indicator": indicator,
                    "partner": row["partner"],
                    "year_start": start,
                    "year": end,
                    "window": row["window"],
                    "n_partners": len(subset),
                    "observed": values[k] / values.sum(),
                    "model": median[k],
                    "model_p05": low[k],
                    "model_p95": high[k],
                }
            )
        rank_rows.append(
            _rank_row(state, indicator, spec, start, end, group, values, median, "partners")
        )
    shares_table = pd.DataFrame(share_rows)
    if len(shares_table):
        parts = []
        for _, series in shares_table.groupby(["state", "indicator", "partner"], sort=False):
            series = series.sort_values(["year", "year_start"])
            parts.append(series.join(reference_forecasts(series)))
        shares_table = pd.concat(parts).sort_index()
        for name in ("model", "persistence", "trend", "equal"):
            shares_table[f"error_{name}"] = (shares_table[name] - shares_table["observed"]).abs()
    rank_rows += _agreement_ranks(scenario, scored, shares, states, powers, dims)
    rank_rows += _cross_state_ranks(scenario, scored, ties, states, powers, dims)
    ranks = pd.DataFrame([r for r in rank_rows if r is not None])
    if len(ranks):
        ranks = _rank_references(ranks)
    trajectories = {
        "shares": np.median(shares, axis=0),
        "p05": np.quantile(shares, 0.05, axis=0),
        "p95": np.quantile(shares, 0.95, axis=0),
    }
    return Score(shares_table, ranks, context, len(seeds), trajectories)


def _rank_row(state, indicator, spec, start, end, group, values, model, across):
    return {
        "state": state,
        "dimension": spec.dimension,
        "indicator": indicator,
        "year_start": start,
        "year": end,
        "window": group["window"].iloc[0],
        "across": across,
        "items": tuple(group["partner"]),
        "observed_values": tuple(float(v) for v in values),
        "model_values": tuple(float(v) for v in model),
        "rho_model": rank_agreement(model, values),
    }


def _agreement_ranks(scenario, scored, shares, states, powers, dims) -> list[dict]:
    rows = []
    agreement = scored[(scored["kind"] == "agreement") & scored["partner"].isin(list(powers))]
    for (state, indicator, start, end), group in agreement.groupby(
        ["state", "indicator", "year_start", "year"], sort=True
    ):
        spec = INDICATORS[indicator]
        subset = [powers[p] for p in group["partner"]]
        monthly = shares[:, :, states[state], :, dims[spec.dimension]]
        model = np.median(span_mean(monthly, scenario, start, end)[:, subset], axis=0)
        rows.append(
            _rank_row(state, indicator, spec, start, end, group, group["value"], model, "partners")
        )
    return rows


def _cross_state_ranks(scenario, scored, ties, states, powers, dims) -> list[dict]:
    rows = []
    power, dimension = _CROSS_STATE_OBSERVABLE
    cross = scored[scored["kind"] == "cross_state"]
    for (indicator, start, end), group in cross.groupby(
        ["indicator", "year_start", "year"], sort=True
    ):
        spec = INDICATORS[indicator]
        index = [states[s] for s in group["state"]]
        monthly = ties[:, :, :, powers[power], dims[dimension]]  # (R, T + 1, S)
        model = np.median(span_mean(monthly, scenario, start, end)[:, index], axis=0)
        row = _rank_row("ALL", indicator, spec, start, end, group, group["value"], model, "states")
        row["items"] = tuple(group["state"])
        rows.append(row)
    return rows


def _rank_references(ranks: pd.DataFrame) -> pd.DataFrame:
    """Rank agreement of the persistence and trend forecasts of each group's observed values.

    Per item (partner, or state), the values are forecast as in :func:`reference_forecasts`
    (without clipping: these are not shares); equal shares carry no ranking (rho NaN).
    """
    out = ranks.copy()
    out["rho_persistence"] = np.nan
    out["rho_trend"] = np.nan
    for (_, _, _), group in ranks.groupby(["indicator", "state", "across"], sort=False):
        series: dict[str, list[tuple[int, int, float, str]]] = {}
        for _, row in group.iterrows():
            for item, value in zip(row["items"], row["observed_values"], strict=True):
                series.setdefault(item, []).append(
                    (row["year_start"], row["year"], value, row["window"])
                )
        forecasts: dict[str, dict[tuple[int, int], tuple[float, float]]] = {}
        for item, points in series.items():
            frame = pd.DataFrame(points, columns=["year_start", "year", "observed", "window"])
            frame["n_partners"] = 1
            refs = reference_forecasts(frame, clip=False)  # pi and % of GDP are not shares
            forecasts[item] = {
                (s, e): (p, tr)
                for s, e, p, tr in zip(
                    frame["year_start"],
                    frame["year"],
                    refs["persistence"],
                    refs["trend"],
                    strict=True,
                )
            }
        for index, row in group.iterrows():
            key = (row["year_start"], row["year"])
            persistence = [forecasts[i][key][0] for i in row["items"]]
            trend = [forecasts[i][key][1] for i in row["items"]]
            observed = row["observed_values"]
            if np.all(np.isfinite(persistence)):
                out.at[index, "rho_persistence"] = rank_agreement(persistence, observed)
            if np.all(np.isfinite(trend)):
                out.at[index, "rho_trend"] = rank_agreement(trend, observed)
    return out


# --------------------------------------------------------------------------------------------
# fit-window observations as calibration targets

OBSERVED_SCALE = 0.10
"""An error of this many share points counts as one failing pattern in a fit's loss."""


class ObservationTargets:
    """Fit-window share observations, prepared to score many candidates fast in a fit.

    Built from :func:`fit_window` rows only: a validation-window row is refused
    (``ValueError``), so a fit never sees one. Each share group (a state, indicator and span)
    is observed as in :func:`score`: the model's monthly shares on the indicator's dimension,
    averaged over the span, renormalised over the reported powers, averaged over runs.

    :meth:`loss` is the mean over indicators of the mean over their observations of
    ``min(|m - y| / OBSERVED_SCALE, 2)``: an error of 0.10 costs as much as a failing
    pattern, and each indicator counts alike however many rows it has.
    """

    def __init__(self, scenario: Scenario, observed: pd.DataFrame):
        late = observed[observed["year"] > FIT_END]
        if len(late):
            raise ValueError(f"{len(late)} validation-window rows given to a fit; use fit_window")
        self.scenario = scenario
        states = {s: k for k, s in enumerate(scenario.state_ids)}
        powers = {p: k for k, p in enumerate(scenario.power_ids)}
        dims = {d: k for k, d in enumerate(scenario.dimension_ids)}
        shares = observed[(observed["kind"] == "shares") & observed["state"].isin(list(states))]
        self.groups: list[tuple] = []
        last_year = scenario.start // 12
        for (state, indicator, start, end), group in shares.groupby(
            ["state", "indicator", "year_start", "year"], sort=True
        ):
            spec = INDICATORS[indicator]
            group = group[group["partner"].isin(list(powers))]
            if end <= scenario.start // 12 or (spec.periods and start == end):
                continue
            if len(group) < 2 or group["value"].sum() <= 0:
                continue
            values = group["value"].to_numpy(dtype=float)
            self.groups.append(
                (
                    indicator,
                    states[state],
                    dims[spec.dimension],
                    int(start),
                    int(end),
                    [powers[p] for p in group["partner"]],
                    values / values.sum(),
                )
            )
            last_year = max(last_year, int(end))
        self.last_step = min(last_year * 12 + 11, scenario.end) - scenario.start

    @property
    def steps(self) -> np.ndarray:
        """The months a candidate's runs must record: every month up to the last target."""
        return np.arange(self.last_step + 1)

    def errors(self, shares: np.ndarray, variants: int = 1) -> dict[str, np.ndarray]:
        """Absolute errors per indicator, (variants, observations) each.

        ``shares`` (V x R, T, S, P, D) for months 0..T-1: the runs of ``variants`` candidates,
        each ``R`` consecutive runs; a candidate's model value is the mean over its runs.
        """
        out: dict[str, list[np.ndarray]] = {}
        runs = shares.shape[0] // variants
        means = self._span_means(shares)
        for indicator, state, dim, start, end, subset, observed in self.groups:
            model = subset_shares(means[state, dim, start, end], subset)
            mean = np.nanmean(model.reshape(variants, runs, -1), axis=1)
            out.setdefault(indicator, []).append(np.abs(mean - observed))
        return {k: np.concatenate(v, axis=1) for k, v in out.items()}

    def _span_means(self, shares: np.ndarray) -> dict[tuple[int, int, int, int], np.ndarray]:
        """:func:`span_mean` of each group's monthly shares, (R, P) by (state, dimension,
        first year, last year): all in one pass over ``shares``
        (:func:`model.metrics.month_means`, the same bits as one by one)."""
        keys = sorted({(state, dim, a, b) for _, state, dim, a, b, _, _ in self.groups})
        requests = [(s, d, span_months(self.scenario, a, b)) for s, d, a, b in keys]
        return dict(zip(keys, month_means(shares, requests), strict=True))

    def simulated(self, shares: np.ndarray) -> ObservationTargets:
        """The same targets with the values runs give instead of the observed ones (synthetic
        data for a parameter-recovery study): each group's model shares averaged over runs."""
        out = copy.copy(self)
        out.groups = []
        means = self._span_means(shares)
        for indicator, state, dim, start, end, subset, _ in self.groups:
            model = subset_shares(means[state, dim, start, end], subset)
            out.groups.append((indicator, state, dim, start, end, subset, np.nanmean(model, 0)))
        return out

    def losses(self, shares: np.ndarray, variants: int = 1) -> np.ndarray:
        """The targets' loss of each of ``variants`` candidates, whose runs ``shares`` holds
        in consecutive blocks (see :meth:`errors` and the class docstring)."""
        errors = self.errors(shares, variants)
        if not errors:
            return np.zeros(variants)
        per_indicator = [
            np.mean(np.minimum(np.nan_to_num(e, nan=1.0) / OBSERVED_SCALE, 2.0), axis=1)
            for e in errors.values()
        ]
        return np.mean(per_indicator, axis=0)

    def loss(self, shares: np.ndarray) -> float:
        """The targets' loss of one candidate's runs (see the class docstring)."""
        return float(self.losses(shares)[0])


# --------------------------------------------------------------------------------------------
# summaries


FORECASTS = ("model", "persistence", "trend", "equal")


def comparable(shares: pd.DataFrame) -> pd.DataFrame:
    """Share observations where the model and all three reference forecasts are defined."""
    errors = shares[[f"error_{name}" for name in FORECASTS]]
    return shares[np.isfinite(errors.to_numpy(dtype=float)).all(axis=1)]


def summarise(result: Score, by: Sequence[str] = ("window",)) -> pd.DataFrame:
    """Mean absolute error of each forecast over :func:`comparable` share observations.

    One row per group of ``by`` (columns of ``result.shares``), with the number of
    observations.
    """
    common = comparable(result.shares)
    grouped = common.groupby(list(by))
    table = grouped[[f"error_{n}" for n in FORECASTS]].mean()
    table.columns = [f"mae_{n}" for n in FORECASTS]
    table["observations"] = grouped.size()
    return table


def rank_summary(result: Score, by: Sequence[str] = ("window",)) -> pd.DataFrame:
    """Mean Spearman rho of the model and of the reference forecasts, grouped by ``by``."""
    if not len(result.ranks):
        return pd.DataFrame()
    grouped = result.ranks.groupby(list(by))
    table = grouped[["rho_model", "rho_persistence", "rho_trend"]].mean()
    table["groups"] = grouped.size()
    return table


def _counted(result: Score, window: str) -> int:
    """Observations compared in a window: share rows plus the rows compared by rank only."""
    shares = int((result.shares["window"] == window).sum()) if len(result.shares) else 0
    if not len(result.ranks):
        return shares
    by_rank = result.ranks[
        (result.ranks["window"] == window)
        & (result.ranks["indicator"].map(lambda i: INDICATORS[i].kind) != "shares")
    ]
    return shares + int(by_rank["items"].map(len).sum())


def summary_line(result: Score) -> str:
    """The one line ``validate --observed`` ends with.

    The errors are over the validation-window share observations where the model and the
    three reference forecasts are all defined (:func:`comparable`).
    """
    n_fit, n_validation = _counted(result, "fit"), _counted(result, "validation")
    common = comparable(result.shares)
    validation = common[common["window"] == "validation"]
    mae = {name: validation[f"error_{name}"].mean() for name in FORECASTS}
    return (
        f"observed: {n_fit + n_validation} observations ({n_fit} in the fit window, "
        f"{n_validation} in the validation window); validation-window mean absolute error: "
        f"model {mae['model']:.3f}, persistence {mae['persistence']:.3f}, "
        f"trend {mae['trend']:.3f}, equal shares {mae['equal']:.3f}"
    )
