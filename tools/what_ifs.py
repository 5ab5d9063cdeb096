"""The scenario library's results table (docs/scenarios.md), with seed-only and posterior bands.

Runs the reference (``scenarios/baseline-2040.toml``) and every what-if in
``scenarios/what-ifs/`` with the same batch seed and ``--runs`` replicates, twice: at the
calibrated values (seeds only) and with each run's parameters drawn from the posterior
(``--posterior``, posterior and seeds). Because a what-if and the reference share their seeds
and, with ``--posterior``, their drawn particles (both are drawn from the batch seed), run ``r``
of the what-if is paired with run ``r`` of the reference. For each what-if, state and metric it
prints the median over runs of the paired change in December 2040 and its 90% interval over
runs (5th and 95th percentiles): with seeds only the interval is seed noise, with the posterior
it also carries what the calibration leaves undecided.

Usage::

    .venv/bin/python tools/what_ifs.py [--runs 200] [--out /tmp/what-ifs]

It prints a Markdown table (one row per what-if and state whose change is not exactly 0) and
writes it with the per-run changes (``what-ifs.parquet``) to ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments.cli import main as multivector  # noqa: E402
from experiments.store import load  # noqa: E402

REFERENCE = ROOT / "scenarios" / "baseline-2040.toml"
POSTERIOR = ROOT / "scenarios" / "baseline-posterior.parquet"
METRICS = {"dependence": "dependence", "Russia": "pole_Russia", "China": "pole_China"}
METRICS["West"] = "pole_West"
BANDS = {"seeds": [], "posterior": ["--posterior", str(POSTERIOR)]}


def run(scenario: Path, runs: int, out: Path, band: str) -> Path:
    """Run one scenario into ``out/<band>/`` and return its batch folder."""
    folder = out / band
    before = set(folder.glob("*/*")) if folder.exists() else set()
    args = ["run", str(scenario), "--runs", str(runs), "--out", str(folder), "--quiet"]
    code = multivector([*args, "--no-figures", *BANDS[band]])
    if code != 0:
        raise SystemExit(f"{scenario}: multivector run exited with {code}")
    (new,) = set(folder.glob("*/*")) - before
    return new


def final(folder: Path) -> pd.DataFrame:
    """December 2040 of the metrics table: one row per run and state."""
    metrics = load(folder, columns=["run", "date", "state", *METRICS.values()])
    last = metrics[metrics["date"] == metrics["date"].max()]
    return last.sort_values(["state", "run"]).reset_index(drop=True)


def changes(reference: pd.DataFrame, what_if: pd.DataFrame) -> pd.DataFrame:
    """Per run and state, the what-if minus the reference (paired by run)."""
    if not (reference[["run", "state"]].equals(what_if[["run", "state"]])):
        raise SystemExit("the reference and the what-if do not pair run by run")
    out = what_if[["run", "state"]].copy()
    for name, column in METRICS.items():
        out[name] = what_if[column].to_numpy() - reference[column].to_numpy()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("/tmp/what-ifs"))
    args = parser.parse_args()

    parts = []
    for band in BANDS:
        reference = final(run(REFERENCE, args.runs, args.out, band))
        for path in sorted((ROOT / "scenarios" / "what-ifs").glob("*.toml")):
            change = changes(reference, final(run(path, args.runs, args.out, band)))
            parts.append(change.assign(what_if=path.stem, band=band))
    table = pd.concat(parts, ignore_index=True)
    table.to_parquet(args.out / "what-ifs.parquet", index=False)

    def cell(values: pd.Series) -> str:
        lo, med, hi = np.quantile(values, [0.05, 0.5, 0.95])
        return f"{med:+.3f} [{lo:+.3f}, {hi:+.3f}]"

    lines = [
        "| what-if | state | band | " + " | ".join(METRICS) + " |",
        "|---|---|---|" + "---|" * len(METRICS),
    ]
    for (what_if, state), group in table.groupby(["what_if", "state"], sort=True):
        if not group[list(METRICS)].to_numpy().any():
            continue
        for band, rows in group.groupby("band", sort=False):
            cells = " | ".join(cell(rows[name]) for name in METRICS)
            lines.append(f"| `{what_if}` | {state} | {band} | {cells} |")
    unchanged = sorted(
        w for w, g in table.groupby("what_if") if not g[list(METRICS)].to_numpy().any()
    )
    text = "\n".join(lines) + "\n"
    if unchanged:
        text += "\nUnchanged (exactly 0 in every run): " + ", ".join(f"`{w}`" for w in unchanged)
    (args.out / "what-ifs.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
