"""compile_scenario against values worked out by hand (docs/ODD.md §2.3, §6 and §7.1).

A small scenario is written below: three states (KAZ, TKM, UZB), three powers (RUS, CHN, USA),
three dimensions of which security and political are ``bloc`` dimensions, four institutions and
a few events. Every expected number in this file is computed by hand from the scenario text, and
the arithmetic is written next to it. Four institutions, not two: the 60% cap on floors binds only
when three powers' floors meet on one dimension (``phi <= 0.3``), and ``min(M, 1)`` matters only
when two institutions of one power cover the same dimension.

Epochs: start 2000-01, events in 2000-01 (folded into epoch 0), 2000-04, 2000-09 and 2000-12
(the end month), and a disabled one in 2000-06. ``n_steps`` = 11.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from model.scenario import CompiledScenario, load_scenario

SCENARIO = """
[scenario]
name = "compile-reference"
start = "2000-01"
end = "2000-12"

[dimensions.economic]
weight = 0.5
[dimensions.security]
weight = 0.3
bloc = true
[dimensions.political]
weight = 0.2
bloc = true

[powers.RUS]
interest = 0.5
rivalry_response = 2.0
capacity = { economic = 1.0, security = 3.0, political = 2.0 }

[powers.CHN]
interest = 1.0
rivalry_response = 1.0
capacity = { economic = 2.0, security = 0.5, political = 1.0 }
focus = { UZB = 0.5 }

[powers.USA]
interest = 0.4
rivalry_response = 1.5
conditionality = 0.6
capacity = { economic = 1.5, security = 1.0, political = 0.0 }

[institutions.CSTO]
power = "RUS"
dimensions = ["security", "political"]
[institutions.EAEU]
power = "RUS"
dimensions = ["economic", "political"]
[institutions.SCO]
power = "CHN"
dimensions = ["security", "political"]
[institutions.PFP]
power = "USA"
dimensions = ["security"]

[states.KAZ]
balancing_propensity = 1.0
adjustment_rate = 0.05
regime_sensitivity = 0.5
openness = 0.3
memberships = ["CSTO", "EAEU", "SCO", "PFP"]
needs = { economic = 1.0, security = 1.0, political = 1.0 }
affinity = { RUS = 0.4 }

[states.TKM]
balancing_propensity = 1.2
adjustment_rate = 0.03
regime_sensitivity = 1.0
neutrality = 0.4
openness = -0.5
memberships = ["EAEU", "SCO"]
needs = { economic = 1.0, security = 1.2, political = 0.8 }
affinity = { CHN = 0.2 }

[states.UZB]
balancing_propensity = 0.5
adjustment_rate = 0.06
regime_sensitivity = 1.5
neutrality = 0.5
openness = -1.0
memberships = ["CSTO", "EAEU", "SCO"]
needs = { economic = 1.0, security = 1.0, political = 1.0 }
affinity = { RUS = 0.1, USA = 0.2 }

[ties.KAZ]
RUS = { economic = 0.7, security = 0.9, political = 0.8 }
CHN = { economic = 0.1, security = 0.05, political = 0.1 }
[ties.TKM]
RUS = { economic = 0.8, security = 0.8, political = 0.7 }
USA = { economic = 0.05 }
[ties.UZB]
RUS = { economic = 0.7, security = 0.8, political = 0.8 }
USA = { economic = 0.1, security = 0.1, political = 0.1 }

[links.UZB.RUS]
economic = 2.0

[regional]
initial = 0.35
base = -0.5
adjustment_rate = 0.04
noise = 0.01
pairs = { "KAZ-UZB" = 0.4 }

[model]
temperature = 0.7
noise = 0.03
rivalry_memory = 24.0
lockin_bonus = 0.8
lockin_floor = 0.25

[alignment]
poles = { Russia = ["RUS"], China = ["CHN"], West = ["USA"] }
axes = [["Russia", "West"]]

[events.kaz_doctrine]
date = "2000-01"
source = "in the start month: folded into epoch 0"
changes = [ { key = "states.KAZ.balancing_propensity", mul = 2.0 } ]

[events.zeta_chn_investment]
date = "2000-04"
source = "written first, applied second: events of a month apply in id order"
changes = [ { key = "powers.CHN.interest", mul = 0.5 } ]

[events.alpha_chn_summit]
date = "2000-04"
source = "applied first in its month; its changes in list order"
changes = [
  { key = "powers.CHN.interest", add = 0.5 },
  { key = "powers.CHN.interest", mul = 2.0 },
  { key = "states.TKM.neutrality", set = 0.85 },
  { key = "states.KAZ.memberships", remove = "PFP" },
  { key = "powers.USA.conditionality", add = 0.3 },
]

[events.rus_surge_disabled]
date = "2000-06"
source = "disabled: no epoch, no change"
enabled = false
changes = [ { key = "powers.RUS.interest", mul = 10.0 } ]

[events.uzb_no_blocs]
date = "2000-09"
source = "the no-blocs rule"
changes = [
  { key = "states.UZB.no_blocs", set = true },
  { key = "regional.pairs.KAZ-UZB", add = -1.0 },
  { key = "regional.base", add = 0.2 },
  { key = "links.UZB.RUS.economic", mul = 1.5 },
]

[events.rus_end]
date = "2000-12"
source = "in the end month: compiled, never used"
changes = [ { key = "powers.RUS.interest", mul = 3.0 } ]
"""

KAZ, TKM, UZB = 0, 1, 2
RUS, CHN, USA = 0, 1, 2
ECONOMIC, SECURITY, POLITICAL = 0, 1, 2


def _close(actual, expected, what: str = "") -> None:
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=0.0, err_msg=what)


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> CompiledScenario:
    path = tmp_path_factory.mktemp("scenario") / "compile-reference.toml"
    path.write_text(SCENARIO)
    scenario = load_scenario(path)
    assert scenario.state_ids == ("KAZ", "TKM", "UZB")
    assert scenario.power_ids == ("RUS", "CHN", "USA")
    assert scenario.dimension_ids == ("economic", "security", "political")
    assert scenario.n_steps == 11
    return scenario.compiled


# --------------------------------------------------------------------------------------------
# epochs (ODD §3 "When events act", §6 "Compilation")


def test_epochs_start_at_the_event_months(compiled):
    # epochs: the start month plus each enabled event month in (start, end]:
    # 2000-01 -> step 0, 2000-04 -> step 3, 2000-09 -> step 8, 2000-12 -> step 11 (= n_steps);
    # the disabled 2000-06 event makes no epoch
    np.testing.assert_array_equal(compiled.epoch_start, [0, 3, 8, 11])
    # the transition out of month t uses epoch_of_step[t]: the 2000-04 event acts on step 3
    # (April -> May) on; the end-month epoch 3 is never selected
    np.testing.assert_array_equal(compiled.epoch_of_step, [0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2])
    assert compiled.base_offer.shape == (4, 3, 3, 3)


def test_an_event_in_the_start_month_folds_into_epoch_zero(compiled):
    # KAZ balancing propensity 1.0 x 2.0 (kaz_doctrine, 2000-01) = 2.0 from step 0
    _close(compiled.balancing_propensity[:, KAZ], [2.0, 2.0, 2.0, 2.0])
    _close(compiled.balancing_propensity[0], [2.0, 1.2, 0.5])


def test_leverage_left_out_is_one_for_every_power(compiled):
    # powers.<P>.leverage defaults to 1: the sovereignty cost is beta x HHI, as before issue 15
    np.testing.assert_array_equal(compiled.leverage, np.ones((4, 3)))


def test_changes_compose_in_id_order_within_a_month_and_list_order_within_an_event(compiled):
    # CHN interest 1.0; 2000-04: alpha_chn_summit first (id order, though written second):
    # (1.0 + 0.5) x 2.0 = 3.0, then zeta_chn_investment: 3.0 x 0.5 = 1.5.
    # (file order would give (0.5 + 0.5) x 2 = 2.0; reversed list order 1.25)
    # B[KAZ, CHN, economic] = capacity 2.0 x interest x focus 1 x link 1
    _close(compiled.base_offer[:, KAZ, CHN, ECONOMIC], [2.0, 2.0 * 1.5, 2.0 * 1.5, 2.0 * 1.5])
    # USA conditionality 0.6 + 0.3 = 0.9 from epoch 1: attraction of KAZ for USA
    # = 0 - 0.5 x 0.9 = -0.45
    _close(compiled.attraction[:, KAZ, USA], [-0.3, -0.45, -0.45, -0.45])


def test_the_disabled_event_changes_nothing(compiled):
    # RUS interest 0.5 until the end-month event: 0.5 x 3.0 = 1.5 (never 0.5 x 10)
    # B[KAZ, RUS, security] = capacity 3.0 x interest
    _close(compiled.base_offer[:, KAZ, RUS, SECURITY], [1.5, 1.5, 1.5, 4.5])


# --------------------------------------------------------------------------------------------
# base offers, attraction, pass-through parameters (ODD §2.3)


def test_base_offers_are_capacity_interest_focus_link(compiled):
    # B[i, j, d] = capacity[j, d] x interest[j] x focus[j, i] x link[i, j, d], epoch 0:
    # RUS (interest 0.5): capacity 1, 3, 2 -> 0.5, 1.5, 1.0; UZB economic link 2 -> 1.0
    # CHN (interest 1.0): capacity 2, 0.5, 1 -> 2, 0.5, 1; focus on UZB 0.5 -> 1, 0.25, 0.5
    # USA (interest 0.4): capacity 1.5, 1, 0 -> 0.6, 0.4, 0
    epoch_0 = [
        [[0.5, 1.5, 1.0], [2.0, 0.5, 1.0], [0.6, 0.4, 0.0]],  # KAZ
        [[0.5, 1.5, 1.0], [2.0, 0.5, 1.0], [0.6, 0.4, 0.0]],  # TKM
        [[1.0, 1.5, 1.0], [1.0, 0.25, 0.5], [0.6, 0.4, 0.0]],  # UZB
    ]
    _close(compiled.base_offer[0], epoch_0, "epoch 0")
    # epoch 1: CHN interest 1.5 -> 3, 0.75, 1.5 (UZB: x 0.5 -> 1.5, 0.375, 0.75)
    _close(compiled.base_offer[1, KAZ, CHN], [3.0, 0.75, 1.5])
    _close(compiled.base_offer[1, UZB, CHN], [1.5, 0.375, 0.75])
    # epoch 2: link UZB-RUS economic 2.0 x 1.5 = 3.0 -> 1.0 x 0.5 x 1 x 3.0 = 1.5
    _close(compiled.base_offer[2, UZB, RUS, ECONOMIC], 1.5)
    _close(compiled.base_offer[2, KAZ, RUS, ECONOMIC], 0.5)
    # epoch 3: RUS interest 1.5 -> 1.5, 4.5, 3.0; UZB economic 1.0 x 1.5 x 3.0 = 4.5
    _close(compiled.base_offer[3, KAZ, RUS], [1.5, 4.5, 3.0])
    _close(compiled.base_offer[3, UZB, RUS, ECONOMIC], 4.5)


def test_log_base_offer_is_floored_for_zero_offers(compiled):
    # log(max(B, 1e-300)): USA's political capacity is 0 -> log(1e-300) = -300 ln 10
    _close(compiled.log_base_offer[:, :, USA, POLITICAL], np.full((4, 3), -300 * math.log(10)))
    _close(compiled.log_base_offer[0, KAZ, RUS], [math.log(0.5), math.log(1.5), 0.0])


def test_attraction_is_affinity_minus_regime_sensitivity_times_conditionality(compiled):
    # a[i, j] = affinity[i, j] - regime_sensitivity[i] x conditionality[j]; conditionality
    # RUS 0, CHN 0, USA 0.6 (0.9 from epoch 1)
    epoch_0 = [
        [0.4, 0.0, 0.0 - 0.5 * 0.6],  # KAZ: rs 0.5 -> USA -0.3
        [0.0, 0.2, 0.0 - 1.0 * 0.6],  # TKM: rs 1.0 -> USA -0.6
        [0.1, 0.0, 0.2 - 1.5 * 0.6],  # UZB: rs 1.5 -> USA 0.2 - 0.9 = -0.7
    ]
    _close(compiled.attraction[0], epoch_0)
    epoch_1 = [[0.4, 0.0, -0.45], [0.0, 0.2, -0.9], [0.1, 0.0, 0.2 - 1.35]]
    _close(compiled.attraction[1], epoch_1)


def test_state_and_power_parameters_pass_through(compiled):
    _close(compiled.rivalry_response, np.tile([2.0, 1.0, 1.5], (4, 1)))
    _close(compiled.adjustment_rate, np.tile([0.05, 0.03, 0.06], (4, 1)))
    assert (compiled.temperature, compiled.noise, compiled.rivalry_memory) == (0.7, 0.03, 24.0)
    assert (compiled.lockin_bonus, compiled.regional_adjustment_rate) == (0.8, 0.04)
    assert compiled.regional_noise == 0.01
    _close(compiled.initial_regional, [[0.0, 0.35, 0.35], [0.35, 0.0, 0.35], [0.35, 0.35, 0.0]])
    _close(compiled.initial_ties[TKM, :, ECONOMIC], [0.8, 0.0, 0.05])


# --------------------------------------------------------------------------------------------
# neutrality, no-blocs, floors (ODD 7.1)


def test_memberships_count_each_institution_and_neutrality_scales_bloc_dimensions(compiled):
    # M[i, p, d] += 1 on a non-bloc dimension, (1 - nu) on a bloc dimension, per institution
    # KAZ (nu 0; CSTO sec+pol, EAEU econ+pol, SCO sec+pol, PFP sec):
    #   RUS: econ 1 (EAEU), sec 1 (CSTO), pol 1 + 1 = 2 (CSTO and EAEU); CHN: sec 1, pol 1;
    #   USA: sec 1
    # TKM (nu 0.4; EAEU, SCO): RUS econ 1 (not bloc: unscaled), pol 0.6; CHN sec 0.6, pol 0.6
    # UZB (nu 0.5; CSTO, EAEU, SCO): RUS econ 1, sec 0.5, pol 0.5 + 0.5 = 1.0; CHN 0.5, 0.5
    epoch_0 = [
        [[1.0, 1.0, 2.0], [0.0, 1.0, 1.0], [0.0, 1.0, 0.0]],
        [[1.0, 0.0, 0.6], [0.0, 0.6, 0.6], [0.0, 0.0, 0.0]],
        [[1.0, 0.5, 1.0], [0.0, 0.5, 0.5], [0.0, 0.0, 0.0]],
    ]
    _close(compiled.membership[0], epoch_0)
    # epoch 1: KAZ left PFP (USA security 0); TKM nu 0.85: 1 - 0.85 = 0.15
    _close(compiled.membership[1, KAZ, USA], [0.0, 0.0, 0.0])
    _close(compiled.membership[1, TKM], [[1.0, 0.0, 0.15], [0.0, 0.15, 0.15], [0.0, 0.0, 0.0]])


def test_neutrality_scales_needs_on_bloc_dimensions(compiled):
    # need[i, d] = needs[i, d] x (1 - nu_i) on bloc dimensions
    # TKM needs 1.0, 1.2, 0.8: nu 0.4 -> 1.0, 0.72, 0.48; nu 0.85 -> 1.0, 0.18, 0.12
    _close(compiled.need[0, TKM], [1.0, 1.2 * 0.6, 0.8 * 0.6])
    _close(compiled.need[1, TKM], [1.0, 1.2 * 0.15, 0.8 * 0.15])
    # KAZ (nu 0) as written; UZB (nu 0.5) 1.0, 0.5, 0.5
    _close(compiled.need[:, KAZ], np.ones((4, 3)))
    _close(compiled.need[0, UZB], [1.0, 0.5, 0.5])


def test_no_blocs_zeroes_bloc_memberships_keeps_the_rest_and_does_not_scale_needs(compiled):
    # UZB sets no_blocs in 2000-09 (epoch 2): every bloc-dimension membership is 0 (not 0.5),
    # EAEU's economic membership stays 1, needs stay 1.0, 0.5, 0.5 (neutrality only)
    before = [[1.0, 0.5, 1.0], [0.0, 0.5, 0.5], [0.0, 0.0, 0.0]]
    after = [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    _close(compiled.membership[1, UZB], before)
    _close(compiled.membership[2, UZB], after)
    _close(compiled.membership[3, UZB], after)
    _close(compiled.need[:, UZB], np.tile([1.0, 0.5, 0.5], (4, 1)))
    # and its floors follow: only RUS economic keeps phi x 1 = 0.25
    _close(compiled.floor[2, UZB], [[0.25, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


def test_floors_are_phi_times_capped_membership_rescaled_above_sixty_percent(compiled):
    # f0 = phi x min(M, 1), phi = 0.25; F0 = sum over powers; f = f0 x 0.6 / F0 if F0 > 0.6
    # KAZ epoch 0: f0 RUS 0.25, 0.25, 0.25 (pol: min(2, 1) = 1); CHN 0, 0.25, 0.25;
    #   USA 0, 0.25, 0. F0 security = 0.75 > 0.6 -> each 0.25 x 0.6 / 0.75 = 0.2;
    #   F0 political = 0.5 and economic 0.25 stay
    _close(compiled.floor[0, KAZ], [[0.25, 0.2, 0.25], [0.0, 0.2, 0.25], [0.0, 0.2, 0.0]])
    # epoch 1, KAZ without PFP: F0 security = 0.5, no rescaling
    _close(compiled.floor[1, KAZ], [[0.25, 0.25, 0.25], [0.0, 0.25, 0.25], [0.0, 0.0, 0.0]])
    # TKM epoch 0: 0.25 x (1, 0, 0.6) and 0.25 x (0, 0.6, 0.6); epoch 1: 0.25 x 0.15 = 0.0375
    _close(compiled.floor[0, TKM], [[0.25, 0.0, 0.15], [0.0, 0.15, 0.15], [0.0, 0.0, 0.0]])
    _close(compiled.floor[1, TKM], [[0.25, 0.0, 0.0375], [0.0, 0.0375, 0.0375], [0.0, 0.0, 0.0]])
    # UZB epoch 0: 0.25 x (1, 0.5, 1.0) and 0.25 x (0, 0.5, 0.5)
    _close(compiled.floor[0, UZB], [[0.25, 0.125, 0.25], [0.0, 0.125, 0.125], [0.0, 0.0, 0.0]])


# --------------------------------------------------------------------------------------------
# regional target (ODD 7.1)


def test_regional_target_is_logistic_of_base_openness_and_pair(compiled):
    # R*[i, k] = logistic(base + openness_i + openness_k + pair_ik); openness KAZ 0.3,
    # TKM -0.5, UZB -1.0; epochs 0-1: base -0.5, pair KAZ-UZB 0.4
    kaz_tkm = _logistic(-0.5 + 0.3 - 0.5)  # -0.7
    kaz_uzb = _logistic(-0.5 + 0.3 - 1.0 + 0.4)  # -0.8
    tkm_uzb = _logistic(-0.5 - 0.5 - 1.0)  # -2.0
    early = [[0.0, kaz_tkm, kaz_uzb], [kaz_tkm, 0.0, tkm_uzb], [kaz_uzb, tkm_uzb, 0.0]]
    _close(compiled.regional_target[0], early)
    _close(compiled.regional_target[1], early)
    # epoch 2: base -0.5 + 0.2 = -0.3, pair 0.4 - 1.0 = -0.6
    kaz_tkm = _logistic(-0.3 + 0.3 - 0.5)  # -0.5
    kaz_uzb = _logistic(-0.3 + 0.3 - 1.0 - 0.6)  # -1.6
    tkm_uzb = _logistic(-0.3 - 0.5 - 1.0)  # -1.8
    late = [[0.0, kaz_tkm, kaz_uzb], [kaz_tkm, 0.0, tkm_uzb], [kaz_uzb, tkm_uzb, 0.0]]
    _close(compiled.regional_target[2], late)
    np.testing.assert_array_equal(
        compiled.regional_target, np.swapaxes(compiled.regional_target, 1, 2)
    )
