"""Where a month of the ensemble goes: each rule's cost per run and month, for several block sizes.

Runs the rules of :mod:`model.rules` on a block of ``L`` runs (the ensemble's layout, runs last):
a Mesa model's run of the calibrated baseline at its first month, repeated ``L`` times, for
``--months`` months:

* ``offers``: every power's :func:`~model.rules.offer_row` (a ``log1p`` per element);
* ``ties``: every state's :func:`~model.rules.state_ties_row` (an ``exp`` and a noise draw per
  element);
* ``commit``: :func:`~model.rules.commit_month` (ties, shares, memory and regional ties);
* ``step``: :func:`~model.rules.advance_runs`, the whole month the ensemble runs;

then the C library's ``exp`` and ``log1p`` against :mod:`model.elementary`'s, per call. Figures
are nanoseconds per run and month (per call for the last rows), on one thread;
:data:`model.rules.LANES` was chosen from this table. Machines are noisy (about 15%): compare
figures from one run only.

Usage: ``python benchmarks/rules_profile.py [--lanes L ...] [--months N]``.
"""

from __future__ import annotations

import argparse
import time
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from numba import njit

from model import elementary
from model.model import MultivectorModel
from model.rules import advance_runs, commit_month, noise_stride, offer_row, state_ties_row
from model.scenario import load_scenario

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.toml"


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
                p.leverage,
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
    stride = noise_stride(*lanes.ties.shape[:3])
    for t in range(months):
        commit_month(
            lanes.ties,
            lanes.shares,
            lanes.memory,
            lanes.regional,
            lanes.new_ties,
            lanes.new_regional,
            lanes.scratch,
            p.regional_target,
            p.rivalry_memory,
            p.regional_adjustment_rate,
            p.regional_noise,
            lanes.keys,
            np.int64(t) * stride,
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
            p.leverage,
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


def _per_call(function):
    """A compiled loop applying ``function`` to every element, ``repeats`` times."""

    @njit(error_model="numpy", nogil=True)
    def loop(x, out, repeats):
        for _ in range(repeats):
            for n in range(x.shape[0]):
                out[n] = function(x[n])

    return loop


def _block(scenario, n_lanes: int) -> tuple[tuple, tuple]:
    """The parameters and arrays of ``n_lanes`` copies of a Mesa model's run (runs last).

    The Mesa model holds them as a block of one run (``model.parameters``, ``model.lanes``);
    each is repeated along that axis, and the noise keys made distinct.
    """
    model = MultivectorModel(scenario, rng=1)

    def repeated(namespace: SimpleNamespace) -> tuple:
        fields = vars(namespace)
        arrays = {
            name: np.ascontiguousarray(np.repeat(value[..., :1], n_lanes, axis=-1))
            for name, value in fields.items()
        }
        if "keys" in arrays:
            arrays["keys"] = arrays["keys"] + np.arange(n_lanes, dtype=np.uint64)
        return _TUPLES.setdefault(tuple(fields), namedtuple("Block", fields))(**arrays)

    return repeated(model.parameters), repeated(model.lanes)


_TUPLES: dict = {}  # one namedtuple class per field list, so numba compiles each loop once


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", type=int, nargs="+", default=[1, 8, 16, 32, 64, 128])
    parser.add_argument("--months", type=int, default=3600)
    args = parser.parse_args()
    scenario = load_scenario(BASELINE)
    parts = {"offers": _offers, "ties": _ties, "commit": _commit, "step": _step}
    print(f"ns per run and month, one thread, {args.months} months per measurement")
    print(f"{'lanes':>6} " + " ".join(f"{name:>8}" for name in parts))
    for n_lanes in args.lanes:
        p, lanes = _block(scenario, n_lanes)
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
        ("exp, C library", _per_call(np.exp), x),
        ("exp, model.elementary", _per_call(elementary.exp), x),
        ("log1p, C library", _per_call(np.log1p), -x / 20.0 + 1.0),
        ("log1p, model.elementary", _per_call(elementary.log1p), -x / 20.0 + 1.0),
    ):
        function(values, out, 1)
        start = time.perf_counter()
        function(values, out, 2000)
        print(f"  {label:26} {(time.perf_counter() - start) / 2000 / x.size * 1e9:6.2f}")


if __name__ == "__main__":
    main()
