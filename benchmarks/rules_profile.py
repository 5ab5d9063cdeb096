"""Where a month of the ensemble goes: each rule's cost per run and month, for several block sizes.

Runs the rules of :mod:`model.rules` on blocks of ``L`` runs (the ensemble's layout, runs last)
with the calibrated baseline's parameters for its first epoch, repeated for ``--months`` months:

* ``offers``: every power's :func:`~model.rules.offer_row` (a ``log1p`` per element);
* ``ties``: every state's :func:`~model.rules.state_ties_row` (an ``exp`` and a noise draw per
  element);
* ``commit``: :func:`~model.rules.partner_shares_into`, :func:`~model.rules.remember_shares`
  and :func:`~model.rules.advance_regional`;
* ``step``: :func:`~model.rules.advance_runs`, the whole month the ensemble runs;

then the same for the C library's ``exp`` and ``log1p`` against :mod:`model.elementary`'s, per
call. Figures are nanoseconds per run and month (per call for the last rows), on one thread;
:data:`model.rules.LANES` was chosen from this table. Machines are noisy (about 15%): compare
figures from one run only.

Usage: ``python benchmarks/rules_profile.py [--lanes L ...] [--months N]``.
"""

from __future__ import annotations

import argparse
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
from numba import njit

from model.elementary import exp, log1p
from model.model import _parameters
from model.rules import (
    SCRATCH_ROWS,
    advance_regional,
    advance_runs,
    noise_stride,
    offer_row,
    partner_shares_into,
    remember_shares,
    state_ties_row,
)
from model.scenario import CompiledScenario, load_scenario

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.toml"
LANE_ARRAYS = (
    "ties",
    "shares",
    "memory",
    "offers",
    "log_offers",
    "new_ties",
    "regional",
    "new_regional",
    "scratch",
    "keys",
)
Parameters = namedtuple("Parameters", CompiledScenario.EPOCH_ARRAYS + CompiledScenario.RUN_SETTINGS)
Lanes = namedtuple("Lanes", LANE_ARRAYS)


@njit(error_model="numpy", nogil=True)
def _offers(months, p, lanes):
    for _ in range(months):
        for j in range(lanes.ties.shape[1]):
            offer_row(
                j,
                p.base_offer,
                p.log_base_offer,
                p.rivalry_response,
                lanes.shares,
                lanes.memory,
                lanes.offers,
                lanes.log_offers,
            )


@njit(error_model="numpy", nogil=True)
def _ties(months, p, lanes):
    stride = noise_stride(*lanes.ties.shape[:3])
    for t in range(months):
        for i in range(lanes.ties.shape[0]):
            state_ties_row(
                i,
                lanes.ties,
                lanes.shares,
                lanes.offers,
                lanes.log_offers,
                p.attraction,
                p.membership,
                p.floor,
                p.need,
                p.balancing_propensity,
                p.adjustment_rate,
                p.temperature,
                p.lockin_bonus,
                p.noise,
                lanes.keys,
                np.int64(t) * stride,
                lanes.new_ties,
                lanes.scratch,
            )


@njit(error_model="numpy", nogil=True)
def _commit(months, p, lanes):
    n_states, n_powers, n_dims = lanes.ties.shape[:3]
    stride = noise_stride(n_states, n_powers, n_dims)
    for t in range(months):
        partner_shares_into(lanes.ties, lanes.shares, lanes.scratch)
        remember_shares(lanes.memory, lanes.shares, p.rivalry_memory, lanes.scratch)
        advance_regional(
            lanes.regional,
            p.regional_target,
            p.regional_adjustment_rate,
            p.regional_noise,
            lanes.keys,
            np.int64(t) * stride + n_states * n_powers * n_dims,
            lanes.new_regional,
        )


@njit(error_model="numpy", nogil=True)
def _step(months, p, lanes):
    for t in range(months):
        advance_runs(
            t,
            lanes.ties,
            lanes.shares,
            lanes.memory,
            lanes.regional,
            lanes.offers,
            lanes.log_offers,
            lanes.new_ties,
            lanes.new_regional,
            lanes.scratch,
            p.base_offer,
            p.log_base_offer,
            p.rivalry_response,
            p.attraction,
            p.membership,
            p.floor,
            p.balancing_propensity,
            p.adjustment_rate,
            p.need,
            p.regional_target,
            p.temperature,
            p.lockin_bonus,
            p.noise,
            p.rivalry_memory,
            p.regional_adjustment_rate,
            p.regional_noise,
            lanes.keys,
        )


@njit(error_model="numpy", nogil=True)
def _library_exp(x, out, repeats):
    for _ in range(repeats):
        for n in range(x.shape[0]):
            out[n] = np.exp(x[n])


@njit(error_model="numpy", nogil=True)
def _own_exp(x, out, repeats):
    for _ in range(repeats):
        for n in range(x.shape[0]):
            out[n] = exp(x[n])


@njit(error_model="numpy", nogil=True)
def _library_log1p(x, out, repeats):
    for _ in range(repeats):
        for n in range(x.shape[0]):
            out[n] = np.log1p(x[n])


@njit(error_model="numpy", nogil=True)
def _own_log1p(x, out, repeats):
    for _ in range(repeats):
        for n in range(x.shape[0]):
            out[n] = log1p(x[n])


def _block(compiled: CompiledScenario, n_lanes: int) -> tuple[Parameters, Lanes]:
    """The rules' arrays for ``n_lanes`` runs of the baseline at its first epoch (runs last)."""

    def lanes_of(array):
        return np.ascontiguousarray(np.repeat(np.asarray(array)[..., None], n_lanes, axis=-1))

    one = _parameters(compiled, 0)  # the Mesa model's block of one run
    parameters = Parameters(*(lanes_of(getattr(one, name)[..., 0]) for name in Parameters._fields))
    ties = lanes_of(compiled.initial_ties)
    shares = np.ascontiguousarray(ties / ties.sum(axis=1, keepdims=True))
    lanes = Lanes(
        ties=ties,
        shares=shares,
        memory=shares.copy(),
        offers=np.empty_like(ties),
        log_offers=np.empty_like(ties),
        new_ties=np.empty_like(ties),
        regional=lanes_of(compiled.initial_regional),
        new_regional=lanes_of(compiled.initial_regional),
        scratch=np.empty((SCRATCH_ROWS, n_lanes)),
        keys=np.arange(1, n_lanes + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15),
    )
    return parameters, lanes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", type=int, nargs="+", default=[1, 8, 16, 32, 64, 128])
    parser.add_argument("--months", type=int, default=3600)
    args = parser.parse_args()
    compiled = load_scenario(BASELINE).compiled
    parts = {"offers": _offers, "ties": _ties, "commit": _commit, "step": _step}
    print(f"ns per run and month, one thread, {args.months} months per measurement")
    print(f"{'lanes':>6} " + " ".join(f"{name:>8}" for name in parts))
    for n_lanes in args.lanes:
        p, lanes = _block(compiled, n_lanes)
        row = []
        for function in parts.values():
            function(2, p, lanes)  # compile
            start = time.perf_counter()
            function(args.months, p, lanes)
            row.append((time.perf_counter() - start) / args.months / n_lanes * 1e9)
        print(f"{n_lanes:>6} " + " ".join(f"{value:8.1f}" for value in row))
    x = -np.random.default_rng(0).uniform(0.0, 20.0, 4096)
    out = np.empty_like(x)
    print("ns per call over 4,096 elements (vectorised loop):")
    for label, function, values in (
        ("exp, C library", _library_exp, x),
        ("exp, model.elementary", _own_exp, x),
        ("log1p, C library", _library_log1p, -x / 20.0 + 1.0),
        ("log1p, model.elementary", _own_log1p, -x / 20.0 + 1.0),
    ):
        function(values, out, 1)
        start = time.perf_counter()
        function(values, out, 2000)
        print(f"  {label:26} {(time.perf_counter() - start) / 2000 / x.size * 1e9:6.2f}")


if __name__ == "__main__":
    main()
