"""Ensemble engine: many runs at once, with the Mesa model's own rules.

:func:`simulate_ensemble` cuts the runs into blocks of :data:`model.rules.LANES` and advances each
block month by month with :func:`model.rules.advance_runs` — the rules the Mesa agents call, with
the runs on the last axis of every array, so that the compiler vectorises them over runs. Runs may
differ in their parameters (a sweep): the compiled parameter arrays of every variant are stacked
along a leading variants axis and each run names its variant; a block holds each of its runs'
parameters for their current epochs and reloads them when an epoch changes. Each run has its own
noise key, drawn exactly as :class:`model.model.MultivectorModel` draws it from its seed, and its
noise is counter-based, so a run's trajectory equals the Mesa model's bit for bit whatever the
number of runs, its block or position, its chunk or the number of threads.

The kernel is a plain (serial) compiled loop that releases the GIL; ``threads > 1`` splits the
blocks into contiguous slices run on that many Python threads. It is compiled on first use (about
24 s) and cached on disk next to the module (numba ``cache=True``), so later processes load it; the
cache is keyed on this file, ``rules.py`` and ``elementary.py`` (:mod:`model._cache`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import literal_unroll, njit

from model import elementary, rules
from model._cache import depend_on_sources
from model.rules import LANES, SCRATCH_ROWS, advance_runs, partner_shares_into
from model.scenario import CompiledScenario
from model.seeding import noise_keys

__all__ = [
    "Variants",
    "announce_compile",
    "compiled_already",
    "noise_keys",
    "simulate_ensemble",
    "stack_variants",
    "warm_up",
]


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
def _gather_lanes(source, variant, epoch, same, lanes):
    """``lanes[..., r] = source[variant[r], epoch[r], ...]`` for every lane ``r``.

    ``same``: every lane has the same variant and epoch (a broadcast, the common case).
    """
    flat = lanes.reshape(-1, lanes.shape[-1])
    n_lanes = flat.shape[1]
    if same:
        values = source[variant[0], epoch[0]].reshape(-1)
        for n in range(flat.shape[0]):
            value = values[n]
            for r in range(n_lanes):
                flat[n, r] = value
    else:
        size = flat.shape[0]
        for r in range(n_lanes):
            values = source[variant[r], epoch[r]].reshape(-1)
            for n in range(size):
                flat[n, r] = values[n]


@njit(cache=True, error_model="numpy", nogil=True)
def _simulate_block(
    first, keys, variant, record, head, epoch_pairs, setting_pairs, lanes, ties_out, regional_out
):
    """Runs ``first .. first + L - 1`` as one block of ``L`` lanes (the width of ``lanes``).

    ``head`` holds the stacked ``epoch_of_step``, initial ties and initial regional ties;
    ``epoch_pairs`` and ``setting_pairs`` pair each stacked epoch array and run setting with
    its lane buffer in ``lanes`` (the :func:`model.rules.advance_runs` ``parameters``, in
    their declared order). Each lane holds its variant's parameters for its current epoch,
    reloaded when the epoch changes. Lanes past the last run repeat the last run (their
    results are not copied out). The recorded months are copied out run by run.
    """
    epoch_of_step, initial_ties, initial_regional = head
    n_runs = keys.shape[0]
    n_lanes = lanes[0].shape[-1]
    real = min(n_lanes, n_runs - first)
    n_states, n_powers, n_dims = initial_ties.shape[1:]
    shape = (n_states, n_powers, n_dims, n_lanes)
    ties = np.empty(shape)
    shares = np.empty(shape)
    memory = np.empty(shape)
    offers = np.empty(shape)
    log_offers = np.empty(shape)
    new_ties = np.empty(shape)
    regional = np.empty((n_states, n_states, n_lanes))
    new_regional = np.empty((n_states, n_states, n_lanes))
    scratch = np.empty((SCRATCH_ROWS, n_lanes))
    lane_keys = np.empty(n_lanes, dtype=np.uint64)
    lane_variant = np.empty(n_lanes, dtype=np.int64)
    lane_epoch = np.full(n_lanes, -1, dtype=np.int64)
    for r in range(n_lanes):
        run = first + min(r, real - 1)  # padding lanes repeat the block's last run
        lane_keys[r] = keys[run]
        lane_variant[r] = variant[run]
    for pair in literal_unroll(setting_pairs):  # the run settings: once per block
        source, lane = pair
        for r in range(n_lanes):
            lane[r] = source[lane_variant[r]]
    for r in range(n_lanes):
        v = lane_variant[r]
        for i in range(n_states):
            for j in range(n_powers):
                for d in range(n_dims):
                    ties[i, j, d, r] = initial_ties[v, i, j, d]
            for k in range(n_states):
                regional[i, k, r] = initial_regional[v, i, k]
    partner_shares_into(ties, shares, scratch)
    memory[:] = shares
    n_steps = epoch_of_step.shape[1]
    slot = 0
    for step in range(-1, n_steps):
        if step >= 0:
            changed = False
            same = True
            for r in range(n_lanes):
                e = epoch_of_step[lane_variant[r], step]
                changed = changed or e != lane_epoch[r]
                lane_epoch[r] = e
                same = same and lane_variant[r] == lane_variant[0] and e == lane_epoch[0]
            if changed:
                for pair in literal_unroll(epoch_pairs):
                    _gather_lanes(pair[0], lane_variant, lane_epoch, same, pair[1])
            advance_runs(
                step,
                ties,
                shares,
                memory,
                regional,
                offers,
                log_offers,
                new_ties,
                new_regional,
                scratch,
                lanes,
                lane_keys,
            )
        if record[slot] == step + 1:
            # element by element, lanes innermost: contiguous reads, writes to L lines at a time
            for i in range(n_states):
                for j in range(n_powers):
                    for d in range(n_dims):
                        for r in range(real):
                            ties_out[first + r, slot, i, j, d] = ties[i, j, d, r]
                for k in range(n_states):
                    for r in range(real):
                        regional_out[first + r, slot, i, k] = regional[i, k, r]
            slot += 1
            if slot == record.shape[0]:
                break


@njit(cache=True, error_model="numpy", nogil=True)
def _ensemble_kernel(
    keys, variant, record, head, epoch_pairs, setting_pairs, lanes, ties_out, regional_out
):
    """Every run, in blocks of the lane buffers' width; arguments as :func:`_simulate_block`."""
    width = lanes[0].shape[-1]
    for first in range(0, keys.shape[0], width):
        _simulate_block(
            first,
            keys,
            variant,
            record,
            head,
            epoch_pairs,
            setting_pairs,
            lanes,
            ties_out,
            regional_out,
        )


def _kernel_arguments(stack: Variants, width: int) -> tuple:
    """The kernel's scenario arguments for a stack: head, lane buffers and their pairings.

    A lane buffer holds one block's parameters for its current epoch: an epoch array
    ``(V, K, *shape)`` gets a buffer ``(*shape, width)``, a run setting ``(V,)`` one of
    ``(width,)``. Built from :attr:`CompiledScenario.RULE_ARGUMENTS`, so no list of names is
    repeated here.
    """
    named = dict(zip(CompiledScenario.RULE_ARGUMENTS, stack, strict=True))
    head = tuple(named[name] for name in CompiledScenario.RULE_ARGUMENTS[:3])
    lanes = tuple(
        np.empty((*named[name].shape[2:], width))
        if name in CompiledScenario.EPOCH_ARRAYS
        else np.empty(width)
        for name in CompiledScenario.BLOCK_PARAMETERS
    )
    buffer = dict(zip(CompiledScenario.BLOCK_PARAMETERS, lanes, strict=True))
    epoch_pairs = tuple((named[n], buffer[n]) for n in CompiledScenario.EPOCH_ARRAYS)
    setting_pairs = tuple((named[n], buffer[n]) for n in CompiledScenario.RUN_SETTINGS)
    return head, epoch_pairs, setting_pairs, lanes


depend_on_sources(globals(), [__file__, rules.__file__, elementary.__file__])

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
    seeds: Sequence[int] | np.ndarray | None = None,
    *,
    variant: Sequence[int] | np.ndarray | None = None,
    record: Sequence[int] | np.ndarray | None = None,
    threads: int = 1,
    keys: Sequence[int] | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Run a scenario, or a stack of its variants, for every seed at once.

    Parameters
    ----------
    compiled : CompiledScenario or Variants
        ``scenario.compiled``, or :func:`stack_variants` of several variants.
    seeds : sequence of int, or None with ``keys``
        One seed per run, as given to ``MultivectorModel(scenario, rng=seed)``.
    variant : sequence of int, optional
        Each run's variant (index into the stack); default all 0.
    record : increasing step indices to keep (default: every month, ``0 .. T``)
    threads : int
        Python threads sharing the runs (the kernel releases the GIL).
    keys : sequence of uint64, optional
        The runs' noise keys instead of their seeds: ``noise_key_from(generator)`` for a model
        seeded with any generator or ``SeedSequence``.

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
    if (seeds is None) == (keys is None):
        raise ValueError("give either seeds or keys")
    keys = noise_keys(seeds) if keys is None else np.asarray(keys, dtype=np.uint64).reshape(-1)
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
        if hi <= lo:  # a thread with no whole block to run
            return
        # each call its own lane buffers, as wide as a block (or its runs, if fewer)
        arguments = _kernel_arguments(stack, min(LANES, hi - lo))
        _ensemble_kernel(
            keys[lo:hi], variant[lo:hi], record, *arguments, ties[lo:hi], regional[lo:hi]
        )

    threads = max(1, min(int(threads), keys.size))
    if threads == 1:
        work(0, keys.size)
    else:
        # whole blocks of LANES runs per thread where possible
        blocks = -(-keys.size // LANES)
        bounds = np.minimum(np.linspace(0, blocks, threads + 1).astype(int) * LANES, keys.size)
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, bounds[:-1], bounds[1:]))
    return ties, regional


def warm_up() -> None:
    """Compile (and cache on disk) the ensemble kernel for the rules' argument types.

    Runs it on zero-step dummy arrays of the declared dimensions
    (:attr:`CompiledScenario.RULE_ARGUMENT_NDIM`); used to compile in a background process
    while a first small batch runs on the Mesa engine.
    """
    stack = tuple(
        np.zeros((1, 0), dtype=np.int64)
        if name == "epoch_of_step"
        else np.zeros((1,) + (1,) * ndim)
        for name, ndim in CompiledScenario.RULE_ARGUMENT_NDIM.items()
    )
    ties = np.zeros((1, 1, 1, 1, 1))
    regional = np.zeros((1, 1, 1, 1))
    one = np.zeros(1, dtype=np.int64)
    arguments = _kernel_arguments(stack, 1)
    _ensemble_kernel(np.zeros(1, dtype=np.uint64), one, one, *arguments, ties, regional)
