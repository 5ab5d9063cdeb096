"""model/rules.py against plain-numpy references written from the formulas of docs/ODD.md §7.

The equivalence tests (test_rules, test_ensemble) run the same compiled rule through two
harnesses, so a wrong formula passes them. Here each rule is written again, independently, from
its equation in docs/ODD.md (quoted above each reference), as vectorised numpy over the
``(S, P, D, L)`` blocks of :func:`tests.strategies.rule_block`, and compared with the compiled
rule. The noise is recomputed from the SplitMix64 definition (ODD 7.6) in Python integers at the
exact counters of ODD 7.6. ``rtol = 1e-12`` allows for the compiled ``exp`` and ``log1p``
(within one float of numpy's) and for ``x * (1 / t)`` against ``x / t``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from model.rules import (
    SCRATCH_ROWS,
    advance_regional,
    advance_runs,
    commit_month,
    noise_factor,
    offer_row,
    partner_shares_into,
    remember_shares,
    state_ties_row,
    uniform,
)
from model.scenario import CompiledScenario
from tests.strategies import rule_block, rule_blocks

RTOL = 1e-12
# sums that cancel to nearly 0 (log B + log1p(boost) with B < 1; a regional tie pulled to 0 by
# its noise before clipping) carry an absolute rounding error of a few 1e-17
ATOL = 1e-15
TINY = np.finfo(np.float64).tiny  # 2.2e-308, the smallest normal float64
SQRT3 = math.sqrt(3.0)
BLOCKS = settings(max_examples=40, deadline=None)
SEEDS = [0, 1, 2, 3, 20211231]


def _close(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def _sizes(block) -> tuple[int, int, int, int]:
    return block["ties"].shape


def _scratch(n_lanes: int) -> np.ndarray:
    # garbage in the work array: a rule must not read what it did not write
    return np.full((SCRATCH_ROWS, n_lanes), np.nan)


# --------------------------------------------------------------------------------------------
# references, from the equations of docs/ODD.md


def splitmix64_uniform(key: int, counter: int) -> float:
    """ODD 7.6, in Python integers: SplitMix64 output ``counter`` of stream ``key``, in [0, 1).

    z = key + (counter + 1) * 0x9E3779B97F4A7C15            (mod 2^64)
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB
    z =  z ^ (z >> 31)
    U = (z >> 11) * 2^-53
    """
    modulus = 2**64
    z = (key + (counter + 1) * 0x9E3779B97F4A7C15) % modulus
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % modulus
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % modulus
    z = z ^ (z >> 31)
    return (z >> 11) / 2.0**53


def uniforms(keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """``U[..., r] = splitmix64_uniform(keys[r], counters[...])``, of shape ``(..., L)``."""
    counters = np.asarray(counters)
    flat = [[splitmix64_uniform(int(key), int(c)) for key in keys] for c in counters.ravel()]
    return np.array(flat, dtype=float).reshape(*counters.shape, len(keys))


def noise_stride(n_states: int, n_powers: int, n_dims: int) -> int:
    """ODD 7.6: counters per step, ``S P D + S^2``."""
    return n_states * n_powers * n_dims + n_states**2


def tie_counters(state: int, step_counter: int, n_powers: int, n_dims: int) -> np.ndarray:
    """ODD 7.6: counter of tie ``(i, j, d)`` at step t is ``t stride + i P D + j D + d``; (P, D)."""
    j, d = np.meshgrid(np.arange(n_powers), np.arange(n_dims), indexing="ij")
    return step_counter + state * n_powers * n_dims + j * n_dims + d


def reference_offers(base_offer, log_base_offer, rivalry_response, shares, memory):
    """ODD 7.2, every power at once.

    loss         = m[i, j, d] - s[i, j, d]
    O[i, j, d]   = B[i, j, d] * (1 + rho_j * loss)   if loss > 0 and rho_j > 0, else B[i, j, d]
    log O[i,j,d] = log B + log1p(rho_j * loss)       (same cases; log1p(0) = 0)
    """
    loss = memory - shares
    rho = rivalry_response[np.newaxis, :, np.newaxis, :]
    boost = np.where((loss > 0.0) & (rho > 0.0), rho * loss, 0.0)
    return base_offer * (1.0 + boost), log_base_offer + np.log1p(boost)


def reference_target(block, state: int):
    """ODD 7.3, state i: the target allocation ``x`` (P, D, L) and the volume ``V`` (D, L).

    u[j]  = log O[j, d] + a[j] + b * M[j, d] - 2 * beta * lev[j] * s[j, d]
    x[j]  = f[j, d] + (1 - sum_l f[l, d]) * softmax_l(u[l] / tau)[j]
    A     = sum_j x[j] * O[j, d]
    V     = need[d] * A / (1 + A)
    """
    i = state
    utility = (
        block["log_offers"][i]
        + block["attraction"][i][:, np.newaxis, :]
        + block["lockin_bonus"] * block["membership"][i]
        - 2.0
        * block["balancing_propensity"][i]
        * block["leverage"][:, np.newaxis, :]
        * block["shares"][i]
    )
    scaled = utility / block["temperature"]
    weights = np.exp(scaled - scaled.max(axis=0))  # softmax over powers (axis 0), stably
    softmax = weights / weights.sum(axis=0)
    floor = block["floor"][i]
    target = floor + (1.0 - floor.sum(axis=0)) * softmax
    accepted = (target * block["offers"][i]).sum(axis=0)
    volume = block["need"][i] * accepted / (1.0 + accepted)
    return target, volume


def reference_tie_noise(block, state: int, step_counter: int) -> np.ndarray:
    """ODD 7.3, 7.6: ``eps[j, d] = 1 + sigma sqrt(3) (2 U - 1)`` at the tie's counter; (P, D, L)."""
    _, n_powers, n_dims, _ = _sizes(block)
    u = uniforms(block["keys"], tie_counters(state, step_counter, n_powers, n_dims))
    return 1.0 + block["noise"] * SQRT3 * (2.0 * u - 1.0)


def reference_new_ties(block, state: int, step_counter: int) -> np.ndarray:
    """ODD 7.3: ``T'[j, d] = ((1 - lambda) T[j, d] + lambda x[j] V) * eps[j, d]``; (P, D, L)."""
    target, volume = reference_target(block, state)
    rate = block["adjustment_rate"][state]
    moved = (1.0 - rate) * block["ties"][state] + rate * target * volume
    return moved * reference_tie_noise(block, state, step_counter)


def reference_shares(ties: np.ndarray) -> np.ndarray:
    """ODD 7.4: ``s = T / sum_l T``, and ``1 / P`` for every power if ``sum_l T < 2.2e-308``."""
    n_powers = ties.shape[1]
    total = ties.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        shares = ties / total
    return np.where(total >= TINY, shares, 1.0 / n_powers)


def reference_memory(memory: np.ndarray, shares: np.ndarray, rivalry_memory) -> np.ndarray:
    """ODD 7.4: ``m' = m + (s' - m) / tau_m``."""
    return memory + (shares - memory) / rivalry_memory


def reference_regional(regional, target, rate, noise, keys, first_counter) -> np.ndarray:
    """ODD 7.5, each pair i < k at counter ``t stride + S P D + i S + k`` (ODD 7.6), mirrored.

    R'[i, k] = clip((1 - lambda_r) R[i, k] + lambda_r R*[i, k] + sigma_r sqrt(3) (2 U - 1), 0, 1)
    with 0 on the diagonal; ``first_counter = t stride + S P D``.
    """
    n_states = regional.shape[0]
    i, k = np.triu_indices(n_states, k=1)
    u = uniforms(keys, first_counter + i * n_states + k)  # (pairs, L)
    value = (1.0 - rate) * regional[i, k] + rate * target[i, k] + noise * SQRT3 * (2.0 * u - 1.0)
    value = np.clip(value, 0.0, 1.0)
    new = np.zeros_like(regional)
    new[i, k] = value
    new[k, i] = value
    return new


def reference_commit(block, new_ties, step_counter):
    """ODD §3 steps 4-5: ``T <- T'``, shares of ``T'``, memory of those shares, regional ties."""
    n_states, n_powers, n_dims, _ = _sizes(block)
    shares = reference_shares(new_ties)
    memory = reference_memory(block["memory"], shares, block["rivalry_memory"])
    regional = reference_regional(
        block["regional"],
        block["regional_target"],
        block["regional_adjustment_rate"],
        block["regional_noise"],
        block["keys"],
        step_counter + n_states * n_powers * n_dims,
    )
    return new_ties, shares, memory, regional


def reference_step(block):
    """ODD §3 steps 2-5 at month ``block["step"]``: offers, every state's ties, commit."""
    n_states, n_powers, n_dims, _ = _sizes(block)
    step_counter = block["step"] * noise_stride(n_states, n_powers, n_dims)
    offers, log_offers = reference_offers(
        block["base_offer"],
        block["log_base_offer"],
        block["rivalry_response"],
        block["shares"],
        block["memory"],
    )
    with_offers = {**block, "offers": offers, "log_offers": log_offers}
    new_ties = np.stack([reference_new_ties(with_offers, i, step_counter) for i in range(n_states)])
    return reference_commit(block, new_ties, step_counter)


# --------------------------------------------------------------------------------------------
# callers of the compiled rules on copies of a block


# advance_runs takes its epoch arrays and run settings as one ``parameters`` tuple, in the
# order CompiledScenario.BLOCK_PARAMETERS declares
BLOCK_PARAMETERS = CompiledScenario.BLOCK_PARAMETERS


def compiled_step(block):
    """:func:`advance_runs` on a copy of ``block``: (ties, shares, memory, regional) after it."""
    ties, shares, memory, regional = (
        block[name].copy() for name in ("ties", "shares", "memory", "regional")
    )
    work = (
        np.full_like(ties, np.nan),  # offers
        np.full_like(ties, np.nan),  # log offers
        np.full_like(ties, np.nan),  # new ties
        np.full_like(regional, np.nan),  # new regional
        _scratch(ties.shape[-1]),
    )
    parameters = tuple(block[name] for name in BLOCK_PARAMETERS)
    state = (block["step"], ties, shares, memory, regional, *work)
    advance_runs(*state, parameters, block["keys"])
    return ties, shares, memory, regional


def compiled_new_ties(block, state: int, step_counter: int) -> np.ndarray:
    """:func:`state_ties_row` for ``state``; the whole (S, P, D, L) output, NaN where unwritten."""
    new_ties = np.full_like(block["ties"], np.nan)
    state_ties_row(
        state,
        block["ties"],
        block["shares"],
        block["offers"],
        block["log_offers"],
        block["attraction"],
        block["membership"],
        block["floor"],
        block["need"],
        block["balancing_propensity"],
        block["leverage"],
        block["adjustment_rate"],
        block["temperature"],
        block["lockin_bonus"],
        block["noise"],
        block["keys"],
        np.int64(step_counter),
        new_ties,
        _scratch(block["ties"].shape[-1]),
    )
    return new_ties


def _step_counter(block) -> int:
    return block["step"] * noise_stride(*_sizes(block)[:3])


def _assert_step_equals_reference(block) -> None:
    expected = reference_step(block)
    actual = compiled_step(block)
    for name, a, e in zip(("ties", "shares", "memory", "regional"), actual, expected, strict=True):
        _close(a, e, name)


# --------------------------------------------------------------------------------------------
# one whole month first: it exercises every rule, so a wrong formula fails here at once


@pytest.mark.parametrize("seed", SEEDS)
def test_one_step_of_advance_runs_equals_the_composed_reference(seed):
    block = rule_block(np.random.default_rng(seed), n_states=3, n_powers=4, n_dims=2, n_lanes=5)
    _assert_step_equals_reference(block)


@BLOCKS
@given(block=rule_blocks())
def test_one_step_equals_the_reference_for_any_block(block):
    _assert_step_equals_reference(block)


def test_twelve_steps_equal_twelve_reference_steps():
    """State carried from month to month (ties, shares, memory, regional) stays the reference's."""
    block = rule_block(np.random.default_rng(7), n_states=3, n_powers=4, n_dims=3, n_lanes=6)
    compiled = reference = block
    for month in range(block["step"], block["step"] + 12):
        names = ("ties", "shares", "memory", "regional")
        compiled = {
            **compiled,
            "step": month,
            **dict(zip(names, compiled_step(compiled), strict=True)),
        }
        reference = {
            **reference,
            "step": month,
            **dict(zip(names, reference_step(reference), strict=True)),
        }
        for name in names:
            _close(compiled[name], reference[name], f"{name} after month {month}")


# --------------------------------------------------------------------------------------------
# the noise generator (ODD 7.6)


def test_splitmix64_reference_gives_the_published_stream():
    # SplitMix64 seeded with 0 (Vigna's splitmix64.c): the reference itself is right
    published = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    for counter, output in enumerate(published):
        assert splitmix64_uniform(0, counter) == (output >> 11) / 2.0**53


@settings(max_examples=300, deadline=None)
@given(key=st.integers(0, 2**64 - 1), counter=st.integers(0, 2**62))
@example(key=0, counter=0)
@example(key=2**64 - 1, counter=2**62)
def test_uniform_is_the_splitmix64_output(key, counter):
    assert uniform(np.uint64(key), np.int64(counter)) == splitmix64_uniform(key, counter)


@settings(max_examples=100, deadline=None)
@given(
    key=st.integers(0, 2**64 - 1),
    counter=st.integers(0, 2**40),
    sd=st.sampled_from([0.0, 0.5]) | st.floats(0.0, 0.5),
)
def test_noise_factor_is_mean_one_uniform_noise(key, counter, sd):
    # ODD 7.3: eps = 1 + sigma sqrt(3) (2 U - 1)
    expected = 1.0 + sd * SQRT3 * (2.0 * splitmix64_uniform(key, counter) - 1.0)
    actual = noise_factor(np.uint64(key), np.int64(counter), sd)
    assert actual == pytest.approx(expected, rel=RTOL, abs=0.0)
    if sd == 0.0:
        assert actual == 1.0


# --------------------------------------------------------------------------------------------
# offers (ODD 7.2)


def _compiled_offers(block, powers=None):
    offers = np.full_like(block["ties"], np.nan)
    log_offers = np.full_like(block["ties"], np.nan)
    n_powers = block["ties"].shape[1]
    for j in range(n_powers) if powers is None else powers:
        offer_row(
            j,
            block["base_offer"],
            block["log_base_offer"],
            block["rivalry_response"],
            block["shares"],
            block["memory"],
            offers,
            log_offers,
        )
    return offers, log_offers


def _reference_offers(block):
    return reference_offers(
        block["base_offer"],
        block["log_base_offer"],
        block["rivalry_response"],
        block["shares"],
        block["memory"],
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_offers_equal_the_reference(seed):
    block = rule_block(np.random.default_rng(seed))
    offers, log_offers = _compiled_offers(block)
    expected, expected_log = _reference_offers(block)
    _close(offers, expected, "offers")
    _close(log_offers, expected_log, "log offers")


@BLOCKS
@given(block=rule_blocks())
def test_offers_equal_the_reference_for_any_block(block):
    offers, log_offers = _compiled_offers(block)
    expected, expected_log = _reference_offers(block)
    _close(offers, expected, "offers")
    _close(log_offers, expected_log, "log offers")


def test_a_power_writes_only_its_own_column():
    block = rule_block(np.random.default_rng(11))
    offers, log_offers = _compiled_offers(block, powers=[2])
    others = np.arange(block["ties"].shape[1]) != 2
    assert np.isnan(offers[:, others]).all() and np.isnan(log_offers[:, others]).all()
    assert not np.isnan(offers[:, 2]).any() and not np.isnan(log_offers[:, 2]).any()


def test_offers_rise_only_for_a_power_that_lost_ground_and_responds():
    """ODD 7.2 case by case: no loss, a gain, zero response, a loss, a zero base offer."""
    block = rule_block(np.random.default_rng(5), n_states=1, n_powers=2, n_dims=1, n_lanes=5)
    base = np.array([0.8, 0.8, 0.8, 0.8, 0.0])
    rho = np.array([1.5, 1.5, 0.0, 2.0, 2.0])
    share = np.array([0.4, 0.5, 0.3, 0.25, 0.25])
    remembered = np.array([0.4, 0.3, 0.6, 0.75, 0.75])  # loss 0, -0.2, 0.3, 0.5, 0.5
    block["base_offer"][0, 0, 0] = base
    block["log_base_offer"][0, 0, 0] = np.log(np.maximum(base, 1e-300))
    block["rivalry_response"][0] = rho
    block["shares"][0, :, 0] = [share, 1.0 - share]
    block["memory"][0, :, 0] = [remembered, 1.0 - remembered]
    offers, log_offers = _compiled_offers(block, powers=[0])
    # O = B (1 + rho loss) only in lane 3: 0.8 * (1 + 2.0 * 0.5) = 1.6; B = 0 stays 0
    _close(offers[0, 0, 0], [0.8, 0.8, 0.8, 1.6, 0.0], "offers")
    # log O = log B + log1p(rho loss): log 0.8 + log 2 = log 1.6; B = 0 gives log(1e-300) + log 2
    expected_log = [np.log(0.8)] * 3 + [np.log(1.6), np.log(1e-300) + np.log(2.0)]
    _close(log_offers[0, 0, 0], expected_log, "log offers")
    assert log_offers[0, 0, 0, 4] == pytest.approx(-690.08, abs=0.01)


# --------------------------------------------------------------------------------------------
# tie choice (ODD 7.3), piece by piece: target, volume, inertia, noise


def _quiet(block, *, adjustment_rate=None):
    """The block without tie noise (eps = 1), optionally with one adjustment rate everywhere."""
    quiet = {**block, "noise": np.zeros_like(block["noise"])}
    if adjustment_rate is not None:
        quiet["adjustment_rate"] = np.full_like(block["adjustment_rate"], adjustment_rate)
    return quiet


@pytest.mark.parametrize("seed", SEEDS)
def test_target_is_the_floors_plus_a_logit_over_utilities(seed):
    # with lambda = 1 and no noise, T' = x V: the new ties' shares are the target x
    block = _quiet(rule_block(np.random.default_rng(seed)), adjustment_rate=1.0)
    for i in range(block["ties"].shape[0]):
        target, volume = reference_target(block, i)
        new = compiled_new_ties(block, i, _step_counter(block))[i]
        lanes = volume > 0.0  # V = 0 (no need or no offers) leaves no shares to compare
        shares = (new / np.where(lanes, new.sum(axis=0), 1.0))[:, lanes]
        _close(shares, target[:, lanes], f"x of state {i}")
        # the floors bound the target from below
        assert np.all(shares >= block["floor"][i][:, lanes] * (1.0 - RTOL))


@pytest.mark.parametrize("seed", SEEDS)
def test_volume_saturates_in_the_accepted_offers(seed):
    # with lambda = 1 and no noise, sum_j T'[j, d] = V = need A / (1 + A) < need
    block = _quiet(rule_block(np.random.default_rng(seed)), adjustment_rate=1.0)
    for i in range(block["ties"].shape[0]):
        _, volume = reference_target(block, i)
        new = compiled_new_ties(block, i, _step_counter(block))[i]
        _close(new.sum(axis=0), volume, f"V of state {i}")
        assert np.all(new.sum(axis=0) <= block["need"][i])


def test_volume_of_known_offers_by_hand():
    """Two powers, no floors, equal utilities: x = (1/2, 1/2), A = (1 + 3) / 2 = 2, V = 2/3 need."""
    block = _quiet(
        rule_block(np.random.default_rng(3), n_states=1, n_powers=2, n_dims=1, n_lanes=1)
    )
    block.update(
        offers=np.array([1.0, 3.0]).reshape(1, 2, 1, 1),
        log_offers=np.zeros((1, 2, 1, 1)),  # equal utilities: only the offers' log enters u
        attraction=np.zeros((1, 2, 1)),
        membership=np.zeros((1, 2, 1, 1)),
        floor=np.zeros((1, 2, 1, 1)),
        shares=np.full((1, 2, 1, 1), 0.5),
        need=np.full((1, 1, 1), 1.5),
        adjustment_rate=np.ones((1, 1)),
    )
    new = compiled_new_ties(block, 0, 0)[0, :, 0, 0]
    # V = 1.5 * 2 / (1 + 2) = 1.0, split evenly
    _close(new, [0.5, 0.5], "ties")


def _target_ratio_of_two_powers_alike(seed, beta, tau, shares, leverage):
    """x_0 / x_1 of one state with two powers alike but for their shares and leverages (equal
    offers, no attraction, memberships or floors), one lane per entry of ``beta``."""
    lanes = len(beta)
    block = _quiet(
        rule_block(np.random.default_rng(seed), n_states=1, n_powers=2, n_dims=1, n_lanes=lanes)
    )
    block.update(
        offers=np.full((1, 2, 1, lanes), 1.0),
        log_offers=np.zeros((1, 2, 1, lanes)),
        attraction=np.zeros((1, 2, lanes)),
        membership=np.zeros((1, 2, 1, lanes)),
        floor=np.zeros((1, 2, 1, lanes)),
        shares=shares[None, :, None, :],
        balancing_propensity=beta[None, :],
        leverage=leverage,
        temperature=tau,
        need=np.ones((1, 1, lanes)),
        adjustment_rate=np.ones((1, lanes)),
    )
    new = compiled_new_ties(block, 0, 0)[0, :, 0]
    return new[0] / new[1], new


def test_sovereignty_cost_is_twice_beta_times_the_share():
    """Two powers alike but for their shares: u_0 - u_1 = -2 beta (s_0 - s_1), so
    x_0 / x_1 = exp(-2 beta (s_0 - s_1) / tau) (no floors)."""
    beta, tau = np.array([0.5, 1.0, 3.0]), np.array([1.0, 0.5, 2.0])
    shares = np.array([0.8, 0.2])[:, None] * np.ones((2, 3))
    ratio, _ = _target_ratio_of_two_powers_alike(4, beta, tau, shares, np.ones((2, 3)))
    _close(ratio, np.exp(-2.0 * beta * (0.8 - 0.2) / tau), "x_0 / x_1")


def test_leverage_weighs_each_power_in_the_sovereignty_cost():
    """Two powers alike but for their shares and leverages: u_0 - u_1 = -2 beta (lev_0 s_0 -
    lev_1 s_1), so x_0 / x_1 = exp(-2 beta (lev_0 s_0 - lev_1 s_1) / tau); equal shares with
    lev_0 > lev_1 leave the heavier power the smaller target (threat-weighted balancing, ODD
    7.3)."""
    beta, tau = np.array([0.5, 1.0, 3.0, 1.0]), np.array([1.0, 0.5, 2.0, 1.0])
    leverage = np.array([[2.0, 0.5, 1.0, 3.0], [1.0, 1.0, 4.0, 3.0]])
    shares = np.array([[0.5, 0.8, 0.3, 0.6], [0.5, 0.2, 0.7, 0.4]])
    ratio, new = _target_ratio_of_two_powers_alike(5, beta, tau, shares, leverage)
    expected = np.exp(-2.0 * beta * (leverage[0] * shares[0] - leverage[1] * shares[1]) / tau)
    _close(ratio, expected, "x_0 / x_1")
    assert new[0, 0] < new[1, 0]  # equal shares, the power with twice the leverage gets less


def test_lockin_bonus_and_attraction_enter_the_utility():
    """Two powers alike but for membership and attraction: u_0 - u_1 = b M + a_0 - a_1."""
    block = _quiet(
        rule_block(np.random.default_rng(6), n_states=1, n_powers=2, n_dims=1, n_lanes=2)
    )
    bonus, tau = np.array([0.8, 2.0]), np.array([1.0, 0.4])
    block.update(
        offers=np.full((1, 2, 1, 2), 1.0),
        log_offers=np.zeros((1, 2, 1, 2)),
        attraction=np.array([0.3, -0.2])[None, :, None] * np.ones((1, 2, 2)),
        membership=np.array([1.0, 0.0])[None, :, None, None] * np.ones((1, 2, 1, 2)),
        floor=np.zeros((1, 2, 1, 2)),
        shares=np.full((1, 2, 1, 2), 0.5),
        leverage=np.ones((2, 2)),
        lockin_bonus=bonus,
        temperature=tau,
        need=np.ones((1, 1, 2)),
        adjustment_rate=np.ones((1, 2)),
    )
    new = compiled_new_ties(block, 0, 0)[0, :, 0]
    _close(new[0] / new[1], np.exp((bonus * 1.0 + 0.3 - (-0.2)) / tau), "x_0 / x_1")


@pytest.mark.parametrize("seed", SEEDS)
def test_ties_move_a_fraction_lambda_toward_the_target_volume(seed):
    # without noise: T' = (1 - lambda) T + lambda x V; lambda in [0, 1] including both ends
    block = _quiet(rule_block(np.random.default_rng(seed)))
    for i in range(block["ties"].shape[0]):
        expected = reference_new_ties(block, i, _step_counter(block))
        new = compiled_new_ties(block, i, _step_counter(block))
        _close(new[i], expected, f"ties of state {i}")
        others = np.arange(block["ties"].shape[0]) != i
        assert np.isnan(new[others]).all(), "a state writes only its own row"


@pytest.mark.parametrize("rate", [0.0, 1.0])
def test_adjustment_rate_at_its_ends(rate):
    # lambda = 0: T' = T eps (frozen but for noise); lambda = 1: T' = x V eps
    block = rule_block(np.random.default_rng(8), n_lanes=6)
    block["adjustment_rate"][:] = rate
    for i in range(block["ties"].shape[0]):
        eps = reference_tie_noise(block, i, _step_counter(block))
        target, volume = reference_target(block, i)
        expected = (block["ties"][i] if rate == 0.0 else target * volume) * eps
        _close(compiled_new_ties(block, i, _step_counter(block))[i], expected, f"state {i}")


@pytest.mark.parametrize("seed", SEEDS)
def test_tie_noise_is_splitmix64_at_the_tie_counters(seed):
    """``eps = T'(noisy) / T'(quiet) = 1 + sigma sqrt(3) (2 U - 1)`` (ODD 7.3).

    ``U`` is drawn at counter ``t stride + i P D + j D + d`` (ODD 7.6).
    """
    block = rule_block(np.random.default_rng(seed))
    block["noise"] = np.where(block["noise"] > 0.0, block["noise"], 0.3)  # noise in every lane
    counter = _step_counter(block)
    for i in range(block["ties"].shape[0]):
        noisy = compiled_new_ties(block, i, counter)[i]
        quiet = compiled_new_ties(_quiet(block), i, counter)[i]
        moved = quiet > 0.0
        eps = reference_tie_noise(block, i, counter)
        _close(noisy[moved] / quiet[moved], eps[moved], f"eps of state {i}")
        _close(noisy, reference_new_ties(block, i, counter), f"ties of state {i}")


# --------------------------------------------------------------------------------------------
# shares and memory (ODD 7.4)


def _compiled_shares(ties):
    shares = np.full_like(ties, np.nan)
    partner_shares_into(ties, shares, _scratch(ties.shape[-1]))
    return shares


@pytest.mark.parametrize("seed", SEEDS)
def test_shares_are_ties_over_their_sum_and_uniform_without_ties(seed):
    ties = rule_block(np.random.default_rng(seed), n_states=3, n_powers=4, n_dims=2)["ties"]
    ties[0, :, 0, 0] = 0.0  # no ties at all
    ties[1, :, 1, 1] = [1e-310, 0.0, 3e-310, 0.0]  # subnormal ties, sum < 2.2e-308: none
    ties[2, :, 0, 2] = [TINY, 0.0, 0.0, 0.0]  # a sum of exactly the smallest normal: shares
    expected = reference_shares(ties)
    shares = _compiled_shares(ties)
    _close(shares, expected, "shares")
    np.testing.assert_array_equal(shares[0, :, 0, 0], 0.25)
    np.testing.assert_array_equal(shares[1, :, 1, 1], 0.25)
    np.testing.assert_array_equal(shares[2, :, 0, 2], [1.0, 0.0, 0.0, 0.0])


@BLOCKS
@given(block=rule_blocks())
def test_shares_equal_the_reference_for_any_block(block):
    _close(_compiled_shares(block["ties"]), reference_shares(block["ties"]), "shares")


@pytest.mark.parametrize("seed", SEEDS)
def test_memory_moves_one_over_tau_m_toward_the_shares(seed):
    block = rule_block(np.random.default_rng(seed))
    memory = block["memory"].copy()
    remember_shares(memory, block["shares"], block["rivalry_memory"], _scratch(memory.shape[-1]))
    expected = reference_memory(block["memory"], block["shares"], block["rivalry_memory"])
    _close(memory, expected, "memory")
    # tau_m = 1 (lane 3): the memory is the current shares
    _close(memory[..., 3], block["shares"][..., 3], "memory with tau_m = 1")


# --------------------------------------------------------------------------------------------
# regional ties (ODD 7.5)


def _compiled_regional(block, first_counter):
    new = np.full_like(block["regional"], np.nan)
    advance_regional(
        block["regional"],
        block["regional_target"],
        block["regional_adjustment_rate"],
        block["regional_noise"],
        block["keys"],
        np.int64(first_counter),
        new,
    )
    return new


@pytest.mark.parametrize("seed", SEEDS)
def test_regional_ties_equal_the_reference_and_clip_to_the_unit_interval(seed):
    block = rule_block(np.random.default_rng(seed), n_states=4, n_lanes=6)
    first_counter = _step_counter(block) + 4 * 4 * 2  # t stride + S P D
    new = _compiled_regional(block, first_counter)
    expected = reference_regional(
        block["regional"],
        block["regional_target"],
        block["regional_adjustment_rate"],
        block["regional_noise"],
        block["keys"],
        first_counter,
    )
    _close(new, expected, "regional ties")
    # the data reach both bounds, so the clip is exercised (lane 3: ties at 0 and 1, sd 0.2)
    assert (expected == 0.0).sum() > 4 * 6 and (expected == 1.0).any()
    np.testing.assert_array_equal(new, np.swapaxes(new, 0, 1))


def test_regional_ties_without_noise_by_hand():
    """R' = (1 - 0.25) 0.4 + 0.25 0.8 = 0.5; with lambda_r = 0 and no noise R' = R."""
    regional = np.array([[0.0, 0.4], [0.4, 0.0]])[..., None] * np.ones(2)
    target = np.array([[0.0, 0.8], [0.8, 0.0]])[..., None] * np.ones(2)
    block = {
        "regional": regional,
        "regional_target": target,
        "regional_adjustment_rate": np.array([0.25, 0.0]),
        "regional_noise": np.zeros(2),
        "keys": np.array([1, 2], dtype=np.uint64),
    }
    new = _compiled_regional(block, 17)
    _close(new[..., 0], [[0.0, 0.5], [0.5, 0.0]], "lambda_r = 0.25")
    _close(new[..., 1], regional[..., 1], "lambda_r = 0")


# --------------------------------------------------------------------------------------------
# the end of a month (ODD §3 steps 4-5)


@pytest.mark.parametrize("seed", SEEDS)
def test_commit_month_equals_the_reference(seed):
    block = rule_block(np.random.default_rng(seed))
    n_states, _, _, n_lanes = _sizes(block)
    counter = _step_counter(block)
    new_ties = np.stack([reference_new_ties(block, i, counter) for i in range(n_states)])
    ties, shares, memory, regional = (
        block[name].copy() for name in ("ties", "shares", "memory", "regional")
    )
    commit_month(
        ties,
        shares,
        memory,
        regional,
        new_ties.copy(),
        np.full_like(regional, np.nan),
        _scratch(n_lanes),
        block["regional_target"],
        block["rivalry_memory"],
        block["regional_adjustment_rate"],
        block["regional_noise"],
        block["keys"],
        np.int64(counter),
    )
    expected = reference_commit(block, new_ties, counter)
    for name, a, e in zip(
        ("ties", "shares", "memory", "regional"),
        (ties, shares, memory, regional),
        expected,
        strict=True,
    ):
        _close(a, e, name)
