"""The Mesa model of multi-vector foreign policy in Central Asia."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import mesa
import numpy as np

from model.agents import PowerAgent, StateAgent
from model.metrics import alignment_shares, largest_share
from model.rules import SCRATCH_ROWS, commit_month, noise_stride, partner_shares_into
from model.scenario import CompiledScenario, Scenario, load_scenario, month_label

__all__ = ["MultivectorModel", "noise_key_from"]


def noise_key_from(rng: np.random.Generator) -> np.uint64:
    """The run's noise key: the first draw of its generator (all randomness comes from it)."""
    return rng.integers(0, 2**64 - 1, dtype=np.uint64, endpoint=True)


class MultivectorModel(mesa.Model):
    """Five states balance ties with external powers, month by month.

    Parameters
    ----------
    scenario : Scenario or path
        A loaded scenario, or the path of a scenario file.
    rng : int, SeedSequence, Generator or None
        Seeds Mesa's ``self.rng``; the run's only source of randomness.
    overrides : mapping, optional
        Key-path overrides applied to the scenario (validated), as ``--set`` does. Lets
        ``mesa.batch_run`` sweep parameters: pass ``overrides=[{...}, {...}]``.

    Notes
    -----
    Mesa 3.5 reserves ``Model.scenario`` for its own experimental type, so the validated
    scenario lives in :attr:`config`. Each step (one month) runs, in this order: the event-dated
    parameters for the month are selected; every power makes offers; every state chooses its
    new ties; ties, shares and remembered shares are committed; regional ties advance; the month
    is recorded.

    The rules advance blocks of runs, with the runs on the last axis; the model is a block of
    one. :attr:`lanes` holds views of the model's arrays (``ties``, ``shares``, ``memory``,
    ``offers``, ``log_offers``, ``new_ties``, ``regional``, ``new_regional``) with that axis
    of length 1, plus the noise key and a work array; :attr:`parameters` the current epoch's
    parameters and the run's settings in the same layout.
    """

    def __init__(
        self,
        scenario: Scenario | str | Path,
        *,
        rng: Any = None,
        overrides: Mapping[str, Any] | None = None,
    ):
        # The noise key is the first draw of the run's generator, whatever kind of seed was
        # given (Mesa itself draws from a non-integer rng first, which would shift it).
        generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        key = noise_key_from(generator)
        super().__init__(rng=rng if isinstance(rng, int | np.integer) else generator)
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario, overrides or {})
        elif overrides:
            scenario = scenario.with_overrides(overrides)
        self.config: Scenario = scenario
        self.compiled = c = scenario.compiled

        n_states, n_powers, n_dims = c.initial_ties.shape
        self.ties = c.initial_ties.copy()
        self.shares = np.empty_like(self.ties)
        self.memory = np.empty_like(self.ties)
        self.offers = np.empty_like(self.ties)
        self.log_offers = np.empty_like(self.ties)
        self.new_ties = np.empty_like(self.ties)
        self.regional = c.initial_regional.copy()
        self.new_regional = np.empty_like(self.regional)
        self.lanes = SimpleNamespace(
            **{
                name: getattr(self, name)[..., np.newaxis]
                for name in (
                    "ties",
                    "shares",
                    "memory",
                    "offers",
                    "log_offers",
                    "new_ties",
                    "regional",
                    "new_regional",
                )
            },
            keys=np.array([key], dtype=np.uint64),
            scratch=np.empty((SCRATCH_ROWS, 1)),
        )
        partner_shares_into(self.lanes.ties, self.lanes.shares, self.lanes.scratch)
        self.memory[:] = self.shares
        self.month_step = 0
        self.epoch = int(c.epoch_of_step[0])
        self.parameters = _parameters(c, self.epoch)
        self.noise_counter = np.int64(0)
        self._stride = noise_stride(n_states, n_powers, n_dims)

        for j, power in enumerate(scenario.powers):
            PowerAgent(self, j, power)
        for i, state in enumerate(scenario.states):
            StateAgent(self, i, state)

        n_steps = scenario.n_steps
        self.ties_history = np.empty((n_steps + 1, n_states, n_powers, n_dims))
        self.regional_history = np.empty((n_steps + 1, n_states, n_states))
        reporters = {"date": lambda m: m.date}
        for i, s in enumerate(scenario.state_ids):
            reporters[f"dependence_{s}"] = lambda m, i=i: float(m.dependence()[i])
        self.datacollector = mesa.DataCollector(model_reporters=reporters)
        self._record()

    @property
    def noise_key(self) -> np.uint64:
        """The run's noise key (read-only: the rules read it from ``lanes.keys``)."""
        return self.lanes.keys[0]

    @property
    def date(self) -> str:
        """The current month, ``YYYY-MM``."""
        return month_label(self.config.start + self.month_step)

    def dependence(self) -> np.ndarray:
        """Each state's largest partner share of its dimension-weighted ties, (S,)."""
        return largest_share(alignment_shares(self.shares, self.compiled.dimension_weight))

    def step(self) -> None:
        """Advance one month."""
        c = self.compiled
        epoch = int(c.epoch_of_step[self.month_step])
        if epoch != self.epoch:
            self.epoch = epoch
            self.parameters = _parameters(c, epoch)
        self.noise_counter = np.int64(self.month_step) * self._stride
        self.agents_by_type[PowerAgent].do("make_offers")
        self.agents_by_type[StateAgent].do("choose_ties")
        lanes, p = self.lanes, self.parameters
        commit_month(
            lanes.ties,
            lanes.shares,
            lanes.memory,
            lanes.regional,
            lanes.new_ties,
            lanes.new_regional,
            lanes.scratch,
            p.regional_target,
            p.rivalry_memory,
            p.regional_adjustment_rate,
            p.regional_noise,
            lanes.keys,
            self.noise_counter,
        )
        self.month_step += 1
        self._record()
        if self.month_step >= self.config.n_steps:
            self.running = False

    def run(self) -> MultivectorModel:
        """Step to the end of the scenario's horizon; returns self."""
        while self.running:
            self.step()
        return self

    def _record(self) -> None:
        self.ties_history[self.month_step] = self.ties
        self.regional_history[self.month_step] = self.regional
        self.datacollector.collect(self)


def _parameters(compiled: CompiledScenario, epoch: int) -> SimpleNamespace:
    """Epoch ``epoch``'s parameters and the run's settings, as blocks of one run for the rules.

    Views of the compiled arrays with a trailing run axis of length 1 (settings as 1-element
    arrays), named as the arguments of :func:`model.rules.advance_runs`.
    """
    epoch_arrays = {
        name: getattr(compiled, name)[epoch][..., np.newaxis]
        for name in CompiledScenario.EPOCH_ARRAYS
    }
    settings = {
        name: np.array([getattr(compiled, name)], dtype=float)
        for name in CompiledScenario.RUN_SETTINGS
    }
    return SimpleNamespace(**epoch_arrays, **settings)
