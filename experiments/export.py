"""Export a stored batch for use elsewhere: its summary over runs, or its runs, as CSV,
Parquet or NetCDF (``multivector export``).

The *summary* has one row per date, state and metric (and sweep point, for a sweep): the
number of runs, their mean, and the 5th, 25th, 50th (``median``), 75th and 95th percentiles
over runs, computed as :func:`numpy.quantile` does (linear interpolation). The *runs* are the
batch's own tables. NetCDF files are written by xarray with named dimensions (``date``,
``state``, ``metric``, and ``point`` or ``run``) in the NetCDF-3 format (scipy's writer, no
HDF5 library needed); labels and units come from the metric registry.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.figures import metric_label
from experiments.store import Batch, BatchError

__all__ = ["EXPORT_FORMATS", "STATISTICS", "WHAT", "export", "summary_table"]

WHAT = ("summary", "runs")
EXPORT_FORMATS = ("csv", "parquet", "netcdf")
SUFFIX = {"csv": ".csv", "parquet": ".parquet", "netcdf": ".nc"}
STATISTICS = {"p05": 0.05, "p25": 0.25, "median": 0.5, "p75": 0.75, "p95": 0.95}
"""The summary's quantile columns and their probabilities."""


def _numeric_metrics(batch: Batch) -> list[str]:
    metrics = batch.metrics()
    return [c for c in batch.metric_names() if pd.api.types.is_float_dtype(metrics[c])]


def summary_table(batch: Batch) -> pd.DataFrame:
    """One row per (sweep point,) date, state and metric: runs, mean and the quantiles of
    :data:`STATISTICS` over runs."""
    metrics = batch.metrics()
    keys = (["point"] if batch.swept else []) + ["date", "state"]
    columns = _numeric_metrics(batch)
    # float64 before the statistics, so the quantiles equal numpy's over the stored values
    grouped = metrics.astype(dict.fromkeys(columns, "float64")).groupby(keys, observed=True)[
        columns
    ]
    parts = {"runs": grouped.count(), "mean": grouped.mean()}
    parts |= {name: grouped.quantile(q) for name, q in STATISTICS.items()}
    long = pd.concat(
        {name: part.stack() for name, part in parts.items()}, axis=1, names=None
    ).rename_axis([*keys, "metric"])
    long["runs"] = long["runs"].astype(np.int64)
    out = long.reset_index()
    out["date"] = out["date"].dt.strftime("%Y-%m")
    out["state"] = out["state"].astype(str)
    return out


def export(
    path: str | Path, *, what: str = "summary", fmt: str = "csv", out: str | Path = "."
) -> list[Path]:
    """Write a batch's summary or runs into folder ``out`` as ``<batch>-<what>[-<table>]``
    files; returns them. Each file is written atomically (a temporary name, then a rename)."""
    if what not in WHAT:
        raise BatchError(f"--what {what}: one of {', '.join(WHAT)}")
    if fmt not in EXPORT_FORMATS:
        raise BatchError(f"--format {fmt}: one of {', '.join(EXPORT_FORMATS)}")
    batch = Batch(path)
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise BatchError(f"--out {out}: is a file; give a folder")
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{batch.path.name}-{what}"
    if what == "summary":
        table = summary_table(batch)
        if fmt == "netcdf":
            return [_write(folder / f"{stem}.nc", _summary_dataset(batch, table).to_netcdf)]
        return [_write_table(folder / stem, table, fmt)]
    if fmt == "netcdf":
        return [_write(folder / f"{stem}.nc", _runs_dataset(batch).to_netcdf)]
    written = []
    for name in batch.tables:
        table = batch.metrics() if name == "metrics" else _load(batch, name)
        written.append(_write_table(folder / f"{stem}-{name}", table, fmt))
    return written


def _load(batch: Batch, table: str) -> pd.DataFrame:
    from experiments.store import load

    return load(batch.path, table)


def _write(path: Path, writer: Callable[..., object]) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if path.suffix == ".nc":
            writer(tmp, engine="scipy")
        else:
            writer(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _write_table(stem: Path, table: pd.DataFrame, fmt: str) -> Path:
    path = stem.with_name(stem.name + SUFFIX[fmt])
    if fmt == "csv":
        return _write(path, lambda f: table.to_csv(f, index=False))
    return _write(path, lambda f: table.to_parquet(f, index=False))


def _attributes(batch: Batch) -> dict[str, str]:
    m = batch.manifest
    return {
        "title": batch.title,
        "batch": str(batch.path),
        "scenario_file": m["scenario"]["file"],
        "scenario_hash": m["scenario"]["hash"],
        "batch_seed": str(m["batch"]["batch_seed"]),
        "store": batch.store,
        "uncertainty": batch.band_note or "sweep points and seeds",
        "source": "multivector (experiments.export)",
    }


def _summary_dataset(batch: Batch, table: pd.DataFrame):
    import xarray as xr

    keys = (["point"] if batch.swept else []) + ["date", "state", "metric"]
    frame = table.assign(date=pd.to_datetime(table["date"])).set_index(keys)
    data = xr.Dataset.from_dataframe(frame)
    data = data.assign_coords(
        metric_label=("metric", [metric_label(m).replace("\n", " ") for m in data["metric"].values])
    )
    for name, q in STATISTICS.items():
        data[name].attrs["long_name"] = f"{q:.0%} quantile over runs"
    data["runs"].attrs["long_name"] = "runs"
    data["mean"].attrs["long_name"] = "mean over runs"
    data.attrs = _attributes(batch)
    return data


def _runs_dataset(batch: Batch):
    import xarray as xr

    metrics = batch.metrics()
    columns = _numeric_metrics(batch)
    cube = metrics.set_index(["run", "date", "state"])[columns].astype("float64")
    cube.index = cube.index.set_levels(cube.index.levels[2].astype(str), level=2)
    data = xr.Dataset.from_dataframe(cube)
    per_run = metrics.drop_duplicates("run").set_index("run")
    coords = {"point": ("run", per_run["point"].to_numpy(np.int32))}
    coords["replicate"] = ("run", per_run["replicate"].to_numpy(np.int32))
    # NetCDF-3 has no 64-bit integers: the seeds as text
    coords["seed"] = ("run", per_run["seed"].astype(str).to_numpy())
    for key in batch.varied:
        coords[key] = ("run", per_run[key].to_numpy(np.float64))
    data = data.assign_coords(coords)
    for name in columns:
        data[name].attrs["long_name"] = metric_label(name).replace("\n", " ")
    data.attrs = _attributes(batch)
    return data
