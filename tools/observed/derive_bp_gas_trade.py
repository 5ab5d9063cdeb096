"""Destination shares of natural-gas exports (``gas_export_share``) from BP's pipeline trade tables.

Reads the "Natural gas: trade movements by pipeline" sheet of twelve editions of the BP
Statistical Review of World Energy (editions 2010-2021 = data years 2009-2020), kept verbatim in
``../shared/data/bp-gas-pipeline-trade/`` (relative to the repository root; see the README there),
and writes ``gas_export_share`` rows into ``data/observed/economic.csv``. Rows of other indicators
are kept; rows of this indicator are replaced.

Each sheet is a matrix, billion cubic metres: importers in rows ("To"), exporters in columns
("From"), with a "Total exports" row. share = 100 x (cell importer p, exporter s) / (Total exports
of s). Kazakhstan, Turkmenistan and Uzbekistan export no LNG, so pipeline exports are all of
their gas exports as BP records them. Editions before 2010 leave out trade within the former
Soviet Union and are not used. The 2013 and 2014 editions (data 2012, 2013) have no Uzbekistan
column (it is inside "Other Former Soviet Union"). From the 2018 edition (data 2017) Iran is no
longer an importer row; it is inside "Other Middle East". Turkmenistan's exports to "Other Middle
East" are 0 in 2019 and 2020, hence 0 to Iran; in 2017 and 2018 they are not 0 (1.67 and 1.94 bcm)
and cannot be attributed to Iran, so no TKM-IRN row is written for those years. An importer row
missing from a sheet (China in the 2010 edition, before the Central Asia-China pipeline) or an
empty cell is read as 0 and the note says so.

Every Kazakhstan row from 2016 on says that each year comes from a different BP edition and that
the fall of Russia's share in 2020 (the 2021 edition) is probably a change in how BP records
Karachaganak gas (an inference, not confirmed by BP). Sums use ``math.fsum``; the CSV is written
with ``\n`` line ends.

Run from the repository root (needs openpyxl and xlrd)::

    python tools/observed/derive_bp_gas_trade.py
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import openpyxl
import xlrd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from experiments.observed import COLUMNS  # noqa: E402
from tools.observed.common import by_state, replace_rows  # noqa: E402

RAW = ROOT.parent / "shared" / "data" / "bp-gas-pipeline-trade"
OUT = ROOT / "data" / "observed" / "economic.csv"
INDICATOR = "gas_export_share"

# data year -> (edition, file, sheet)
EDITIONS = {
    2009: (2010, "BP_2010.xls", "Gas – Trade movements "),
    2010: (2011, "BP_2011.xls", "Gas - Trade - pipeline"),
    2011: (2012, "BP_2012.xlsx", "Gas - Trade - pipeline"),
    2012: (2013, "BP_2013.xlsx", "Gas - Trade - pipeline"),
    2013: (2014, "BP_2014.xlsx", "Gas - Trade - pipeline"),
    2014: (2015, "BP_2015.xlsx", "Gas - Trade - pipeline"),
    2015: (2016, "BP_2016.xlsx", "Gas - Trade - pipeline"),
    2016: (2017, "BP_2017.xlsx", "Gas - Trade - pipeline"),
    2017: (2018, "bp-stats-review-2018-all-data.xlsx", "Gas - Trade - pipeline"),
    2018: (2019, "bp-stats-review-2019-all-data.xlsx", "Gas - Trade movts - pipeline"),
    2019: (2020, "bp-stats-review-2020-all-data.xlsx", "Gas - Trade movts - pipeline"),
    2020: (2021, "bp-stats-review-2021-all-data.xlsx", "Gas - Trade movts - pipeline"),
}
# file name prefix -> (repository@commit, folder in that repository)
KNS94 = "github.com/kns94/EnergyDatabrowser-2018@508c8142170a28a2885ffcaad78315a94a8d7af4"
COPY_OF = {
    "BP_": (KNS94, "Data/BPStatReview/"),
    "bp-stats-review-2018": (
        "github.com/mattjcan/energy_data@e1cd1b65af03c8cfa1e49ea60e389b266dd1e9cd",
        "data/",
    ),
    "bp-stats-review-2019": (
        "github.com/tzeghnoun/BP_stats@beaa7faa8f2c145206ad41bad5fb2a7982406663",
        "data/",
    ),
    "bp-stats-review-2020": (
        "github.com/tamiressantosdata/Geothermal-Energy@e026e759ad01aca74d7d39e6659d841f7236409f",
        "",
    ),
    "bp-stats-review-2021": (
        "github.com/energyandcleanair/202203_russian_gas@fd872c8a2f371acd08a7ad0c1318b9fb0f46ed9f",
        "data/",
    ),
}
EXPORTERS = {"KAZ": "Kazakhstan", "TKM": "Turkmenistan", "UZB": "Uzbekistan"}
IMPORTERS = {"RUS": ("Russian Federation", "Russia"), "CHN": ("China",), "IRN": ("Iran",)}
# Iran is written for Turkmenistan only (Kazakhstan and Uzbekistan sent no pipeline gas to Iran).
IRN_FOR = ("TKM",)
NOTE_GCV = "; BP: standard cubic metres standardised at a GCV of 40 MJ/m3"
NOTE_2010 = " BP 2010 edition: flows on a contractual basis, may not match physical flows."
NOTE_KARACHAGANAK = (
    " Kazakhstan's 'exports' to Russia include Karachaganak gas sent to Orenburg for processing."
)
KAZ_BREAK_FROM = 2016
NOTE_KAZ_BREAK = (
    " CAUTION, possible break: from {first} on each year of Kazakhstan's series comes from a"
    " different BP edition (this year from the {edition} edition; each edition gives only one"
    " year's matrix), so year-to-year changes mix real flows with changes in BP's sources and"
    " recording. Russia's share"
    " falls to {rus_last:.1f} % in {last} ({rus_bcm_last:.2f} of {total_last:.2f} bcm, against"
    " {rus_bcm_prev:.2f} of {total_prev:.2f} bcm in {prev}; figures rounded here), which is"
    " probably a change in how BP records Karachaganak gas sent to Orenburg (an inference from"
    " the size of the drop, not confirmed by BP or another source)."
)


def norm(x: object) -> str:
    return re.sub(r"\s+", " ", str(x if x is not None else "")).strip()


def read_sheet(filename: str, sheet: str) -> list[list[object]]:
    path = RAW / filename
    if filename.endswith(".xls"):
        s = xlrd.open_workbook(path).sheet_by_name(sheet)
        return [s.row_values(i) for i in range(s.nrows)]
    ws = openpyxl.load_workbook(path, read_only=True, data_only=True)[sheet]
    return [list(r) for r in ws.iter_rows(values_only=True)]


def number(cell: object) -> tuple[float, bool]:
    """(value, was_empty). '-' and empty cells are 0 in BP's tables."""
    if cell in (None, "", "-"):
        return 0.0, True
    if isinstance(cell, (int, float)):
        return float(cell), False
    raise ValueError(f"unexpected BP cell {cell!r}")


def matrix(filename: str, sheet: str):
    rows = read_sheet(filename, sheet)
    title = norm(rows[0][0])
    head_i = next(i for i, r in enumerate(rows) if "Turkmenistan" in [norm(v) for v in r])
    head = [norm(v) for v in rows[head_i]]
    # the 2011 edition splits "Russian Federation" over two header lines; the 2010 one says "Russia"
    head = ["Russian Federation" if h in ("Federation", "Russia") else h for h in head]
    body = {}
    for r in rows[head_i + 1 :]:
        name = norm(r[0])
        if name:
            body[name] = r
    return title, head, body


def source_of(edition: int, filename: str, sheet: str, title: str) -> str:
    repo, folder = next(v for k, v in COPY_OF.items() if filename.startswith(k))
    return (
        f"BP Statistical Review of World Energy {edition}, workbook sheet '{sheet.strip()}' "
        f"(title: '{title}'), billion cubic metres, https://www.bp.com/statisticalreview "
        "(now Energy Institute, https://www.energyinst.org/statistical-review); workbook as "
        f"saved in {repo} path {folder}{filename}, copy in shared/data/bp-gas-pipeline-trade/; "
        "BP terms: quotation with attribution"
    )


def cell_for(partner: str, exporter: str, col: int, body: dict) -> tuple[float, str] | None:
    """(value in bcm, how it was read), or None where no value can be given."""
    name = next((n for n in IMPORTERS[partner] if n in body), None)
    if name is not None:
        value, empty = number(body[name][col])
        how = f"cell '{name}' row x '{exporter}' column = {value!r}"
        return value, how + (" (empty cell, read as 0)" if empty else "")
    if partner == "IRN":
        other = body.get("Other Middle East")
        if other is None or number(other[col])[0] != 0:
            return None  # 2017, 2018: gas to 'Other Middle East' not attributable to Iran
        return 0.0, (
            "Iran is not an importer row in this edition; it is inside 'Other Middle East', "
            f"to which {exporter}'s exports are 0, so 0 to Iran"
        )
    return 0.0, (
        f"no '{IMPORTERS[partner][0]}' importer row in this edition (no pipeline imports "
        "recorded), read as 0"
    )


def main() -> None:
    out: list[list] = []
    kaz_rus: dict[int, tuple[float, float, float]] = {}  # year -> (bcm to RUS, total, share)
    for year, (edition, filename, sheet) in EDITIONS.items():
        title, head, body = matrix(filename, sheet)
        source = source_of(edition, filename, sheet, title)
        total_row = next(body[k] for k in body if k.lower().startswith("total exports"))
        for state, exporter in EXPORTERS.items():
            if exporter not in head:
                continue  # 2013 and 2014 editions: Uzbekistan not shown separately
            col = head.index(exporter)
            total, _ = number(total_row[col])
            assert total > 0, (year, exporter)
            shares: list[float] = []
            for partner in IMPORTERS:
                if partner == "IRN" and state not in IRN_FOR:
                    continue
                found = cell_for(partner, exporter, col, body)
                if found is None:
                    continue
                value, how = found
                share = 100 * value / total
                shares.append(share)
                if (state, partner) == ("KAZ", "RUS"):
                    kaz_rus[year] = (value, total, share)
                note = (
                    f"Derived: 100 x {value!r} / {total!r} bcm ({exporter}'s 'Total exports' by "
                    f"pipeline, {year}); {how}; not rounded. Volume basis, bcm"
                    + (NOTE_GCV if edition >= 2018 else "")
                    + ". Pipeline exports = all gas exports of this state in BP's tables (no LNG)."
                    + (NOTE_2010 if edition == 2010 else "")
                    + (NOTE_KARACHAGANAK if (state, partner) == ("KAZ", "RUS") else "")
                )
                y = str(year)
                fields = [state, partner, "economic", INDICATOR, y, y, repr(share), "percent"]
                out.append([*fields, source, note, edition])
            assert math.fsum(shares) <= 100 + 1e-9, (year, state, shares)

    # the KAZ break note needs the last two years' figures
    last = max(kaz_rus)
    rus_bcm_last, total_last, rus_last = kaz_rus[last]
    rus_bcm_prev, total_prev, _ = kaz_rus[last - 1]
    for row in out:
        edition = row.pop()
        if row[0] == "KAZ" and int(row[5]) >= KAZ_BREAK_FROM:
            row[-1] += NOTE_KAZ_BREAK.format(
                first=KAZ_BREAK_FROM,
                edition=edition,
                rus_last=rus_last,
                last=last,
                rus_bcm_last=rus_bcm_last,
                total_last=total_last,
                rus_bcm_prev=rus_bcm_prev,
                total_prev=total_prev,
                prev=last - 1,
            )

    rows = [dict(zip(COLUMNS, row, strict=True)) for row in out]
    replace_rows(OUT, {INDICATOR}, rows, key=by_state)
    print(f"{len(out)} {INDICATOR} rows written to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
