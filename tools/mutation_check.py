"""Mutation check: how many one-operator mutants of ``model/rules.py`` the test suite kills.

A test suite that compares two harnesses of the same compiled rule cannot see a wrong formula
(issue 16). This script measures what the suite does see. It

1. parses ``model/rules.py`` with :mod:`ast` and lists every *mutant*: the file with exactly one
   operator changed, at its exact token (the rest of the file is byte-identical):

   * binary and augmented arithmetic ``+ <-> -``, ``* <-> /`` (``+= -> -=``);
   * unary minus removed (``-np.inf -> np.inf``);
   * comparisons ``< <-> >``, ``<= <-> >=``;
   * the SplitMix64 bit mixing in ``uniform``: shifts ``>> <-> <<`` and ``^ -> |``. They are
     included, not skipped: a wrong mixer changes every random number, and a suite that cannot
     tell is worth knowing about.

   Every operator of the file is a site, module-level constants included (``1.0 / 2**53``).
2. copies the repository's working tree once into a snapshot (everything but ``.venv``,
   ``.git``, ``results``, ``__pycache__`` and other caches), so that edits made in the tree
   while the check runs do not reach it;
3. for each mutant, copies the snapshot into a fresh temporary directory, writes the mutant
   ``model/rules.py`` there and runs, in that copy::

       python -m pytest -x -q -p no:cacheprovider --hypothesis-seed=0 -p mutation_probe TESTS

   with ``NUMBA_CACHE_DIR`` set to a directory of that run (compiled kernels are never shared
   between mutants) and ``PYTHONPATH`` set to the copy. ``TESTS`` lists the test files
   explicitly, the meaning-checking ones first, so that a killed mutant dies fast:
   ``tests/test_rules_reference.py``, ``tests/test_compile_reference.py``,
   ``tests/test_rules.py``, ``tests/test_invariants.py``, then every other ``tests/test_*.py``
   in name order, but never ``tests/test_golden.py`` (the golden file catches any change of
   behaviour, so it would count every change as a kill) nor ``tests/test_app.py`` (a browser).
   ``--exclude-tests PATTERN`` deletes matching test files from the copy as well, to measure
   the suite without them. ``--hypothesis-seed=0`` makes the verdicts reproducible.
4. checks in every run that the copy's ``model.rules`` is what the tests imported, not the
   editable install of the repository: the ``mutation_probe`` pytest plugin (written next to
   the copy) records ``model.rules.__file__``, and the check stops with an error if it lies
   outside the copy;
5. runs ``--jobs`` mutants at a time (2 by default), each with a timeout (``--timeout``, 900 s);
6. prints one row per mutant: its line, the operator ``original -> mutant``, the verdict and
   the seconds it took, and the first failing test. Verdicts: ``killed`` (a test failed or
   errored), ``timeout`` (counted as killed: the mutant made the suite hang), ``survived``
   (every test passed). The last line is ``mutation check: K of N mutants killed (P%)``.

Before the mutants it runs the unmutated copy the same way, which must pass; otherwise a broken
environment would count as kills. ``--baseline`` runs only that. ``--list`` only lists the
mutants. ``--only LINE`` and ``--limit N`` select mutants.

How long it takes, on 2 cores with two jobs: each run copies about 6 MB and compiles the rules
from scratch. A mutant that ``tests/test_rules_reference.py`` kills stops at its first test:
10-40 s in all. A surviving mutant runs the whole suite: about 3 minutes alone, 3-5 minutes
beside another job. The baseline run takes one suite's time (about 3 minutes). Measured on the
92 mutants of ``model/rules.py``: 19 minutes with the reference tests (every mutant killed in
the first test), 95 minutes without them (30 mutants survive and each runs the whole suite).

Options for a tree that is being edited: ``--tree PATH`` copies another tree (an export of a
commit, ``git archive``) instead of this one; ``--deselect NODEID`` passes a test that fails for
reasons outside ``model/rules.py`` (a stale calibration) on to pytest's ``--deselect``.

Usage::

    .venv/bin/python tools/mutation_check.py --baseline
    .venv/bin/python tools/mutation_check.py --jobs 2
    .venv/bin/python tools/mutation_check.py --exclude-tests 'test_*_reference.py'
    .venv/bin/python tools/mutation_check.py --only 214 --no-baseline
    .venv/bin/python tools/mutation_check.py --list
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import fnmatch
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tokenize
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = Path("model") / "rules.py"
NOT_COPIED = (
    ".venv",
    ".git",
    "results",
    "__pycache__",
    ".hypothesis",
    ".pytest_cache",
    ".ruff_cache",
    "build",
    "*.egg-info",
    "*.nbi",
    "*.nbc",
)
NEVER_RUN = ("test_golden.py", "test_app.py")
RUN_FIRST = (
    "test_rules_reference.py",
    "test_compile_reference.py",
    "test_rules.py",
    "test_invariants.py",
)
# the operator swaps, by AST operator class: (token, replacement token)
BINARY_SWAPS = {
    ast.Add: ("+", "-"),
    ast.Sub: ("-", "+"),
    ast.Mult: ("*", "/"),
    ast.Div: ("/", "*"),
    ast.RShift: (">>", "<<"),
    ast.LShift: ("<<", ">>"),
    ast.BitXor: ("^", "|"),
}
COMPARE_SWAPS = {
    ast.Lt: ("<", ">"),
    ast.Gt: (">", "<"),
    ast.LtE: ("<=", ">="),
    ast.GtE: (">=", "<="),
}
PROBE = '''"""tools/mutation_check.py's pytest plugin: which model.rules did the tests import?"""
import os
import sys


def pytest_sessionfinish(session, exitstatus):
    rules = sys.modules.get("model.rules")
    with open(os.environ["MUTATION_PROBE_OUT"], "w") as handle:
        handle.write(getattr(rules, "__file__", None) or "")
'''


@dataclass(frozen=True)
class Mutant:
    """One operator of the target file replaced: ``original`` -> ``replacement`` at a token."""

    number: int
    line: int
    column: int  # in characters, 0-based
    original: str
    replacement: str

    @property
    def label(self) -> str:
        return f"{self.original or '(none)'} -> {self.replacement or '(removed)'}"

    def apply(self, source: str) -> str:
        """``source`` with this mutant's token replaced; every other byte unchanged."""
        lines = source.splitlines(keepends=True)
        text = lines[self.line - 1]
        end = self.column + len(self.original)
        if text[self.column : end] != self.original:
            raise ValueError(f"line {self.line}: {self.original!r} not at column {self.column}")
        lines[self.line - 1] = text[: self.column] + self.replacement + text[end:]
        return "".join(lines)


@dataclass
class Outcome:
    """The verdict on one run of the suite (a mutant, or the baseline when ``mutant`` is None)."""

    mutant: Mutant | None
    verdict: str  # killed, timeout, survived, error
    seconds: float
    failing_test: str
    return_code: int | None
    output_tail: str
    imported: str  # model.rules.__file__ as the tests saw it, relative to the copy


# --------------------------------------------------------------------------------------------
# finding the mutants


def _character_column(line: str, byte_offset: int) -> int:
    """ast's column (UTF-8 bytes) as a column in characters, which tokenize uses."""
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8"))


def _operator_tokens(source: str) -> list[tokenize.TokenInfo]:
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return [t for t in tokens if t.type == tokenize.OP]


def _position(lines: Sequence[str], node: ast.AST, *, end: bool) -> tuple[int, int]:
    row = node.end_lineno if end else node.lineno
    offset = node.end_col_offset if end else node.col_offset
    return row, _character_column(lines[row - 1], offset)


def _token_between(tokens, text: str, after: tuple[int, int], before: tuple[int, int]):
    """The one operator token ``text`` between two positions (the operands' edges)."""
    found = [t for t in tokens if t.string == text and after <= t.start and t.end <= before]
    if len(found) != 1:
        raise ValueError(f"expected one {text!r} between {after} and {before}, found {found}")
    return found[0]


def find_mutants(source: str) -> list[Mutant]:
    """Every one-operator mutant of ``source``, in the order of the operators in the file."""
    tree = ast.parse(source)
    lines = source.splitlines()
    tokens = _operator_tokens(source)
    sites: list[tuple[tokenize.TokenInfo, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and type(node.op) in BINARY_SWAPS:
            text, replacement = BINARY_SWAPS[type(node.op)]
            after = _position(lines, node.left, end=True)
            before = _position(lines, node.right, end=False)
            sites.append((_token_between(tokens, text, after, before), replacement))
        elif isinstance(node, ast.AugAssign) and type(node.op) in BINARY_SWAPS:
            text, replacement = BINARY_SWAPS[type(node.op)]
            after = _position(lines, node.target, end=True)
            before = _position(lines, node.value, end=False)
            token = _token_between(tokens, text + "=", after, before)
            sites.append((token, replacement + "="))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            start = _position(lines, node, end=False)
            token = next(t for t in tokens if t.start == start and t.string == "-")
            sites.append((token, ""))
        elif isinstance(node, ast.Compare):
            left = node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                if type(op) in COMPARE_SWAPS:
                    text, replacement = COMPARE_SWAPS[type(op)]
                    after = _position(lines, left, end=True)
                    before = _position(lines, right, end=False)
                    sites.append((_token_between(tokens, text, after, before), replacement))
                left = right
    sites.sort(key=lambda site: site[0].start)
    return [
        Mutant(n, token.start[0], token.start[1], token.string, replacement)
        for n, (token, replacement) in enumerate(sites, start=1)
    ]


# --------------------------------------------------------------------------------------------
# running the suite in a copy


def _ignored(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if any(fnmatch.fnmatch(n, pattern) for pattern in NOT_COPIED)}


def snapshot_tree(tree: Path, destination: Path) -> Path:
    """Copy ``tree`` (without environments, caches, results or git) to ``destination``."""
    shutil.copytree(tree, destination, ignore=_ignored, symlinks=True)
    return destination


def suite_files(copy: Path, excluded: Sequence[str]) -> list[str]:
    """The test files to run, meaning-checking ones first; deletes ``excluded`` ones from copy."""
    files = sorted((copy / "tests").glob("test_*.py"))
    for path in files:
        if any(fnmatch.fnmatch(path.name, pattern) for pattern in excluded):
            path.unlink()
    names = [p.name for p in files if p.exists() and p.name not in NEVER_RUN]
    ordered = [n for n in RUN_FIRST if n in names] + [n for n in names if n not in RUN_FIRST]
    return [f"tests/{n}" for n in ordered]


_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()


def _kill(process: subprocess.Popen) -> None:
    """End a run and everything it started (its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _first_failure(output: str) -> str:
    match = re.search(r"^(?:FAILED|ERROR) (\S+)", output, flags=re.MULTILINE)
    return match.group(1) if match else ""


def run_suite(
    snapshot: Path,
    mutant: Mutant | None,
    mutant_source: str | None,
    *,
    excluded: Sequence[str],
    deselected: Sequence[str] = (),
    timeout: float,
) -> Outcome:
    """Run the test suite in a fresh copy of ``snapshot``, with ``mutant_source`` as the target."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mutation-check-") as work:
        work = Path(work)
        copy = snapshot_tree_from(snapshot, work / "repo")
        if mutant_source is not None:
            (copy / TARGET).write_text(mutant_source)
        paths = suite_files(copy, excluded)
        probe_dir = work / "probe"
        probe_dir.mkdir()
        (probe_dir / "mutation_probe.py").write_text(PROBE)
        imported_record = work / "imported.txt"
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("MULTIVECTOR_UPDATE_GOLDEN", "PYTHONSTARTUP", "PYTHONHOME")
        }
        env.update(
            NUMBA_CACHE_DIR=str(work / "numba-cache"),
            PYTHONPATH=os.pathsep.join([str(copy), str(probe_dir)]),
            PYTHONDONTWRITEBYTECODE="1",
            MUTATION_PROBE_OUT=str(imported_record),
        )
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-x",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "mutation_probe",
            "--hypothesis-seed=0",
            *(f"--deselect={node}" for node in deselected),
            *paths,
        ]
        process = subprocess.Popen(
            command,
            cwd=copy,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        with _RUNNING_LOCK:
            _RUNNING.add(process)
        try:
            output, _ = process.communicate(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            _kill(process)
            output, _ = process.communicate()
            timed_out = True
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(process)
        imported = imported_record.read_text() if imported_record.exists() else ""
        if imported and not Path(imported).resolve().is_relative_to(copy.resolve()):
            raise RuntimeError(
                f"the tests imported {imported}, not the copy in {copy}: PYTHONPATH did not win"
            )
        if imported:
            imported = str(Path(imported).resolve().relative_to(work.resolve()))
    seconds = time.monotonic() - started
    code = process.returncode
    if timed_out:
        verdict = "timeout"
    elif code == 0:
        verdict = "survived"
    elif code in (1, 2):  # tests failed, or collection / import failed
        verdict = "killed"
    else:
        verdict = "error"
    tail = "\n".join(output.splitlines()[-40:])
    return Outcome(mutant, verdict, seconds, _first_failure(output), code, tail, imported)


def snapshot_tree_from(snapshot: Path, destination: Path) -> Path:
    """A copy of the snapshot for one run."""
    shutil.copytree(snapshot, destination, symlinks=True)
    return destination


# --------------------------------------------------------------------------------------------
# the command


def _row(outcome: Outcome) -> str:
    mutant = outcome.mutant
    assert mutant is not None
    return (
        f"#{mutant.number:<3} line {mutant.line:>4}:{mutant.column:<3} {mutant.label:<14}  "
        f"{outcome.verdict:<8} "
        f"{outcome.seconds:7.1f} s  {outcome.failing_test}"
    )


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Count the one-operator mutants of model/rules.py that the tests kill.",
    )
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--limit", type=int, help="run only the first N mutants")
    parser.add_argument("--only", type=int, metavar="LINE", help="run only the mutants of LINE")
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds per run (default 900)"
    )
    parser.add_argument(
        "--exclude-tests",
        action="append",
        default=[],
        metavar="PATTERN",
        help="delete test files whose name matches PATTERN (glob) from the copy; repeatable",
    )
    parser.add_argument(
        "--deselect",
        action="append",
        default=[],
        metavar="NODEID",
        help="pass --deselect NODEID to pytest (a test that fails for reasons outside model/)",
    )
    parser.add_argument(
        "--baseline", action="store_true", help="run only the unmutated copy; it must pass"
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the unmutated run before the mutants"
    )
    parser.add_argument(
        "--tree",
        type=Path,
        default=ROOT,
        help="the source tree to copy (default: this repository's working tree), e.g. an "
        "export of a commit while the working tree is mid-edit",
    )
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--json", type=Path, help="also write every outcome to this JSON file")
    return parser.parse_args(argv)


def _select(mutants: list[Mutant], args: argparse.Namespace) -> list[Mutant]:
    if args.only is not None:
        mutants = [m for m in mutants if m.line == args.only]
    if args.limit is not None:
        mutants = mutants[: args.limit]
    return mutants


def _baseline(snapshot: Path, args: argparse.Namespace) -> bool:
    print("baseline: the unmutated copy ...", flush=True)
    outcome = run_suite(
        snapshot,
        None,
        None,
        excluded=args.exclude_tests,
        deselected=args.deselect,
        timeout=args.timeout,
    )
    passed = outcome.verdict == "survived"
    print(f"baseline: the tests imported <copy>/{outcome.imported.removeprefix('repo/')}")
    print(
        f"baseline: {'passed' if passed else outcome.verdict.upper()} in {outcome.seconds:.1f} s"
        + ("" if passed else f" ({outcome.failing_test or 'exit ' + str(outcome.return_code)})"),
        flush=True,
    )
    if not passed:
        print(outcome.output_tail, file=sys.stderr)
    return passed


def _run_mutants(
    snapshot: Path, source: str, mutants: list[Mutant], args: argparse.Namespace
) -> Iterator[Outcome]:
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [
            pool.submit(
                run_suite,
                snapshot,
                mutant,
                mutant.apply(source),
                excluded=args.exclude_tests,
                deselected=args.deselect,
                timeout=args.timeout,
            )
            for mutant in mutants
        ]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            with _RUNNING_LOCK:
                for process in list(_RUNNING):
                    _kill(process)
            raise


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    with tempfile.TemporaryDirectory(prefix="mutation-snapshot-") as folder:
        snapshot = snapshot_tree(args.tree, Path(folder) / "repo")
        source = (snapshot / TARGET).read_text()
        mutants = _select(find_mutants(source), args)
        if args.list:
            lines = source.splitlines()
            for m in mutants:
                code = lines[m.line - 1].strip()
                print(f"#{m.number:<3} line {m.line:>4}:{m.column:<3} {m.label:<14}  {code}")
            print(f"{len(mutants)} mutants")
            return 0
        if args.exclude_tests:
            print(f"excluding test files: {', '.join(args.exclude_tests)}")
        if args.deselect:
            print(f"deselecting tests: {', '.join(args.deselect)}")
        if args.baseline:
            return 0 if _baseline(snapshot, args) else 1
        if not args.no_baseline and not _baseline(snapshot, args):
            print("mutation check: the unmutated suite fails; no mutant was run", file=sys.stderr)
            return 2
        started = time.monotonic()
        outcomes: list[Outcome] = []
        for n, outcome in enumerate(_run_mutants(snapshot, source, mutants, args), start=1):
            outcomes.append(outcome)
            print(f"[{n:>3}/{len(mutants)}] {_row(outcome)}", flush=True)
    outcomes.sort(key=lambda o: o.mutant.number)
    errors = [o for o in outcomes if o.verdict == "error"]
    for outcome in errors:
        print(f"error in #{outcome.mutant.number}:\n{outcome.output_tail}", file=sys.stderr)
    survivors = [o for o in outcomes if o.verdict == "survived"]
    lines = source.splitlines()
    if survivors:
        print("\nsurvivors:")
        for outcome in survivors:
            print(f"  {_row(outcome)}\n      {lines[outcome.mutant.line - 1].strip()}")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                [
                    {**asdict(o.mutant), **{k: v for k, v in asdict(o).items() if k != "mutant"}}
                    for o in outcomes
                ],
                indent=1,
            )
        )
    killed = sum(o.verdict in ("killed", "timeout") for o in outcomes)
    timeouts = sum(o.verdict == "timeout" for o in outcomes)
    total = len(outcomes)
    print(
        f"\n{killed - timeouts} killed by a failing test, {timeouts} by the timeout, "
        f"{len(survivors)} survived, {len(errors)} errors; "
        f"{time.monotonic() - started:.0f} s with {args.jobs} jobs"
    )
    percent = 100.0 * killed / total if total else 0.0
    print(f"mutation check: {killed} of {total} mutants killed ({percent:.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
