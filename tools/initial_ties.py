"""Derive the baseline's December 1991 ties from the earliest fit-window observations.

Run from the repository root::

    .venv/bin/python tools/initial_ties.py            # print the [ties] tables
    .venv/bin/python tools/initial_ties.py --write    # replace them in baseline-prior.toml

The observed dataset informs two of the four dimensions of the starting ties (every other value
keeps its hand-set source):

* **economic**: the 1995 trade shares (IMF Direction of Trade Statistics, the earliest year in
  ``data/observed/economic.csv``). Russia's 1995 share is not used for 1991: the collapse of
  Soviet-era trade between 1991 and 1995 is the history the model runs, so Russia keeps the
  prior's share of the state's economic ties. The non-Russian remainder is split among the
  other powers in proportion to their 1995 trade shares (over the powers the source reports;
  an unreported power keeps its prior tie).
* **societal**: the 1990 emigrant stock (UN DESA International Migrant Stock 2019, the year
  closest to independence): each power's tie is its share of the state's emigrants living in
  the six powers, times the prior's total societal tie volume.

Every row read passes :func:`experiments.observed.fit_window` (years up to 2012). A derived
value is written with its full derivation in its ``source``; values are rounded to 4 decimals,
and the source says so.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments.observed import fit_window, load_observed  # noqa: E402
from model.scenario import load_scenario  # noqa: E402

PRIOR = ROOT / "scenarios" / "baseline-prior.toml"
ECONOMIC = ("trade_share", 1995)
SOCIETAL = ("emigrant_stock_share", 1990)
ANCHOR = "RUS"  # keeps its prior economic share (see the module docstring)


def derive(prior, observed) -> dict[tuple[str, str, str], tuple[float, str]]:
    """``{(state, power, dimension): (value, source)}`` for the ties the data inform."""
    fit = fit_window(observed)
    powers = list(prior.power_ids)
    out = {}
    for dimension, (indicator, year) in (("economic", ECONOMIC), ("societal", SOCIETAL)):
        rows = fit[(fit["indicator"] == indicator) & (fit["year"] == year)]
        for state in prior.state_ids:
            prior_ties = {p: prior.values[f"ties.{state}.{p}.{dimension}"] for p in powers}
            total = sum(prior_ties.values())
            reported = rows[(rows["state"] == state) & rows["partner"].isin(powers)]
            shares = dict(zip(reported["partner"], reported["value"], strict=True))
            if dimension == "economic":
                others = [p for p in shares if p != ANCHOR]
                pool = (
                    total
                    - prior_ties[ANCHOR]
                    - sum(prior_ties[p] for p in powers if p not in shares and p != ANCHOR)
                )
                weight = sum(shares[p] for p in others)
                for p in others:
                    value = pool * shares[p] / weight
                    out[state, p, dimension] = (
                        value,
                        f"data/observed/economic.csv (IMF DOTS): {p}'s {year} share of "
                        f"{state}'s trade among the non-Russian powers reported, "
                        f"{shares[p]:.4g}% of {weight:.4g}%, times the prior's non-Russian "
                        f"economic ties {pool:.4g} (figures here to 4 significant digits); "
                        "Russia keeps the prior's tie (its 1991 share predates the 1990s "
                        "collapse the model runs); the value rounded to 4 decimals; "
                        "tools/initial_ties.py",
                    )
            else:
                weight = sum(shares.values())
                for p, share in shares.items():
                    value = total * share / weight
                    out[state, p, dimension] = (
                        value,
                        f"data/observed/societal.csv (UN DESA migrant stock 2019 rev.): "
                        f"{share:.4g}% of {state}'s emigrants in {year} lived in {p} "
                        f"({weight:.4g}% in the six powers), times the prior's total societal "
                        f"ties {total:.4g} (figures here to 4 significant digits); the value "
                        "rounded to 4 decimals; tools/initial_ties.py",
                    )
    return out


def _value(state: str, power: str, dimension: str, prior, derived) -> str:
    if (state, power, dimension) in derived:
        value, source = derived[state, power, dimension]
        return f'{dimension} = {{ value = {round(value, 4)!r}, source = "{source}" }}'
    return f"{dimension} = {prior.values[f'ties.{state}.{power}.{dimension}']!r}"


def ties_tables(prior, derived) -> str:
    """The ``[ties.<S>]`` tables with the derived values and the prior's others."""
    lines = []
    for state in prior.state_ids:
        lines.append(f"[ties.{state}]")
        for power in prior.power_ids:
            cells = ", ".join(_value(state, power, d, prior, derived) for d in prior.dimension_ids)
            source = prior.values[f"ties.{state}.{power}.source"]
            lines.append(f'{power} = {{ {cells}, source = "{source}" }}')
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the tables in the prior")
    args = parser.parse_args(argv)
    prior = load_scenario(PRIOR)
    text = ties_tables(prior, derive(prior, load_observed()))
    if not args.write:
        print(text)
        return 0
    content = PRIOR.read_text()
    pattern = re.compile(r"\[ties\.[A-Z]+\].*?(?=\n# Links:)", re.S)
    if not pattern.search(content):
        print("tools/initial_ties.py: no [ties.*] tables before '# Links:'", file=sys.stderr)
        return 2
    PRIOR.write_text(pattern.sub(lambda _: text, content, count=1))
    print(f"written: {PRIOR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
