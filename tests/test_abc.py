"""The ABC-SMC sampler against known posteriors and against pyabc on the same toy model."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.abc import abc_smc, weighted_quantile

Y_OBSERVED = np.array([1.0, -0.5])
SIGMA = np.array([1.0, 0.5])


def _toy_distance(theta: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """One noisy observation per parameter, ``x_k ~ N(theta_k, sigma_k^2)``; scaled distance.

    Each particle's noise comes from its own seed, so a block's composition cannot matter.
    """
    noise = np.stack([np.random.default_rng(int(s)).standard_normal(2) for s in seeds])
    simulated = theta + SIGMA * noise
    return np.sqrt(np.sum(((simulated - Y_OBSERVED) / SIGMA) ** 2, axis=1))


def _moments(posterior) -> tuple[np.ndarray, np.ndarray]:
    w = posterior.weights
    mean = w @ posterior.particles
    sd = np.sqrt(w @ (posterior.particles - mean) ** 2)
    return mean, sd


@pytest.fixture(scope="module")
def toy_posterior():
    return abc_smc(
        _toy_distance, ["a", "b"], [-5.0, -5.0], [5.0, 5.0], particles=500, generations=8, seed=3
    )


def test_toy_posterior_matches_the_analytic_one(toy_posterior):
    """Flat prior, one Gaussian observation: the posterior is N(y_k, sigma_k^2) (the box is
    5 sigma wide on either side, so truncation is negligible). ABC with a threshold eps > 0
    widens it a little; the tolerances below allow for that and for Monte Carlo error."""
    mean, sd = _moments(toy_posterior)
    assert np.all(np.abs(mean - Y_OBSERVED) < 0.15 * SIGMA), mean
    assert np.all(sd > 0.8 * SIGMA) and np.all(sd < 1.3 * SIGMA), sd
    ninety = toy_posterior.quantiles([0.05, 0.95]).to_numpy()
    analytic = Y_OBSERVED + np.outer([-1.6449, 1.6449], SIGMA)
    assert np.all(np.abs(ninety - analytic) < 0.4 * SIGMA), ninety
    assert toy_posterior.generations[-1].epsilon < toy_posterior.generations[1].epsilon


def test_the_same_seed_gives_the_same_particles_whatever_the_block(toy_posterior):
    again = abc_smc(
        _toy_distance, ["a", "b"], [-5.0, -5.0], [5.0, 5.0], particles=500, generations=8, seed=3
    )
    np.testing.assert_array_equal(again.particles, toy_posterior.particles)
    np.testing.assert_array_equal(again.weights, toy_posterior.weights)
    other = abc_smc(
        _toy_distance, ["a", "b"], [-5.0, -5.0], [5.0, 5.0], particles=500, generations=2, seed=4
    )
    assert not np.array_equal(other.particles, toy_posterior.particles[: len(other.particles)])


def test_particles_stay_in_the_prior_box_and_weights_sum_to_one(toy_posterior):
    assert np.all(toy_posterior.particles > -5.0) and np.all(toy_posterior.particles < 5.0)
    assert np.isclose(toy_posterior.weights.sum(), 1.0)
    assert np.all(toy_posterior.weights >= 0)
    assert 1 <= toy_posterior.ess <= 500
    assert np.all(toy_posterior.distances <= toy_posterior.generations[-1].epsilon)


def test_it_stops_when_the_moves_no_longer_mix():
    calls = []

    def worse_after_the_prior(theta, seeds):
        calls.append(len(theta))
        return np.arange(len(theta), dtype=float) if len(calls) == 1 else np.full(len(theta), 99.0)

    posterior = abc_smc(
        worse_after_the_prior, ["a"], [0.0], [1.0], particles=20, generations=3, seed=1
    )
    assert len(posterior.generations) == 2  # the prior's and one whose moves all failed
    assert posterior.generations[-1].acceptance == 0.0
    assert calls == [20, 20]  # the prior's, then one failed move: no more moves, no more gens
    assert np.all(posterior.distances <= posterior.generations[-1].epsilon)
    assert posterior.generations[-1].epsilon == 9.0  # the median of 0..19, inverted CDF


def test_weighted_quantile_by_hand():
    values = np.array([3.0, 1.0, 2.0, 4.0])
    weights = np.array([0.1, 0.4, 0.2, 0.3])  # sorted: 1 (0.4), 2 (0.2), 3 (0.1), 4 (0.3)
    np.testing.assert_array_equal(
        weighted_quantile(values, weights, [0.0, 0.4, 0.41, 0.6, 0.7, 0.71, 1.0]),
        [1.0, 1.0, 2.0, 2.0, 3.0, 4.0, 4.0],
    )


def test_agrees_with_pyabc_on_the_toy_model(toy_posterior):
    """pyabc (Klinger et al. 2018) on the same model, prior and distance: the two posteriors'
    means agree within a quarter of the posterior's standard deviation (about 3.5 Monte Carlo
    standard errors of the difference at an effective sample size of about 450) and their
    standard deviations within 25%."""
    pyabc = pytest.importorskip("pyabc")
    import logging
    import tempfile
    from pathlib import Path

    logging.getLogger("ABC").setLevel(logging.WARNING)
    rng = np.random.default_rng(11)

    def model(parameters):
        theta = np.array([parameters["a"], parameters["b"]])
        return {"x": theta + SIGMA * rng.standard_normal(2)}

    def distance(x, y):
        return float(np.sqrt(np.sum(((x["x"] - y["x"]) / SIGMA) ** 2)))

    prior = pyabc.Distribution(a=pyabc.RV("uniform", -5, 10), b=pyabc.RV("uniform", -5, 10))
    abc = pyabc.ABCSMC(
        model,
        prior,
        distance,
        population_size=500,
        sampler=pyabc.sampler.SingleCoreSampler(),
    )
    np.random.seed(11)  # noqa: NPY002 (pyabc draws from numpy's global generator)
    with tempfile.TemporaryDirectory() as folder:
        abc.new("sqlite:///" + str(Path(folder) / "toy.db"), {"x": Y_OBSERVED})
        history = abc.run(
            minimum_epsilon=toy_posterior.generations[-1].epsilon, max_nr_populations=9
        )
        frame, weights = history.get_distribution()
    theirs = frame[["a", "b"]].to_numpy()
    their_mean = weights @ theirs
    their_sd = np.sqrt(weights @ (theirs - their_mean) ** 2)
    mean, sd = _moments(toy_posterior)
    assert np.all(np.abs(mean - their_mean) < 0.25 * SIGMA), (mean, their_mean)
    np.testing.assert_allclose(sd, their_sd, rtol=0.25)


def _toy_self_distance(theta: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The toy's distance from data a parameter makes (``x ~ N(theta, sigma^2)``) to its own
    simulation with another seed: ``|n1 - n2|`` for two standard normal vectors, whatever
    ``theta``; its median is ``sqrt(2)`` times the median of a chi with 2 degrees of freedom,
    ``sqrt(2 * 2 ln 2) = 1.665``."""
    out = []
    for s in seeds:
        rng = np.random.default_rng(int(s))
        out.append(np.sqrt(np.sum((rng.standard_normal(2) - rng.standard_normal(2)) ** 2)))
    return np.array(out)


def test_the_noise_floor_stops_the_schedule_at_the_median_self_distance():
    """Without a floor the toy's threshold falls to 0.5; with it, the schedule stops at the
    first generation whose proposed threshold is under the floor, which is the median of the
    sampled self-distances (analytic median 1.665; 40 samples: within 0.5 of it)."""
    posterior = abc_smc(
        _toy_distance,
        ["a", "b"],
        [-5.0, -5.0],
        [5.0, 5.0],
        particles=500,
        generations=12,
        seed=3,
        self_distance=_toy_self_distance,
        floor_sample=40,
    )
    last = posterior.generations[-1]
    assert last.at_floor and last.epsilon == last.floor
    assert abs(last.floor - 1.665) < 0.5, last
    assert not any(g.at_floor for g in posterior.generations[:-1])
    assert all(g.epsilon > g.floor for g in posterior.generations[1:-1])
    # at the floor the true parameter (the observation itself, under a flat prior) survives
    # about half its evaluations, and the posterior is no narrower than the exact one
    mean, sd = _moments(posterior)
    assert np.all(np.abs(mean - Y_OBSERVED) < 0.25 * SIGMA), mean
    assert np.all(sd > 0.9 * SIGMA), sd
    truth = np.tile(Y_OBSERVED, (400, 1))
    survives = _toy_distance(truth, np.arange(400, dtype=np.uint64)) <= last.epsilon
    assert 0.3 < survives.mean() < 0.8


def test_without_a_floor_nothing_is_sampled_and_no_generation_is_at_the_floor(toy_posterior):
    assert not any(g.at_floor for g in toy_posterior.generations)
    assert all(np.isnan(g.floor) for g in toy_posterior.generations)


def test_a_floor_sample_under_one_is_refused():
    with pytest.raises(ValueError, match="floor_sample"):
        abc_smc(_toy_distance, ["a"], [0.0], [1.0], particles=10, floor_sample=0)
