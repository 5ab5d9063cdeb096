"""Personal remittances received, % of GDP (WDI BX.TRF.PWKR.DT.GD.ZS), for the five states.

Reads the verbatim excerpt of the World Bank's indicator CSV (vintage "Last Updated Date
2022-02-15") kept in ``../shared/data/wdi-remittances/`` (relative to the repository root) and
writes one ``remittances_gdp`` row per state and year 1995-2021 that has a published value into
``data/observed/societal.csv``. Values are copied as published (the string in the CSV, full
precision); no value is computed, filled or rounded. Rows of other indicators already in the
CSV are kept; rows of this indicator are replaced.

Run from the repository root::

    python tools/observed/derive_wdi_remittances.py
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.observed.common import by_indicator, replace_rows  # noqa: E402

RAW = (
    ROOT.parent
    / "shared"
    / "data"
    / "wdi-remittances"
    / "API_BX.TRF.PWKR.DT.GD.ZS_DS2_en_csv_v2_3686014.central-asia-excerpt.csv"
)
OUT = ROOT / "data" / "observed" / "societal.csv"
INDICATOR = "remittances_gdp"
STATES = ("KAZ", "KGZ", "TJK", "TKM", "UZB")
FIRST_YEAR, LAST_YEAR = 1995, 2021
SOURCE = (
    "World Bank, World Development Indicators, indicator BX.TRF.PWKR.DT.GD.ZS 'Personal "
    "remittances, received (% of GDP)', bulk CSV API_BX.TRF.PWKR.DT.GD.ZS_DS2_en_csv_v2_3686014 "
    "(Last Updated Date 2022-02-15), https://data.worldbank.org/indicator/BX.TRF.PWKR.DT.GD.ZS; "
    "copy read from github.com/owid/importers@222b5b882b52cfab8ce6416de5a539e1e94b34e7 "
    "migration/input/wb_wdi/remittances_received_share_gdp/; licence CC BY 4.0"
)
NOTE = (
    "As published in the WDI vintage of 2022-02-15 (value copied verbatim). Personal "
    "remittances = personal transfers + compensation of employees (IMF BPM6), in current US$, "
    "divided by GDP in current US$ (World Bank/IMF balance-of-payments data)."
)


def published_values() -> list[tuple[str, int, str]]:
    """Return (state, year, value-as-published) for every non-empty cell in the window."""
    with RAW.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    header = next(row for row in rows if row and row[0] == "Country Name")
    year_columns = {index: int(name) for index, name in enumerate(header) if name.strip().isdigit()}
    found = []
    for row in rows:
        if len(row) < 4 or row[1] not in STATES:
            continue
        assert row[3] == "BX.TRF.PWKR.DT.GD.ZS", row[:4]
        for index, year in year_columns.items():
            cell = row[index].strip() if index < len(row) else ""
            if cell and FIRST_YEAR <= year <= LAST_YEAR:
                float(cell)  # fail loudly on anything that is not a number
                found.append((row[1], year, cell))
    return found


def main() -> None:
    rows = [
        {
            "state": state,
            "partner": "ALL",
            "dimension": "societal",
            "indicator": INDICATOR,
            "year_start": str(year),
            "year": str(year),
            "value": value,
            "unit": "percent of GDP",
            "source": SOURCE,
            "note": NOTE,
        }
        for state, year, value in published_values()
    ]
    replace_rows(OUT, {INDICATOR}, rows, key=by_indicator)
    print(f"{INDICATOR}: {len(rows)} rows written to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
