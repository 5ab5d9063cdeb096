"""The article's claims as machine-checkable patterns over simulated runs.

A pattern (pattern-oriented modelling, Grimm et al. 2005, *Science* 310:987) is a claim of the
article, its quote and source, and an inequality over measured quantities::

    [patterns.tkm_china_largest_economic]
    claim = "China's share of Turkmenistan's economic ties becomes the largest after 2009"
    quote = "Gradually, China became the dominant buyer in Turkmenistan's energy market."
    source = "article §Global Aspects, fn 51-52"
    expect = "share(TKM, CHN, economic, '2015-12') > rival(TKM, CHN, economic, '2015-12')"
    for_each = ["KAZ", "KGZ"]   # optional: the expression is checked for each, {state} replaced
    tolerance = 0.0             # required margin, in the quantity's units (default 0)
    scale = 0.02                # margin at which the fit's loss reaches 0 (default 0.02)
    role = "scored"             # or "sanity": reported, not scored in the fit or the count

Quantities (functions of a run; a date is ``'YYYY-MM'`` or a range ``'YYYY-MM..YYYY-MM'``,
over which the quantity is averaged month by month):

``tie(S, P, D, date)``         tie volume of state S with power P on dimension D
``share(S, P, D, date)``       P's partner share of S's ties on D (D may be ``overall``: the
                               dimension-weighted alignment vector)
``rival(S, P, D, date)``       the largest share of any power other than P
``hhi(S, D, date)``            Herfindahl-Hirschman index of S's shares on D
``pole(S, POLE, date)``        share of a pole (e.g. ``West``) in S's alignment vector
``METRIC(S, date)``            any numeric metric of the registry (:data:`model.metrics.METRICS`),
                               e.g. ``dependence`` (S's largest overall partner share),
                               ``vulnerability``, ``effective_partners``; ``drift`` and
                               ``engagement`` are short for ``drift_year_on_year`` and
                               ``regional_engagement``
``cooperation(date)``          regional cooperation index (``regional_cooperation``)

An expression is ``A > B`` or ``A < B`` where A and B combine quantities and numbers with
``+ - * /``. For each run the **margin** is ``A - B`` (for ``>``) or ``B - A`` (for ``<``); the
predicate holds in a run when the margin exceeds the tolerance. With ``for_each`` the margin is
the smallest over the states. A pattern **holds** when it holds in at least 80% of runs,
**fails** when in at most 20%, and otherwise "holds in x% of runs" (not counted as holding).

A pattern that holds for 95% or more of the parameter vectors drawn from the calibration's prior
(``multivector validate --prior-check``) cannot tell a good fit from a bad one: its ``role`` is
``sanity``, and it is reported but neither scored in the fit's loss nor counted in "k of n
patterns hold".
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from model.metrics import ACROSS_MONTHS, METRICS, Measures, measure, month_means
from model.scenario import Scenario, ScenarioError, month_index, month_label

__all__ = [
    "FUNCTIONS",
    "HOLDS",
    "Observation",
    "Pattern",
    "headline",
    "load_patterns",
    "pattern_loss",
    "pattern_losses",
    "pattern_table",
    "verdict",
]

HOLDS = 0.8  # share of runs in which a predicate must hold for the pattern to hold
FAILS = 0.2
SANITY = 0.95  # a pattern holding for this share of prior draws or more is a sanity check
ROLES = ("scored", "sanity")

# quantities per power, dimension or pole, written out here
STRUCTURAL: dict[str, tuple[str, ...]] = {
    "tie": ("state", "power", "dimension", "date"),
    "share": ("state", "power", "dimension+", "date"),
    "rival": ("state", "power", "dimension+", "date"),
    "hhi": ("state", "dimension+", "date"),
    "pole": ("state", "pole", "date"),
}
# short names of registry metrics
ALIASES = {
    "drift": "drift_year_on_year",
    "engagement": "regional_engagement",
    "cooperation": "regional_cooperation",
}
# every numeric metric of the registry (model.metrics.METRICS) is a quantity of a state and a
# date, or of a date alone for a regional one
_REGISTRY = {m.name: m for m in METRICS if not m.family and not m.categorical}
FUNCTIONS: dict[str, tuple[str, ...]] = {
    **{
        name: ("date",) if m.regional else ("state", "date")
        for name, m in _REGISTRY.items()
        if name not in STRUCTURAL
    },
    **{
        alias: ("date",) if _REGISTRY[name].regional else ("state", "date")
        for alias, name in ALIASES.items()
    },
    **STRUCTURAL,
}
"""Every function of the pattern language and its argument kinds."""


@dataclass(frozen=True)
class Pattern:
    """One claim of the article and its predicate."""

    id: str
    claim: str
    quote: str
    source: str
    expect: str
    for_each: tuple[str, ...] = ()
    tolerance: float = 0.0
    scale: float = 0.02
    file: str = ""
    role: str = "scored"

    @property
    def scored(self) -> bool:
        """Counted in the fit's loss and in "k of n patterns hold" (not a sanity check)."""
        return self.role == "scored"

    def expressions(self) -> list[str]:
        if not self.for_each:
            return [self.expect]
        return [self.expect.replace("{state}", s) for s in self.for_each]

    @property
    def months(self) -> tuple[int, int]:
        """The first and last month index the pattern refers to."""
        found = [m for e in self.expressions() for m in _months_of(ast.parse(e, mode="eval"))]
        return min(found), max(found)


def _months_of(tree: ast.AST) -> list[int]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for part in node.value.split(".."):
                out.append(month_index(part))
    return out


def load_patterns(path: str | Path, scenario: Scenario) -> list[Pattern]:
    """Read and check a pattern registry against a scenario (actors, dimensions, dates)."""
    path = Path(path)
    file = str(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ScenarioError(file, "(file)", file, "an existing pattern file") from None
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(file, "(syntax)", str(error), "valid TOML") from None
    table = data.get("patterns")
    if not isinstance(table, dict) or not table:
        raise ScenarioError(file, "patterns", table, "a table of [patterns.<id>] tables")
    patterns = []
    allowed = ("claim", "quote", "source", "expect", "for_each", "tolerance", "scale", "role")
    for pid, entry in table.items():
        where = f"patterns.{pid}"
        if not isinstance(entry, dict):
            raise ScenarioError(file, where, entry, "a table")
        for key in entry:
            if key not in allowed:
                allowed_text = f"unknown key (allowed: {', '.join(allowed)})"
                raise ScenarioError(file, f"{where}.{key}", entry[key], allowed_text)
        for key in ("claim", "quote", "source", "expect"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise ScenarioError(file, f"{where}.{key}", entry.get(key), "a non-empty string")
        for_each = entry.get("for_each", [])
        if not isinstance(for_each, list) or any(s not in scenario.state_ids for s in for_each):
            raise ScenarioError(
                file, f"{where}.for_each", for_each, f"a list of {', '.join(scenario.state_ids)}"
            )
        numbers = {}
        for key, default in (("tolerance", 0.0), ("scale", 0.02)):
            value = entry.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ScenarioError(file, f"{where}.{key}", value, "a number >= 0")
            numbers[key] = float(value)
        if numbers["scale"] <= 0:
            raise ScenarioError(file, f"{where}.scale", numbers["scale"], "a number > 0")
        role = entry.get("role", "scored")
        if role not in ROLES:
            raise ScenarioError(file, f"{where}.role", role, f"one of {', '.join(ROLES)}")
        if bool(for_each) != ("{state}" in entry["expect"]):
            raise ScenarioError(
                file, f"{where}.expect", entry["expect"], "{state} exactly when for_each is given"
            )
        pattern = Pattern(
            pid,
            entry["claim"].strip(),
            entry["quote"].strip(),
            entry["source"].strip(),
            entry["expect"].strip(),
            tuple(for_each),
            numbers["tolerance"],
            numbers["scale"],
            file,
            role,
        )
        for expression in pattern.expressions():
            _check_expression(expression, scenario, file, f"{where}.expect")
        patterns.append(pattern)
    return patterns


def _check_expression(text: str, scenario: Scenario, file: str, where: str) -> None:
    def fail(allowed: str):
        raise ScenarioError(file, where, text, allowed)

    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        fail("an expression 'A > B' or 'A < B'")
    body = tree.body
    if not (
        isinstance(body, ast.Compare)
        and len(body.ops) == 1
        and isinstance(body.ops[0], ast.Gt | ast.Lt)
    ):
        fail("one comparison, A > B or A < B")
    kinds = {
        "state": scenario.state_ids,
        "power": scenario.power_ids,
        "dimension": scenario.dimension_ids,
        "dimension+": (*scenario.dimension_ids, "overall"),
        "pole": tuple(name for name, _ in scenario.alignment.poles),
    }
    first, last = scenario.start, scenario.end
    for node in ast.walk(body):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                fail(f"functions {', '.join(FUNCTIONS)}")
            signature = FUNCTIONS[node.func.id]
            if len(node.args) != len(signature) or node.keywords:
                fail(f"{node.func.id}({', '.join(signature)})")
            for arg, kind in zip(node.args, signature, strict=True):
                if kind == "date":
                    if not isinstance(arg, ast.Constant) or not isinstance(arg.value, str):
                        fail("dates as quoted 'YYYY-MM' or 'YYYY-MM..YYYY-MM'")
                    try:
                        months = [month_index(p) for p in arg.value.split("..")]
                    except ValueError:
                        fail("dates as quoted 'YYYY-MM' or 'YYYY-MM..YYYY-MM'")
                    if len(months) > 2 or not all(first <= m <= last for m in months):
                        fail(
                            f"dates within the scenario's horizon ({scenario.dates[0]} to "
                            f"{scenario.dates[-1]})"
                        )
                    if len(months) == 2 and months[0] >= months[1]:
                        fail("a date range from an earlier to a later month")
                elif not isinstance(arg, ast.Name) or arg.id not in kinds[kind]:
                    fail(f"a {kind.rstrip('+')} id among {', '.join(kinds[kind])}")
        elif isinstance(node, ast.BinOp):
            if not isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
                fail("+, -, * or / between quantities")
        elif isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.USub):
            fail("+, -, * or / between quantities")
        elif isinstance(node, ast.Constant) and not isinstance(node.value, int | float | str):
            fail("numbers, ids and quoted dates")
        elif not isinstance(node, _ALLOWED_NODES):
            fail("quantities, numbers, + - * / and one comparison")


_ALLOWED_NODES = (
    ast.Compare,
    ast.Call,
    ast.BinOp,
    ast.UnaryOp,
    ast.Name,
    ast.Constant,
    ast.operator,
    ast.cmpop,
    ast.unaryop,
    ast.expr_context,
)


def months_needed(patterns: Sequence[Pattern], scenario: Scenario) -> np.ndarray:
    """Month indices (steps from the start) to record for these patterns, with drift references."""
    steps = {0}
    for pattern in patterns:
        for expression in pattern.expressions():
            for node in ast.walk(ast.parse(expression, mode="eval")):
                if not isinstance(node, ast.Call):
                    continue
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        lo, hi = _range(arg.value, scenario)
                        months = set(range(lo, hi + 1))
                        steps |= months
                        if ALIASES.get(node.func.id, node.func.id) == "drift_year_on_year":
                            steps |= {max(m - 12, 0) for m in months}
    return np.array(sorted(steps), dtype=np.int64)


def _range(text: str, scenario: Scenario) -> tuple[int, int]:
    months = [month_index(p) - scenario.start for p in text.split("..")]
    return months[0], months[-1]


@cache
def _slices_read(pattern: Pattern) -> tuple[tuple[str, str, str, str], ...]:
    """The (``tie`` or ``shares``, state, dimension, date) a pattern's ``tie``, ``share`` and
    ``rival`` quantities average (:meth:`Observation.prepare`)."""
    out = set()
    for expression in pattern.expressions():
        for node in ast.walk(ast.parse(expression, mode="eval")):
            if isinstance(node, ast.Call) and node.func.id in ("tie", "share", "rival"):
                name = "tie" if node.func.id == "tie" else "shares"
                state, _, dimension, date = node.args
                out.add((name, state.id, dimension.id, date.value))
    return tuple(sorted(out))


class Observation:
    """Runs' recorded ties with their metrics, to evaluate quantities on."""

    def __init__(
        self,
        scenario: Scenario,
        ties: np.ndarray,
        regional: np.ndarray,
        steps,
        *,
        shares: np.ndarray | None = None,
    ):
        """``ties`` (R, T, S, P, D) and ``regional`` (R, T, S, S) of the months ``steps``;
        ``shares``: their partner shares per dimension if already computed
        (:func:`model.metrics.partner_shares` of ``ties``)."""
        c = scenario.compiled
        pole_names = [name for name, _ in scenario.alignment.poles]
        self.scenario = scenario
        self.steps = np.asarray(steps)
        self.ties, self.regional = ties, regional
        self.out = measure(
            ties,
            regional,
            weights=c.dimension_weight,
            difficulty=c.substitution_difficulty,
            pole_matrix=c.pole_matrix,
            steps=self.steps,
            lazy=True,
            dimension_shares=shares,
        )
        self.state = {s: k for k, s in enumerate(scenario.state_ids)}
        self.power = {p: k for k, p in enumerate(scenario.power_ids)}
        self.dimension = {d: k for k, d in enumerate((*scenario.dimension_ids, "overall"))}
        self.pole = {p: k for k, p in enumerate(pole_names)}
        self._margins: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._means: dict[tuple, np.ndarray] = {}  # (name, date, state[, dimension])
        self._windows: dict[str, Measures] = {}

    @property
    def n_runs(self) -> int:
        return self.ties.shape[0]

    def _at(self, name: str, date: str, state: int | None = None) -> np.ndarray:
        """Mean of the quantity ``name`` over the months of ``date`` (axis 1 is time), of the
        state ``state`` (axis 2) or of all; (R, ...).

        ``name``: a key of :func:`model.metrics.measure`'s output or ``metric:NAME`` for a
        metric of the registry; each (name, date, state) is averaged once and kept, as many
        expressions read the same one. One state's months are summed in the same order as all
        states' (its values keep a trailing axis of partners or dimensions), so both give the
        same means. Ties and partner shares are averaged per dimension (:meth:`_partners`).
        """
        key = (name, date, state)
        if key not in self._means:
            months = self._months(date)
            if name.startswith("metric:"):
                metric = _REGISTRY[name[len("metric:") :]]
                out = self.out if metric.name in ACROSS_MONTHS else self._window(date, months)
                values = metric.take(out, 0)
                self._means[key] = self._mean(
                    values, months if out is self.out else slice(None), state
                )
            else:
                self._means[key] = self._mean(self._window(date, months)[name], slice(None), state)
        return self._means[key]

    def _months(self, date: str) -> slice | np.ndarray:
        """The recorded months of ``date`` (indices of axis 1): a slice if contiguous."""
        lo, hi = _range(date, self.scenario)
        index = np.flatnonzero((self.steps >= lo) & (self.steps <= hi))
        if index.size != hi - lo + 1:
            raise ValueError(f"months of {date} were not recorded")
        if index[-1] - index[0] + 1 == index.size:
            return slice(index[0], index[-1] + 1)
        return index

    def _partners(self, name: str, date: str, state: int, dimension: int) -> np.ndarray:
        """Mean over the months of ``date`` of one state's ties (``name`` ``tie``) or partner
        shares (``shares``) on one dimension (or the alignment vector, the last), (R, P);
        averaged once and kept (:meth:`prepare` averages many at once)."""
        key = (name, date, state, dimension)
        if key not in self._means:
            self._average(name, [(state, dimension, date)])
        return self._means[key]

    def _average(self, name: str, wanted: Sequence[tuple[int, int, str]]) -> None:
        """Average the ties or partner shares of each (state, dimension, date) of ``wanted``
        (:func:`model.metrics.month_means`: one pass over each monthly array for all of them,
        the same sums in the same order as over all states and dimensions)."""
        overall = len(self.scenario.dimension_ids)  # the alignment vector's "dimension"
        by_source: dict[str, list[tuple[int, int, str]]] = {}
        for state, dimension, date in wanted:
            source = "tie" if name == "tie" else "overall" if dimension == overall else "shares"
            by_source.setdefault(source, []).append((state, dimension, date))
        for source, chosen in by_source.items():
            values, at = {
                "tie": (self.ties, None),
                "overall": (self.out["overall"][..., None], 0),
                "shares": (self.out["dimension_shares"], None),
            }[source]
            requests = [(s, d if at is None else at, self._months(t)) for s, d, t in chosen]
            for (state, dimension, date), mean in zip(
                chosen, month_means(values, requests), strict=True
            ):
                self._means[(name, date, state, dimension)] = mean

    def prepare(self, patterns: Sequence[Pattern]) -> None:
        """Average at once the ties and partner shares the patterns read, at every (state,
        dimension, date) they read them (:meth:`_average`: one pass over each monthly array
        instead of one per quantity)."""
        wanted: dict[str, set[tuple[int, int, str]]] = {"tie": set(), "shares": set()}
        for pattern in patterns:
            for name, state, dimension, date in _slices_read(pattern):
                key = (self.state[state], self.dimension[dimension], date)
                if (name, date, *key[:2]) not in self._means:
                    wanted[name].add(key)
        for name, slices in wanted.items():
            if slices:
                self._average(name, sorted(slices))

    @staticmethod
    def _mean(values: np.ndarray, months, state: int | None) -> np.ndarray:
        """Mean over ``months`` (axis 1) of ``values``, of the state ``state`` (axis 2) or all.

        One state's slice with trailing axes is averaged where it lies
        (:func:`model.metrics.month_means`, numpy's sums in numpy's order) instead of being
        copied out month by month."""
        if state is not None and values.ndim == 4:
            return month_means(values[..., None], [(state, 0, months)])[0]
        chosen = values[:, months] if state is None else values[:, months, state]
        return chosen.mean(axis=1)

    def _window(self, date: str, months) -> Measures:
        """The measures of the months of ``date`` only (``months``, indices of axis 1), for
        those that read no other month (:data:`model.metrics.ACROSS_MONTHS`): a pattern reads a
        metric over a few months, not over the whole horizon. The partner shares and the
        alignment vectors are taken from :attr:`out`, computed once for all months."""
        if date not in self._windows:
            c = self.scenario.compiled
            window = measure(
                self.ties[:, months],
                self.regional[:, months],
                weights=c.dimension_weight,
                difficulty=c.substitution_difficulty,
                pole_matrix=c.pole_matrix,
                steps=self.steps[months],
                lazy=True,
            )
            for name in ("dimension_shares", "overall"):
                window.known(name, self.out[name][:, months])
            self._windows[date] = window
        return self._windows[date]

    def quantity(self, name: str, args: Sequence[str]) -> np.ndarray:
        if name == "tie":
            s, p, d, date = args
            return self._partners("tie", date, self.state[s], self.dimension[d])[:, self.power[p]]
        if name in ("share", "rival"):
            s, p, d, date = args
            shares = self._partners("shares", date, self.state[s], self.dimension[d])
            if name == "share":
                return shares[:, self.power[p]]
            return np.delete(shares, self.power[p], axis=1).max(axis=1)
        if name == "hhi":
            s, d, date = args
            return self._at("hhi", date, self.state[s])[:, self.dimension[d]]
        if name == "pole":
            s, q, date = args
            return self._at("poles", date, self.state[s])[:, self.pole[q]]
        metric = _REGISTRY[ALIASES.get(name, name)]
        values = self._at(f"metric:{metric.name}", args[-1])  # (R, S)
        return values[:, 0] if metric.regional else values[:, self.state[args[0]]]

    def evaluate(self, expression: str) -> tuple[np.ndarray, np.ndarray]:
        """Per run: the left-hand side and the margin of a checked expression."""
        body = ast.parse(expression, mode="eval").body
        left = self._value(body.left)
        right = self._value(body.comparators[0])
        margin = left - right if isinstance(body.ops[0], ast.Gt) else right - left
        return left, margin

    def _value(self, node: ast.AST) -> np.ndarray:
        if isinstance(node, ast.Constant):
            return np.full(self.n_runs, float(node.value))
        if isinstance(node, ast.UnaryOp):
            return -self._value(node.operand)
        if isinstance(node, ast.BinOp):
            a, b = self._value(node.left), self._value(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            with np.errstate(divide="ignore", invalid="ignore"):
                return a / b
        assert isinstance(node, ast.Call)
        args = [a.id if isinstance(a, ast.Name) else a.value for a in node.args]
        return self.quantity(node.func.id, args)

    def margins(self, pattern: Pattern) -> tuple[np.ndarray, np.ndarray]:
        """Per run: the smallest margin over the pattern's states, and its left-hand side."""
        key = (pattern.id, pattern.expect, pattern.for_each)
        if key not in self._margins:
            self._margins[key] = self._evaluate_margins(pattern)
        return self._margins[key]

    def loss(self, pattern: Pattern) -> float:
        """The runs' :func:`pattern_loss` of ``pattern``."""
        return pattern_loss(self.margins(pattern)[0], pattern)

    def _evaluate_margins(self, pattern: Pattern) -> tuple[np.ndarray, np.ndarray]:
        results = [self.evaluate(e) for e in pattern.expressions()]
        margins = np.stack([m for _, m in results])
        worst = np.argmin(margins, axis=0)
        left = np.stack([lhs for lhs, _ in results])[worst, np.arange(self.n_runs)]
        return margins.min(axis=0), left


def verdict(fraction: float) -> str:
    """``holds``, ``fails`` or ``holds in x% of runs``."""
    if fraction >= HOLDS:
        return "holds"
    if fraction <= FAILS:
        return "fails"
    return f"holds in {100 * fraction:.0f}% of runs"


def pattern_loss(margins: np.ndarray, pattern: Pattern) -> float:
    """The fit's loss of one pattern: mean over runs of ``clip(1 - (m - tol) / scale, 0, 2)``.

    Zero when every run clears the tolerance by ``scale``; 1 at the tolerance; capped at 2 so
    that one far-off pattern does not drown the others.
    """
    return float(pattern_losses(margins, pattern))


def pattern_losses(margins: np.ndarray, pattern: Pattern) -> np.ndarray:
    """:func:`pattern_loss` of each row of ``margins`` (..., runs): the mean over the last axis.

    Many candidates' runs at once, each row's mean the same as :func:`pattern_loss` of it.
    """
    shortfall = 1.0 - (margins - pattern.tolerance) / pattern.scale
    return np.mean(np.clip(np.nan_to_num(shortfall, nan=2.0), 0.0, 2.0), axis=-1)


def summary(pattern: Pattern, margins: np.ndarray, left: np.ndarray) -> Mapping[str, object]:
    """A row of the validation table."""
    held = np.mean(margins > pattern.tolerance)
    lo, med, hi = np.nanquantile(margins, [0.05, 0.5, 0.95])
    return {
        "pattern": pattern.id,
        "role": pattern.role,
        "claim": pattern.claim,
        "source": pattern.source,
        "first_month": month_label(pattern.months[0]),
        "last_month": month_label(pattern.months[1]),
        "lhs_median": float(np.nanmedian(left)),
        "margin_median": float(med),
        "margin_p05": float(lo),
        "margin_p95": float(hi),
        "tolerance": pattern.tolerance,
        "fraction_holding": float(held),
        "verdict": verdict(float(held)),
        "holds": bool(held >= HOLDS),
    }


def pattern_table(table) -> str:
    """A validation table (rows of :func:`summary`) as Markdown."""
    lines = [
        "| pattern | role | claim | source | margin: median [5%, 95%] | runs holding | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        lines.append(
            f"| `{row.pattern}` | {row.role} | {row.claim} | {row.source} | "
            f"{row.margin_median:+.3f} [{row.margin_p05:+.3f}, {row.margin_p95:+.3f}] | "
            f"{100 * row.fraction_holding:.0f}% | {row.verdict} |"
        )
    return "\n".join(lines)


def headline(table) -> str:
    """``k of n patterns hold (p%)`` over a validation table's scored patterns, and the sanity
    checks apart."""
    scored = table[table["role"] == "scored"] if "role" in table else table
    held = int(scored["holds"].sum())
    text = f"{held} of {len(scored)} patterns hold ({100 * held / max(len(scored), 1):.0f}%)"
    sanity = table[table["role"] == "sanity"] if "role" in table else table.iloc[:0]
    if len(sanity):
        text += f"; sanity checks: {int(sanity['holds'].sum())} of {len(sanity)} hold"
    return text
