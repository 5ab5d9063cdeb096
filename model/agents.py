"""Mesa agents: external powers and Central Asian states.

Agents are thin: each ``step`` is one named action that calls a pure rule of
:mod:`model.rules` on the agent's own rows of the model's arrays (as a block of one run: the
views in ``model.lanes`` and ``model.parameters`` carry a trailing run axis of length 1). Updates
are synchronous — every agent reads the arrays of the current month and writes its own slice of
the next — so the activation order does not matter and the Mesa model equals
:func:`model.rules.advance_runs`.
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
        lanes, p = self.model.lanes, self.model.parameters
        offer_row(
            self.index,
            p.base_offer,
            p.log_base_offer,
            p.rivalry_response,
            lanes.shares,
            lanes.memory,
            lanes.offers,
            lanes.log_offers,
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
        m = self.model
        lanes, p = m.lanes, m.parameters
        state_ties_row(
            self.index,
            lanes.ties,
            lanes.shares,
            lanes.offers,
            lanes.log_offers,
            p.attraction,
            p.membership,
            p.floor,
            p.need,
            p.balancing_propensity,
            p.leverage,
            p.adjustment_rate,
            p.temperature,
            p.lockin_bonus,
            p.noise,
            lanes.keys,
            m.noise_counter,
            lanes.new_ties,
            lanes.scratch,
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
