"""Hostile inputs and their judge, shared by tests/test_hostile_inputs.py and tools/fuzz_inputs.py.

:mod:`tests.strategies` draws *valid* inputs; the strategies here draw inputs that are wrong by
construction: a valid scenario file with one mutation (a value out of its range or of the wrong
type, an unknown key, a bad id or date, deep nesting, bytes that are not UTF-8, an ``extends``
to a device, a FIFO, a folder, a symlink loop, a NUL byte or an over-long path), a command line
with one bad option, and a batch folder with one damaged file. :func:`attempt` runs the
command line in this process (no subprocess: a few milliseconds each) with a time limit, and
:func:`verdict` says what happened: ``refused`` (exit 2, one line, nothing written) is the
only right answer for these inputs.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from experiments.cli import main
from model.parameters import PARAMETERS
from tests.conftest import BASELINE

__all__ = [
    "FAST",
    "Attempt",
    "attempt",
    "bad_command_lines",
    "batch_damages",
    "damage_batch",
    "finished_batch",
    "interrupted_copy",
    "scenario_mutations",
    "verdict",
    "write_scenario",
]

LIMIT_SECONDS = 30
FAST = ["--quiet", "--no-figures", "--engine", "mesa", "--executor", "serial", "--runs", "1"]
"""Options of a batch that would run at once (if a hostile input were wrongly accepted)."""
KAZ = "states.KAZ.balancing_propensity"


@dataclass(frozen=True)
class Attempt:
    """What one command did: exit status, standard error, and what it left under ``out``."""

    code: int | str
    err: str
    written: tuple[str, ...]


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


def attempt(argv: list[str], watched: Path) -> Attempt:
    """Run ``multivector argv`` here, stopped after :data:`LIMIT_SECONDS`; what it wrote
    under ``watched`` that was not there before is in ``written``."""
    before = _listing(watched)
    err = io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(LIMIT_SECONDS)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code: int | str = main(argv)
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else 2
    except _Hang:
        code = "hang"
    except BaseException as error:  # what the user would see as a traceback
        code = f"traceback: {type(error).__name__}: {str(error)[:200]}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return Attempt(code, err.getvalue(), tuple(sorted(_listing(watched) - before)))


def verdict(result: Attempt) -> str:
    """``refused`` (right), or ``traceback``, ``hang``, ``accepted``, ``partial`` (something
    written), ``message`` (not one line, or a traceback printed)."""
    if isinstance(result.code, str):
        return result.code.split(":")[0]
    if result.code == 0:
        return "accepted"
    if result.written:
        return "partial"
    if result.code != 2 or result.err.count("\n") != 1 or "Traceback" in result.err:
        return "message"
    return "refused"


# --------------------------------------------------------------------------------------------
# scenario files: a child of the baseline with one mutation

_NUMBERS = [p for p in PARAMETERS if p.kind in ("number", "integer") and "<" not in p.key]
_BAD_VALUES = st.sampled_from(
    ['"text"', "true", "[1, 2]", "{ x = 1 }", "nan", "inf", "-inf", '""', "1979-05-27"]
)


@st.composite
def _out_of_range(draw) -> str:
    parameter = draw(st.sampled_from(_NUMBERS))
    value = draw(
        st.sampled_from(
            [parameter.low - 1 - abs(parameter.low), parameter.high + 1 + abs(parameter.high)]
        )
    )
    return f"{parameter.key} = {value!r}\n"


@st.composite
def _wrong_type(draw) -> str:
    key = draw(st.sampled_from([p.key for p in _NUMBERS] + [KAZ, "states.KAZ.memberships"]))
    return f"{key} = {draw(_BAD_VALUES)}\n"


_NAMES = st.text(st.characters(codec="utf-8", exclude_characters='"\\'), min_size=1, max_size=40)


@st.composite
def _bad_structure(draw) -> str:
    depth = draw(st.integers(30, 3000))
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return "deep = " + "[" * depth + "]" * depth + "\n"
    if choice == 1:
        return "deep = " + "{ a = " * depth + "1" + " }" * depth + "\n"
    if choice == 2:
        return "a" + ".a" * depth + " = 1\n"
    if choice == 3:
        return f'"{draw(_NAMES)}unknown" = 1\n'
    if choice == 4:
        name = draw(_NAMES.filter(lambda n: not (n.isascii() and n.isidentifier())))
        return f'[states."{name}"]\nname = "x"\n'
    if choice == 5:
        date = draw(st.sampled_from(["1991-13", "१९९१-12", "1991-1", "91-12", "1991-12\\n"]))
        return f'scenario.start = "{date}"\n'
    if choice == 6:
        return f'scenario.name = "{draw(st.sampled_from(["a b", "x" * 300, "base\\n", ".."]))}"\n'
    if choice == 7:
        return f"[sweep]\n{draw(st.sampled_from(_BAD_SWEEPS))}\n"
    if choice == 8:
        return f"[calibration]\n{draw(_NAMES.filter(str.isidentifier))}_x = 1\n"
    return "events = 1\n"


_BAD_SWEEPS = [
    'parameters = ["a"]',
    'parameters."run.seed" = [1, 2]',
    'parameters."sweep.seed" = [1, 2]',
    f'samples = "10"\nparameters."{KAZ}" = [1.0, 2.0]',
    f'design = "lhs"\nparameters."{KAZ}" = [1.0, 2.0, 3.0]',
    f'design = "sobol"\nsamples = 10\nparameters."{KAZ}" = [1.0, 2.0]',
    'design = "grid"\nsamples = 4',
    f'parameters."{KAZ}" = [1.0, 99.0]',
]


def scenario_mutations():
    """A scenario file's text (bytes) that must be refused, and a label of its mutation."""
    child = st.one_of(_out_of_range(), _wrong_type(), _bad_structure())
    texts = child.map(lambda body: (f'extends = "{BASELINE}"\n{body}'.encode(), "child"))
    garbage = st.binary(min_size=1, max_size=200).filter(_not_utf8).map(lambda b: (b, "bytes"))
    extends = st.sampled_from(_SPECIAL_PATHS).map(lambda p: (p, "extends"))
    return st.one_of(texts, texts, texts, garbage, extends)


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


_SPECIAL_PATHS = ["/dev/zero", "/dev/urandom", "FIFO", "DIR", "LOOP", "NUL", "LONG", "/etc"]


def write_scenario(folder: Path, mutation: tuple[bytes | str, str]) -> Path:
    """Write a mutation from :func:`scenario_mutations` as ``folder/scenario.toml``."""
    content, kind = mutation
    path = folder / "scenario.toml"
    if kind != "extends":
        path.write_bytes(content)
        return path
    target = {"NUL": "a\\u0000b", "LONG": "a" * 5000}.get(content, content)
    if content == "FIFO":
        os.mkfifo(folder / "fifo")
        target = "fifo"
    elif content == "DIR":
        (folder / "dir").mkdir()
        target = "dir"
    elif content == "LOOP":
        os.symlink(folder / "loop-a", folder / "loop-b")
        os.symlink(folder / "loop-b", folder / "loop-a")
        target = "loop-a"
    path.write_text(f'extends = "{target}"\n', encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# command lines: `run` with one bad option


@st.composite
def bad_command_lines(draw) -> list[str]:
    """Options of ``multivector run BASELINE`` of which one is wrong."""
    huge = str(draw(st.integers(10_000_001, 10**30)))
    choice = draw(
        st.sampled_from(
            [
                ["--runs", huge],
                ["--runs", draw(st.sampled_from(["0", "-1", "1e3", "", "x"]))],
                ["--seed", draw(st.sampled_from(["-1", str(2**63), "1.5"]))],
                ["--workers", draw(st.sampled_from(["0", "100000"]))],
                ["--samples", "4"],
                ["--sweep", f"{KAZ}=1,2", "--sweep", f"{KAZ}=1,3"],
                ["--sweep", draw(st.sampled_from(["run.seed=1,2", "sweep.x=1:2", "nonsense"]))],
                ["--sweep", f"{KAZ}=0.5:3", "--design", "lhs", "--samples", huge],
                ["--set", f"{KAZ}={draw(st.sampled_from(['-1', '1e308', 'nan', '[1]']))}"],
                ["--set", f"{draw(_NAMES)}=1"],
                ["--out", draw(st.sampled_from(["", "a" * 300, "x\0y", "FILE", "FILE/below"]))],
                ["--executor", "dask", "--scheduler", "tcp://127.0.0.1"],
                ["--scheduler", "tcp://127.0.0.1:1"],
                ["--engine", "bogus"],
            ]
        )
    )
    return choice


# --------------------------------------------------------------------------------------------
# batch folders: one damaged file of an interrupted batch

_MANIFEST_DAMAGES = [
    ("delete", "scenario"),
    ("delete", "batch"),
    ("delete", "sessions"),
    ("set", "batch.store", "bogus"),
    ("set", "batch.engine", "bogus"),
    ("set", "batch.chunk_size", 0),
    ("set", "batch.chunk_size", "4"),
    ("set", "batch.batch_seed", -1),
    ("set", "batch.runs", 0),
    ("set", "batch.runs", 10**12),
    ("set", "batch.total_runs", None),
    ("set", "scenario.path", 7),
    ("set", "scenario.hash", "0" * 12),
    ("set", "sessions", {}),
    ("set", "overrides", []),
]


def batch_damages():
    """A damage to an interrupted batch folder (see :func:`damage_batch`)."""
    whole = st.sampled_from(["empty", "binary", "[]", "null", "truncate", "deep", "fifo"])
    design = st.sampled_from(["design-missing", "design-garbage", "design-truncate"])
    return st.one_of(
        whole.map(lambda d: ("manifest", d)),
        st.sampled_from(_MANIFEST_DAMAGES).map(lambda d: ("field", d)),
        design.map(lambda d: ("design", d)),
    )


def damage_batch(folder: Path, damage) -> None:
    """Apply one of :func:`batch_damages` to the batch ``folder``."""
    kind, what = damage
    manifest = folder / "manifest.json"
    design = folder / "design.parquet"
    if kind == "manifest":
        text = manifest.read_bytes()
        data = {
            "empty": b"",
            "binary": b"\xff\xfe\x00\x01" * 8,
            "[]": b"[]",
            "null": b"null",
            "truncate": text[: len(text) // 2],
            "deep": b"[" * 100_000 + b"]" * 100_000,
        }.get(what)
        if what == "fifo":
            manifest.unlink()
            os.mkfifo(manifest)
        else:
            manifest.write_bytes(data)
    elif kind == "field":
        content = json.loads(manifest.read_text())
        node = content
        *parents, last = what[1].split(".")
        for part in parents:
            node = node[part]
        if what[0] == "delete":
            del node[last]
        else:
            node[last] = what[2]
        manifest.write_text(json.dumps(content))
    elif what == "design-missing":
        design.unlink()
    elif what == "design-garbage":
        design.write_bytes(b"PAR1 not a parquet file PAR1")
    else:
        design.write_bytes(design.read_bytes()[:40])


def interrupted_copy(source: Path, parent: Path) -> Path:
    """A copy of the complete batch ``source`` as an interrupted one (its last part gone)."""
    target = parent / (source.name + ".incomplete")
    shutil.copytree(source, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["status"] = "running"
    manifest["sessions"][-1]["status"] = "running"
    (target / "manifest.json").write_text(json.dumps(manifest))
    parts = sorted((target / "metrics").glob("part-*.parquet"))
    parts[-1].unlink()
    for extra in ("figures", "report.html"):
        shutil.rmtree(target / extra, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            (target / extra).unlink()
    return target


def finished_batch(out: Path) -> Path:
    """A complete three-run batch of the baseline (one chunk a run) under ``out``."""
    argv = ["run", str(BASELINE), "--out", str(out), "--chunk-size", "1", "--store", "metrics"]
    result = attempt([*argv, *FAST[:-1], "3"], out)
    assert verdict(result) == "accepted", result
    (folder,) = (out / "baseline").iterdir()
    return folder
