"""Approximate Bayesian computation by sequential Monte Carlo (ABC-SMC), evaluated in blocks.

The calibration's posterior (:func:`experiments.calibration.calibrate_posterior`) comes from
this sampler: the population Monte Carlo ABC of Beaumont, Cornuet, Marin & Robert (2009,
*Biometrika* 96(4):983-990) with the adaptive thresholds of Del Moral, Doucet & Jasra (2012,
*Statistics and Computing* 22:1009-1020) as pyabc implements them by default (each threshold
the weighted median of the previous generation's distances; Klinger, Rickert & Hasenauer 2018,
*Bioinformatics* 34(20):3591-3593).

Why not pyabc itself: its samplers hand the model one parameter vector at a time
(``simulate_one``), while a particle of this model costs microseconds of simulation and
milliseconds of Python around it; the ensemble engine is only fast when hundreds of particles
run as one block of variants. This sampler proposes a block of particles, evaluates their
distances in one call and accepts in proposal order, so its result does not depend on the
block size's effect on timing, only on the seed. ``tests/test_abc.py`` checks it against the
analytic posterior of a conjugate model and against pyabc on the same toy model.

The algorithm, for free parameters ``theta`` with independent uniform priors on boxes
``[low, high]``:

1. Parameters are moved to an unbounded space, ``z = logit((theta - low) / (high - low))``,
   whose prior density is ``p(z) = prod_k u_k (1 - u_k)`` with ``u = (theta - low) / (high -
   low)``. Perturbations there never leave the prior's support, so no proposal is wasted and
   the importance weights need no truncation correction.
2. Generation 0: ``N`` draws from the prior, all accepted, equal weights.
3. Generation ``t``: threshold ``eps_t`` = weighted quantile ``alpha`` of generation ``t-1``'s
   distances. Proposals: a particle ``j`` drawn with probability ``w_j``, moved by a Gaussian
   kernel ``K = N(0, 2 Sigma)`` with ``Sigma`` the weighted covariance of generation ``t-1`` in
   ``z`` (Beaumont et al. 2009). A proposal is accepted when its distance is at most ``eps_t``.
   Accepted particle ``i`` gets weight ``w_i ∝ p(z_i) / sum_j w_j K(z_i - z_j)``.
4. Stop after ``generations`` generations, or when a generation's acceptance rate falls below
   ``min_acceptance``: a generation that has not accepted ``N`` particles after ``N /
   min_acceptance`` proposals is abandoned and the previous one is the result.

Every random number comes from one :class:`numpy.random.Generator` seeded with ``seed``, and
each proposal gets its own simulation seed from it, so the result is a function of the seed and
the distance function alone.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logit, logsumexp
from tqdm import tqdm

__all__ = ["Generation", "Posterior", "abc_smc", "weighted_quantile"]


@dataclass(frozen=True)
class Generation:
    """One generation of the sampler: its threshold and what it cost."""

    epsilon: float
    evaluations: int
    acceptance: float
    ess: float
    median_distance: float
    abandoned: bool = False  # acceptance fell below min_acceptance; its particles were dropped


@dataclass(frozen=True)
class Posterior:
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
    min_acceptance: float = 0.02,
    block: int = 256,
    progress: bool = False,
    callback: Callable[[int, Generation], None] | None = None,
) -> Posterior:
    """Sample the ABC posterior of ``theta`` under independent uniform priors on ``[low, high]``.

    Parameters
    ----------
    distance : ``distance(theta, seeds) -> d``: for a (B, k) block of parameter vectors and
        (B,) simulation seeds (uint64), each particle's distance to the data (B,), >= 0; it
        must be a function of its arguments alone (the block's composition must not matter)
    keys, low, high : the parameters' names and their prior boxes, ``low < high``
    particles : population size ``N``
    generations : at most this many generations after the prior's (generation 0)
    seed : the seed of every random number the sampler draws
    alpha : the quantile of the previous distances that sets each threshold (pyabc: 0.5)
    min_acceptance : abandon a generation (and stop) when its acceptance rate falls below this
    block : proposals evaluated per call of ``distance`` (at least; more when acceptance is low)
    """
    low = np.asarray(low, dtype=float)
    high = np.asarray(high, dtype=float)
    k = len(keys)
    if low.shape != (k,) or high.shape != (k,) or not np.all(low < high):
        raise ValueError("low and high must be (k,) with low < high")
    rng = np.random.default_rng(seed)
    width = high - low

    def to_theta(z: np.ndarray) -> np.ndarray:
        return low + width * expit(z)

    def log_prior(z: np.ndarray) -> np.ndarray:
        u = expit(z)
        return np.sum(np.log(u) + np.log1p(-u), axis=1)

    def simulation_seeds(n: int) -> np.ndarray:
        return rng.integers(0, 2**63, size=n, dtype=np.uint64)

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
        # generation 0: the prior
        u = rng.random((particles, k))
        z = logit(np.clip(u, 1e-12, 1 - 1e-12))
        d = np.asarray(distance(to_theta(z), simulation_seeds(particles)), dtype=float)
        w = np.full(particles, 1.0 / particles)
        history.append(Generation(math.inf, particles, 1.0, float(particles), float(np.median(d))))
        bar.update()
        if callback is not None:
            callback(0, history[-1])
        for t in range(1, generations + 1):
            epsilon = float(weighted_quantile(d, w, alpha)[0])
            covariance = 2.0 * np.atleast_2d(np.cov(z, rowvar=False, aweights=w))
            covariance += 1e-12 * np.eye(k)
            chol = np.linalg.cholesky(covariance)
            accepted_z: list[np.ndarray] = []
            accepted_d: list[np.ndarray] = []
            n_accepted = evaluations = 0
            limit = math.ceil(particles / min_acceptance)
            size = min(block, limit)
            while n_accepted < particles and evaluations < limit:
                parents = rng.choice(particles, size=size, p=w)
                proposal = z[parents] + rng.standard_normal((size, k)) @ chol.T
                dist = np.asarray(distance(to_theta(proposal), simulation_seeds(size)), float)
                evaluations += size
                keep = dist <= epsilon
                accepted_z.append(proposal[keep])
                accepted_d.append(dist[keep])
                n_accepted += int(keep.sum())
                rate = max(n_accepted / evaluations, 1.0 / evaluations)
                size = max(block, math.ceil(1.1 * (particles - n_accepted) / rate))
                size = min(size, 64 * block, limit - evaluations)
            if n_accepted < particles:  # acceptance below min_acceptance: keep generation t-1
                history.append(
                    Generation(epsilon, evaluations, n_accepted / evaluations, 0, math.nan, True)
                )
                break
            new_z = np.concatenate(accepted_z)[:particles]
            new_d = np.concatenate(accepted_d)[:particles]
            # w_i ∝ p(z_i) / sum_j w_j K(z_i - z_j), in logs
            solved = np.linalg.solve(chol, (new_z[:, None, :] - z[None, :, :]).reshape(-1, k).T)
            log_kernel = -0.5 * np.sum(solved**2, axis=0).reshape(particles, particles)
            log_w = log_prior(new_z) - logsumexp(log_kernel, b=w[None, :], axis=1)
            new_w = np.exp(log_w - logsumexp(log_w))
            z, d, w = new_z, new_d, new_w / new_w.sum()
            acceptance = n_accepted / evaluations
            generation = Generation(
                epsilon,
                evaluations,
                acceptance,
                float(1.0 / np.sum(w**2)),
                float(weighted_quantile(d, w, 0.5)[0]),
            )
            history.append(generation)
            bar.update()
            bar.set_postfix(eps=f"{epsilon:.4f}", acc=f"{acceptance:.2f}")
            if callback is not None:
                callback(t, generation)
    finally:
        bar.close()
    return Posterior(tuple(keys), to_theta(z), w, d, tuple(history))
