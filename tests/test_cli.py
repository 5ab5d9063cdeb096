"""The command line: a batch end to end, reproducibility across workers, and user errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from experiments.batch import replicate_seeds
from experiments.cli import main
from experiments.store import load
from tests.conftest import BASELINE


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    assert (
        main(
            [
                "run",
                str(BASELINE),
                "--runs",
                "4",
                "--workers",
                "2",
                "--out",
                str(out),
                "--quiet",
                "--store",
                "monthly",
                "--set",
                "states.KAZ.balancing_propensity=2.0",
            ]
        )
        == 0
    )
    (folder,) = (out / "baseline").iterdir()
    return folder


def test_batch_folder_has_manifest_tables_and_figures(batch):
    manifest = json.loads((batch / "manifest.json").read_text())
    assert manifest["batch"]["runs"] == 4
    assert manifest["parameters"]["states.KAZ.balancing_propensity"]["value"] == 2.0
    assert batch.name.startswith(f"{manifest['scenario']['name']}-")  # <scenario>-<stamp>-<plan>
    assert len(manifest["batch"]["seeds"]) == 4
    for name in ("trajectories-dependence", "shares-overall", "simplex", "regional"):
        for ext in ("png", "svg"):
            assert (batch / "figures" / f"{name}.{ext}").stat().st_size > 10_000
    assert manifest["status"] == "complete"
    metrics = load(batch)
    assert {
        "run",
        "seed",
        "date",
        "state",
        "dependence",
        "hhi",
        "vulnerability",
        "drift_year_on_year",
        "pole_Russia",
        "relative_Russia_West",
        "regional_cooperation",
    } <= set(metrics.columns)
    assert metrics["date"].min() == pd.Timestamp("1991-12-01")
    assert metrics["date"].max() == pd.Timestamp("2021-12-01")
    assert len(metrics) == 4 * 361 * 5
    shares = load(batch, "shares")
    totals = shares.groupby(["run", "date", "state", "dimension"], observed=True)["share"].sum()
    np.testing.assert_allclose(totals, 1.0, atol=1e-5)


def test_seeds_recorded_and_reproducible(batch, tmp_path):
    metrics = load(batch)
    manifest = json.loads((batch / "manifest.json").read_text())
    assert [int(s) for s in metrics.groupby("run")["seed"].first()] == manifest["batch"]["seeds"]
    assert manifest["batch"]["seeds"] == [
        int(s) for s in replicate_seeds(manifest["batch"]["batch_seed"], 4)
    ]
    # the same batch on one worker and the Mesa engine gives the same numbers
    assert (
        main(
            [
                "run",
                str(BASELINE),
                "--runs",
                "4",
                "--workers",
                "1",
                "--out",
                str(tmp_path),
                "--quiet",
                "--store",
                "monthly",
                "--engine",
                "mesa",
                "--set",
                "states.KAZ.balancing_propensity=2.0",
            ]
        )
        == 0
    )
    (again,) = (tmp_path / "baseline").iterdir()
    pd.testing.assert_frame_equal(metrics, load(again))


def test_a_runs_seed_does_not_depend_on_batch_size():
    assert np.array_equal(replicate_seeds(5, 3), replicate_seeds(5, 10)[:3])


def test_show_prints_values_and_sources(capsys):
    assert main(["show", str(BASELINE), "--set", "powers.CHN.interest=0.7"]) == 0
    text = capsys.readouterr().out
    assert "states.KAZ.balancing_propensity" in text and "article §Doctrine" in text
    assert "powers.CHN.interest" in text and "override (--set)" in text
    assert "2009-12  tkm_chn_pipeline_2009" in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "missing.toml"], "missing.toml"),
        (
            ["run", str(BASELINE), "--set", "states.KAZ.balancing_propensity=-1"],
            "states.KAZ.balancing_propensity",
        ),
        (["run", str(BASELINE), "--set", "states.XYZ.openness=1"], "states.XYZ"),
        (  # an event pushes the override out of range: the event's file, and the override
            ["run", str(BASELINE), "--set", "states.KGZ.balancing_propensity=20"],
            "baseline-prior.toml: events.kgz_concept_1999",
        ),
        (["run", str(BASELINE), "--set", "states.KGZ.balancing_propensity=20"], "set by --set"),
        (["run", str(BASELINE), "--set", "nonsense"], "KEY.PATH=VALUE"),
        (["run", str(BASELINE), "--runs", "0"], "--runs"),
        (["run", str(BASELINE), "--runs", "many"], "--runs"),
        (["show", str(BASELINE), "--set", "model.temperature=hot"], "model.temperature"),
    ],
)
def test_user_errors_are_one_line_exit_2_and_write_nothing(
    args, expected, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(
            main([*args, "--out", str(tmp_path / "out")] if args[0] == "run" else args)
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_malformed_file_names_file_key_and_allowed(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(f'extends = "{BASELINE}"\n[states.KAZ]\nneutrality = 1.5\n')
    assert main(["run", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "multivector: error: " + str(bad) + ": states.KAZ.neutrality = 1.5: a number in [0.0, 1.0]"
    )
    assert not (tmp_path / "out").exists()
