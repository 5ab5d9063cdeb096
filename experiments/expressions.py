"""Outcome expressions: a small, closed language over named columns, parsed by a whitelist.

``multivector discover --outcome`` takes a condition per run such as::

    dependence_KAZ > 0.5
    (share_KGZ_RUS_economic > 0.5) & (dependence_KGZ < 0.6)
    0.3 < pole_China_TJK - pole_West_TJK <= 0.6 or not regional_engagement_UZB > 0.4
    `states.KAZ.balancing_propensity` > 2          # a name in backticks, as in pandas

The text is parsed with :mod:`ast` and every node is checked against a whitelist before anything
is evaluated: names (columns), numbers, ``+ - * /`` and unary ``-``, the comparisons
``< <= > >= == !=`` (chains allowed), and ``and or not`` (or their pandas spellings ``& | ~``).
There are no calls, attributes, subscripts, strings, lambdas or comprehensions, so an
expression can neither call a function nor reach a module: it is data, not code. The same
approach serves the pattern language (:mod:`experiments.patterns`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping

import numpy as np

__all__ = ["MAX_LENGTH", "ExpressionError", "Outcome", "parse_outcome"]

MAX_LENGTH = 2_000
"""Longest outcome expression accepted, in characters."""
ALLOWED = (
    "column names (or `quoted.names`), numbers, + - * /, comparisons < <= > >= == !=, "
    "and/or/not (or & | ~), parentheses"
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_QUOTED = re.compile(r"`([^`\n]*)`")
_QUOTED_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_ARITHMETIC: Mapping[type, Callable] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
}
_BOOLEAN_OPERATORS: Mapping[type, Callable] = {ast.BitAnd: np.logical_and, ast.BitOr: np.logical_or}
_COMPARISONS: Mapping[type, Callable] = {
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
}


_DESCRIBED = {
    "Call": "a function call",
    "Attribute": "an attribute (.name)",
    "Subscript": "indexing ([...])",
    "Lambda": "lambda",
    "LShift": "<<",
    "RShift": ">>",
    "Pow": "**",
    "Mod": "%",
    "FloorDiv": "//",
    "BitXor": "^",
    "MatMult": "@",
    "In": "in",
    "NotIn": "not in",
    "Is": "is",
    "IsNot": "is not",
    "Compare": "in, not in, is or is not",
}


class ExpressionError(ValueError):
    """A malformed or disallowed expression; the message is one line saying what is allowed."""


class Outcome:
    """A checked outcome expression: :attr:`names` it reads and :meth:`evaluate` on columns."""

    def __init__(
        self, text: str, tree: ast.Expression, names: tuple[str, ...], aliases: Mapping[str, str]
    ):
        self.text = text
        self._tree = tree
        self._aliases = aliases  # placeholder identifier -> the name written in backticks
        self.names = names

    def evaluate(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """The expression per row: a boolean array (``ExpressionError`` if it is not a condition).

        ``columns`` maps every name in :attr:`names` to an array of the same length.
        """
        named = {alias: columns[name] for alias, name in self._aliases.items()}
        with np.errstate(divide="ignore", invalid="ignore"):
            value = _value(self._tree.body, {**columns, **named})
        value = np.asarray(value)
        if value.dtype != np.bool_:
            raise ExpressionError("must be a condition, true or false per run (e.g. 'x > 0.5')")
        return value


def parse_outcome(text: str) -> Outcome:
    """Parse and check an outcome expression; ``ExpressionError`` names what is allowed.

    Raises
    ------
    ExpressionError
        If the text is too long, is not one expression, or uses anything outside the whitelist.
    """
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError(f"an expression of {ALLOWED}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"at most {MAX_LENGTH} characters (got {len(text)})")
    aliases: dict[str, str] = {}

    def alias(match: re.Match) -> str:
        name = match.group(1)
        if not _QUOTED_NAME.match(name):
            raise ExpressionError(f"`{name[:60]}`: a quoted name is letters, digits, _ . and -")
        placeholder = f"_quoted_{len(aliases)}_"
        aliases[placeholder] = name
        return placeholder

    source = _QUOTED.sub(alias, text.strip())
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ExpressionError(f"not a valid expression; use {ALLOWED}") from None
    names: list[str] = []
    _check(tree.body, names, depth=0)
    shown = [aliases.get(name, name) for name in names]
    return Outcome(text, tree, tuple(dict.fromkeys(shown)), aliases)


_MAX_DEPTH = 64


def _check(node: ast.AST, names: list[str], depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise ExpressionError(f"nested at most {_MAX_DEPTH} levels deep")
    if isinstance(node, ast.Name):
        if not _NAME.match(node.id):
            raise ExpressionError(f"{node.id!r} is not a column name")
        names.append(node.id)
        return
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ExpressionError(f"{node.value!r}: only numbers are allowed as constants")
        return
    if isinstance(node, ast.BinOp) and type(node.op) in (*_ARITHMETIC, *_BOOLEAN_OPERATORS):
        children = (node.left, node.right)
    elif isinstance(node, ast.UnaryOp):  # - + not ~ (every unary operator Python has)
        children = (node.operand,)
    elif isinstance(node, ast.BoolOp):
        children = tuple(node.values)
    elif isinstance(node, ast.Compare) and all(type(op) in _COMPARISONS for op in node.ops):
        children = (node.left, *node.comparators)
    else:
        what = type(node.op if isinstance(node, ast.BinOp) else node).__name__
        raise ExpressionError(f"{_DESCRIBED.get(what, what)} is not allowed; use {ALLOWED}")
    for child in children:
        _check(child, names, depth + 1)


def _value(node: ast.AST, columns: Mapping[str, np.ndarray]):
    if isinstance(node, ast.Name):
        return np.asarray(columns[node.id])
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp):
        left, right = _value(node.left, columns), _value(node.right, columns)
        if type(node.op) in _BOOLEAN_OPERATORS:
            return _BOOLEAN_OPERATORS[type(node.op)](_condition(left), _condition(right))
        return _ARITHMETIC[type(node.op)](_number(left), _number(right))
    if isinstance(node, ast.UnaryOp):
        operand = _value(node.operand, columns)
        if isinstance(node.op, ast.Not | ast.Invert):
            return np.logical_not(_condition(operand))
        return -_number(operand) if isinstance(node.op, ast.USub) else _number(operand)
    if isinstance(node, ast.BoolOp):
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        result = _condition(_value(node.values[0], columns))
        for other in node.values[1:]:
            result = combine(result, _condition(_value(other, columns)))
        return result
    assert isinstance(node, ast.Compare)
    left = _number(_value(node.left, columns))
    result = None
    for op, comparator in zip(node.ops, node.comparators, strict=True):
        right = _number(_value(comparator, columns))
        step = _COMPARISONS[type(op)](left, right)
        result = step if result is None else np.logical_and(result, step)
        left = right
    return result


def _condition(value):
    array = np.asarray(value)
    if array.dtype != np.bool_:
        raise ExpressionError("and/or/not (& | ~) combine conditions, e.g. '(x > 0.5) & (y < 1)'")
    return array


def _number(value):
    array = np.asarray(value)
    if array.dtype == np.bool_ or array.dtype.kind not in "iuf":
        raise ExpressionError("+ - * / and comparisons take numbers, not conditions")
    return array
