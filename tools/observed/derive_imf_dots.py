"""Partner shares of merchandise trade turnover (``trade_share``) from IMF DOTS, 1995-2020.

Reads the IMF Direction of Trade Statistics (DOTS) country tables kept verbatim in
``../shared/data/imf-dots-2022/`` (relative to the repository root; see the README there) and
writes ``trade_share`` rows into ``data/observed/economic.csv``. Rows of other indicators already
in the CSV are kept; rows of this indicator are replaced.

Each table is one DOTS reporter: sheet "Exports, FOB" (exports to each partner) and sheet
"Imports, CIF" (imports from each partner), US$ million, one column a year (1992-2020 for the
five states). Values that DOTS flags as IMF estimates are stored in the tables as text such as
"1,191.26 e" (rounded to 2 decimals); they are read as numbers and the note says so.

Two methods, one per state, used for every year of that state's series:

* KAZ, KGZ, TJK (own reports): share = 100 x (exports to p + imports from p) / (exports to
  World + imports from World), all from the state's own DOTS table.
* TKM, UZB (mirror data): Turkmenistan does not report to the IMF, and the DOTS table of
  Uzbekistan for 2000-2015 is an allocation of totals by fixed partner shares (identical shares
  every year), not partner data. For both, the trade of partner p with the state is taken from
  p's own DOTS table (p's imports from the state, CIF = the state's exports; p's exports to the
  state, FOB = the state's imports), and the denominator from the DOTS "World" table (all
  economies' recorded trade with the state; the IMF's area totals include its estimates for
  non-reporting economies).

EU = the DOTS "European Union" aggregate, which in this vintage is the EU-27 of 2020 (without
the United Kingdom) for every year; for the reporters' own tables the script checks that it
equals the sum of the 27 member rows (plus Belgium-Luxembourg and Czechoslovakia for early
years). CHN = "China, P.R.: Mainland" (Hong Kong and Macao are in ROW).

IRN: Iran's own records of trade with Turkmenistan omit its imports of Turkmen gas (DOTS shows
tens of US$ million a year against several bcm in BP's gas statistics) and are blank from 2004 on
one side, so no TKM-IRN row is written; Iran's records of trade with Uzbekistan are used only
where both directions are present and not flagged as IMF estimates (1995-1997). ROW = 100 minus
the six partner shares, written only where all six are written for that state and year.

State-years in ``EXCLUDED`` get no row at all (KAZ 2010, KGZ 2007: broken own records; TKM
1995-2008: the partners' records miss Russia's gas purchases and cover under 55 % of the world
total); the reasons are in ``EXCLUDED`` and in ``data/observed/sources-economic.md``.

Every float sum that gives a written value (ROW) uses ``math.fsum`` (correctly rounded), so the
output does not depend on the Python version (the built-in ``sum`` of floats changed in 3.12).
The CSV is written with ``\n`` line ends.

Run from the repository root (needs openpyxl)::

    python tools/observed/derive_imf_dots.py
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from experiments.observed import COLUMNS  # noqa: E402
from tools.observed.common import by_state, eu27_2020, replace_rows  # noqa: E402

RAW = ROOT.parent / "shared" / "data" / "imf-dots-2022"
OUT = ROOT / "data" / "observed" / "economic.csv"
INDICATOR = "trade_share"
FIRST_YEAR, LAST_YEAR = 1995, 2020

# DOTS table file -> reporter name as printed in the table
TABLES = {
    "KAZ": "DOTS_103.xlsx",
    "KGZ": "DOTS_109.xlsx",
    "TJK": "DOTS_192.xlsx",
    "TKM": "DOTS_201.xlsx",
    "UZB": "DOTS_210.xlsx",
    "World": "DOTS_221.xlsx",
    "EU": "DOTS_230.xlsx",
    "RUS": "DOTS_162.xlsx",
    "CHN": "DOTS_40.xlsx",
    "USA": "DOTS_208.xlsx",
    "TUR": "DOTS_200.xlsx",
    "IRN": "DOTS_95.xlsx",
}
DOTS_NAME = {
    "KAZ": "Kazakhstan, Rep. of",
    "KGZ": "Kyrgyz Rep.",
    "TJK": "Tajikistan, Rep. of",
    "TKM": "Turkmenistan",
    "UZB": "Uzbekistan, Rep. of",
    "World": "World",
    "EU": "European Union",
    "RUS": "Russian Federation",
    "CHN": "China, P.R.: Mainland",
    "USA": "United States",
    "TUR": "Turkey",
    "IRN": "Iran, Islamic Rep. of",
}
PARTNERS = ("RUS", "CHN", "USA", "EU", "TUR", "IRN")
OWN_REPORTS = ("KAZ", "KGZ", "TJK")
# State-years left out on purpose (the reason is repeated in sources-economic.md).
EXCLUDED = {
    ("KAZ", 2010): (
        "Customs Union of Kazakhstan, Russia and Belarus from 1 July 2010: Kazakhstan's 2010 "
        "records of trade with Russia are incomplete (imports from Russia US$ 5058 million, "
        "against 8897 in 2009 and 16269 in 2011; exports 2703 against 3547 and 7515), which "
        "also lowers the 2010 World total, so every 2010 share is distorted"
    ),
    ("KGZ", 2007): (
        "Kyrgyzstan's own 2007 export records are incomplete (US$ million, rounded to 0.1): "
        "exports to World 449.4 against 796.1 in 2006 and 1617.3 in 2008, while the partners' "
        "records of imports from Kyrgyzstan (DOTS 'World' table) rise 583.4, 796.8, 1030.5 in "
        "2006-2008, an own/partner ratio of 0.56 in 2007 against 0.95-2.23 in every other year "
        "1995-2020; exports to Kazakhstan 36.6 against 162.6 (2006) and 184.1 (2008). The World "
        "total and every 2007 share are distorted"
    ),
    **{
        ("TKM", year): (
            "the mirror data miss the gas Turkmenistan sold north: the partners' records give RUS "
            "4-8 % of the turnover in most of 1995-2008, while Russian companies bought part of "
            "Turkmenistan's gas in 2003-2005 (Itera, 10 bcm contracted for 2003 and for 2004; "
            "Gazprom under the 25-year agreement of 10 April 2003) and nearly all of it in "
            "2006-2008 (Gazprom, up to 40-42 bcm a year), and the 36 bcm a year Ukraine contracted "
            "directly until 2005 also crossed Russia; the IMF's estimated Turkmenistan table gives "
            "RUS 37.41 % in 2003 against 5.47 % in the mirror method. The five partners reported "
            "(RUS, CHN, USA, EU-27, TUR) cover only 29-54 % of World's recorded turnover with "
            "Turkmenistan in 1995-2008, so shares renormalised over them inflate EU, TUR and CHN"
        )
        for year in range(1995, 2009)
    },
}
MIRROR = ("TKM", "UZB")
# partner rows of the EU-27 of 2020 in a DOTS table: the members as DOTS spells them, and the
# rows DOTS uses for early years instead of some of them
EU27_ROWS = (
    *eu27_2020(
        {
            "Croatia": "Croatia, Rep. of",
            "Czechia": "Czech Rep.",
            "Estonia": "Estonia, Rep. of",
            "Netherlands": "Netherlands, The",
            "Poland": "Poland, Rep. of",
            "Slovakia": "Slovak Rep.",
            "Slovenia": "Slovenia, Rep. of",
        }
    ),
    "Belgium-Luxembourg",
    "Czechoslovakia",
)
EXPORTS, IMPORTS = "Exports, FOB", "Imports, CIF"

SOURCE = (
    "IMF, Direction of Trade Statistics (DOTS), country tables 'Exports, FOB to Partner "
    "Countries' and 'Imports, CIF from Partner Countries', US$ million, annual, vintage of early "
    "2022 (data to 2020), https://data.imf.org/ (DOTS); tables {tables} as saved in "
    "github.com/SamLeBlanc/Direction-of-Trade-Map@a0b40afbac7cefc59a4b35c1ebe541ac546aafad "
    "data/DOTS/, copy in shared/data/imf-dots-2022/; IMF terms of use (2 Jan 2020) for data"
)

Cell = tuple[float | None, bool]  # (value, flagged as IMF estimate)

NOTE_EU_OWN = (
    " EU = DOTS 'European Union' aggregate = EU-27 of 2020 (without UK) in every year; equals the"
    " sum of the 27 member rows."
)
NOTE_EU_MIRROR = (
    " EU = DOTS 'European Union' reporter aggregate = EU-27 of 2020 (without UK) in every year"
    " (equals the sum of the 27 member tables)."
)
NOTE_CHN_OWN = " China = mainland only; Hong Kong SAR and Macao SAR are in ROW."
NOTE_CHN_MIRROR = " China = mainland only."
NOTE_FLAGGED = (
    " One or more cells are IMF estimates (flag 'e', rounded to 2 decimals in the table)."
)
NOTE_TJK_2000 = (
    " DOTS partner detail for Tajikistan in 2000 is sparse (China, Turkey, Iran blank; US imports"
    " blank)."
)
NOTE_UZB = (
    " Uzbekistan's own DOTS table is not used: for 2000-2015 it allocates totals by fixed partner"
    " shares."
)
NOTE_TKM = (
    " Turkmenistan does not report to the IMF. Partners' records omit much of the gas trade (e.g."
    " Russian purchases of about 10 bcm a year of Turkmen gas in 2010-2014, per BP, are not"
    " visible), so shares of partners buying gas are understated and others overstated; Iran is"
    " left out (its records omit its gas imports). The five partners written (RUS, CHN, USA,"
    " EU-27, TUR) account for {coverage:.1f} % (rounded to 0.1) of World's recorded turnover with"
    " Turkmenistan in {year}; 1995-2008 (29-54 %, and Russia's gas purchases missing) are not"
    " written."
)


def parse(cell: object) -> Cell:
    """A DOTS cell: number, None, or text 'n e' (IMF estimate, rounded to 2 decimals)."""
    if cell is None or cell == "":
        return None, False
    if isinstance(cell, (int, float)):
        return float(cell), False
    match = re.fullmatch(r"\s*(-?[0-9][0-9,]*\.?[0-9]*)\s*(e?)\s*", str(cell))
    if not match:
        raise ValueError(f"unexpected DOTS cell {cell!r}")
    return float(match.group(1).replace(",", "")), match.group(2) == "e"


def read_table(path: Path) -> tuple[str, dict[str, dict[str, dict[int, Cell]]]]:
    """Return (reporter name, {sheet: {partner row: {year: cell}}})."""
    book = openpyxl.load_workbook(path, read_only=True)
    reporter = None
    sheets: dict[str, dict[str, dict[int, Cell]]] = {}
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        reporter = rows[3][1]
        years = [int(y) if y else None for y in rows[6][2:]]
        table: dict[str, dict[int, Cell]] = {}
        for row in rows[7:]:
            name = row[1]
            if name is None:
                continue
            values = {y: parse(v) for y, v in zip(years, row[2:], strict=False) if y}
            if name in table:  # the tables repeat 'Australia' once; no row used here repeats
                name = f"{name} (repeated)"
            table[name] = values
        sheets[sheet.title] = table
    return reporter, sheets


def fmt(x: float) -> str:
    return repr(x)


def row_of(
    state: str, partner: str, year: int, value: float, src: str, note: str
) -> dict[str, str]:
    y = str(year)
    fields = [state, partner, "economic", INDICATOR, y, y, fmt(value), "percent", src, note]
    return dict(zip(COLUMNS, fields, strict=True))


def own_rows(state: str, sheets: dict) -> list[dict[str, str]]:
    """Shares from the state's own DOTS table."""
    out = []
    src = SOURCE.format(tables=f"{TABLES[state]} ({DOTS_NAME[state]})")
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        if (state, year) in EXCLUDED:
            continue
        x_w, fx = sheets[EXPORTS]["World"][year]
        m_w, fm = sheets[IMPORTS]["World"][year]
        assert not fx and not fm and x_w and m_w
        world = x_w + m_w
        # EU aggregate must equal the 27 member rows
        for sheet in (EXPORTS, IMPORTS):
            members = math.fsum(
                sheets[sheet].get(n, {}).get(year, (None, False))[0] or 0 for n in EU27_ROWS
            )
            agg = sheets[sheet]["European Union"][year][0] or 0
            assert abs(members - agg) < 0.01, (state, year, sheet, members, agg)
        shares: dict[str, float] = {}
        for p in PARTNERS:
            name = DOTS_NAME[p]
            x, fxp = sheets[EXPORTS].get(name, {}).get(year, (None, False))
            m, fmp = sheets[IMPORTS].get(name, {}).get(year, (None, False))
            if x is None and m is None:
                continue  # nothing reported for this partner: left out, not set to 0
            if x is None or m is None:
                continue  # one direction not reported (only TJK 2000 USA): left out
            share = 100 * (x + m) / world
            shares[p] = share
            note = (
                f"Derived: 100 x (exports to {name} {fmt(x)} + imports from {name} {fmt(m)}) / "
                f"(exports to World {fmt(x_w)} + imports from World {fmt(m_w)}), US$ million, "
                f"{state}'s own DOTS reports (exports FOB, imports CIF); not rounded."
                + (NOTE_EU_OWN if p == "EU" else "")
                + (NOTE_CHN_OWN if p == "CHN" else "")
                + (NOTE_FLAGGED if (fxp or fmp) else "")
                + (NOTE_TJK_2000 if (state, year) == ("TJK", 2000) else "")
            )
            out.append(row_of(state, p, year, share, src, note))
        if len(shares) == len(PARTNERS):
            row = math.fsum([100.0, *(-v for v in shares.values())])
            note = (
                "Derived: 100 minus the six partner shares (RUS, CHN, USA, EU-27, TUR, IRN) of "
                f"{state}'s turnover with World {fmt(world)} US$ million in its own DOTS reports; "
                "includes Hong Kong SAR, the United Kingdom and trade DOTS leaves unallocated "
                "('not specified'); not rounded."
            )
            out.append(row_of(state, "ROW", year, row, src, note))
    return out


def mirror_rows(state: str, tables: dict) -> list[dict[str, str]]:
    """Shares from the partners' records of their trade with the state (mirror data)."""
    out = []
    target = DOTS_NAME[state]
    used = ", ".join(
        f"{TABLES[k]} ({DOTS_NAME[k]})" for k in ("World", "EU", "RUS", "CHN", "USA", "TUR", "IRN")
    )
    src = SOURCE.format(tables=used)
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        if (state, year) in EXCLUDED:
            continue
        w_x, f1 = tables["World"][IMPORTS][target][year]  # world's imports from the state
        w_m, f2 = tables["World"][EXPORTS][target][year]  # world's exports to the state
        assert w_x and w_m and not f1 and not f2
        world = w_x + w_m
        shares: dict[str, float] = {}
        found: dict[str, tuple[float, float]] = {}
        for p in PARTNERS:
            if state == "TKM" and p == "IRN":
                continue  # Iran's records omit its gas imports from Turkmenistan: see module doc
            x, fx = tables[p][IMPORTS].get(target, {}).get(year, (None, False))
            m, fm = tables[p][EXPORTS].get(target, {}).get(year, (None, False))
            if x is None or m is None:
                continue
            if p == "IRN" and (fx or fm):
                continue  # IMF estimate, not Iran's own record
            assert not fx and not fm, (state, p, year)
            found[p] = (x, m)
        # share of World's recorded turnover that the written partners account for
        coverage = 100 * math.fsum(v for xm in found.values() for v in xm) / world
        for p, (x, m) in found.items():
            share = 100 * (x + m) / world
            shares[p] = share
            pname = DOTS_NAME[p]
            note = (
                f"Mirror data. Derived: 100 x ({pname}'s imports from {target} {fmt(x)} [CIF] + "
                f"{pname}'s exports to {target} {fmt(m)} [FOB]) / (World's imports from {target} "
                f"{fmt(w_x)} + World's exports to {target} {fmt(w_m)}), US$ million, from the "
                "partners' DOTS tables and the DOTS 'World' table (IMF area totals include IMF "
                "estimates for non-reporting economies); not rounded."
                + (NOTE_EU_MIRROR if p == "EU" else "")
                + (NOTE_CHN_MIRROR if p == "CHN" else "")
                + (NOTE_UZB if state == "UZB" else "")
                + (NOTE_TKM.format(coverage=coverage, year=year) if state == "TKM" else "")
            )
            out.append(row_of(state, p, year, share, src, note))
        if len(shares) == len(PARTNERS):
            row = math.fsum([100.0, *(-v for v in shares.values())])
            note = (
                "Mirror data. Derived: 100 minus the six partner shares (RUS, CHN, USA, EU-27, "
                f"TUR, IRN) of World's recorded turnover with {target} {fmt(world)} US$ million "
                "(DOTS 'World' table); not rounded."
            )
            out.append(row_of(state, "ROW", year, row, src, note))
    return out


def main() -> None:
    tables = {}
    for key, filename in TABLES.items():
        reporter, sheets = read_table(RAW / filename)
        assert reporter == DOTS_NAME[key], (filename, reporter)
        tables[key] = sheets
    rows: list[dict[str, str]] = []
    for state in OWN_REPORTS:
        rows += own_rows(state, tables[state])
    for state in MIRROR:
        rows += mirror_rows(state, tables)
    replace_rows(OUT, {INDICATOR}, rows, key=by_state)
    print(f"{len(rows)} {INDICATOR} rows written to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
