"""Hostile input and damaged folders (issue 19): exit 2 and one line naming the file, key and
value, never code execution, a hang, a traceback or a half-written folder.

One regression test per example of the issue, then hypothesis fuzzing of scenario files,
command lines and batch folders (:mod:`tests.hostile`); tools/fuzz_inputs.py runs the same
strategies for thousands of inputs.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings

from experiments.store import BatchFolder, load
from tests.conftest import BASELINE
from tests.hostile import (
    FAST,
    attempt,
    bad_command_lines,
    batch_damages,
    damage_batch,
    finished_batch,
    interrupted_copy,
    scenario_mutations,
    verdict,
    write_scenario,
)


def _refused(result, *expected: str) -> None:
    assert verdict(result) == "refused", result
    for text in expected:
        assert text in result.err, (text, result.err)


def _child(folder: Path, body: str) -> Path:
    path = folder / "child.toml"
    path.write_text(f'extends = "{BASELINE}"\n{body}', encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# the examples, one by one


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('extends = "/dev/zero"\n', "character device"),
        ('extends = "/dev/urandom"\n', "character device"),
        ('extends = "a\\u0000b"\n', "NUL"),
        ('extends = "' + "a" * 5000 + '"\n', "bytes"),
        ("a = " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper"),
        ("a" + ".a" * 5000 + " = 1\n", "nested deeper"),
        ('scenario.name = "' + "n" * 300 + '"\n', "scenario.name"),
        ('scenario.name = "base\\n"\n', "scenario.name"),
        ('[powers."ZZ\\n"]\nname = "x"\n', "powers.ZZ\\n"),
        ('scenario.start = "१९९१-12"\n', "scenario.start"),
        ("calibration.bogus = 1\n", "calibration.bogus"),
        ('sweep.parameters = ["a"]\n', "sweep.parameters"),
        ('sweep.parameters."run.seed" = [1, 2]\n', "a model parameter"),
        ('sweep.parameters."run.runs" = [1, 2]\n', "a model parameter"),
        ('sweep.parameters."sweep.seed" = [1, 2]\n', "a model parameter"),
        ('sweep.parameters."calibration.runs" = [1, 2]\n', "a model parameter"),
        ('sweep.samples = "10"\nsweep.parameters."model.noise" = [0.0, 0.1]\n', "sweep.samples"),
    ],
)
def test_a_bad_scenario_file_is_one_line(tmp_path, body, expected):
    if body.startswith("extends") or body.startswith("a"):
        path = tmp_path / "bad.toml"
        path.write_text(body, encoding="utf-8")
    else:
        path = _child(tmp_path, body)
    _refused(attempt(["run", str(path), "--out", str(tmp_path / "out"), *FAST], tmp_path))
    _refused(attempt(["show", str(path)], tmp_path), expected)


def test_a_fifo_or_a_symlink_loop_in_extends_is_one_line(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    os.symlink(tmp_path / "a", tmp_path / "b")
    os.symlink(tmp_path / "b", tmp_path / "a")
    for target, expected in (("fifo", "FIFO"), ("a", "loop of symbolic links")):
        path = tmp_path / f"{target}.toml"
        path.write_text(f'extends = "{target}"\n')
        _refused(attempt(["show", str(path)], tmp_path), f"{path}: extends", expected)


def test_extends_says_absolute_paths_are_allowed(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text("extends = 3\n")
    _refused(attempt(["show", str(path)], tmp_path), "absolute, or relative to this file")


def test_an_error_in_an_extended_file_does_not_echo_its_lines(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("password hunter2 is here\n")
    path = tmp_path / "x.toml"
    path.write_text(f'extends = "{secret}"\n')
    result = attempt(["show", str(path)], tmp_path)
    _refused(result, str(secret))
    assert "hunter2" not in result.err


def test_errors_are_blamed_on_the_file_and_key_that_set_them(tmp_path):
    child = _child(tmp_path, 'scenario.start = "9999-12"\n')
    _refused(attempt(["show", str(child)], tmp_path), f"{child}: scenario.start = '9999-12'")
    child = _child(tmp_path, 'states.RUS.name = "x"\n')
    _refused(attempt(["show", str(child)], tmp_path), f"{child}: states.RUS")
    child = _child(tmp_path, "events = {}\n")  # an empty table sets nothing
    assert verdict(attempt(["show", str(child)], tmp_path)) == "accepted"


ONE_STATE = """
scenario = { name = "one", start = "2000-01", end = "2001-12" }
dimensions.economic.weight = 1.0
powers.RUS = { interest = 0.5, rivalry_response = 1.0, capacity = { economic = 1.0 } }
powers.CHN = { interest = 1.0, rivalry_response = 1.0, capacity = { economic = 1.0 } }
states.KAZ = { balancing_propensity = 1.5, adjustment_rate = 0.05, needs = { economic = 1.0 } }
ties.KAZ.RUS.economic = 0.7
regional = { initial = 0.35, base = -0.5, adjustment_rate = 0.04 }
model = { temperature = 0.7, noise = 0.03, rivalry_memory = 24.0, lockin_bonus = 0.8 }
alignment.poles = { Russia = ["RUS"], China = ["CHN"] }
"""


def test_a_one_state_scenario_is_refused(tmp_path):
    path = tmp_path / "one.toml"
    path.write_text(ONE_STATE)
    _refused(attempt(["show", str(path)], tmp_path), "states = 1: at least two states")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--runs", "100000000000000000000"], "GiB"),
        (["--runs", "10000000000"], "74.5 GiB"),
        (["--runs", "10000001"], "at most 10,000,000"),
        (["--out", ""], "--out ''"),
        (["--out", "a" * 300], "bytes"),
        (["--out", "FILE/below"], "a file"),
        (["--executor", "dask", "--scheduler", "tcp://127.0.0.1"], "missing port"),
        (["--sweep", "states.KAZ.openness=0,1", "--sweep", "states.KAZ.openness=0,2"], "once"),
        (["--samples", "4"], "a sweep to sample"),
        (["--sweep", "states.KAZ.openness=0:1", "--design", "lhs", "--samples", "10000001"], "MiB"),
        (["--workers", "100000"], "--workers"),
    ],
)
def test_a_bad_run_option_is_one_line_and_writes_nothing(tmp_path, args, expected):
    (tmp_path / "FILE").write_text("x")
    args = [str(tmp_path / a) if a.startswith("FILE") else a for a in args]
    out = [] if "--out" in args else ["--out", str(tmp_path / "out")]
    argv = ["run", str(BASELINE), *out, *args, "--quiet", "--no-figures", "--engine", "mesa"]
    _refused(attempt(argv, tmp_path), expected)


def test_validate_and_compare_refuse_an_out_that_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    out = str(tmp_path / "file")
    _refused(attempt(["validate", str(BASELINE), "--runs", "1", "--out", out], tmp_path), "file")
    _refused(attempt(["compare", "a", "b", "--out", out], tmp_path), "file")
    _refused(attempt(["validate", "--patterns", "/bin/ls", "--runs", "1"], tmp_path), "UTF-8")


def test_a_full_disk_is_one_line_and_leaves_no_folder(tmp_path, monkeypatch):
    import pandas as pd

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    out = tmp_path / "out"
    _refused(attempt(["run", str(BASELINE), "--out", str(out), *FAST], tmp_path), "space left")
    assert not out.exists()


# --------------------------------------------------------------------------------------------
# resuming


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    return finished_batch(tmp_path_factory.mktemp("finished"))


def test_a_resume_while_another_holds_the_batch_is_refused_then_finishes_once(finished, tmp_path):
    folder = interrupted_copy(finished, tmp_path)
    leftover = folder / "metrics" / ".part-000002.parquet.99999.tmp"
    leftover.write_bytes(b"half a part")
    holder = BatchFolder(folder)
    holder.lock()  # as a first resume, running
    try:
        _refused(attempt(["run", "--resume", str(folder), "--quiet"], tmp_path), "another")
    finally:
        holder.unlock()
    assert verdict(attempt(["run", "--resume", str(folder), "--quiet", "--no-figures"], tmp_path))
    (done,) = [p for p in tmp_path.iterdir() if p.name.startswith(finished.name)]
    assert not done.name.endswith(".incomplete")
    assert not list(done.rglob("*.tmp"))
    assert load(done)["run"].tolist() == load(finished)["run"].tolist()


def test_two_resumes_started_at_once_finish_the_batch_once(finished, tmp_path):
    """Two processes resume one killed batch at the same moment: one finishes it, the other
    is refused in one line (the folder is locked, or already finished and renamed), and the
    batch ends with the uninterrupted batch's runs and no temporary file."""
    import subprocess
    import sys

    folder = interrupted_copy(finished, tmp_path)
    (folder / "metrics" / ".part-000002.parquet.99999.tmp").write_bytes(b"half a part")
    argv = [sys.executable, "-m", "experiments.cli", "run", "--resume", str(folder), "--quiet"]
    both = [
        subprocess.Popen([*argv, "--no-figures"], stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in both]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert refused.count("\n") == 1 and "Traceback" not in refused, refused
    assert "another multivector process" in refused or str(folder) in refused, refused
    (done,) = [p for p in tmp_path.iterdir() if p.name.startswith(finished.name)]
    assert not done.name.endswith(".incomplete")
    assert not list(done.rglob("*.tmp"))
    assert load(done)["run"].tolist() == load(finished)["run"].tolist()


@pytest.mark.parametrize(
    "damage",
    [
        ("manifest", "empty"),
        ("manifest", "binary"),
        ("manifest", "[]"),
        ("manifest", "null"),
        ("manifest", "truncate"),
        ("field", ("delete", "scenario")),
        ("field", ("delete", "batch")),
        ("field", ("delete", "sessions")),
        ("field", ("set", "batch.store", "bogus")),
        ("field", ("set", "batch.engine", "bogus")),
        ("field", ("set", "batch.chunk_size", 0)),
        ("field", ("set", "batch.batch_seed", -1)),
        ("design", "design-missing"),
        ("design", "design-garbage"),
    ],
)
def test_a_damaged_batch_folder_is_one_line_on_resume(finished, tmp_path, damage):
    folder = interrupted_copy(finished, tmp_path)
    damage_batch(folder, damage)
    _refused(attempt(["run", "--resume", str(folder), "--quiet"], tmp_path), str(folder))


# --------------------------------------------------------------------------------------------
# fuzzing

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(mutation=scenario_mutations())
@example(mutation=(b"/dev/zero", "extends"))
@example(mutation=("FIFO", "extends"))
def test_fuzzed_scenario_files_are_refused_in_one_line(tmp_path_factory, mutation):
    folder = tmp_path_factory.mktemp("scenario")
    path = write_scenario(folder, mutation)
    result = attempt(["run", str(path), "--out", str(folder / "out"), *FAST], folder)
    assert verdict(result) == "refused", (mutation, result)
    assert "Traceback" not in result.err


@FUZZ
@given(options=bad_command_lines())
def test_fuzzed_command_lines_are_refused_in_one_line(tmp_path_factory, options):
    folder = tmp_path_factory.mktemp("options")
    (folder / "FILE").write_text("x")
    options = [str(folder / o) if o.startswith("FILE") else o for o in options]
    out = [] if "--out" in options else ["--out", str(folder / "out")]
    result = attempt(["run", str(BASELINE), *out, *options, "--quiet", "--no-figures"], folder)
    assert verdict(result) == "refused", (options, result)


@FUZZ
@given(damage=batch_damages())
def test_fuzzed_batch_folders_are_refused_in_one_line(finished, tmp_path_factory, damage):
    folder = interrupted_copy(finished, tmp_path_factory.mktemp("batch"))
    damage_batch(folder, damage)
    before = sorted(p.name for p in folder.rglob("*"))
    result = attempt(["run", "--resume", str(folder), "--quiet"], folder.parent)
    assert verdict(result) == "refused", (damage, result)
    assert sorted(p.name for p in folder.rglob("*")) == before
    shutil.rmtree(folder)


def test_the_report_truncates_long_values(finished, tmp_path):
    from experiments.analysis import write_report

    folder = tmp_path / "batch"
    shutil.copytree(finished, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    long = "x" * 4_000_000
    manifest["parameters"]["scenario.description"]["value"] = long
    (folder / "manifest.json").write_text(json.dumps(manifest))
    report = write_report(folder).read_text()
    assert len(report) < 1_000_000 and "characters; see manifest.json" in report
