"""Ensemble engine: many runs at once, with the Mesa model's own rules.

:func:`simulate_ensemble` loops :func:`model.rules.simulate_run` — the per-run loop over the step
sequence the Mesa agents call — over runs. Runs may differ in their parameters (a sweep): the
compiled parameter arrays of every variant are stacked along a leading variants axis and each run
names its variant. Each run has its own noise key, drawn exactly as
:class:`model.model.MultivectorModel` draws it from its seed, and its noise is counter-based, so
a run's trajectory equals the Mesa model's bit for bit whatever the number of runs, its position
in the ensemble, its chunk or the number of threads.

The kernel is a plain (serial) compiled loop that releases the GIL; ``threads > 1`` splits the
runs into contiguous slices run on that many Python threads. It is compiled on first use and
cached on disk next to the module (numba ``cache=True``), so later processes load it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from model.rules import simulate_run
from model.scenario import CompiledScenario

__all__ = [
    "Variants",
    "announce_compile",
    "compiled_already",
    "noise_keys",
    "simulate_ensemble",
    "stack_variants",
    "warm_up",
]


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


Variants = tuple[np.ndarray, ...]
"""The rules' arguments (:meth:`CompiledScenario.rule_arguments`) stacked over variants."""


def stack_variants(compiled: Sequence[CompiledScenario]) -> Variants:
    """Stack the rule arguments of scenario variants along a new leading axis.

    Variants of one scenario share their shapes except the number of epochs, which event
    switches can change; shorter epoch axes are padded by repeating the last epoch, which no
    step of that variant selects.
    """
    if not compiled:
        raise ValueError("stack_variants needs at least one compiled scenario")
    n_epochs = max(c.epoch_start.shape[0] for c in compiled)
    columns = list(zip(*(c.rule_arguments() for c in compiled), strict=True))
    epoch_axis = {name for name in CompiledScenario.EPOCH_ARRAYS}
    names = CompiledScenario.RULE_ARGUMENTS
    stacked = []
    for name, values in zip(names, columns, strict=True):
        values = [np.asarray(v) for v in values]
        if name in epoch_axis:
            values = [
                np.concatenate([v, np.repeat(v[-1:], n_epochs - v.shape[0], axis=0)])
                if v.shape[0] < n_epochs
                else v
                for v in values
            ]
        stacked.append(np.ascontiguousarray(np.stack(values)))
    return tuple(stacked)


@njit(cache=True, error_model="numpy", nogil=True)
def _ensemble_kernel(
    keys,
    variant,
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
    for r in range(keys.shape[0]):
        v = variant[r]
        simulate_run(
            epoch_of_step[v],
            initial_ties[v],
            initial_regional[v],
            base_offer[v],
            log_base_offer[v],
            rivalry_response[v],
            attraction[v],
            membership[v],
            floor[v],
            balancing_propensity[v],
            adjustment_rate[v],
            need[v],
            regional_target[v],
            temperature[v],
            lockin_bonus[v],
            noise[v],
            rivalry_memory[v],
            regional_adjustment_rate[v],
            regional_noise[v],
            keys[r],
            record,
            ties_out[r],
            regional_out[r],
        )


_announced = False


def compiled_already() -> bool:
    """Whether the kernel is compiled in this process or cached on disk (no compile ahead)."""
    if _ensemble_kernel.signatures:
        return True
    try:  # numba's on-disk cache index for this function; internal, so guarded
        return bool(_ensemble_kernel._cache._cache_file._load_index())
    except Exception:  # pragma: no cover - depends on numba internals
        return True


def announce_compile(stream=None) -> None:
    """Print one line on stderr before the first compile of the kernel on this machine."""
    global _announced
    if not _announced and not compiled_already():
        print(
            "multivector: compiling the ensemble engine (first use only; cached afterwards)...",
            file=stream or sys.stderr,
            flush=True,
        )
    _announced = True


def simulate_ensemble(
    compiled: CompiledScenario | Variants,
    seeds: Sequence[int] | np.ndarray,
    *,
    variant: Sequence[int] | np.ndarray | None = None,
    record: Sequence[int] | np.ndarray | None = None,
    threads: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Run a scenario, or a stack of its variants, for every seed at once.

    Parameters
    ----------
    compiled : CompiledScenario or Variants
        ``scenario.compiled``, or :func:`stack_variants` of several variants.
    seeds : sequence of int
        One seed per run, as given to ``MultivectorModel(scenario, rng=seed)``.
    variant : sequence of int, optional
        Each run's variant (index into the stack); default all 0.
    record : increasing step indices to keep (default: every month, ``0 .. T``)
    threads : int
        Python threads sharing the runs (the kernel releases the GIL).

    Returns
    -------
    ties : (R, len(record), S, P, D) array
    regional : (R, len(record), S, S) array
    """
    stack = stack_variants([compiled]) if isinstance(compiled, CompiledScenario) else compiled
    n_variants, n_steps = stack[0].shape
    record = np.arange(n_steps + 1) if record is None else np.asarray(record, dtype=np.int64)
    if record.size == 0 or np.any(np.diff(record) <= 0) or record[0] < 0 or record[-1] > n_steps:
        raise ValueError(f"record must be increasing step indices in [0, {n_steps}]")
    keys = noise_keys(seeds)
    variant = (
        np.zeros(keys.size, dtype=np.int64)
        if variant is None
        else np.asarray(variant, dtype=np.int64)
    )
    if variant.shape != keys.shape or (
        variant.size and not 0 <= variant.min() <= variant.max() < n_variants
    ):
        raise ValueError(f"variant must give each run an index in [0, {n_variants})")
    n_states, n_powers, n_dims = stack[1].shape[1:]
    ties = np.empty((keys.size, record.size, n_states, n_powers, n_dims))
    regional = np.empty((keys.size, record.size, n_states, n_states))
    record = record.astype(np.int64)
    announce_compile()

    def work(lo: int, hi: int) -> None:
        _ensemble_kernel(keys[lo:hi], variant[lo:hi], record, *stack, ties[lo:hi], regional[lo:hi])

    threads = max(1, min(int(threads), keys.size))
    if threads == 1:
        work(0, keys.size)
    else:
        bounds = np.linspace(0, keys.size, threads + 1).astype(int)
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, bounds[:-1], bounds[1:]))
    return ties, regional


def warm_up() -> None:
    """Compile (and cache on disk) the ensemble kernel for the rules' argument types.

    Runs it on zero-step dummy arrays of the right dtypes and dimensions; used to compile in a
    background process while a first small batch runs on the Mesa engine.
    """
    ndim = {
        "epoch_of_step": 1,
        "initial_ties": 3,
        "initial_regional": 2,
        "base_offer": 4,
        "log_base_offer": 4,
        "rivalry_response": 2,
        "attraction": 3,
        "membership": 4,
        "floor": 4,
        "balancing_propensity": 2,
        "adjustment_rate": 2,
        "need": 3,
        "regional_target": 3,
    }
    stack = tuple(
        np.zeros((1, 0), dtype=np.int64)
        if name == "epoch_of_step"
        else np.zeros((1,) + (1,) * ndim.get(name, 0))
        for name in CompiledScenario.RULE_ARGUMENTS
    )
    ties = np.zeros((1, 1, 1, 1, 1))
    regional = np.zeros((1, 1, 1, 1))
    one = np.zeros(1, dtype=np.int64)
    _ensemble_kernel(np.zeros(1, dtype=np.uint64), one, one, *stack, ties, regional)
