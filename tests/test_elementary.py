"""model/elementary.py: exp and log1p within 1 ulp, special values, same bits in SIMD and scalar."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from numba import njit

from model.elementary import exp, log1p

# an extended-precision reference where numpy has one (x86: 64-bit mantissa; aarch64: quad)
EXTENDED = np.finfo(np.longdouble).nmant > np.finfo(np.float64).nmant


@njit(error_model="numpy")
def _exp_loop(x, out):  # vectorised over the array, as the rules' lane loops are
    for n in range(x.shape[0]):
        out[n] = exp(x[n])


@njit(error_model="numpy")
def _log1p_loop(x, out):
    for n in range(x.shape[0]):
        out[n] = log1p(x[n])


@njit(error_model="numpy")
def _exp_one(x):
    return exp(x)


@njit(error_model="numpy")
def _log1p_one(x):
    return log1p(x)


def _apply(loop, x):
    out = np.empty_like(x)
    loop(np.ascontiguousarray(x, dtype=np.float64), out)
    return out


def _ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in units in the last place between float64 arrays of one sign."""
    return np.abs(a.view(np.int64) - b.view(np.int64))


def _reference(function, x: np.ndarray) -> np.ndarray:
    if EXTENDED:
        return function(x.astype(np.longdouble)).astype(np.float64)
    return function(x)


RANGES_EXP = [(-745.0, 709.0), (-50.0, 0.0), (-1.0, 1.0), (-1e-6, 1e-6), (-708.5, -700.0)]
RANGES_LOG1P = [(0.0, 1e-12), (0.0, 1.0), (0.0, 20.0), (-0.99, 0.0), (1.0, 1e12), (-0.5, 0.5)]


@pytest.mark.parametrize(("lo", "hi"), RANGES_EXP)
def test_exp_is_within_one_ulp(lo, hi):
    x = np.random.default_rng(1).uniform(lo, hi, 200_000)
    assert _ulps(_apply(_exp_loop, x), _reference(np.exp, x)).max() <= 1


@pytest.mark.parametrize(("lo", "hi"), RANGES_LOG1P)
def test_log1p_is_within_one_ulp(lo, hi):
    x = np.random.default_rng(2).uniform(lo, hi, 200_000)
    result, reference = _apply(_log1p_loop, x), _reference(np.log1p, x)
    assert np.all(np.sign(result) == np.sign(reference))
    assert _ulps(np.abs(result), np.abs(reference)).max() <= 1


def test_exp_special_values():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 709.78, 709.79, -745.13, -745.14, -1e4])
    expected = np.array([1.0, 1.0, np.inf, 0.0, np.nan, np.exp(709.78), np.inf, 5e-324, 0.0, 0.0])
    np.testing.assert_array_equal(_apply(_exp_loop, x), expected)


def test_exp_subnormal_results():
    x = np.linspace(-745.0, -708.5, 1001)
    assert _ulps(_apply(_exp_loop, x), _reference(np.exp, x)).max() <= 1


def test_log1p_special_values():
    x = np.array([0.0, np.inf, -1.0, -2.0, np.nan, 5e-324, 1e-300, 1.7e308])
    expected = np.array([0.0, np.inf, -np.inf, np.nan, np.nan, 5e-324, 1e-300, math.log1p(1.7e308)])
    np.testing.assert_array_equal(_apply(_log1p_loop, x), expected)


def test_log1p_of_zero_is_exactly_zero_with_its_sign():
    # the rules add log1p(0) to a log offer when the rivalry response is inactive
    assert _log1p_one(0.0) == 0.0 and not np.signbit(_log1p_one(0.0))
    assert np.signbit(_log1p_one(-0.0))


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.floats(min_value=-800.0, max_value=800.0, allow_nan=False), min_size=1, max_size=40
    )
)
@example(values=[-745.1332191019412, 709.782712893384, 0.0, -0.0])
def test_exp_gives_the_same_bits_in_simd_and_scalar_code(values):
    x = np.array(values)
    scalar = np.array([_exp_one(v) for v in x])
    assert np.array_equal(_apply(_exp_loop, x), scalar)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.floats(min_value=-1.0, max_value=1e300, allow_nan=False), min_size=1, max_size=40
    )
)
@example(values=[-1.0, 0.0, 1.0, 1e-320])
def test_log1p_gives_the_same_bits_in_simd_and_scalar_code(values):
    x = np.array(values)
    scalar = np.array([_log1p_one(v) for v in x])
    assert np.array_equal(_apply(_log1p_loop, x), scalar)
