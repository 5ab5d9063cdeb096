"""Ensemble engine: many runs of one scenario at once, with the Mesa model's own rules.

:func:`simulate_ensemble` loops :func:`model.rules.simulate_run` — the per-run loop over the step
sequence the Mesa agents call — over runs in parallel (numba ``prange``). Each run has
its own noise key, drawn exactly as :class:`model.model.MultivectorModel` draws it from its seed,
and counter-based noise, so a run's trajectory equals the Mesa model's bit for bit whatever the
number of runs, its position in the ensemble or the number of threads.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit, prange

from model.rules import simulate_run
from model.scenario import CompiledScenario

__all__ = ["noise_keys", "simulate_ensemble"]


def noise_keys(seeds: Sequence[int] | np.ndarray) -> np.ndarray:
    """Each run's noise key: the first draw of ``numpy.random.default_rng(seed)`` (uint64).

    This is what ``MultivectorModel(scenario, rng=seed)`` draws (Mesa builds ``self.rng =
    default_rng(seed)`` from an integer seed).
    """
    return np.array(
        [
            np.random.default_rng(int(seed)).integers(0, 2**64 - 1, dtype=np.uint64, endpoint=True)
            for seed in seeds
        ],
        dtype=np.uint64,
    )


@njit(parallel=True, cache=True, error_model="numpy", nogil=True)
def _ensemble_kernel(
    keys,
    record,
    epoch_of_step,
    initial_ties,
    initial_regional,
    base_offer,
    log_base_offer,
    rivalry_response,
    attraction,
    membership,
    floor,
    balancing_propensity,
    adjustment_rate,
    need,
    regional_target,
    temperature,
    lockin_bonus,
    noise,
    rivalry_memory,
    regional_adjustment_rate,
    regional_noise,
    ties_out,
    regional_out,
):
    for r in prange(keys.shape[0]):
        simulate_run(
            epoch_of_step,
            initial_ties,
            initial_regional,
            base_offer,
            log_base_offer,
            rivalry_response,
            attraction,
            membership,
            floor,
            balancing_propensity,
            adjustment_rate,
            need,
            regional_target,
            temperature,
            lockin_bonus,
            noise,
            rivalry_memory,
            regional_adjustment_rate,
            regional_noise,
            keys[r],
            record,
            ties_out[r],
            regional_out[r],
        )


def simulate_ensemble(
    compiled: CompiledScenario,
    seeds: Sequence[int] | np.ndarray,
    *,
    record: Sequence[int] | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Run one scenario for every seed at once.

    Parameters
    ----------
    compiled : CompiledScenario
        ``scenario.compiled``.
    seeds : sequence of int
        One seed per run, as given to ``MultivectorModel(scenario, rng=seed)``.
    record : increasing step indices to keep (default: every month, ``0 .. T``)

    Returns
    -------
    ties : (R, len(record), S, P, D) array
    regional : (R, len(record), S, S) array
    """
    c = compiled
    n_steps = c.epoch_of_step.shape[0]
    record = np.arange(n_steps + 1) if record is None else np.asarray(record, dtype=np.int64)
    if record.size == 0 or np.any(np.diff(record) <= 0) or record[0] < 0 or record[-1] > n_steps:
        raise ValueError(f"record must be increasing step indices in [0, {n_steps}]")
    keys = noise_keys(seeds)
    n_states, n_powers, n_dims = c.initial_ties.shape
    ties = np.empty((keys.size, record.size, n_states, n_powers, n_dims))
    regional = np.empty((keys.size, record.size, n_states, n_states))
    _ensemble_kernel(keys, record.astype(np.int64), *c.rule_arguments(), ties, regional)
    return ties, regional
