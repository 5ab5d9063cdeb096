"""The batches under a results folder, one row each: what ``multivector list`` prints.

A batch is a folder with a ``manifest.json`` that has a plan (``batch``); report folders
(validation, calibration, sensitivity, comparison, discovery) are not batches and are left out.
Nothing here reads a batch's tables: a row comes from the manifest and the folder's size.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from experiments.store import INCOMPLETE, MANIFEST, BatchError

__all__ = ["COLUMNS", "batches", "listing_text"]

COLUMNS = ("name", "scenario", "runs", "points", "seed", "store", "status", "created", "size")
"""The columns of :func:`batches`, in the order ``list`` prints them."""

DEPTH = 3
"""How deep under the folder batches are looked for (``results/<scenario>/<batch>`` is 2)."""


def batches(folder: str | Path = "results") -> pd.DataFrame:
    """One row per batch under ``folder`` (or ``folder`` itself if it is a batch), oldest first.

    Columns :data:`COLUMNS`: the folder's ``name`` (its path relative to ``folder``), the
    ``scenario``, total ``runs``, sweep ``points``, batch ``seed``, ``store``, ``status``
    (``complete``, or ``incomplete`` with its last session's state: ``running`` or
    ``interrupted``), ``created`` (the first session's start, UTC) and ``size`` in bytes.
    """
    root = Path(folder)
    if not root.is_dir():
        raise BatchError(f"{folder}: no such folder")
    rows = [_row(root, path) for path in _manifests(root)]
    frame = pd.DataFrame([r for r in rows if r is not None], columns=[*COLUMNS, "started"])
    # by the full start time: batches started in the same second keep their order
    frame = frame.sort_values(["started", "name"], ignore_index=True)
    return frame[list(COLUMNS)]


def _manifests(root: Path):
    if (root / MANIFEST).is_file():
        yield root
        return
    for here, names, files in os.walk(root):
        depth = len(Path(here).relative_to(root).parts)
        names[:] = sorted(n for n in names if not n.startswith(".") and depth < DEPTH)
        if MANIFEST in files and Path(here) != root:
            names[:] = []  # never look inside a batch
            yield Path(here)


def _row(root: Path, path: Path) -> dict | None:
    try:
        manifest = json.loads((path / MANIFEST).read_text())
        plan = manifest["batch"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # not a batch (a report folder's manifest, or an unreadable one)
    sessions = manifest.get("sessions") or [{}]
    status = manifest.get("status", "unknown")
    if status != "complete":
        last = sessions[-1].get("status", "not started")
        status = f"incomplete ({last})" if path.name.endswith(INCOMPLETE) else status
    return {
        "name": str(path.relative_to(root)) if path != root else path.name,
        "scenario": manifest.get("scenario", {}).get("name", "?"),
        "runs": plan.get("total_runs"),
        "points": plan.get("points"),
        "seed": plan.get("batch_seed"),
        "store": plan.get("store"),
        "status": status,
        "created": str(sessions[0].get("started", ""))[:19].replace("T", " "),
        "started": str(sessions[0].get("started", "")),
        "size": sum(f.stat().st_size for f in path.rglob("*") if f.is_file()),
    }


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def listing_text(table: pd.DataFrame) -> str:
    """The table as aligned text, sizes in kB, MB or GB."""
    shown = table.assign(size=table["size"].map(_size)).astype(str)
    widths = {c: max(len(c), *(len(v) for v in shown[c])) for c in COLUMNS}
    lines = ["  ".join(c.ljust(widths[c]) for c in COLUMNS)]
    for row in shown.itertuples(index=False):
        lines.append("  ".join(str(v).ljust(widths[c]) for c, v in zip(COLUMNS, row, strict=True)))
    return "\n".join(line.rstrip() for line in lines)
