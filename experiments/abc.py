"""Approximate Bayesian computation by sequential Monte Carlo (ABC-SMC), evaluated in blocks.

The calibration's posterior (:func:`experiments.calibration.calibrate_posterior`) comes from
this sampler: the adaptive ABC-SMC of Del Moral, Doucet & Jasra (2012, *Statistics and
Computing* 22:1009-1020), with one simulation per particle and a random-walk Metropolis-Hastings
move whose covariance is the population's scaled by ``2.38^2 / k`` for ``k`` parameters, the
optimal scale of a random-walk Metropolis step (Roberts, Gelman & Gilks 1997, *Annals of
Applied Probability* 7(1):110-120).

Why not pyabc itself: its samplers hand the model one parameter vector at a time
(``simulate_one``), while a particle of this model costs microseconds of simulation and
milliseconds of Python around it; the ensemble engine is only fast when hundreds of particles
run as one block of variants. Here every generation's moves are one block: all ``N`` proposals
are evaluated in one call. And unlike pyabc's population Monte Carlo, whose importance weights
divide by a kernel density of the previous population (which degenerates with a dozen or more
parameters and a few hundred particles: a trial with 13 parameters and 128 particles fell to
an effective sample size of 3), the weights here are 0 or 1, so the effective sample size is
set by the threshold schedule. ``tests/test_abc.py`` checks the sampler against the analytic
posterior of a conjugate model and against pyabc on the same toy model.

The algorithm, for free parameters ``theta`` with independent uniform priors on boxes
``[low, high]``:

1. Parameters are moved to an unbounded space, ``z = logit((theta - low) / (high - low))``,
   whose prior density is ``p(z) = prod_k u_k (1 - u_k)`` with ``u = (theta - low) / (high -
   low)``. Moves there never leave the prior's support.
2. Generation 0: ``N`` draws from the prior, each simulated once; its distance ``d_i``.
3. Generation ``t``: the threshold ``eps_t`` is the ``alpha`` quantile of the current distances
   (so about ``alpha N`` particles survive); the particles with ``d_i <= eps_t`` are resampled
   to ``N`` (multinomial, equal weights); then each particle makes Metropolis-Hastings steps
   (as many as give it a 95% chance of moving, at most ``max_moves``) targeting
   ``p(z) 1{d <= eps_t}``: proposal ``z' = z + N(0, 2.38^2 Sigma / k)`` with ``Sigma`` the
   covariance of the resampled population, one new simulation ``d'``, accepted when
   ``d' <= eps_t`` and ``U < p(z') / p(z)``. The pair ``(z, d)`` then targets the ABC posterior at
   ``eps_t`` (Del Moral et al. 2012, section 3).
4. **Noise floor.** With a stochastic model and a distance that is a loss rather than a
   likelihood, the threshold can fall below the distance that the true parameter itself
   typically has from data it generated: the schedule then keeps the parameters that clear
   the data by the widest margin or with the luckiest seeds, not those that could have made
   them, and the posterior narrows away from the truth (a recovery study sees its intervals
   miss the truth too often). With ``self_distance``, before each generation ``floor_sample``
   survivors under the proposed ``eps_t`` (drawn at random) each make data of their own with
   fresh seeds and are scored against them with other fresh seeds; the median of these
   **self-distances** is the noise floor. When ``eps_t`` is below it, ``eps_t`` is raised to it,
   that generation runs at the floor, and the schedule stops after it: at the floor the truth,
   if near the population, survives about half its evaluations, like the population itself.
5. Stop after ``generations`` generations, after a generation at the noise floor, or after a
   generation whose first moves are accepted less often than ``min_acceptance`` (the particles
   no longer mix).

Every random number comes from one :class:`numpy.random.Generator` seeded with ``seed``, and
each simulation gets its own seed from it, so the result is a function of the seed and the
distance function alone, whatever the block size or the number of threads.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from tqdm import tqdm

__all__ = ["Generation", "Population", "abc_smc", "weighted_quantile"]


@dataclass(frozen=True)
class Generation:
    """One generation of the sampler: its threshold and what it cost."""

    epsilon: float
    evaluations: int
    acceptance: float  # share of Metropolis-Hastings moves accepted (1 for the prior's)
    distinct: float  # distinct particles after the moves (resampling duplicates some)
    median_distance: float
    floor: float = math.nan  # the noise floor: median self-distance of sampled survivors
    at_floor: bool = False  # the threshold was raised to the noise floor (the last generation)


@dataclass(frozen=True)
class Population:
    """Weighted particles of the last generation.

    Attributes
    ----------
    keys : the free parameters' key paths
    particles : (N, k) parameter values
    weights : (N,) normalised importance weights (sum 1)
    distances : (N,) each particle's distance
    generations : the sampler's history
    """

    keys: tuple[str, ...]
    particles: np.ndarray
    weights: np.ndarray
    distances: np.ndarray
    generations: tuple[Generation, ...]

    @property
    def evaluations(self) -> int:
        """Distance evaluations (simulated particles) over all generations."""
        return sum(g.evaluations for g in self.generations)

    @property
    def ess(self) -> float:
        """Effective sample size of the weights, ``1 / sum w_i^2``."""
        return float(1.0 / np.sum(self.weights**2))

    def table(self) -> pd.DataFrame:
        """One row per particle: the parameters, ``weight`` and ``distance``."""
        frame = pd.DataFrame(self.particles, columns=list(self.keys))
        frame["weight"] = self.weights
        frame["distance"] = self.distances
        return frame.rename_axis("particle")

    def quantiles(self, q) -> pd.DataFrame:
        """Weighted quantiles ``q`` of each parameter's marginal: (len(q), k)."""
        q = np.atleast_1d(q)
        return pd.DataFrame(
            {
                key: weighted_quantile(self.particles[:, k], self.weights, q)
                for k, key in enumerate(self.keys)
            },
            index=pd.Index(q, name="quantile"),
        )


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q) -> np.ndarray:
    """Quantiles of a weighted sample: the inverse of its step distribution function.

    ``Q(q) = min { x_(i) : sum_{j <= i} w_(j) >= q sum w }`` over the values sorted ascending
    (the "inverted CDF" method of numpy's unweighted quantiles; Hyndman & Fan 1996, def. 1).
    """
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    cumulative /= cumulative[-1]
    index = np.searchsorted(cumulative, np.atleast_1d(q), side="left")
    return values[order][np.minimum(index, len(values) - 1)]


def abc_smc(
    distance: Callable[[np.ndarray, np.ndarray], np.ndarray],
    keys: tuple[str, ...] | list[str],
    low: np.ndarray,
    high: np.ndarray,
    *,
    particles: int = 400,
    generations: int = 8,
    seed: int = 0,
    alpha: float = 0.5,
    max_moves: int = 10,
    min_acceptance: float = 0.05,
    self_distance: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    floor_sample: int = 20,
    progress: bool = False,
    callback: Callable[[int, Generation], None] | None = None,
) -> Population:
    """Sample the ABC posterior of ``theta`` under independent uniform priors on ``[low, high]``.

    Parameters
    ----------
    distance : ``distance(theta, seeds) -> d``: for a (B, k) block of parameter vectors and
        (B,) simulation seeds (uint64), each particle's distance to the data (B,), >= 0; it
        must be a function of each row and its seed alone (the block's composition must not
        matter)
    keys, low, high : the parameters' names and their prior boxes, ``low < high``
    particles : population size ``N``
    generations : at most this many generations after the prior's (generation 0)
    seed : the seed of every random number the sampler draws
    alpha : the share of particles each threshold keeps (the threshold's quantile)
    max_moves : at most this many Metropolis-Hastings steps per particle and generation; the
        number is set from the first step's acceptance rate ``a`` so that a particle has moved
        at least once with probability 0.95, ``ceil(log 0.05 / log(1 - a))`` (Drovandi &
        Pettitt 2011, *Biometrics* 67(1):225-233)
    min_acceptance : stop after a generation whose first moves are accepted less often than
        this (the particles no longer mix: more generations would mostly copy them)
    self_distance : ``self_distance(theta, seeds) -> d``, or None for no noise floor: for each
        row of ``theta``, the distance from data the row generates with its seed to the row's
        own simulation with other seeds drawn from the same seed (step 4 above)
    floor_sample : survivors whose self-distance is measured per generation (step 4)
    """
    low = np.asarray(low, dtype=float)
    high = np.asarray(high, dtype=float)
    k = len(keys)
    if low.shape != (k,) or high.shape != (k,) or not np.all(low < high):
        raise ValueError("low and high must be (k,) with low < high")
    if floor_sample < 1:
        raise ValueError(f"floor_sample must be at least 1, not {floor_sample}")
    rng = np.random.default_rng(seed)
    width = high - low

    def to_theta(z: np.ndarray) -> np.ndarray:
        return low + width * expit(z)

    def log_prior(z: np.ndarray) -> np.ndarray:
        u = expit(z)
        return np.sum(np.log(u) + np.log1p(-u), axis=1)

    def simulate(z: np.ndarray) -> np.ndarray:
        seeds = rng.integers(0, 2**63, size=len(z), dtype=np.uint64)
        return np.asarray(distance(to_theta(z), seeds), dtype=float)

    bar = tqdm(
        total=generations + 1,
        desc="abc-smc",
        unit="gen",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    history: list[Generation] = []
    try:
        u = rng.random((particles, k))
        z = logit(np.clip(u, 1e-12, 1 - 1e-12))
        d = simulate(z)
        history.append(Generation(math.inf, particles, 1.0, float(particles), float(np.median(d))))
        bar.update()
        if callback is not None:
            callback(0, history[-1])
        for t in range(1, generations + 1):
            epsilon = float(np.quantile(d, alpha, method="inverted_cdf"))
            alive = np.flatnonzero(d <= epsilon)
            floor, at_floor, sampled = math.nan, False, 0
            if self_distance is not None:
                sample = rng.choice(alive, size=min(floor_sample, len(alive)), replace=False)
                seeds = rng.integers(0, 2**63, size=len(sample), dtype=np.uint64)
                own = np.asarray(self_distance(to_theta(z[sample]), seeds), dtype=float)
                floor, sampled = float(np.median(own)), len(sample)
                if epsilon < floor:
                    epsilon, at_floor = floor, True
                    alive = np.flatnonzero(d <= epsilon)
            chosen = alive[rng.integers(0, len(alive), size=particles)]
            z, d = z[chosen], d[chosen]
            scale = 2.38**2 / k  # Roberts, Gelman & Gilks (1997): random-walk Metropolis
            covariance = scale * np.atleast_2d(np.cov(z, rowvar=False)) + 1e-12 * np.eye(k)
            chol = np.linalg.cholesky(covariance)
            accepted = steps = 0
            moves = 1
            while steps < moves:
                proposal = z + rng.standard_normal((particles, k)) @ chol.T
                log_ratio = log_prior(proposal) - log_prior(z)
                uniform = rng.random(particles)
                d_new = simulate(proposal)
                move = (d_new <= epsilon) & (np.log(uniform) < log_ratio)
                z = np.where(move[:, None], proposal, z)
                d = np.where(move, d_new, d)
                accepted += int(move.sum())
                steps += 1
                if steps == 1:
                    first = accepted / particles
                    if 0 < first < 1:
                        moves = min(max_moves, math.ceil(math.log(0.05) / math.log(1 - first)))
            acceptance = accepted / (steps * particles)
            generation = Generation(
                epsilon,
                steps * particles + sampled,
                acceptance,
                float(len(np.unique(z, axis=0))),
                float(np.median(d)),
                floor,
                at_floor,
            )
            history.append(generation)
            bar.update()
            bar.set_postfix(eps=f"{epsilon:.4f}", acc=f"{acceptance:.2f}")
            if callback is not None:
                callback(t, generation)
            if first < min_acceptance or at_floor:
                break
    finally:
        bar.close()
    return Population(
        tuple(keys), to_theta(z), np.full(particles, 1.0 / particles), d, tuple(history)
    )
