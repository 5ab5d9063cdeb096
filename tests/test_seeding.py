"""model/seeding.py: replicate seeds and noise keys equal numpy's, seed by seed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from model.model import MultivectorModel, noise_key_from
from model.seeding import noise_keys, spawned_seeds

UINT64 = st.integers(0, 2**64 - 1)


def _numpy_keys(seeds):
    return [noise_key_from(np.random.default_rng(int(s))) for s in seeds]


def _numpy_spawned(batch_seed, n_runs, first=0):
    return [
        np.random.SeedSequence(batch_seed, spawn_key=(k,)).generate_state(1, np.uint64)[0]
        for k in range(first, first + n_runs)
    ]


@settings(max_examples=50, deadline=None)
@given(seeds=st.lists(UINT64, min_size=1, max_size=50))
@example(seeds=[0, 1, 2**32 - 1, 2**32, 2**64 - 1])
def test_noise_keys_equal_numpy(seeds):
    assert noise_keys(np.array(seeds, dtype=np.uint64)).tolist() == _numpy_keys(seeds)
    assert noise_keys(seeds).tolist() == _numpy_keys(seeds)  # Python ints


def test_noise_keys_equal_the_mesa_models_key():
    for seed in (0, 7, 2**40 + 3):
        assert (
            noise_keys([seed])[0] == MultivectorModel("scenarios/baseline.toml", rng=seed).noise_key
        )


def test_noise_keys_of_seeds_beyond_uint64_go_through_numpy():
    assert noise_keys([2**70, 5]).tolist() == _numpy_keys([2**70, 5])
    with pytest.raises(ValueError):
        noise_keys([-1])


@settings(max_examples=40, deadline=None)
@given(
    batch_seed=st.one_of(UINT64, st.integers(2**64, 2**200)),
    n_runs=st.integers(0, 20),
    first=st.one_of(
        st.integers(0, 100), st.integers(2**32 - 10, 2**33), st.integers(2**63 - 10, 2**64 - 21)
    ),
)
@example(batch_seed=20211231, n_runs=3, first=0)
@example(batch_seed=0, n_runs=2, first=2**32 - 1)
def test_spawned_seeds_equal_numpy(batch_seed, n_runs, first):
    assert spawned_seeds(batch_seed, n_runs, first).tolist() == _numpy_spawned(
        batch_seed, n_runs, first
    )


def test_spawned_seeds_refuse_a_negative_batch_seed_as_numpy_does():
    with pytest.raises(ValueError):
        spawned_seeds(-3, 2)


@pytest.mark.parametrize("bad", [1.7, 2.0, "7", None])
def test_seeds_that_are_not_integers_are_refused_as_numpy_does(bad):
    with pytest.raises(TypeError):
        np.random.SeedSequence(bad) if bad is not None else np.random.SeedSequence([bad])
    with pytest.raises(TypeError):
        spawned_seeds(bad, 2)
    with pytest.raises(TypeError):
        noise_keys([bad])
    if bad is not None:
        with pytest.raises(TypeError):
            noise_keys(np.array([bad]))
