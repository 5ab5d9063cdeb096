"""Mesa agents: external powers and Central Asian states.

Agents are thin: each ``step`` is one named action that calls a pure rule of
:mod:`model.rules` on the agent's own rows of the model's arrays. Updates are synchronous — every
agent reads the arrays of the current month and writes its own slice of the next — so the
activation order does not matter and the Mesa model equals :func:`model.rules.advance_run`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from model.rules import offer_row, state_ties_row

if TYPE_CHECKING:
    from model.model import MultivectorModel
    from model.scenario import Power, State


class PowerAgent(mesa.Agent):
    """An external power (its id and name come from the scenario). It makes offers."""

    def __init__(self, model: MultivectorModel, index: int, power: Power):
        super().__init__(model)
        self.index = index
        self.power_id = power.id
        self.name = power.name

    def make_offers(self) -> None:
        """Offer ties to every state on every dimension (mechanism 1, :func:`offer_row`)."""
        m, c, j = self.model, self.model.compiled, self.index
        offer_row(
            c.base_offer[m.epoch, :, j, :],
            c.log_base_offer[m.epoch, :, j, :],
            c.rivalry_response[m.epoch, j],
            m.shares[:, j, :],
            m.memory[:, j, :],
            m.offers[:, j, :],
            m.log_offers[:, j, :],
        )

    def step(self) -> None:
        self.make_offers()

    @property
    def shares(self):
        """This power's share of each state's ties, (S, D)."""
        return self.model.shares[:, self.index, :]


class StateAgent(mesa.Agent):
    """A Central Asian state. It weighs offers and rebalances its ties (mechanisms 2-4)."""

    def __init__(self, model: MultivectorModel, index: int, state: State):
        super().__init__(model)
        self.index = index
        self.state_id = state.id
        self.name = state.name

    def choose_ties(self) -> None:
        """Move ties toward the target allocation (:func:`state_ties_row`)."""
        m, c, i, e = self.model, self.model.compiled, self.index, self.model.epoch
        n_powers, n_dims = m.ties.shape[1:]
        state_ties_row(
            m.ties[i],
            m.shares[i],
            m.offers[i],
            m.log_offers[i],
            c.attraction[e, i],
            c.membership[e, i],
            c.floor[e, i],
            c.need[e, i],
            c.balancing_propensity[e, i],
            c.adjustment_rate[e, i],
            c.temperature,
            c.lockin_bonus,
            c.noise,
            m.noise_key,
            m.noise_counter + i * n_powers * n_dims,
            m.new_ties[i],
        )

    def step(self) -> None:
        self.choose_ties()

    @property
    def ties(self):
        """This state's ties, (P, D)."""
        return self.model.ties[self.index]

    @property
    def shares(self):
        """This state's partner shares, (P, D)."""
        return self.model.shares[self.index]
