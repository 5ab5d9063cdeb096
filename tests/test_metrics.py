"""model/metrics.py against hand-computed values, broadcasting, and domain properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.metrics import (
    alignment_drift,
    alignment_shares,
    effective_partners,
    hhi,
    hhi_normalised,
    largest_share,
    measure,
    month_means,
    partner_shares,
    pole_shares,
    regional_cooperation,
    regional_engagement,
    relative_alignment,
    vulnerability,
)
from tests.strategies import share_vectors, tie_matrices

SHARES = np.array([0.5, 0.3, 0.2])
# Russia, China, West = USA + EU; the fifth power belongs to no pole
POLE_MATRIX = np.array(
    [
        [1.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 1.0, 0.0],
    ]
)


def _jsd_by_hand(p, q) -> float:
    """Jensen-Shannon distance with base-2 logs, straight from the definition."""
    m = [(a + b) / 2 for a, b in zip(p, q, strict=True)]

    def kl(x):
        return sum(a * math.log2(a / c) for a, c in zip(x, m, strict=True) if a > 0)

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


# --------------------------------------------------------------------------------------------
# hand-computed values


def test_hhi_of_a_known_vector():
    assert hhi(SHARES) == pytest.approx(0.25 + 0.09 + 0.04)
    assert hhi(SHARES) == pytest.approx(0.38)


def test_hhi_normalised_of_a_known_vector():
    assert hhi_normalised(SHARES) == pytest.approx((0.38 - 1 / 3) / (2 / 3))
    assert hhi_normalised(SHARES) == pytest.approx(0.07)


def test_hhi_normalised_extremes():
    assert hhi_normalised(np.array([1.0, 0.0, 0.0])) == pytest.approx(1.0)
    assert hhi_normalised(np.full(4, 0.25)) == pytest.approx(0.0, abs=1e-15)


def test_effective_partners_of_a_known_vector():
    assert effective_partners(SHARES) == pytest.approx(1 / 0.38)
    assert effective_partners(np.full(5, 0.2)) == pytest.approx(5.0)
    assert effective_partners(np.array([0.0, 1.0])) == pytest.approx(1.0)


def test_largest_share_of_a_known_vector():
    assert largest_share(SHARES) == 0.5
    assert largest_share(np.array([0.1, 0.7, 0.2])) == 0.7


def test_partner_shares_divides_by_dimension_totals():
    ties = np.array([[1.0, 2.0], [3.0, 6.0]])  # (P=2, D=2)
    np.testing.assert_allclose(partner_shares(ties), [[0.25, 0.25], [0.75, 0.75]])


def test_partner_shares_all_zero_dimension_is_uniform():
    ties = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 0.0]])  # (P=3, D=2), dimension 1 empty
    np.testing.assert_allclose(partner_shares(ties), [[0.25, 1 / 3], [0.75, 1 / 3], [0, 1 / 3]])


def test_partner_shares_accepts_integer_ties():
    np.testing.assert_allclose(partner_shares(np.array([[1], [3]])), [[0.25], [0.75]])


def test_alignment_shares_weights_dimensions():
    shares = np.array([[0.25, 0.5], [0.75, 0.5]])  # (P=2, D=2)
    np.testing.assert_allclose(alignment_shares(shares, np.array([0.6, 0.4])), [0.35, 0.65])


def test_jsd_of_identical_vectors_is_zero():
    trajectory = np.array([[0.2, 0.3, 0.5], [0.2, 0.3, 0.5]])
    np.testing.assert_array_equal(alignment_drift(trajectory), [0.0, 0.0])


def test_jsd_of_disjoint_vectors_is_one():
    trajectory = np.array([[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(alignment_drift(trajectory), [0.0, 1.0])


def test_jsd_of_a_known_pair():
    trajectory = np.array([[1.0, 0.0], [0.5, 0.5]])
    expected = _jsd_by_hand([0.5, 0.5], [1.0, 0.0])
    assert expected == pytest.approx(0.5579230452740452)
    np.testing.assert_allclose(alignment_drift(trajectory), [0.0, expected])


def test_alignment_drift_from_start_and_with_lag():
    trajectory = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(alignment_drift(trajectory), [0, 1, 0, 0], atol=1e-12)
    # lag 1: each month against the month before; the first against itself
    np.testing.assert_allclose(alignment_drift(trajectory, 1), [0, 1, 1, 0], atol=1e-12)
    # lag 2: the first two months are measured from the start
    np.testing.assert_allclose(alignment_drift(trajectory, 2), [0, 1, 0, 1], atol=1e-12)


@pytest.mark.parametrize(
    ("y_a", "y_b", "expected"),
    [(0.6, 0.2, 0.5), (0.3, 0.0, 1.0), (0.0, 0.4, -1.0), (0.25, 0.25, 0.0), (0.0, 0.0, 0.0)],
)
def test_relative_alignment_examples(y_a, y_b, expected):
    assert relative_alignment(y_a, y_b) == pytest.approx(expected)


def test_relative_alignment_broadcasts_and_zero_total_is_zero():
    y_a = np.array([[0.6, 0.0], [0.0, 0.3]])
    y_b = np.array([0.2, 0.0])
    np.testing.assert_allclose(relative_alignment(y_a, y_b), [[0.5, 0.0], [-1.0, 1.0]])


def test_pole_shares_renormalise_over_poles():
    alignment = np.array([0.4, 0.2, 0.1, 0.1, 0.2])  # the last power is in no pole
    np.testing.assert_allclose(pole_shares(alignment, POLE_MATRIX), [0.5, 0.25, 0.25])


def test_pole_shares_without_pole_ties_are_uniform():
    alignment = np.array([0.0, 0.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(pole_shares(alignment, POLE_MATRIX), [1 / 3, 1 / 3, 1 / 3])


def test_vulnerability_with_known_weights():
    shares = np.array([[1.0, 0.5], [0.0, 0.5]])  # (P=2, D=2): HHI* = 1 on d0, 0 on d1
    weights, difficulty = np.array([0.5, 0.5]), np.array([0.6, 0.2])
    # omega = w c / sum(w c) = [0.3, 0.1] / 0.4 = [0.75, 0.25]
    assert vulnerability(shares, difficulty, weights) == pytest.approx(0.75)


def test_vulnerability_three_dimensions():
    shares = np.array([[0.5, 1.0, 0.8], [0.5, 0.0, 0.2]])  # HHI* = 0, 1, (0.68 - .5) / .5
    weights, difficulty = np.array([0.2, 0.3, 0.5]), np.array([1.0, 0.5, 0.2])
    omega = np.array([0.2, 0.15, 0.1]) / 0.45
    assert vulnerability(shares, difficulty, weights) == pytest.approx(omega @ [0, 1, 0.36])


def test_vulnerability_with_zero_difficulty_weighs_dimensions_equally():
    shares = np.array([[1.0, 0.5], [0.0, 0.5]])
    assert vulnerability(shares, np.zeros(2), np.array([0.5, 0.5])) == pytest.approx(0.5)


def test_regional_cooperation_on_a_3x3_matrix():
    regional = np.array([[0.0, 0.2, 0.4], [0.2, 0.0, 0.6], [0.4, 0.6, 0.0]])
    assert regional_cooperation(regional) == pytest.approx(2.4 / 6)
    np.testing.assert_allclose(regional_engagement(regional), [0.3, 0.4, 0.5])


# --------------------------------------------------------------------------------------------
# broadcasting: a stacked (R, ...) array gives the per-slice results

R, T, S, P, D = 3, 14, 2, 5, 4
_RNG = np.random.default_rng(20211231)
TIES = _RNG.gamma(1.0, size=(R, T, S, P, D))
TIES[0, 3, 1, :, 2] = 0.0  # an all-zero dimension somewhere
REGIONAL = _RNG.uniform(size=(R, T, S, S))
REGIONAL = (REGIONAL + np.swapaxes(REGIONAL, -1, -2)) / 2 * (1 - np.eye(S))
WEIGHTS = np.array([0.35, 0.25, 0.2, 0.2])
DIFFICULTY = np.array([0.7, 0.9, 0.4, 0.6])
AXES = ((0, 2), (1, 2))


def _per_slice(function, stacked, *args, **kwargs):
    return np.stack([function(x, *args, **kwargs) for x in stacked])


def _share_vectors():
    return partner_shares(TIES).swapaxes(-1, -2)  # (R, T, S, D, P)


@pytest.mark.parametrize(
    "function", [largest_share, hhi, hhi_normalised, effective_partners], ids=lambda f: f.__name__
)
def test_concentration_metrics_broadcast(function):
    x = _share_vectors()
    np.testing.assert_array_equal(function(x), _per_slice(function, x))
    np.testing.assert_allclose(function(x)[1, 2, 0, 3], function(x[1, 2, 0, 3]))


def test_partner_shares_broadcast():
    np.testing.assert_array_equal(partner_shares(TIES), _per_slice(partner_shares, TIES))
    np.testing.assert_array_equal(partner_shares(TIES)[2, 5, 1], partner_shares(TIES[2, 5, 1]))


def test_alignment_and_pole_shares_broadcast():
    shares = partner_shares(TIES)
    overall = alignment_shares(shares, WEIGHTS)
    np.testing.assert_allclose(overall, _per_slice(alignment_shares, shares, WEIGHTS))
    poles = pole_shares(overall, POLE_MATRIX)
    np.testing.assert_allclose(poles, _per_slice(pole_shares, overall, POLE_MATRIX))
    np.testing.assert_allclose(poles[1, 4, 0], pole_shares(overall[1, 4, 0], POLE_MATRIX))


def test_vulnerability_broadcasts():
    shares = partner_shares(TIES)
    stacked = vulnerability(shares, DIFFICULTY, WEIGHTS)
    assert stacked.shape == (R, T, S)
    np.testing.assert_allclose(stacked, _per_slice(vulnerability, shares, DIFFICULTY, WEIGHTS))
    assert stacked[2, 1, 0] == pytest.approx(vulnerability(shares[2, 1, 0], DIFFICULTY, WEIGHTS))


def test_relative_alignment_broadcasts():
    poles = pole_shares(alignment_shares(partner_shares(TIES), WEIGHTS), POLE_MATRIX)
    stacked = relative_alignment(poles[..., 0], poles[..., 2])
    per_run = np.stack([relative_alignment(p[..., 0], p[..., 2]) for p in poles])
    np.testing.assert_array_equal(stacked, per_run)


@pytest.mark.parametrize("lag", [None, 12])
def test_alignment_drift_broadcasts(lag):
    overall = alignment_shares(partner_shares(TIES), WEIGHTS).swapaxes(-2, -3)  # (R, S, T, P)
    stacked = alignment_drift(overall, lag)
    assert stacked.shape == (R, S, T)
    np.testing.assert_allclose(stacked, _per_slice(alignment_drift, overall, lag), atol=1e-15)
    np.testing.assert_allclose(stacked[1, 0], alignment_drift(overall[1, 0], lag), atol=1e-15)


@pytest.mark.parametrize("function", [regional_cooperation, regional_engagement])
def test_regional_metrics_broadcast(function):
    np.testing.assert_allclose(function(REGIONAL), _per_slice(function, REGIONAL))
    np.testing.assert_allclose(function(REGIONAL)[2, 7], function(REGIONAL[2, 7]))


# --------------------------------------------------------------------------------------------
# measure


def _measure(ties, regional, axes=AXES):
    return measure(
        ties,
        regional,
        weights=WEIGHTS,
        difficulty=DIFFICULTY,
        pole_matrix=POLE_MATRIX,
        axes=axes,
    )


def _expected_shapes(lead):
    q = POLE_MATRIX.shape[0]
    return {
        "shares": (*lead, T, S, P, D + 1),
        "largest_share": (*lead, T, S, D + 1),
        "largest_partner": (*lead, T, S, D + 1),
        "hhi": (*lead, T, S, D + 1),
        "hhi_normalised": (*lead, T, S, D + 1),
        "effective_partners": (*lead, T, S, D + 1),
        "vulnerability": (*lead, T, S),
        "drift_from_start": (*lead, T, S),
        "drift_year_on_year": (*lead, T, S),
        "poles": (*lead, T, S, q),
        "relative_alignment": (*lead, T, S, len(AXES)),
        "regional_engagement": (*lead, T, S),
        "regional_cooperation": (*lead, T),
    }


def test_measure_shapes_for_an_ensemble():
    out = _measure(TIES, REGIONAL)
    assert {k: v.shape for k, v in out.items()} == _expected_shapes((R,))


def test_measure_shapes_for_one_run():
    out = _measure(TIES[0], REGIONAL[0])
    assert {k: v.shape for k, v in out.items()} == _expected_shapes(())


def test_measure_without_axes_has_an_empty_relative_alignment():
    out = _measure(TIES, REGIONAL, axes=())
    assert out["relative_alignment"].shape == (R, T, S, 0)


def test_measure_of_an_ensemble_equals_per_run_measures():
    stacked = _measure(TIES, REGIONAL)
    per_run = [_measure(TIES[r], REGIONAL[r]) for r in range(R)]
    for key, value in stacked.items():
        np.testing.assert_allclose(value, np.stack([m[key] for m in per_run]), atol=1e-15)


def test_measure_agrees_with_the_single_metrics():
    out = _measure(TIES[0], REGIONAL[0])
    shares = partner_shares(TIES[0])
    overall = alignment_shares(shares, WEIGHTS)
    np.testing.assert_array_equal(out["shares"][..., :D], shares)
    np.testing.assert_allclose(out["shares"][..., D], overall)
    np.testing.assert_allclose(out["hhi"][..., D], hhi(overall))
    np.testing.assert_array_equal(out["largest_partner"][..., D], np.argmax(overall, axis=-1))
    np.testing.assert_allclose(
        out["drift_from_start"][:, 1], alignment_drift(overall[:, 1]), atol=1e-15
    )
    poles = pole_shares(overall, POLE_MATRIX)
    np.testing.assert_allclose(
        out["relative_alignment"][..., 1], relative_alignment(poles[..., 1], poles[..., 2])
    )
    np.testing.assert_allclose(out["regional_cooperation"], regional_cooperation(REGIONAL[0]))


# --------------------------------------------------------------------------------------------
# properties over the domain of share vectors

TOL = 1e-12  # floating-point rounding of sums of P products


@settings(max_examples=100, deadline=None)
@given(x=share_vectors())
def test_concentration_metrics_stay_in_their_ranges(x):
    n = x.size
    assert 1 / n - TOL <= hhi(x) <= 1 + TOL
    assert -TOL <= hhi_normalised(x) <= 1 + TOL
    assert 1 - TOL <= effective_partners(x) <= n + TOL
    assert 1 / n - TOL <= largest_share(x) <= 1
    # concentration is at least the square of the largest share and at most the largest share
    assert largest_share(x) ** 2 - TOL <= hhi(x) <= largest_share(x) + TOL


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_jsd_is_a_bounded_symmetric_distance(data):
    # subnormal shares are left to test_jsd_of_a_subnormal_share_is_bounded (a known bug)
    p = data.draw(share_vectors(subnormal=False))
    q = data.draw(share_vectors(min_partners=p.size, max_partners=p.size, subnormal=False))
    forward = alignment_drift(np.stack([p, q]))[1]
    backward = alignment_drift(np.stack([q, p]))[1]
    assert 0.0 <= forward <= 1.0 + TOL
    assert forward == pytest.approx(backward, abs=1e-12)
    assert forward == pytest.approx(_jsd_by_hand(q, p), abs=1e-7)


@settings(max_examples=100, deadline=None)
@given(ties=tie_matrices())
def test_partner_shares_are_shares(ties):
    shares = partner_shares(ties)
    assert np.all((shares >= 0) & (shares <= 1))
    np.testing.assert_allclose(shares.sum(axis=0), 1.0, rtol=0, atol=TOL)


@pytest.mark.parametrize(
    "trajectory",
    [[[1.0, 0.0], [1.0, 5e-324]], [[0.5, 0.5, 0.0], [0.5, 0.5, 5e-324]]],
    ids=["two partners", "three partners"],
)
def test_jsd_of_a_subnormal_share_is_bounded(trajectory):
    drift = alignment_drift(np.array(trajectory))
    assert np.all((drift >= 0.0) & (drift <= 1.0))
    assert drift[1] < 1e-100  # the vectors differ by one subnormal share


def _numpy_partner_shares(ties):
    """The shares the plain numpy way (partners summed by ``sum(axis=-2)``)."""
    total = ties.sum(axis=-2, keepdims=True)
    uniform = np.full_like(ties, 1.0 / ties.shape[-2])
    return np.divide(ties, total, out=uniform, where=total >= np.finfo(float).tiny)


def test_partner_shares_are_numpys_to_the_bit_into_a_reused_buffer():
    ties = np.random.default_rng(4).lognormal(0.0, 3.0, (3, 7, 5, 6, 4))
    ties[0, 2, 1, :, 3] = 0.0  # a state without ties on a dimension: uniform
    expected = _numpy_partner_shares(ties)
    assert partner_shares(ties).tobytes() == expected.tobytes()
    buffer = np.full_like(ties, np.nan)
    assert partner_shares(ties, out=buffer) is buffer
    assert buffer.tobytes() == expected.tobytes()
    with pytest.raises(ValueError, match="C-contiguous"):
        partner_shares(ties, out=buffer[:, :3])


def test_month_means_are_numpys_means_of_the_slices_to_the_bit():
    values = np.random.default_rng(5).lognormal(0.0, 3.0, (4, 40, 3, 6, 5))
    view = values[:, ::2]  # strided, as a slice of recorded months is
    requests = [
        (0, 4, slice(0, 20)),
        (2, 1, slice(3, 17)),
        (2, 1, np.array([1, 4, 5, 19])),
        (1, 0, slice(7, 8)),
    ]
    for (state, dimension, months), mean in zip(requests, month_means(view, requests), strict=True):
        expected = view[:, months].mean(axis=1)[:, state, :, dimension]
        assert mean.tobytes() == expected.tobytes()
    assert month_means(view, []) == []
