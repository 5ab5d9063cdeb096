"""Outputs an analyst can publish and find (issue 17): batch names, ``list``, figures for
papers, ``compare`` of several batches, ``export``, help text, licence and citation."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from experiments.batch import run_batch
from experiments.cli import main, parser
from experiments.export import STATISTICS, export
from experiments.figures import SIZES, parameter_label
from experiments.listing import batches as listed
from experiments.store import load
from model.scenario import load_scenario
from tests.conftest import ROOT, SCENARIOS


@pytest.fixture(scope="module")
def three(baseline, tmp_path_factory):
    """Two seeds of the baseline and a null model: the README's first morning."""
    out = tmp_path_factory.mktemp("outputs")
    common = {"progress": False, "out": out, "workers": 2, "runs": 5}
    first = run_batch(baseline, seed=1, **common).path
    second = run_batch(baseline, seed=2, **common).path
    null = run_batch(load_scenario(SCENARIOS / "no-balancing.toml"), seed=1, **common).path
    return out, [first, second, null]


def test_batches_get_distinct_names_and_list_shows_them(three, capsys):
    out, paths = three
    names = [p.name for p in paths]
    assert len(set(names)) == 3
    for path, scenario in zip(paths, ("baseline", "baseline", "no-balancing"), strict=True):
        assert re.fullmatch(rf"{scenario}-\d{{8}}T\d{{6}}-[0-9a-f]{{8}}", path.name)
    # the two seeds differ in the plan hash, not only in the stamp
    assert names[0].rsplit("-", 1)[1] != names[1].rsplit("-", 1)[1]
    assert main(["list", str(out)]) == 0
    text = capsys.readouterr().out
    for path in paths:
        assert path.name in text
    table = listed(out)
    assert list(table["seed"]) == [1, 2, 1]  # oldest first
    assert set(table["status"]) == {"complete"}
    assert (table["size"] > 0).all() and (table["runs"] == 5).all()


def test_the_manifest_records_the_code(three):
    manifest = json.loads((three[1][0] / "manifest.json").read_text())
    code = manifest["code"]
    assert set(code) >= {"commit", "clean"}
    if code["commit"] is not None:
        assert re.fullmatch(r"[0-9a-f]{40}", code["commit"]) and isinstance(code["clean"], bool)


def test_a_single_column_pdf_is_3_5_inches_wide(three):
    path = three[1][0]
    assert main(["plot", str(path), "--kind", "trajectories", "--format", "pdf", "--size",
                 "single", "--no-title"]) == 0  # fmt: skip
    pdf = (path / "figures" / "trajectories-dependence.pdf").read_bytes()
    box = re.search(rb"/MediaBox \[ *0 0 ([\d.]+) ([\d.]+) *\]", pdf)
    assert float(box.group(1)) == pytest.approx(3.5 * 72)


def test_svg_text_is_editable_and_text_is_at_least_7_points(three):
    path = three[1][0]
    assert main(["plot", str(path), "--kind", "simplex", "--format", "svg", "--size",
                 "single"]) == 0  # fmt: skip
    svg = (path / "figures" / "simplex.svg").read_text()
    assert "<text" in svg and "Kazakhstan" in svg  # text, not glyph paths
    assert min(size.font for size in SIZES.values()) >= 7
    assert SIZES["single"].width == 3.5 and SIZES["double"].width == 7.2


def test_labels_come_from_the_declarations():
    names = {"KAZ": "Kazakhstan", "CHN": "China"}
    assert parameter_label("states.KAZ.balancing_propensity", names) == (
        "Balancing propensity of Kazakhstan (utility units)"
    )
    assert parameter_label("powers.CHN.capacity.economic", names) == (
        "Capacity of China, economic (multiplier)"
    )


def test_export_summary_medians_equal_numpys(three, tmp_path):
    path = three[1][0]
    (written,) = export(path, what="summary", fmt="csv", out=tmp_path)
    table = pd.read_csv(written)
    assert list(table.columns) == ["date", "state", "metric", "runs", "mean", *STATISTICS]
    metrics = load(path)
    final = metrics[metrics["date"] == metrics["date"].max()]
    for state in ("KAZ", "UZB"):
        values = final.loc[final["state"] == state, "dependence"].to_numpy(np.float64)
        row = table[
            (table["date"] == "2021-12") & (table["state"] == state)
            & (table["metric"] == "dependence")
        ]  # fmt: skip
        assert row["runs"].item() == 5
        assert row["median"].item() == pytest.approx(np.median(values), rel=1e-12)
        assert row["p05"].item() == pytest.approx(np.quantile(values, 0.05), rel=1e-12)


def test_export_netcdf_has_named_dimensions(three, tmp_path):
    xr = pytest.importorskip("xarray")
    path = three[1][0]
    assert main(["export", str(path), "--format", "netcdf", "--out", str(tmp_path)]) == 0
    (file,) = tmp_path.glob("*-summary.nc")
    with xr.open_dataset(file, engine="scipy") as data:
        assert set(data["median"].dims) == {"date", "state", "metric"}
        assert data.sizes["state"] == 5


def test_compare_overlays_three_batches(three, tmp_path, capsys):
    _, paths = three
    assert main(["compare", *map(str, paths), "--out", str(tmp_path)]) == 0
    (folder,) = (tmp_path / "compare").iterdir()
    assert (folder / "compare-overlay-dependence.png").exists()
    over_time = pd.read_csv(folder / "compare-dependence.csv")
    assert set(over_time["batch"]) == {str(paths[1]), str(paths[2])}
    assert over_time["date"].nunique() == 31  # every recorded December, not the final month
    # the overlay draws one median per batch per panel
    from experiments.analysis import Batch, _overlay_figure

    batches = [Batch(p) for p in paths]
    from experiments.analysis import DEFAULT_LOOK, _batch_labels, _runs_by_date_state

    cubes = [_runs_by_date_state(b, "dependence") for b in batches]
    fig = _overlay_figure(batches, cubes, _batch_labels(batches), DEFAULT_LOOK, "Dependence")
    assert len(fig.axes[0].lines) == 3


def _subparsers(top: argparse.ArgumentParser):
    (action,) = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices


def test_every_command_and_option_says_what_it_does():
    commands = _subparsers(parser())
    assert {"list", "export", "compare", "plot", "report", "discover"} <= set(commands)
    for name, sub in commands.items():
        assert sub.description and sub.description[0].isupper(), name
        assert sub.description.split(". ")[0].count(" ") >= 3, name  # a sentence
        for action in sub._actions:
            if not isinstance(action, argparse._HelpAction):
                assert action.help, f"{name} {action.option_strings or action.dest}"
    metric_help = next(a.help for a in commands["plot"]._actions if a.dest == "metric")
    assert "hhi" in metric_help and "effective_partners" in metric_help


def test_a_metrics_store_run_says_why_it_drew_no_figures(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "experiments.cli", "run", str(SCENARIOS / "baseline.toml"),
         "--runs", "2", "--engine", "mesa", "--store", "metrics", "--quiet",
         "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    assert "no figures" in done.stderr and "--kind distribution" in done.stderr


def test_licence_and_citation_exist():
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    citation = (ROOT / "CITATION.cff").read_text()
    assert "cff-version" in citation and "10.37178/ca-c.21.4.05" in citation
