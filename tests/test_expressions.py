"""Outcome expressions (experiments/expressions.py): what they compute and what they refuse."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from experiments.expressions import MAX_LENGTH, ExpressionError, parse_outcome

COLUMNS = {
    "x": np.array([0.1, 0.5, 0.9, 0.7]),
    "y": np.array([1.0, 0.0, 2.0, 0.5]),
    "states.KAZ.balancing_propensity": np.array([0.5, 1.5, 3.0, 2.5]),
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x > 0.5", [False, False, True, True]),
        ("x >= 0.5", [False, True, True, True]),
        ("0.3 < x <= 0.7", [False, True, False, True]),
        ("(x > 0.5) & (y < 1)", [False, False, False, True]),
        ("x > 0.5 and y < 1", [False, False, False, True]),
        ("(x < 0.2) | (y == 0)", [True, True, False, False]),
        ("not x > 0.5", [True, True, False, False]),
        ("~(x > 0.5)", [True, True, False, False]),
        ("x - y / 2 > 0", [False, True, False, True]),
        ("-x < -0.6", [False, False, True, True]),
        ("`states.KAZ.balancing_propensity` > 2", [False, False, True, True]),
        ("x != 0.5", [True, False, True, True]),
    ],
)
def test_conditions_compute_as_written(text, expected):
    outcome = parse_outcome(text)
    assert outcome.evaluate(COLUMNS).tolist() == expected


def test_parentheses_do_not_count_as_depth():
    assert parse_outcome("(" * 50 + "x" + ")" * 50 + " > 0.5").evaluate(COLUMNS).sum() == 2


def test_names_are_the_columns_read():
    outcome = parse_outcome("(dependence_KAZ > 0.5) & (`states.KAZ.balancing_propensity` < 2)")
    assert outcome.names == ("dependence_KAZ", "states.KAZ.balancing_propensity")


@pytest.mark.parametrize(
    "text",
    [
        # the reliability issue's examples: code execution and file writes through pandas' eval
        "(dependence_KAZ > 0.5) | (@os.system('id') == 99)",
        "dependence_KAZ.to_csv('/tmp/x.csv')",
        "__import__('os').system('id') == 0",
        "x.__class__ == 1",
        "x[0] > 1",
        "(lambda: 1)() > 0",
        "[a for a in x] == 1",
        "x > 'a'",
        "x ** 2 > 1",
        "x << 2 > 1",
        "x in y",
        "x if y else y",
        "x := 1",
        "x > 0.5; y",
        "",
        "   ",
        "x >" * 10,
        "-" * 200 + "x > 1",  # nested deeper than allowed
        "x" + " + x" * (MAX_LENGTH // 4) + " > 1",
        "`os.system('id')` > 1",
        "True > 0",
    ],
)
def test_anything_but_the_whitelist_is_refused_in_one_line(text):
    with pytest.raises(ExpressionError) as error:
        parse_outcome(text).evaluate(COLUMNS | {"dependence_KAZ": COLUMNS["x"]})
    message = str(error.value)
    assert message and "\n" not in message and len(message) < 400


@pytest.mark.parametrize("text", ["x + y", "x > 0.5 & y < 1", "(x > 0.5) + 1 > 0"])
def test_a_number_is_not_a_condition_and_back(text):
    with pytest.raises(ExpressionError):
        parse_outcome(text).evaluate(COLUMNS)


@given(st.text(max_size=200))
def test_any_text_parses_or_is_refused_with_an_expression_error(text):
    try:
        outcome = parse_outcome(text)
    except ExpressionError:
        return
    columns = {name: np.ones(3) for name in outcome.names}
    try:
        result = outcome.evaluate(columns)
    except ExpressionError:
        return
    assert result.dtype == np.bool_
