"""The model's rules: pure, compiled per-run functions on arrays.

Each rule is a :func:`numba.njit` function of plain arrays, with no model object and no hidden
state. The Mesa agents call them on their own rows (a power on its offers, a state on its ties),
and :func:`advance_run` calls exactly the same functions for a whole run, so a vectorised
ensemble can loop them over runs without a second implementation of any rule.

Numerics are IEEE (no fast-math, ``error_model="numpy"``), so a run's trajectory does not depend
on where or with what it is computed. Randomness is counter-based (:func:`uniform`): the noise
of run ``key`` at step ``t`` for element ``n`` is a pure function of ``(key, t, n)``, which keeps
every run bit-identical whatever the batch size, order or worker. Kernels are compiled on first
use and cached on disk (``cache=True``).

Symbols: S states, P powers, D dimensions; ``T[i, j, d]`` ties, ``s[i, j, d]`` partner shares,
``m[i, j, d]`` remembered shares, ``R[i, k]`` regional ties.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "advance_regional",
    "advance_run",
    "offer_row",
    "partner_shares_into",
    "remember_shares",
    "simulate_run",
    "state_ties_row",
    "uniform",
]

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
    for ``sd < 1 / sqrt(3)`` (scenarios allow at most 0.5).
    """
    if sd == 0.0:
        return 1.0
    return 1.0 + sd * _SQRT3 * (2.0 * uniform(key, counter) - 1.0)


@njit(**_ROW)
def offer_row(base_offer, log_base_offer, rivalry_response, shares, memory, offer, log_offer):
    """Offers of one power to every state on every dimension (mechanism 1).

    ``O[i, d] = B[i, d] * (1 + rho * max(0, m[i, d] - s[i, d]))``, where ``B = capacity x
    interest(t) x focus x link`` (precomputed per epoch), ``rho`` the power's rivalry response
    and ``m - s`` the share the power has lost to rivals against its remembered share: a power
    losing ground raises its offers. Units: offers are relative tie-volume units per month.

    Parameters
    ----------
    base_offer, log_base_offer : (S, D) arrays
    rivalry_response : float, >= 0
    shares, memory : (S, D) arrays of the power's current and remembered partner shares, in [0, 1]
    offer, log_offer : (S, D) output arrays
    """
    for i in range(base_offer.shape[0]):
        for d in range(base_offer.shape[1]):
            loss = memory[i, d] - shares[i, d]
            if loss > 0.0 and rivalry_response > 0.0:
                boost = rivalry_response * loss
                offer[i, d] = base_offer[i, d] * (1.0 + boost)
                log_offer[i, d] = log_base_offer[i, d] + np.log1p(boost)
            else:
                offer[i, d] = base_offer[i, d]
                log_offer[i, d] = log_base_offer[i, d]


@njit(**_ROW)
def state_ties_row(
    ties,
    shares,
    offer,
    log_offer,
    attraction,
    membership,
    floor,
    need,
    balancing_propensity,
    adjustment_rate,
    temperature,
    lockin_bonus,
    noise,
    key,
    counter0,
    new_ties,
):
    """One state's new ties with every power on every dimension (mechanisms 2-4).

    Utility of power ``j`` on dimension ``d`` (needs, affinities, conditionality, lock-in,
    sovereignty cost)::

        u[j, d] = log O[j, d] + a[j] + b * M[j, d] - 2 * beta * s[j, d]

    where ``a[j] = affinity - regime_sensitivity x conditionality`` (precomputed), ``M`` the
    effective institutional memberships, ``b`` the lock-in bonus and ``beta`` the balancing
    propensity. ``-2 beta s`` is the marginal sovereignty cost of concentration: the gradient of
    ``beta * HHI(s) = beta * sum_j s_j^2``. The target allocation is a logit (quantal response)
    over partners on top of the lock-in floors ``f``::

        x[j, d] = f[j, d] + (1 - sum_j f[j, d]) * softmax_j(u[:, d] / temperature)

    so the fixed point of repeated best responses maximises ``sum_j x_j u0_j - beta HHI(x) +
    temperature H(x)``. The volume of ties on ``d`` saturates in the offers accepted::

        A[d] = sum_j x[j, d] O[j, d],   V[d] = need[d] * A / (1 + A)

    and ties move toward the target with inertia ``1 - lambda`` and mean-one noise ``eps``::

        T'[j, d] = ((1 - lambda) T[j, d] + lambda x[j, d] V[d]) * eps[j, d]

    Parameters
    ----------
    ties, shares, offer, log_offer, membership, floor : (P, D) arrays of this state
    attraction : (P,) array
    need : (D,) array, >= 0
    balancing_propensity, adjustment_rate, temperature, lockin_bonus, noise : float
    key : uint64, the run's noise key
    counter0 : int64, noise counter of this state's first element at this step
    new_ties : (P, D) output array
    """
    n_powers, n_dims = ties.shape
    inverse_temperature = 1.0 / temperature
    for d in range(n_dims):
        # new_ties[:, d] holds the utilities, then the target weights, then the new ties
        weight = new_ties[:, d]
        top = -np.inf
        for j in range(n_powers):
            u = (
                log_offer[j, d]
                + attraction[j]
                + lockin_bonus * membership[j, d]
                - 2.0 * balancing_propensity * shares[j, d]
            ) * inverse_temperature
            weight[j] = u
            top = u if u > top else top
        total = 0.0
        for j in range(n_powers):
            weight[j] = np.exp(weight[j] - top)
            total += weight[j]
        reserved = 0.0
        for j in range(n_powers):
            reserved += floor[j, d]
        accepted = 0.0
        free = (1.0 - reserved) / total
        for j in range(n_powers):
            weight[j] = floor[j, d] + free * weight[j]
            accepted += weight[j] * offer[j, d]
        volume = need[d] * accepted / (1.0 + accepted)
        for j in range(n_powers):
            mixed = (1.0 - adjustment_rate) * ties[j, d] + adjustment_rate * weight[j] * volume
            weight[j] = mixed * noise_factor(key, counter0 + j * n_dims + d, noise)


@njit(**_ROW)
def partner_shares_into(ties, shares):
    """Partner shares ``s[i, j, d] = T[i, j, d] / sum_j T[i, j, d]`` (uniform if all ties are 0)."""
    n_states, n_powers, n_dims = ties.shape
    for i in range(n_states):
        for d in range(n_dims):
            total = 0.0
            for j in range(n_powers):
                total += ties[i, j, d]
            if total > 0.0:
                inverse = 1.0 / total
                for j in range(n_powers):
                    shares[i, j, d] = ties[i, j, d] * inverse
            else:
                for j in range(n_powers):
                    shares[i, j, d] = 1.0 / n_powers


@njit(**_ROW)
def remember_shares(memory, shares, rivalry_memory):
    """Exponential memory of shares, ``m' = m + (s - m) / tau_m`` (tau_m in months)."""
    rate = 1.0 / rivalry_memory
    flat_m = memory.reshape(-1)
    flat_s = shares.reshape(-1)
    for n in range(flat_m.size):
        flat_m[n] = flat_m[n] + (flat_s[n] - flat_m[n]) * rate


@njit(**_ROW)
def advance_regional(regional, target, adjustment_rate, noise, key, counter0, new_regional):
    """Regional ties among the states move toward their target (mechanism 6, regional level).

    ``R'[i, k] = clip((1 - lambda_r) R[i, k] + lambda_r R*[i, k] + sd sqrt(3) (2u - 1), 0, 1)``
    for ``i < k``, mirrored; ``R* = logistic(base + openness_i + openness_k + pair_ik)`` is
    precomputed per epoch from the scenario and its events. Zero diagonal.
    """
    n = regional.shape[0]
    for i in range(n):
        new_regional[i, i] = 0.0
        for k in range(i + 1, n):
            value = (1.0 - adjustment_rate) * regional[i, k] + adjustment_rate * target[i, k]
            if noise > 0.0:
                value += noise * _SQRT3 * (2.0 * uniform(key, counter0 + i * n + k) - 1.0)
            value = min(max(value, 0.0), 1.0)
            new_regional[i, k] = value
            new_regional[k, i] = value


@njit(**_JIT)
def noise_stride(n_states, n_powers, n_dims):
    """Noise counters used per step: one per tie and one per ordered state pair."""
    return n_states * n_powers * n_dims + n_states * n_states


@njit(**_JIT)
def advance_run(
    step,
    epoch,
    ties,
    shares,
    memory,
    regional,
    offers,
    log_offers,
    new_ties,
    new_regional,
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
    key,
):
    """One monthly step of one run, calling the same row rules as the Mesa agents, in order.

    Powers make offers (from shares and memory at ``step``); states choose new ties; ties,
    shares and memory are committed; regional ties advance. ``epoch`` selects the event-dated
    parameter slice. Arrays are updated in place; ``offers``, ``log_offers`` (S, P, D) and
    ``new_ties``, ``new_regional`` are scratch.
    """
    n_states, n_powers, n_dims = ties.shape
    stride = noise_stride(n_states, n_powers, n_dims)
    counter = np.int64(step) * stride
    for j in range(n_powers):
        offer_row(
            base_offer[epoch, :, j, :],
            log_base_offer[epoch, :, j, :],
            rivalry_response[epoch, j],
            shares[:, j, :],
            memory[:, j, :],
            offers[:, j, :],
            log_offers[:, j, :],
        )
    for i in range(n_states):
        state_ties_row(
            ties[i],
            shares[i],
            offers[i],
            log_offers[i],
            attraction[epoch, i],
            membership[epoch, i],
            floor[epoch, i],
            need[epoch, i],
            balancing_propensity[epoch, i],
            adjustment_rate[epoch, i],
            temperature,
            lockin_bonus,
            noise,
            key,
            counter + i * n_powers * n_dims,
            new_ties[i],
        )
    ties[:] = new_ties
    partner_shares_into(ties, shares)
    remember_shares(memory, shares, rivalry_memory)
    advance_regional(
        regional,
        regional_target[epoch],
        regional_adjustment_rate,
        regional_noise,
        key,
        counter + n_states * n_powers * n_dims,
        new_regional,
    )
    regional[:] = new_regional


@njit(**_JIT)
def simulate_run(
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
    key,
    record,
    ties_out,
    regional_out,
):
    """A whole run from its initial state, keeping the months listed in ``record``.

    ``record`` holds increasing step indices in ``[0, T]``; ``ties_out[k]`` (S, P, D) and
    ``regional_out[k]`` (S, S) receive the state after ``record[k]`` steps. The ensemble engine
    calls this same function for every run.
    """
    n_steps = epoch_of_step.shape[0]
    ties = initial_ties.copy()
    shares = np.empty_like(ties)
    partner_shares_into(ties, shares)
    memory = shares.copy()
    regional = initial_regional.copy()
    offers = np.empty_like(ties)
    log_offers = np.empty_like(ties)
    new_ties = np.empty_like(ties)
    new_regional = np.empty_like(regional)
    slot = 0
    if record.shape[0] > 0 and record[0] == 0:
        ties_out[0] = ties
        regional_out[0] = regional
        slot = 1
    for step in range(n_steps):
        if slot >= record.shape[0]:
            break
        advance_run(
            step,
            epoch_of_step[step],
            ties,
            shares,
            memory,
            regional,
            offers,
            log_offers,
            new_ties,
            new_regional,
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
            key,
        )
        if record[slot] == step + 1:
            ties_out[slot] = ties
            regional_out[slot] = regional
            slot += 1
