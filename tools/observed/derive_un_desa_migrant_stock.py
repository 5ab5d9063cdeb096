"""Where each Central Asian state's emigrants live: UN DESA International Migrant Stock 2019.

Reads Table 1 of ``UN_MigrantStockByOriginAndDestination_2019.xlsx`` (International migrant stock
at mid-year by origin and by destination, 1990-2019; a CSV export of the sheet kept in
``../shared/data/un-desa-migrant-stock-2019/`` relative to the repository root) and writes
``emigrant_stock_share`` rows into ``data/observed/societal.csv``.

For origin state s (KAZ, KGZ, TJK, TKM, UZB), year t in {1990, 1995, 2000, 2005, 2010, 2015,
2019} and partner p::

    value = 100 * M(s -> p, t) / M(s -> all, t)

* M(s -> p) is the migrant stock born in (or, for destinations that count by citizenship,
  citizen of) s living in destination row p: RUS = "Russian Federation", CHN = "China" (the
  mainland row; "China, Hong Kong SAR" and "China, Macao SAR" are separate UN rows and fall in
  ROW), USA = "United States of America", TUR = "Turkey", IRN = "Iran (Islamic Republic of)",
  EU = the sum over the 27 rows of the member states of the European Union as of 2020 (after
  the United Kingdom left), used for EVERY year whatever the membership was then.
* M(s -> all) is the sum of the s column over the 232 country or area rows (UN code < 900).
  For 1990-2010 it equals the published WORLD row exactly. For 2015 and 2019 the WORLD row of
  this copy differs from that sum because only the Canada rows were revised (see the data
  README); the sum is used so that numerator and denominator come from the same cells, and the
  note gives both numbers.
* ROW = M(s -> all) minus the six partners above (so the seven shares add to 100 up to float
  rounding). ROW includes the other Central Asian states, Ukraine, Belarus, Israel, the United
  Kingdom, Canada, etc.

Empty cells are zero. Cells marked ".." (not available) are also counted as zero, as the UN's
WORLD row does; the only such cells for these origins are Slovenia in 1990 and 1995 for KGZ,
TJK and TKM, and the EU note says so. Values keep full float precision; the note gives the
counts used.

Run from the repository root::

    python tools/observed/derive_un_desa_migrant_stock.py
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.observed.common import EU27_2020, by_indicator, replace_rows  # noqa: E402

RAW = (
    ROOT.parent
    / "shared"
    / "data"
    / "un-desa-migrant-stock-2019"
    / "UN_MigrantStockByOriginAndDestination_2019.csv"
)
OUT = ROOT / "data" / "observed" / "societal.csv"
INDICATOR = "emigrant_stock_share"
ORIGINS = {
    "KAZ": "Kazakhstan",
    "KGZ": "Kyrgyzstan",
    "TJK": "Tajikistan",
    "TKM": "Turkmenistan",
    "UZB": "Uzbekistan",
}
SINGLE_PARTNERS = {
    "RUS": "Russian Federation",
    "CHN": "China",
    "USA": "United States of America",
    "TUR": "Turkey",
    "IRN": "Iran (Islamic Republic of)",
}
SOURCE = (
    "United Nations, Department of Economic and Social Affairs, Population Division (2019). "
    "International Migrant Stock 2019 (United Nations database, POP/DB/MIG/Stock/Rev.2019), "
    "UN_MigrantStockByOriginAndDestination_2019.xlsx, Table 1 (total migrant stock at mid-year "
    "by origin and by destination), https://www.un.org/en/development/desa/population/migration/"
    "data/estimates2/estimates19.asp; CSV export of Table 1 read from "
    "github.com/SmilodonCub/DATA607@af9a46213c1bde9eb5c481428b2487f68887d0a2; licence CC BY 3.0 IGO"
)


def count(cell: str) -> int:
    """Parse a published count such as "2,561,866"; empty and ".." (not available) count 0.

    The UN's own WORLD row treats ".." the same way (it equals the sum with ".." as 0); the
    notes name every ".." cell that enters a value.
    """
    text = cell.replace(",", "").strip()
    if text in ("", ".."):
        return 0
    if not text.isdigit():
        raise ValueError(f"not a count: {cell!r}")
    return int(text)


def read_table() -> tuple[list[str], list[list[str]]]:
    with RAW.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header_index = next(i for i, row in enumerate(rows) if "Total" in row and "Afghanistan" in row)
    return rows[header_index], [row for row in rows[header_index + 1 :] if row[0].isdigit()]


def derive() -> list[dict[str, str]]:
    header, body = read_table()
    out = []
    for year in sorted({row[0] for row in body}):
        in_year = [row for row in body if row[0] == year]
        countries = {row[2].strip(): row for row in in_year if row[4].strip() and int(row[4]) < 900}
        world = next(row for row in in_year if row[2].strip() == "WORLD")
        for state, origin in ORIGINS.items():
            column = header.index(origin)
            total = sum(count(row[column]) for row in countries.values())
            world_published = count(world[column])
            stocks = {p: count(countries[name][column]) for p, name in SINGLE_PARTNERS.items()}
            eu_members = {name: count(countries[name][column]) for name in EU27_2020}
            not_available = [name for name in EU27_2020 if countries[name][column].strip() == ".."]
            stocks["EU"] = sum(eu_members.values())
            stocks["ROW"] = total - sum(stocks.values())
            denominator = (
                f"all migrants from {state} = {total:,} (sum of the 232 country/area rows"
                + (
                    "; equals the published WORLD row)"
                    if total == world_published
                    else f"; the published WORLD row of this copy says {world_published:,},"
                    " see README on the Canada revision)"
                )
            )
            for partner in ("RUS", "CHN", "USA", "EU", "TUR", "IRN", "ROW"):
                if partner == "EU":
                    listed = "; ".join(f"{n} {v:,}" for n, v in eu_members.items() if v)
                    numerator = (
                        f"migrants from {state} in the EU-27 (members as of 2020, same set "
                        f"every year) = {stocks['EU']:,} ({listed or 'all 27 rows zero'})"
                    )
                    if not_available:
                        numerator += (
                            " [cells marked '..' (not available), counted as 0 as in the UN "
                            f"WORLD row: {', '.join(not_available)}]"
                        )
                elif partner == "ROW":
                    numerator = (
                        f"migrants from {state} in the rest of the world = {stocks['ROW']:,} "
                        "(total minus RUS, CHN mainland, USA, EU-27, TUR, IRN)"
                    )
                else:
                    numerator = (
                        f"migrants from {state} in {SINGLE_PARTNERS[partner]} = {stocks[partner]:,}"
                    )
                out.append(
                    {
                        "state": state,
                        "partner": partner,
                        "dimension": "societal",
                        "indicator": INDICATOR,
                        "year_start": year,
                        "year": year,
                        "value": repr(100 * stocks[partner] / total),
                        "unit": "percent",
                        "source": SOURCE,
                        "note": (
                            f"Derived: 100 x {numerator} / {denominator}. Stock at mid-year "
                            "(1 July); foreign-born, or foreign citizens where a destination "
                            "reports only citizenship; includes people born in the Soviet "
                            "republic who moved within the USSR before 1991."
                        ),
                    }
                )
    return out


def main() -> None:
    rows = derive()
    replace_rows(OUT, {INDICATOR}, rows, key=by_indicator)
    print(f"{INDICATOR}: {len(rows)} rows written to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
