r"""What the scripts that write ``data/observed/*.csv`` share: the EU-27 and the CSV's rows.

The derivation scripts (``tools/observed/derive_*.py`` and ``tools/unga_agreement.py``) import
this module as ``tools.observed.common`` after putting the repository root on ``sys.path``
(they are run from the repository root as ``.venv/bin/python tools/...``). The CSV header is
:data:`experiments.observed.COLUMNS`, declared once there.

* :data:`EU27_2020` and :func:`eu27_2020`: the 27 member states of the European Union as of
  2020 (after the United Kingdom left on 31 January 2020), which the scripts apply to every
  year whatever the membership was then, in the spelling of each source.
* :func:`read_rows`, :func:`write_rows` and :func:`replace_rows`: read the rows of one CSV of
  the dataset, write them (UTF-8, ``\n`` line ends, header :data:`COLUMNS`), and replace the
  rows of some indicators while keeping every other row; :func:`by_indicator` and
  :func:`by_state` are the two row orders the CSVs are kept in.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path

from experiments.observed import COLUMNS, PARTNERS, STATES

__all__ = [
    "EU27_2020",
    "by_indicator",
    "by_state",
    "eu27_2020",
    "read_rows",
    "replace_rows",
    "write_rows",
]

EU27_2020: tuple[str, ...] = (
    "Austria", "Belgium", "Bulgaria", "Croatia", "Cyprus", "Czechia", "Denmark", "Estonia",
    "Finland", "France", "Germany", "Greece", "Hungary", "Ireland", "Italy", "Latvia",
    "Lithuania", "Luxembourg", "Malta", "Netherlands", "Poland", "Portugal", "Romania",
    "Slovakia", "Slovenia", "Spain", "Sweden",
)  # fmt: skip
"""The 27 EU member states as of 2020 (without the United Kingdom), in English short names."""

Row = dict[str, str]


def eu27_2020(spelling: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The EU-27 of 2020 as a source names them, in the order of :data:`EU27_2020`.

    Parameters
    ----------
    spelling : mapping of str to str, optional
        The source's name for each member it spells differently from :data:`EU27_2020`, e.g.
        ``{"Czechia": "Czech Republic"}``; members not in it keep their name.

    Returns
    -------
    tuple of str
        27 names.

    Raises
    ------
    KeyError
        If a key of ``spelling`` is not in :data:`EU27_2020` (a misspelt member).
    """
    spelling = dict(spelling or {})
    unknown = sorted(set(spelling) - set(EU27_2020))
    if unknown:
        raise KeyError(f"not EU-27 members: {', '.join(unknown)}")
    return tuple(spelling.get(name, name) for name in EU27_2020)


def read_rows(path: Path) -> list[Row]:
    """The rows of one CSV of the observed dataset, in file order.

    Parameters
    ----------
    path : pathlib.Path
        The CSV (UTF-8 with the header :data:`COLUMNS`).

    Returns
    -------
    list of dict
        One ``{column: text}`` per row; empty if ``path`` does not exist.

    Raises
    ------
    ValueError
        If the file's header is not :data:`COLUMNS`.
    """
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"unexpected header in {path}: {reader.fieldnames}")
        return list(reader)


def write_rows(path: Path, rows: Iterable[Mapping[str, object]]) -> None:
    r"""Write rows to one CSV of the observed dataset, replacing the file.

    The file is UTF-8 with ``\n`` line ends, the header :data:`COLUMNS` and the rows in the
    order given; each value is written as ``str(value)`` (``None`` as an empty field). The
    parent folder is created if it is missing.

    Parameters
    ----------
    path : pathlib.Path
    rows : iterable of mapping
        Each with keys from :data:`COLUMNS` only (a missing key is written empty).

    Raises
    ------
    ValueError
        If a row has a key not in :data:`COLUMNS`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def replace_rows(
    path: Path,
    indicators: Collection[str],
    new_rows: Iterable[Mapping[str, object]],
    key: Callable[[Mapping[str, object]], object] | None = None,
) -> int:
    """Replace the rows of some indicators in one CSV of the dataset; keep every other row.

    The rows read from ``path`` whose indicator is not in ``indicators`` are kept (in file
    order), followed by ``new_rows``; if ``key`` is given the result is sorted by it (a stable
    sort, so rows with equal keys keep that order). The file is then rewritten with
    :func:`write_rows`.

    Parameters
    ----------
    path : pathlib.Path
        The CSV; a missing file counts as having no rows.
    indicators : collection of str
        The indicators whose rows ``new_rows`` replace.
    new_rows : iterable of mapping
        The new rows, keys from :data:`COLUMNS`.
    key : callable, optional
        Sort key of a row, e.g. :func:`by_indicator` or :func:`by_state`; ``None`` keeps the
        order kept rows, then new rows.

    Returns
    -------
    int
        The number of rows kept from the file.

    Raises
    ------
    ValueError
        If the file's header is not :data:`COLUMNS`.
    """
    kept = [row for row in read_rows(path) if row["indicator"] not in indicators]
    rows = [*kept, *new_rows]
    if key is not None:
        rows.sort(key=key)
    write_rows(path, rows)
    return len(kept)


def by_indicator(row: Mapping[str, object]) -> tuple[str, str, int, int]:
    """Sort key: indicator, state (alphabetical), year, partner (in the order of ``PARTNERS``).

    The order of ``societal.csv``. ``PARTNERS`` is :data:`experiments.observed.PARTNERS`
    (RUS, CHN, USA, EU, TUR, IRN, ROW, ALL).

    Raises
    ------
    ValueError
        If the row's partner is not in ``PARTNERS``.
    """
    return (
        str(row["indicator"]),
        str(row["state"]),
        int(row["year"]),
        PARTNERS.index(str(row["partner"])),
    )


def by_state(row: Mapping[str, object]) -> tuple[int, str, int, int]:
    """Sort key: state (in the order of ``STATES``), indicator, partner, year.

    The order of ``economic.csv``. ``STATES`` and the partner order are those of
    :data:`experiments.observed.STATES` and :data:`experiments.observed.PARTNERS`.

    Raises
    ------
    ValueError
        If the row's state is not in ``STATES`` or its partner not in ``PARTNERS``.
    """
    return (
        STATES.index(str(row["state"])),
        str(row["indicator"]),
        PARTNERS.index(str(row["partner"])),
        int(row["year"]),
    )
