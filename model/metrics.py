"""Dependence, alignment and regional metrics: pure numpy functions that broadcast.

Every function takes arrays whose *last* axis (or last two, where said) carries the quantity and
broadcasts over any leading axes — runs, dates, states, dimensions — so the same call measures
one state at one date, a whole trajectory, or an ensemble of runs.

Conventions: a *share vector* ``x`` has partners on its last axis, entries in [0, 1] summing to 1
(P partners). Tie arrays are ``(..., P, D)``: partners, then dimensions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.spatial.distance import jensenshannon

__all__ = [
    "METRICS",
    "Metric",
    "alignment_drift",
    "alignment_shares",
    "effective_partners",
    "hhi",
    "hhi_normalised",
    "largest_share",
    "metric_columns",
    "metric_of",
    "month_means",
    "partner_shares",
    "pole_shares",
    "regional_cooperation",
    "regional_engagement",
    "relative_alignment",
    "vulnerability",
]


def partner_shares(ties: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """Partner shares per dimension.

    ``s[..., j, d] = T[..., j, d] / sum_k T[..., k, d]``; where a state has no ties on a
    dimension (a sum below the smallest normal float64, 2.2e-308, as in the model's rule
    :func:`model.rules.partner_shares_into`) every partner gets ``1/P``. Range [0, 1]; sums to 1
    over partners (axis -2). The sum runs over partners in order, as numpy's ``sum(axis=-2)``
    does, in one compiled pass (:func:`_partner_shares_kernel`), so the shares are numpy's to
    the bit without its temporary arrays.

    Parameters
    ----------
    ties : (..., P, D) array, >= 0
    out : a C-contiguous float64 array of the same shape to write the shares into (a buffer
        reused from call to call costs no fresh memory), or None for a new one
    """
    ties = np.ascontiguousarray(ties, dtype=float)
    if out is None:
        out = np.empty_like(ties)
    elif out.shape != ties.shape or out.dtype != float or not out.flags.c_contiguous:
        raise ValueError(f"out must be C-contiguous float64 of shape {ties.shape}")
    if ties.size:
        rows = ties.reshape(-1, *ties.shape[-2:])
        _partner_shares_kernel(rows, out.reshape(rows.shape))
    return out


@njit(cache=True, error_model="numpy", nogil=True)
def _partner_shares_kernel(ties, out):
    """:func:`partner_shares` of ``ties`` (N, P, D) into ``out`` (N, P, D)."""
    n_partners, n_dims = ties.shape[1], ties.shape[2]
    uniform = 1.0 / n_partners
    total = np.empty(n_dims)
    for n in range(ties.shape[0]):
        total[:] = 0.0
        for j in range(n_partners):
            for d in range(n_dims):
                total[d] += ties[n, j, d]
        for j in range(n_partners):
            for d in range(n_dims):
                out[n, j, d] = ties[n, j, d] / total[d] if total[d] >= _TINY else uniform


_TINY = np.finfo(float).tiny


def month_means(
    values: np.ndarray, requests: Sequence[tuple[int, int, object]]
) -> list[np.ndarray]:
    """Means over sets of months (axis 1) of (state, dimension) slices of ``values``, in one pass.

    ``m_n[r, j] = sum_{t in months_n} v[r, t, s_n, j, d_n] / |months_n|`` for each request
    ``(s_n, d_n, months_n)``, each summed month by month in increasing order from 0, as
    numpy's ``values[:, months_n].mean(axis=1)`` sums over an axis that is not the last: the
    same bits as that mean's slice ``[:, s_n, :, d_n]``. The slices are read where they lie
    (no copy), run by run: one run's months stay in the cache while all the requests read
    them, so each part of the monthly arrays (larger than the caches) comes from memory once,
    and only the requested dimensions are added. Units those of ``values``.

    Parameters
    ----------
    values : (R, T, S, P, D) float64 array (any strides), e.g. ties or partner shares (runs,
        months, states, partners, dimensions); an array without a dimension axis as
        ``values[..., None]`` with ``d_n = 0``
    requests : (state, dimension, months) triples, months a slice or an increasing int array
        of at least one month along axis 1

    Returns
    -------
    list of (R, P) arrays, one per request
    """
    if not requests:
        return []
    every = np.arange(values.shape[1])
    chosen = [every[months] for _, _, months in requests]  # each request's months, in order
    months = np.concatenate(chosen).astype(np.int64)
    bounds = np.cumsum([0] + [len(c) for c in chosen])
    states = np.array([state for state, _, _ in requests], dtype=np.int64)
    dimensions = np.array([dimension for _, dimension, _ in requests], dtype=np.int64)
    sums = np.empty((values.shape[0], len(requests), values.shape[3]))
    _month_sums(values, states, dimensions, months, bounds, sums)
    return [sums[:, n] / len(c) for n, c in enumerate(chosen)]


@njit(cache=True, error_model="numpy", nogil=True)
def _month_sums(values, states, dimensions, months, bounds, out):
    """``out[r, n, j] = sum_t values[r, t, states[n], j, dimensions[n]]`` over the months
    ``t = months[bounds[n]:bounds[n + 1]]``, added in that order. A run's months (a few
    hundred kB) stay in the cache while its requests read them."""
    for r in range(values.shape[0]):
        for n in range(states.size):
            s, d = states[n], dimensions[n]
            for j in range(values.shape[3]):
                out[r, n, j] = 0.0
            for i in range(bounds[n], bounds[n + 1]):
                t = months[i]
                for j in range(values.shape[3]):
                    out[r, n, j] += values[r, t, s, j, d]


def alignment_shares(shares: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """A state's alignment vector: dimension-weighted partner shares.

    ``a[..., j] = sum_d w_d s[..., j, d]`` with ``sum_d w_d = 1`` (the scenario's dimension
    weights), a point in the (P-1)-simplex. Range [0, 1], sums to 1.

    Parameters
    ----------
    shares : (..., P, D) array of partner shares
    weights : (D,) array of dimension weights summing to 1
    """
    return np.asarray(shares) @ np.asarray(weights)


def largest_share(x: np.ndarray) -> np.ndarray:
    """Largest partner share ``max_j x_j``, the simplest dependence measure. Range [1/P, 1]."""
    return np.max(x, axis=-1)


def hhi(x: np.ndarray) -> np.ndarray:
    """Herfindahl-Hirschman index of concentration ``HHI = sum_j x_j^2``. Range [1/P, 1].

    Herfindahl (1950), *Concentration in the U.S. Steel Industry*; Hirschman (1945/1964),
    "The paternity of an index", *American Economic Review* 54(5):761.
    """
    x = np.asarray(x)
    return np.einsum("...j,...j->...", x, x)


def hhi_normalised(x: np.ndarray) -> np.ndarray:
    """Normalised HHI ``(HHI - 1/P) / (1 - 1/P)``: 0 for perfect balance, 1 for a single partner.

    Range [0, 1]; P is the length of the last axis (P >= 2).
    """
    n = np.shape(x)[-1]
    return (hhi(x) - 1.0 / n) / (1.0 - 1.0 / n)


def effective_partners(x: np.ndarray) -> np.ndarray:
    """Effective number of partners ``1 / HHI``. Range [1, P].

    Laakso & Taagepera (1979), "'Effective' number of parties", *Comparative Political Studies*
    12(1):3-27.
    """
    return 1.0 / hhi(x)


def vulnerability(shares: np.ndarray, difficulty: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Vulnerability index: concentration weighted by how hard each channel is to substitute.

    ``V = sum_d omega_d HHI*_d`` with ``omega_d = w_d c_d / sum_e w_e c_e``, ``HHI*_d`` the
    normalised HHI of dimension d, ``w_d`` the dimension weight and ``c_d`` its substitution
    difficulty (a pipeline or a security guarantee is harder to replace than a summit). Range
    [0, 1]. After Keohane & Nye (1977), *Power and Interdependence*: vulnerability, as opposed
    to sensitivity, is the cost of replacing a relationship.

    Parameters
    ----------
    shares : (..., P, D) array of partner shares
    difficulty, weights : (D,) arrays, >= 0
    """
    omega = np.asarray(weights) * np.asarray(difficulty)
    total = omega.sum()
    omega = omega / total if total > 0 else np.full_like(omega, 1.0 / omega.size)
    per_dimension = hhi_normalised(np.swapaxes(shares, -1, -2))
    return per_dimension @ omega


def pole_shares(alignment: np.ndarray, pole_matrix: np.ndarray) -> np.ndarray:
    """Position in the poles' simplex (e.g. Russia / China / West), renormalised over the poles.

    ``y[..., q] = sum_j M[q, j] a[..., j] / sum_{q, j} M[q, j] a[..., j]`` where ``M`` is 0/1
    pole membership. Powers in no pole (e.g. Turkey, Iran) are left out. Range [0, 1].
    """
    y = np.asarray(alignment) @ np.asarray(pole_matrix).T
    total = y.sum(axis=-1, keepdims=True)
    uniform = np.full_like(y, 1.0 / y.shape[-1])
    return np.divide(y, total, out=uniform, where=total > 0)


def relative_alignment(y_a: np.ndarray, y_b: np.ndarray) -> np.ndarray:
    """Relative alignment on an axis between two poles, ``(y_a - y_b) / (y_a + y_b)``.

    +1: wholly with pole a; -1: wholly with pole b; 0: balanced (or no ties with either).
    Range [-1, 1].
    """
    y_a, y_b = np.asarray(y_a, float), np.asarray(y_b, float)
    total = y_a + y_b
    return np.divide(y_a - y_b, total, out=np.zeros(np.broadcast(y_a, y_b).shape), where=total > 0)


def alignment_drift(
    trajectory: np.ndarray, lag: int | None = None, steps: np.ndarray | None = None
) -> np.ndarray:
    """Alignment drift: Jensen-Shannon distance of each alignment vector from an earlier one.

    ``drift[t] = JSD(a[t], a[ref(t)])`` with base-2 logarithms, where ``ref(t) = 0`` (drift from
    the start) when ``lag`` is None, else ``max(t - lag, 0)`` (e.g. ``lag = 12`` months: year on
    year; the first year is measured from the start). JSD is a metric on the simplex (Endres &
    Schindelin 2003, *IEEE Trans. Inf. Theory* 49(7):1858; Lin 1991). Range [0, 1].

    Parameters
    ----------
    trajectory : (..., T, P) array of share vectors over time (time on axis -2)
    lag : int or None
    steps : (T,) increasing month indices of the trajectory's entries (default ``0 .. T-1``);
        an entry whose reference month (0, or ``max(t - lag, 0)``) is not among them is NaN
    """
    trajectory = np.asarray(trajectory, dtype=float)
    # shares below 1e-300 are flushed to 0: their midpoints underflow and make the
    # divergence infinite, though their true contribution is nil
    trajectory = np.where(trajectory < 1e-300, 0.0, trajectory)
    n = trajectory.shape[-2]
    steps = np.arange(n) if steps is None else np.asarray(steps)
    wanted = np.zeros(n, dtype=int) if lag is None else np.maximum(steps - lag, 0)
    ref = np.minimum(np.searchsorted(steps, wanted), n - 1)
    missing = steps[ref] != wanted
    reference = trajectory[..., ref, :]
    with np.errstate(invalid="ignore"):
        out = jensenshannon(trajectory, reference, base=2, axis=-1)
    # identical vectors can give a tiny negative number inside the square root (NaN)
    out = np.clip(np.nan_to_num(out, nan=0.0), 0.0, 1.0)
    return np.where(missing, np.nan, out) if missing.any() else out


def regional_cooperation(regional: np.ndarray) -> np.ndarray:
    """Regional cooperation index: mean tie over the S(S-1) ordered pairs of states.

    ``C = sum_{i != k} R[i, k] / (S (S - 1))``. Range [0, 1].

    Parameters
    ----------
    regional : (..., S, S) array with zero diagonal, entries in [0, 1]
    """
    n = regional.shape[-1]
    return regional.sum(axis=(-1, -2)) / (n * (n - 1))


def regional_engagement(regional: np.ndarray) -> np.ndarray:
    """Each state's mean regional tie ``E[i] = sum_{k != i} R[i, k] / (S - 1)``. Range [0, 1]."""
    n = regional.shape[-1]
    return regional.sum(axis=-1) / (n - 1)


def measure(
    ties: np.ndarray,
    regional: np.ndarray,
    *,
    weights: np.ndarray,
    difficulty: np.ndarray,
    pole_matrix: np.ndarray,
    axes: tuple[tuple[int, int], ...] = (),
    steps: np.ndarray | None = None,
    lazy: bool = False,
    dimension_shares: np.ndarray | None = None,
) -> Mapping[str, np.ndarray]:
    """All metrics of trajectories, broadcasting over leading axes (e.g. runs).

    Parameters
    ----------
    ties : (..., T, S, P, D) tie trajectories
    regional : (..., T, S, S) regional tie trajectories
    weights, difficulty : (D,) dimension weights and substitution difficulties
    pole_matrix : (Q, P) 0/1 pole membership
    axes : pairs of pole indices for :func:`relative_alignment`
    steps : (T,) the months recorded (default every month ``0 .. T-1``); a drift whose
        reference month (0, or a year earlier) is not recorded is NaN
    lazy : compute each metric on first access only (:class:`Measures`), for callers that read
        a few of them (the pattern language); the values are the same either way
    dimension_shares : :func:`partner_shares` of ``ties``, if the caller has computed them

    Returns
    -------
    Mapping
        ``shares`` (..., T, S, P, D+1): partner shares per dimension, the last being the
        dimension-weighted alignment vector ("overall"); per (..., T, S, D+1):
        ``largest_share``, ``largest_partner`` (index), ``hhi``, ``hhi_normalised``,
        ``effective_partners``; per (..., T, S): ``vulnerability``, ``drift_from_start``,
        ``drift_year_on_year`` (on the alignment vector), ``regional_engagement``; ``poles``
        (..., T, S, Q); ``relative_alignment`` (..., T, S, len(axes)); ``regional_cooperation``
        (..., T).
    """
    measures = Measures(ties, regional, weights, difficulty, pole_matrix, axes, steps)
    if dimension_shares is not None:
        measures.known("dimension_shares", dimension_shares)
    return measures if lazy else {name: measures[name] for name in measures}


class Measures(Mapping):
    """:func:`measure`'s metrics, each computed on first access and kept."""

    def __init__(self, ties, regional, weights, difficulty, pole_matrix, axes, steps):
        self._ties, self._regional = ties, regional
        self._weights, self._difficulty = weights, difficulty
        self._pole_matrix, self._axes, self._steps = pole_matrix, axes, steps
        self._done: dict[str, np.ndarray] = {}

    def _compute(self, name: str) -> np.ndarray:
        if name == "dimension_shares":
            return partner_shares(self._ties)
        if name == "overall":
            return alignment_shares(self["dimension_shares"], self._weights)
        if name == "shares":
            return np.concatenate([self["dimension_shares"], self["overall"][..., None]], axis=-1)
        if name == "by_partner_last":
            return np.swapaxes(self["shares"], -1, -2)  # (..., T, S, D+1, P)
        last = self["by_partner_last"] if name in _PER_DIMENSION else None
        if name == "largest_share":
            return largest_share(last)
        if name == "largest_partner":
            return np.argmax(last, axis=-1)
        if name == "hhi":
            return hhi(last)
        if name == "hhi_normalised":
            return hhi_normalised(last)
        if name == "effective_partners":
            return effective_partners(last)
        if name == "vulnerability":
            return vulnerability(self["dimension_shares"], self._difficulty, self._weights)
        if name in ACROSS_MONTHS:
            moved = np.swapaxes(self["overall"], -2, -3)  # (..., S, T, P): time on axis -2
            lag = None if name == "drift_from_start" else 12
            return np.swapaxes(alignment_drift(moved, lag, self._steps), -1, -2)
        if name == "poles":
            return pole_shares(self["overall"], self._pole_matrix)
        if name == "relative_alignment":
            poles = self["poles"]
            if not self._axes:
                return np.zeros((*poles.shape[:-1], 0))
            return np.stack(
                [relative_alignment(poles[..., a], poles[..., b]) for a, b in self._axes],
                axis=-1,
            )
        if name == "regional_engagement":
            return regional_engagement(self._regional)
        if name == "regional_cooperation":
            return regional_cooperation(self._regional)
        raise KeyError(name)

    def known(self, name: str, values: np.ndarray) -> None:
        """Take ``values`` as the metric ``name`` (computed by the caller the same way)."""
        self._done[name] = values

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._done:
            self._done[name] = self._compute(name)
        return self._done[name]

    def __iter__(self):
        return iter(MEASURES)

    def __len__(self) -> int:
        return len(MEASURES)


_PER_DIMENSION = ("largest_share", "largest_partner", "hhi", "hhi_normalised", "effective_partners")
MEASURES = (
    "shares",
    *_PER_DIMENSION,
    "vulnerability",
    "drift_from_start",
    "drift_year_on_year",
    "poles",
    "relative_alignment",
    "regional_engagement",
    "regional_cooperation",
)
"""The keys of :func:`measure`'s output, in order."""
ACROSS_MONTHS = ("drift_from_start", "drift_year_on_year")
"""The measures whose value in a month reads other months (the drift's reference month); every
other measure of a month reads that month only, so it can be computed on any set of months."""


# --------------------------------------------------------------------------------------------
# the metric registry: each metric of the metrics table declared once


@dataclass(frozen=True)
class Metric:
    """One column (or family of columns) of a batch's metrics table, per run, date and state.

    Attributes
    ----------
    name : the column, e.g. ``dependence``; a family's pattern, ``pole_{pole}`` (one column per
        pole of the scenario's ``[alignment]``) or ``relative_{a}_{b}`` (one per axis)
    label : axis label with its unit and range (``\\n`` splits it over two lines)
    unit : the unit (``-`` for a share or index)
    low, high : the range of its values
    doc : one line: what it measures, with the function that computes it
    take : from :func:`measure`'s output and the family member's index, the values with
        leading axes ``(..., T, S)``
    family : ``""``, ``poles`` or ``axes``
    regional : one value for the whole region (the same for every state)
    categorical : not a number (``largest_partner``: a power's index)
    """

    name: str
    label: str
    unit: str
    low: float
    high: float
    doc: str
    take: Callable[[dict, int], np.ndarray]
    family: str = ""
    regional: bool = False
    categorical: bool = False


_OVERALL = -1  # the alignment vector, the last "dimension" of measure()'s per-dimension arrays

METRICS: tuple[Metric, ...] = (
    Metric(
        "dependence",
        "Largest partner share\n(of dimension-weighted ties, 0-1)",
        "share",
        0.0,
        1.0,
        "largest share of the alignment vector (largest_share)",
        lambda out, k: out["largest_share"][..., _OVERALL],
    ),
    Metric(
        "largest_partner",
        "Largest partner",
        "power",
        0,
        0,
        "the power holding the largest share of the alignment vector",
        lambda out, k: out["largest_partner"][..., _OVERALL],
        categorical=True,
    ),
    Metric(
        "hhi",
        "Concentration of ties\n(Herfindahl-Hirschman index, 0-1)",
        "-",
        0.0,
        1.0,
        "HHI of the alignment vector (hhi)",
        lambda out, k: out["hhi"][..., _OVERALL],
    ),
    Metric(
        "hhi_normalised",
        "Normalised concentration\n(HHI rescaled to 0-1)",
        "-",
        0.0,
        1.0,
        "(HHI - 1/P) / (1 - 1/P) of the alignment vector (hhi_normalised)",
        lambda out, k: out["hhi_normalised"][..., _OVERALL],
    ),
    Metric(
        "effective_partners",
        "Effective number of partners\n(1 / HHI)",
        "partners",
        1.0,
        float("inf"),
        "1 / HHI of the alignment vector (effective_partners)",
        lambda out, k: out["effective_partners"][..., _OVERALL],
    ),
    Metric(
        "vulnerability",
        "Vulnerability\n(difficulty-weighted dependence, 0-1)",
        "-",
        0.0,
        1.0,
        "difficulty-weighted normalised HHI over dimensions (vulnerability)",
        lambda out, k: out["vulnerability"],
    ),
    Metric(
        "drift_from_start",
        "Alignment drift from 1991\n(Jensen-Shannon distance, 0-1)",
        "-",
        0.0,
        1.0,
        "Jensen-Shannon distance of the alignment vector from the start (alignment_drift)",
        lambda out, k: out["drift_from_start"],
    ),
    Metric(
        "drift_year_on_year",
        "Year-on-year alignment drift\n(Jensen-Shannon distance, 0-1)",
        "-",
        0.0,
        1.0,
        "Jensen-Shannon distance from a year earlier (alignment_drift, lag 12)",
        lambda out, k: out["drift_year_on_year"],
    ),
    Metric(
        "pole_{pole}",
        "Share of the {pole} pole\n(of the alignment vector, 0-1)",
        "share",
        0.0,
        1.0,
        "the pole's share of the alignment vector among the poles (pole_shares)",
        lambda out, k: out["poles"][..., k],
        family="poles",
    ),
    Metric(
        "relative_{a}_{b}",
        "Relative alignment {a} - {b}\n(-1 wholly {b}, +1 wholly {a})",
        "-",
        -1.0,
        1.0,
        "(y_A - y_B) / (y_A + y_B) of two poles' shares (relative_alignment)",
        lambda out, k: out["relative_alignment"][..., k],
        family="axes",
    ),
    Metric(
        "regional_engagement",
        "Regional engagement\n(mean tie with neighbours, 0-1)",
        "-",
        0.0,
        1.0,
        "the state's mean regional tie (regional_engagement)",
        lambda out, k: out["regional_engagement"],
    ),
    Metric(
        "regional_cooperation",
        "Regional cooperation index\n(mean tie among the states, 0-1)",
        "-",
        0.0,
        1.0,
        "mean regional tie over all pairs (regional_cooperation), the same for every state",
        lambda out, k: np.broadcast_to(
            out["regional_cooperation"][..., None], out["regional_engagement"].shape
        ),
        regional=True,
    ),
)


def metric_columns(
    poles: Sequence[str], axes: Sequence[tuple[str, str]]
) -> list[tuple[str, str, Metric, int]]:
    """The metrics table's columns for a scenario's poles and axes, in table order.

    Returns ``(column, label, metric, index)`` for every column: a family expands to one column
    per pole (``pole_West``) or axis (``relative_Russia_West``), ``index`` being the member's
    position (the ``k`` of :attr:`Metric.take`).
    """
    out = []
    for metric in METRICS:
        if metric.family == "poles":
            members = [{"pole": pole} for pole in poles]
        elif metric.family == "axes":
            members = [{"a": a, "b": b} for a, b in axes]
        else:
            members = [{}]
        for k, names in enumerate(members):
            out.append((metric.name.format(**names), metric.label.format(**names), metric, k))
    return out


def metric_of(column: str) -> tuple[Metric, str] | None:
    """The registry entry of a metrics-table column and the column's label, or None.

    ``pole_West`` is the ``poles`` family's member ``West``; ``relative_Russia_West`` the
    ``axes`` family's ``Russia``-``West`` (pole names without ``_``).
    """
    for metric in METRICS:
        if not metric.family and metric.name == column:
            return metric, metric.label
        if metric.family == "poles" and column.startswith("pole_") and len(column) > 5:
            return metric, metric.label.format(pole=column[5:])
        if metric.family == "axes" and column.startswith("relative_"):
            a, _, b = column[len("relative_") :].partition("_")
            if a and b:
                return metric, metric.label.format(a=a, b=b)
    return None
