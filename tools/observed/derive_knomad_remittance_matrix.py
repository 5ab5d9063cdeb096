"""Where each Central Asian state's remittances come from: World Bank/KNOMAD bilateral matrices.

Reads the World Bank/KNOMAD Bilateral Remittance Matrices (estimates, millions of US$; rows =
remittance-sending country, columns = remittance-receiving country) for 2016, 2017, 2018 and
2021 from ``../shared/data/knomad-bilateral-remittances/`` (relative to the repository root)
and writes ``remittance_origin_share`` rows into ``data/observed/societal.csv``.

For receiving state s, matrix year t and partner p::

    value = 100 * R(p -> s, t) / R(all -> s, t)

* R(p -> s): RUS = "Russian Federation", CHN = "China" (Hong Kong SAR and Macao SAR are
  separate rows and fall in ROW), USA = "United States", TUR = "Turkey", IRN = "Iran, Islamic
  Rep.", EU = the sum over the 27 member states of the European Union as of 2020 (same set in
  every year).
* R(all -> s): the published WORLD row of the matrix (2016, 2017, 2021; the script checks that
  it equals the sum of the sending-country rows). The 2018 copy is a CSV export of the country
  block only, in whole millions of US$ (the totals row was removed by whoever exported it), so
  the sum of its rows is used and every 2018 value carries rounding error of up to
  +/-0.5 million US$ per cell.
* ROW = total minus the six partners.

A receiving state whose total is zero in a matrix (Turkmenistan in 2018) gets no rows. Where
the matrix gives the whole total to Russia (Uzbekistan and Turkmenistan in every year here) the
rows are written, but the note says so: that is how the World Bank distributed the total, not an
observed breakdown.

These are model estimates, not reported flows: the World Bank distributes each country's total
inflow over senders in proportion to migrant stocks weighted by incomes (Ratha and Shaw 2007),
so the shares largely restate bilateral migrant stocks. The 2016 and 2017 matrices use the
same sending-country weights for Kazakhstan, Kyrgyzstan and Tajikistan (only the totals differ);
the script detects this and says so in the note.

Every float sum (the 2018 totals, the EU-27 sums, ROW) uses ``math.fsum`` (correctly rounded), so
the output does not depend on the Python version (the built-in ``sum`` of floats changed in 3.12)
or on pandas' summation order.

Needs pandas and openpyxl (``pip install openpyxl``). Run from the repository root::

    python tools/observed/derive_knomad_remittance_matrix.py
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.observed.common import by_indicator, eu27_2020, replace_rows  # noqa: E402

RAW_DIR = ROOT.parent / "shared" / "data" / "knomad-bilateral-remittances"
OUT = ROOT / "data" / "observed" / "societal.csv"
INDICATOR = "remittance_origin_share"
RECEIVERS = {
    "KAZ": "Kazakhstan",
    "KGZ": "Kyrgyz Republic",
    "TJK": "Tajikistan",
    "TKM": "Turkmenistan",
    "UZB": "Uzbekistan",
}
SINGLE_PARTNERS = {
    "RUS": "Russian Federation",
    "CHN": "China",
    "USA": "United States",
    "TUR": "Turkey",
    "IRN": "Iran, Islamic Rep.",
}
# the EU-27 of 2020 as the matrices spell them
EU27_2020 = eu27_2020({"Czechia": "Czech Republic", "Slovakia": "Slovak Republic"})
LICENCE = "World Bank data, licence CC BY 4.0"
MATRICES = {
    2016: (
        "bilateralremittancematrix2016_Nov2017.xlsx",
        "World Bank/KNOMAD, Bilateral Remittance Matrix 2016 (November 2017 version), sheet "
        "'Bilateral Remittances 2016', https://www.knomad.org/sites/default/files/2017-11/"
        "bilateralremittancematrix2016_Nov2017.xlsx; copy read from github.com/manojkmr63712/"
        f"Python_postgresql@15c6f8c5fa73435d06276c928f0f41ea2325b57c; {LICENCE}",
    ),
    2017: (
        "WB_Bilateral_Remittance_Estimates_2017.xlsx",
        "World Bank/KNOMAD, Bilateral Remittance Matrix 2017 (April 2018 version), sheet "
        "'Bilateral_Remittances_2017', http://pubdocs.worldbank.org/en/705611533661084197/"
        "bilateralremittancematrix2017-Apr2018.xlsx; copy read from github.com/hbenveniste/"
        f"mig-scenarios@a3610e86e8eee21a914dd9e70aaeb7cde94dedcb data/rem_wb/; {LICENCE}",
    ),
    2018: (
        "Bilateralremittancematrix2018Oct2019.csv",
        "World Bank/KNOMAD, Bilateral Remittance Matrix 2018 (October 2019 version), "
        "https://thedocs.worldbank.org/en/doc/904591573826885707-0090022019/original/"
        "Bilateralremittancematrix2018Oct2019.xlsx; CSV export of the country block (whole "
        "US$ millions, totals row removed) read from github.com/hannahkates/global-remittances"
        f"@d2db81c2c33e941f36ef6413075e9d7e0a9a9880 data/; {LICENCE}",
    ),
    2021: (
        "bilateral_remittance_matrix_2021.xlsx",
        "World Bank/KNOMAD, Bilateral Remittance Matrix 2021 (December 2022 version), sheet "
        "'FINAL BRM 2021', https://www.knomad.org/sites/default/files/2022-12/"
        "bilateral_remittance_matrix_2021_0.xlsx; copy read from github.com/artemdsmirnov/"
        "International-Payment-System-Go-to-Market-Strategy-and-Pricing-Points"
        f"@381b1ca052dd06923fb2be75099afabdf799576d; {LICENCE}",
    ),
}
METHOD_NOTE = (
    "Model estimate, not reported flows: the World Bank spreads each country's total recorded "
    "inflow over sending countries by migrant stocks weighted by host and origin incomes "
    "(Ratha and Shaw 2007)."
)


def read_matrix(year: int) -> tuple[pd.DataFrame, pd.Series | None]:
    """Return (flows in US$ million with senders as index and receivers as columns, WORLD row)."""
    path = RAW_DIR / MATRICES[year][0]
    if path.suffix == ".csv":
        flows = pd.read_csv(path, encoding="utf-8-sig", index_col=0)
        flows.index = flows.index.str.strip()
        return flows.apply(pd.to_numeric), None
    sheet = pd.read_excel(path, sheet_name=0, header=1, index_col=0)
    sheet.index = sheet.index.map(lambda name: str(name).strip())
    sheet.columns = [str(name).strip() for name in sheet.columns]
    # The country block ends at the WORLD row; notes follow below it.
    world_label = next(name for name in sheet.index if name.upper() == "WORLD")
    end = list(sheet.index).index(world_label)
    flows = sheet.iloc[:end].apply(pd.to_numeric, errors="coerce").fillna(0.0)
    world = pd.to_numeric(sheet.loc[world_label], errors="coerce")
    return flows, world


def same_weights_as(matrices: dict, year: int, receiver: str) -> list[int]:
    """Other matrix years whose sending-country weights for ``receiver`` equal this year's."""

    def weights(flows: pd.DataFrame) -> pd.Series:
        column = flows[receiver]
        total = math.fsum(column)
        return column / total if total else column

    mine = weights(matrices[year][0])
    twins = []
    for other, (flows, _) in matrices.items():
        theirs = weights(flows)
        same_senders = other != year and mine.index.equals(theirs.index)
        if same_senders and float((mine - theirs).abs().max()) < 1e-12:
            twins.append(other)
    return twins


def derive() -> list[dict[str, str]]:
    out = []
    matrices = {year: read_matrix(year) for year in MATRICES}
    for year, (_, source) in MATRICES.items():
        flows, world = matrices[year]
        for state, receiver in RECEIVERS.items():
            column = flows[receiver]
            summed = math.fsum(column)
            if world is None:
                total = summed
                total_text = f"sum of the sending-country rows = {total:g}"
            else:
                total = float(world[receiver])
                assert abs(total - summed) <= 1e-6 * max(1.0, total), (year, state)
                total_text = f"WORLD row = {total!r} (equals the sum of the country rows)"
            if total == 0:
                continue
            amounts = {p: float(column[name]) for p, name in SINGLE_PARTNERS.items()}
            eu_members = {name: float(column[name]) for name in EU27_2020}
            amounts["EU"] = math.fsum(eu_members.values())
            amounts["ROW"] = math.fsum([total, *(-v for v in amounts.values())])
            only_russia = amounts["RUS"] == total
            twins = [] if only_russia else same_weights_as(matrices, year, receiver)
            for partner in ("RUS", "CHN", "USA", "EU", "TUR", "IRN", "ROW"):
                if partner == "EU":
                    listed = "; ".join(f"{n} {v:g}" for n, v in eu_members.items() if v)
                    listed = (
                        f"non-zero members, shown here to 6 significant digits: {listed}"
                        if listed
                        else "all 27 rows zero"
                    )
                    what = f"from the EU-27 (members as of 2020) = {amounts['EU']!r} ({listed})"
                elif partner == "ROW":
                    what = (
                        f"from the rest of the world = {amounts['ROW']!r} (total minus RUS, "
                        "CHN mainland, USA, EU-27, TUR, IRN)"
                    )
                else:
                    what = f"from {SINGLE_PARTNERS[partner]} = {amounts[partner]!r}"
                note = (
                    f"Derived: 100 x remittances to {receiver} {what} / all remittances to "
                    f"{receiver}, {total_text}; US$ million. {METHOD_NOTE}"
                )
                if year == 2018:
                    note += " Inputs are whole US$ millions in this copy (rounding error)."
                if twins:
                    note += (
                        f" The sending-country weights for {receiver} in this matrix are "
                        f"identical (to 1e-12) to those of the {', '.join(map(str, twins))} "
                        "matrix, only the total differs, so these shares repeat that year's "
                        "and are not an independent estimate."
                    )
                if only_russia:
                    note = (
                        f"CAUTION: this matrix assigns the whole estimated inflow of {receiver} "
                        "to Russia (no other sending country has a non-zero cell), which is how "
                        "the World Bank filled this column, not an observed breakdown. " + note
                    )
                out.append(
                    {
                        "state": state,
                        "partner": partner,
                        "dimension": "societal",
                        "indicator": INDICATOR,
                        "year_start": str(year),
                        "year": str(year),
                        "value": repr(100 * amounts[partner] / total),
                        "unit": "percent",
                        "source": source,
                        "note": note,
                    }
                )
    return out


def main() -> None:
    rows = derive()
    replace_rows(OUT, {INDICATOR}, rows, key=by_indicator)
    print(f"{INDICATOR}: {len(rows)} rows written to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
