"""Analysis of stored batches: figures, comparison, scenario discovery, the HTML report."""

from __future__ import annotations

import re

import numpy as np
import pytest

from experiments.analysis import (
    compare,
    discover,
    plot,
    simplex_figure,
    sweep_figure,
    trajectory_figure,
    write_report,
)
from experiments.batch import run_batch
from experiments.cli import main
from experiments.design import parse_sweep_option, sweep_of
from experiments.store import Batch
from tests.conftest import SCENARIOS

KAZ = "states.KAZ.balancing_propensity"


@pytest.fixture(scope="module")
def batches(baseline, tmp_path_factory):
    out = tmp_path_factory.mktemp("analysis")
    common = {"progress": False, "out": out, "workers": 2}
    plain = run_batch(baseline, runs=6, **common).path
    sweep = sweep_of(
        baseline,
        [
            parse_sweep_option(f"{KAZ}=0.5,1.5,3.0"),
            parse_sweep_option("powers.CHN.interest=0.5,1.5"),
        ],
    )
    swept = run_batch(baseline, runs=3, sweep=sweep, **common).path
    from model.scenario import load_scenario

    other = load_scenario(SCENARIOS / "no-balancing.toml")
    null = run_batch(other, runs=6, **common).path
    metrics_only = run_batch(baseline, runs=4, store="metrics", **common).path
    return {"plain": plain, "sweep": swept, "null": null, "metrics": metrics_only}


def _texts(fig):
    out = []
    for ax in fig.axes:
        out += [ax.get_xlabel(), ax.get_ylabel(), ax.get_title()]
        out += [t.get_text() for t in ax.get_xticklabels()]
    return [*out, fig._suptitle.get_text() if fig._suptitle else ""]


def test_trajectory_figure_has_states_dates_units_and_bands(batches):
    batch = Batch(batches["plain"])
    fig = trajectory_figure(batch, "dependence")
    texts = [*_texts(fig), fig._supylabel.get_text()]
    assert {"Kazakhstan", "Kyrgyzstan", "Tajikistan", "Turkmenistan", "Uzbekistan"} <= set(texts)
    assert any("Largest partner share" in t and "0-1" in t for t in texts)
    assert any(re.fullmatch(r"(19|20)\d\d", t) for t in texts)  # dates on the axis
    assert "(6 runs)" in fig._suptitle.get_text()
    # the dependence figure names the largest partner in the final month
    assert any(t.get_text().startswith("largest in 2021: ") for t in fig.axes[0].texts)
    first = fig.axes[0]
    assert len(first.collections) == 2 and len(first.lines) == 1  # 90% band, 50% band, median
    overlay = trajectory_figure(batch, "hhi", ["KAZ", "UZB"], overlay=True)
    assert len(overlay.axes) == 1 and len(overlay.axes[0].lines) == 2


def test_bands_say_what_their_runs_vary_in(batches):
    def legend(fig):
        return [t.get_text() for lg in fig.legends for t in lg.get_texts()]

    plain = Batch(batches["plain"])
    assert plain.uncertainty == "seeds" and plain.band_note == "seeds only"
    assert "90% of runs (seeds only)" in legend(trajectory_figure(plain, "dependence"))
    assert "Uncertainty in the bands: <strong>seeds only</strong>" in (
        write_report(batches["plain"]).read_text()
    )
    # a sweep keeps its labels: its band pools points, as its title says
    swept = Batch(batches["sweep"])
    assert swept.band_note is None
    fig = trajectory_figure(swept, "dependence")
    assert "90% of runs" in legend(fig) and "pooled over 6 sweep points" in fig._suptitle.get_text()


def test_plot_writes_every_supported_figure(batches):
    written = plot(batches["plain"])
    names = sorted(p.name for p in written)
    assert names == sorted(
        f"{n}.{e}"
        for n in ("trajectories-dependence", "dimensions", "shares-overall", "simplex", "regional")
        for e in ("png", "svg")
    )
    assert all(p.stat().st_size > 10_000 for p in written)
    simplex = simplex_figure(Batch(batches["plain"]))
    corners = [t.get_text() for t in simplex.axes[0].texts[:3]]
    # the one orientation of experiments.figures, as in the dashboard: West at the top
    assert corners == ["Russia", "China", "West (USA+EU)"]


def test_sweep_figures_split_by_a_swept_parameter(batches):
    batch = Batch(batches["sweep"])
    assert batch.swept == [KAZ, "powers.CHN.interest"]
    by = trajectory_figure(batch, "dependence", ["KAZ"], by=KAZ)
    labels = by.legends[0].get_texts()
    assert [t.get_text() for t in labels] == ["0.5", "1.5", "3"]
    one = sweep_figure(batch, "dependence", ["KAZ"], params=[KAZ])
    # human labels from the parameter table, not key paths
    assert one.axes[0].get_xlabel() == "Balancing propensity of Kazakhstan (utility units)"
    two = sweep_figure(batch, "dependence", ["KAZ", "UZB"])
    assert two.axes[0].get_ylabel() == "Interest of China (multiplier)"
    assert len(plot(batches["sweep"], kinds=["sweep"], by=KAZ)) == 2


def test_a_batch_compared_with_itself_differs_by_zero(batches, tmp_path):
    folder, table = compare(batches["plain"], batches["plain"], out=tmp_path)
    assert np.all(table["difference"] == 0)
    assert np.all(table["low_90"] == 0) and np.all(table["high_90"] == 0)
    assert (folder / "compare-dependence.png").exists()
    assert folder.parent == tmp_path / "compare"
    _, versus = compare(batches["plain"], batches["null"], out=tmp_path)
    versus = versus[versus["date"] == versus["date"].max()]
    # without balancing every state ends more dependent, beyond the bootstrap band
    assert np.all(versus["difference"] > 0) and np.all(versus["low_90"] > 0)


def test_discovery_finds_a_known_box(batches, tmp_path):
    # the outcome is a swept parameter itself: the box must be exactly that region
    folder, result = discover(batches["sweep"], f"`{KAZ}` > 2", out=tmp_path)
    assert result["density"] == 1.0 and result["coverage"] == 1.0
    assert result["box"][KAZ][0] > 1.5
    assert "powers.CHN.interest" not in result["box"]
    assert (folder / "discover.md").exists() and (folder / "prim-trajectory.png").exists()
    assert folder.parent == tmp_path / "discover"  # never inside the batch
    assert not list(batches["sweep"].glob("discover*"))
    # a model outcome: more balancing, less dependence
    _, model = discover(batches["sweep"], "dependence_KAZ < 0.5", out=tmp_path)
    assert 0 < model["true_share"] < 1 and model["density"] > model["true_share"]


def test_the_report_is_self_contained(batches):
    path = write_report(batches["plain"])
    text = path.read_text()
    assert text.startswith("<!doctype html>")
    assert "data:image/png;base64," in text
    assert not re.search(r"(src|href)=[\"']https?://", text)
    assert "Dependence: quantiles over runs" in text and "Kazakhstan" in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["plot", "{plain}", "--metric", "happiness"], "--metric happiness"),
        (["plot", "{plain}", "--states", "XYZ"], "--states XYZ"),
        (["plot", "/no/such/batch"], "no such batch folder"),
        (["plot", "{plain}", "--by", KAZ], "--by"),
        (["plot", "{metrics}", "--kind", "trajectories"], "final month only"),
        (["plot", "{metrics}"], "--kind distribution"),
        (["plot", "{plain}", "--events", "no_such_event"], "--events no_such_event"),
        (["compare", "{plain}"], "two batches or more"),
        (["compare", "{plain}", "{metrics}"], "final month only"),
        (["discover", "{plain}", "--outcome", "dependence_KAZ > 0.5"], "no swept parameters"),
        (["discover", "{sweep}", "--outcome", "happiness_KAZ > 1"], "--outcome"),
        (["report", "/no/such/batch"], "no such batch folder"),
    ],
)
def test_bad_paths_and_names_are_one_line_exit_2(batches, args, expected, capsys):
    argv = [a.format(**{k: str(v) for k, v in batches.items()}) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err


@pytest.mark.parametrize(
    "outcome",
    [
        "(dependence_KAZ > 0.5) | (@os.system('touch {marker}') == 99)",
        "dependence_KAZ.to_csv('{marker}')",
        "__import__('os').system('touch {marker}') == 0",
        "dependence_KAZ << 2",
    ],
)
def test_discover_never_runs_an_outcome_as_code(batches, outcome, tmp_path, capsys):
    """Issue 19: pandas' eval ran `id` and wrote files; now each is one line and exit 2."""
    marker = tmp_path / "marker"
    text = outcome.format(marker=marker)
    assert main(["discover", str(batches["sweep"]), "--outcome", text, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--outcome" in err and "Traceback" not in err
    assert not marker.exists()
    assert not (tmp_path / "discover").exists()


def test_discover_names_a_bad_date_in_one_line(batches, tmp_path, capsys):
    argv = ["discover", str(batches["sweep"]), "--outcome", "dependence_KAZ < 0.5"]
    with pytest.raises(SystemExit) as stop:  # refused by the parser, before anything runs
        main([*argv, "--date", "bogus", "--out", str(tmp_path)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bogus" in err and "YYYY-MM" in err
