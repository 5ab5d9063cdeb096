"""The model's rules: pure, compiled functions on arrays with a trailing axis of runs.

Each rule is a :func:`numba.njit` function of plain arrays, with no model object and no hidden
state. Every array carries the runs it advances on its **last axis** (``L`` runs, the *lanes*),
so one call advances a block of runs at once: the ensemble engine calls the rules on blocks of
:data:`LANES` runs, and the Mesa agents call exactly the same functions on a block of one run (a
trailing axis of length 1, a view of the model's own arrays). There is no second implementation
of any rule.

With the runs innermost, the compiler turns each rule's loops into SIMD instructions that
advance several runs per instruction. The lanes never mix: a run's result does not depend on
the other runs in its block, on the block's size or on its position. Numerics are IEEE (no
fast-math, ``error_model="numpy"``), and ``exp`` and ``log1p`` are :mod:`model.elementary`'s
branch-free versions, so a lane computes the same bits in SIMD and in scalar code. Randomness is
counter-based (:func:`uniform`): the noise of run ``key`` at step ``t`` for element ``n`` is a
pure function of ``(key, t, n)``, which keeps every run bit-identical whatever the batch size,
order or worker. Kernels are compiled on first use and cached on disk (``cache=True``).

Symbols: S states, P powers, D dimensions, L runs; ``T[i, j, d]`` ties, ``s[i, j, d]`` partner
shares, ``m[i, j, d]`` remembered shares, ``R[i, k]`` regional ties (each with its run axis).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from model import elementary
from model._cache import depend_on_sources
from model.elementary import exp, log1p

__all__ = [
    "LANES",
    "SCRATCH_ROWS",
    "advance_regional",
    "advance_runs",
    "commit_month",
    "noise_factor",
    "noise_stride",
    "offer_row",
    "partner_shares_into",
    "remember_shares",
    "state_ties_row",
    "uniform",
]

LANES = 64
"""Runs per block in the ensemble engine.

Each innermost loop then runs 64 runs' elements through SIMD registers, and a block's state (under
1 MB in the baseline) stays in the L2 cache. ``benchmarks/rules_profile.py`` on 2 cores (AVX-512
machine, 256-bit vectors), ns per run and month of :func:`advance_runs`: 1 lane 6,782; 8 lanes
1,434; 16 lanes 1,271; 32 lanes 1,047; 64 lanes 938; 128 lanes 989.
"""
SCRATCH_ROWS = 5
"""Rows of the ``(SCRATCH_ROWS, L)`` work array the rules take."""

_JIT = dict(cache=True, error_model="numpy", nogil=True)
_ROW = dict(_JIT, inline="always")
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_ONE = np.uint64(1)
_TWO53 = 1.0 / 9007199254740992.0
_SQRT3 = 1.7320508075688772
_TINY = np.finfo(np.float64).tiny  # the smallest normal float64


@njit(**_ROW)
def uniform(key: np.uint64, counter: np.int64) -> float:
    """Counter-based uniform draw in [0, 1): SplitMix64 output number ``counter`` of stream ``key``.

    ``z = key + (counter + 1) * 0x9E3779B97F4A7C15`` (mod 2^64), mixed by the SplitMix64
    finaliser (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators",
    OOPSLA), and its top 53 bits scaled to [0, 1). The sequence over ``counter`` is exactly the
    SplitMix64 stream seeded with ``key``, which passes BigCrush.
    """
    z = np.uint64(key) + (np.uint64(counter) + _ONE) * _GAMMA
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    z = z ^ (z >> _S31)
    return np.float64(z >> _S11) * _TWO53


@njit(**_ROW)
def noise_factor(key: np.uint64, counter: np.int64, sd: float) -> float:
    """Mean-one multiplicative noise ``1 + sd * sqrt(3) * (2u - 1)``, u ~ U[0, 1).

    Uniform on ``[1 - sqrt(3) sd, 1 + sqrt(3) sd]``: mean 1, standard deviation ``sd``; positive
    for ``sd < 1 / sqrt(3)`` (scenarios allow at most 0.5). Exactly 1 when ``sd = 0``.
    """
    return 1.0 + sd * _SQRT3 * (2.0 * uniform(key, counter) - 1.0)


@njit(**_ROW)
def offer_row(
    power, base_offer, log_base_offer, rivalry_response, shares, memory, offers, log_offers
):
    """Offers of one power to every state on every dimension (mechanism 1).

    ``O[i, d] = B[i, d] * (1 + rho * max(0, m[i, d] - s[i, d]))``, where ``B = capacity x
    interest(t) x focus x link`` (precomputed per epoch), ``rho`` the power's rivalry response
    and ``m - s`` the share the power has lost to rivals against its remembered share: a power
    losing ground raises its offers. ``log O = log B + log1p(rho max(0, m - s))``. Units: offers
    are relative tie-volume units per month.

    Parameters
    ----------
    power : int, the power's index j
    base_offer, log_base_offer : (S, P, D, L) arrays
    rivalry_response : (P, L) array, >= 0
    shares, memory : (S, P, D, L) arrays of current and remembered partner shares, in [0, 1]
    offers, log_offers : (S, P, D, L) output arrays; only column ``power`` is written
    """
    n_states, _, n_dims, n_lanes = shares.shape
    j = power
    for i in range(n_states):
        for d in range(n_dims):
            for r in range(n_lanes):
                loss = memory[i, j, d, r] - shares[i, j, d, r]
                rho = rivalry_response[j, r]
                boost = rho * loss if loss > 0.0 and rho > 0.0 else 0.0
                offers[i, j, d, r] = base_offer[i, j, d, r] * (1.0 + boost)
                log_offers[i, j, d, r] = log_base_offer[i, j, d, r] + log1p(boost)


@njit(**_ROW)
def state_ties_row(
    state,
    ties,
    shares,
    offers,
    log_offers,
    attraction,
    membership,
    floor,
    need,
    balancing_propensity,
    leverage,
    adjustment_rate,
    temperature,
    lockin_bonus,
    noise,
    keys,
    counter,
    new_ties,
    scratch,
):
    """One state's new ties with every power on every dimension (mechanisms 2-4).

    Utility of power ``j`` on dimension ``d`` (needs, affinities, conditionality, lock-in,
    sovereignty cost)::

        u[j, d] = log O[j, d] + a[j] + b * M[j, d] - 2 * beta * lev[j] * s[j, d]

    where ``a[j] = affinity - regime_sensitivity x conditionality`` (precomputed), ``M`` the
    effective institutional memberships, ``b`` the lock-in bonus, ``beta`` the balancing
    propensity and ``lev[j]`` the power's leverage. ``-2 beta lev s`` is the marginal sovereignty
    cost of concentration: the gradient of ``beta * sum_j lev_j s_j^2``, an HHI that weighs each
    power by its leverage (threat-weighted balancing; with every ``lev_j = 1`` the plain HHI, bit
    for bit). The target allocation is a logit (quantal response) over partners on top of the
    lock-in floors ``f``::

        x[j, d] = f[j, d] + (1 - sum_j f[j, d]) * softmax_j(u[:, d] / temperature)

    so the fixed point of repeated best responses maximises ``sum_j x_j u0_j - beta sum_j lev_j
    x_j^2 + temperature H(x)``. The volume of ties on ``d`` saturates in the offers accepted::

        A[d] = sum_j x[j, d] O[j, d],   V[d] = need[d] * A / (1 + A)

    and ties move toward the target with inertia ``1 - lambda`` and mean-one noise ``eps``::

        T'[j, d] = ((1 - lambda) T[j, d] + lambda x[j, d] V[d]) * eps[j, d]

    Parameters
    ----------
    state : int, the state's index i
    ties, shares, offers, log_offers, membership, floor : (S, P, D, L) arrays
    attraction : (S, P, L) array
    need : (S, D, L) array, >= 0
    balancing_propensity, adjustment_rate : (S, L) arrays
    leverage : (P, L) array, >= 0
    temperature, lockin_bonus, noise : (L,) arrays
    keys : (L,) uint64 array, each run's noise key
    counter : int64, noise counter of the step's first element (``step x noise_stride``)
    new_ties : (S, P, D, L) output array; only row ``state`` is written
    scratch : (SCRATCH_ROWS, L) work array
    """
    i = state
    _, n_powers, n_dims, n_lanes = ties.shape
    top, total, free, accepted, inverse_temperature = (
        scratch[0],
        scratch[1],
        scratch[2],
        scratch[3],
        scratch[4],
    )
    first = counter + i * n_powers * n_dims
    for r in range(n_lanes):
        inverse_temperature[r] = 1.0 / temperature[r]
    for d in range(n_dims):
        # new_ties[i, :, d] holds the utilities, then the target weights, then the new ties
        for r in range(n_lanes):
            top[r] = -np.inf
            total[r] = 0.0
            free[r] = 0.0  # the floors' sum, then the free share per unit of weight
            accepted[r] = 0.0
        for j in range(n_powers):
            for r in range(n_lanes):
                u = (
                    log_offers[i, j, d, r]
                    + attraction[i, j, r]
                    + lockin_bonus[r] * membership[i, j, d, r]
                    - 2.0 * balancing_propensity[i, r] * leverage[j, r] * shares[i, j, d, r]
                ) * inverse_temperature[r]
                new_ties[i, j, d, r] = u
                top[r] = u if u > top[r] else top[r]
        for j in range(n_powers):
            for r in range(n_lanes):
                weight = exp(new_ties[i, j, d, r] - top[r])
                new_ties[i, j, d, r] = weight
                total[r] += weight
                free[r] += floor[i, j, d, r]
        for r in range(n_lanes):
            free[r] = (1.0 - free[r]) / total[r]
        for j in range(n_powers):
            for r in range(n_lanes):
                weight = floor[i, j, d, r] + free[r] * new_ties[i, j, d, r]
                new_ties[i, j, d, r] = weight
                accepted[r] += weight * offers[i, j, d, r]
        for r in range(n_lanes):
            accepted[r] = need[i, d, r] * accepted[r] / (1.0 + accepted[r])  # the volume V[d]
        for j in range(n_powers):
            element = first + j * n_dims + d
            for r in range(n_lanes):
                rate = adjustment_rate[i, r]
                mixed = (1.0 - rate) * ties[i, j, d, r] + rate * new_ties[i, j, d, r] * accepted[r]
                new_ties[i, j, d, r] = mixed * noise_factor(keys[r], element, noise[r])


@njit(**_ROW)
def partner_shares_into(ties, shares, scratch):
    """Partner shares ``s[i, j, d] = T[i, j, d] / sum_j T[i, j, d]``, uniform without ties.

    A state has no ties on a dimension when their sum is below the smallest normal float64
    (``2.2e-308``): ties that decay to zero pass through subnormal numbers, whose reciprocal
    overflows, so they count as none (every partner gets ``1 / P``) instead of giving NaN.

    Parameters
    ----------
    ties : (S, P, D, L) array, >= 0
    shares : (S, P, D, L) output array
    scratch : (SCRATCH_ROWS, L) work array
    """
    n_states, n_powers, n_dims, n_lanes = ties.shape
    total, inverse = scratch[0], scratch[1]
    for i in range(n_states):
        for d in range(n_dims):
            for r in range(n_lanes):
                total[r] = 0.0
            for j in range(n_powers):
                for r in range(n_lanes):
                    total[r] += ties[i, j, d, r]
            for r in range(n_lanes):
                inverse[r] = 1.0 / total[r]
            for j in range(n_powers):
                for r in range(n_lanes):
                    shares[i, j, d, r] = (
                        ties[i, j, d, r] * inverse[r] if total[r] >= _TINY else 1.0 / n_powers
                    )


@njit(**_ROW)
def remember_shares(memory, shares, rivalry_memory, scratch):
    """Exponential memory of shares, ``m' = m + (s - m) / tau_m`` (tau_m in months).

    Parameters
    ----------
    memory, shares : (S, P, D, L) arrays; ``memory`` is updated in place
    rivalry_memory : (L,) array, >= 1
    scratch : (SCRATCH_ROWS, L) work array
    """
    n_states, n_powers, n_dims, n_lanes = memory.shape
    rate = scratch[0]
    for r in range(n_lanes):
        rate[r] = 1.0 / rivalry_memory[r]
    for i in range(n_states):
        for j in range(n_powers):
            for d in range(n_dims):
                for r in range(n_lanes):
                    memory[i, j, d, r] = (
                        memory[i, j, d, r] + (shares[i, j, d, r] - memory[i, j, d, r]) * rate[r]
                    )


@njit(**_ROW)
def advance_regional(regional, target, adjustment_rate, noise, keys, counter, new_regional):
    """Regional ties among the states move toward their target (mechanism 6, regional level).

    ``R'[i, k] = clip((1 - lambda_r) R[i, k] + lambda_r R*[i, k] + sd sqrt(3) (2u - 1), 0, 1)``
    for ``i < k``, mirrored; ``R* = logistic(base + openness_i + openness_k + pair_ik)`` is
    precomputed per epoch from the scenario and its events. Zero diagonal.

    Parameters
    ----------
    regional, target : (S, S, L) arrays in [0, 1]
    adjustment_rate, noise : (L,) arrays
    keys : (L,) uint64 array
    counter : int64, noise counter of the step's first regional element
    new_regional : (S, S, L) output array
    """
    n, _, n_lanes = regional.shape
    for i in range(n):
        for r in range(n_lanes):
            new_regional[i, i, r] = 0.0
        for k in range(i + 1, n):
            element = counter + i * n + k
            for r in range(n_lanes):
                rate = adjustment_rate[r]
                value = (1.0 - rate) * regional[i, k, r] + rate * target[i, k, r]
                value += noise[r] * _SQRT3 * (2.0 * uniform(keys[r], element) - 1.0)
                value = value if value > 0.0 else 0.0
                value = value if value < 1.0 else 1.0
                new_regional[i, k, r] = value
                new_regional[k, i, r] = value


@njit(**_ROW)
def commit_month(
    ties,
    shares,
    memory,
    regional,
    new_ties,
    new_regional,
    scratch,
    regional_target,
    rivalry_memory,
    regional_adjustment_rate,
    regional_noise,
    keys,
    counter,
):
    """The end of a month, after the agents have acted: commit ties, shares, memory, regions.

    ``T <- new_ties``, then the shares of the new ties (:func:`partner_shares_into`), the
    memory of those shares (:func:`remember_shares`), and the regional ties
    (:func:`advance_regional`), ``R <- new_regional``. ``counter`` is the step's first noise
    counter (``step x noise_stride``); arrays as in :func:`advance_runs`.
    """
    n_states, n_powers, n_dims, _ = ties.shape
    ties[:] = new_ties
    partner_shares_into(ties, shares, scratch)
    remember_shares(memory, shares, rivalry_memory, scratch)
    advance_regional(
        regional,
        regional_target,
        regional_adjustment_rate,
        regional_noise,
        keys,
        counter + n_states * n_powers * n_dims,
        new_regional,
    )
    regional[:] = new_regional


@njit(**_JIT)
def noise_stride(n_states, n_powers, n_dims):
    """Noise counters used per step: one per tie and one per ordered state pair."""
    return n_states * n_powers * n_dims + n_states * n_states


@njit(**_JIT)
def advance_runs(
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
    parameters,
    keys,
):
    """One monthly step of a block of runs, calling the Mesa agents' rules in the same order.

    Powers make offers (from shares and memory at ``step``); states choose new ties; then
    :func:`commit_month` commits ties, shares and memory and advances the regional ties.
    ``parameters`` is the month's epoch slices and the run settings, with the runs on the last
    axis, in the order :attr:`model.scenario.CompiledScenario.BLOCK_PARAMETERS` declares them
    (``tests/test_rules.py`` checks the unpacking below against it). State arrays are updated
    in place; ``offers``, ``log_offers``, ``new_ties``, ``new_regional`` and ``scratch`` are
    work arrays.
    """
    (
        base_offer,
        log_base_offer,
        rivalry_response,
        attraction,
        membership,
        floor,
        balancing_propensity,
        leverage,
        adjustment_rate,
        need,
        regional_target,
        temperature,
        lockin_bonus,
        noise,
        rivalry_memory,
        regional_adjustment_rate,
        regional_noise,
    ) = parameters
    n_states, n_powers, n_dims, _ = ties.shape
    counter = np.int64(step) * noise_stride(n_states, n_powers, n_dims)
    for j in range(n_powers):
        offer_row(
            j, base_offer, log_base_offer, rivalry_response, shares, memory, offers, log_offers
        )
    for i in range(n_states):
        state_ties_row(
            i,
            ties,
            shares,
            offers,
            log_offers,
            attraction,
            membership,
            floor,
            need,
            balancing_propensity,
            leverage,
            adjustment_rate,
            temperature,
            lockin_bonus,
            noise,
            keys,
            counter,
            new_ties,
            scratch,
        )
    commit_month(
        ties,
        shares,
        memory,
        regional,
        new_ties,
        new_regional,
        scratch,
        regional_target,
        rivalry_memory,
        regional_adjustment_rate,
        regional_noise,
        keys,
        counter,
    )


depend_on_sources(globals(), [__file__, elementary.__file__])
