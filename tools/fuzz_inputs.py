"""A fuzz campaign of hostile inputs (issue 19): thousands of generated scenario files, command
lines and damaged batch folders, each run through ``multivector`` in this process.

Usage::

    python tools/fuzz_inputs.py [--inputs 2000]

Draws the strategies of :mod:`tests.hostile` (a third each) and prints how many inputs gave each
verdict: ``refused`` (exit 2, one line, nothing written) is right for all of them; the others
are ``traceback``, ``hang``, ``partial`` (something written), ``accepted`` (wrongly) and
``message`` (not one line). Exits 1 if any input was not refused, listing the first few.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.conftest import BASELINE  # noqa: E402
from tests.hostile import (  # noqa: E402
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


def campaign(inputs: int) -> tuple[Counter, list]:
    """Run ``inputs`` hostile inputs; the count of each verdict and the failures."""
    counts: Counter = Counter()
    failures: list = []
    root = Path(tempfile.mkdtemp(prefix="multivector-fuzz-"))
    finished = finished_batch(root / "finished")
    kinds = st.sampled_from(["scenario", "command", "batch"])

    @settings(
        max_examples=inputs,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        kind=kinds,
        mutation=scenario_mutations(),
        options=bad_command_lines(),
        damage=batch_damages(),
    )
    def one(kind, mutation, options, damage):
        folder = Path(tempfile.mkdtemp(dir=root))
        try:
            if kind == "scenario":
                what = mutation
                path = write_scenario(folder, mutation)
                argv = ["run", str(path), "--out", str(folder / "out"), *FAST]
            elif kind == "command":
                (folder / "FILE").write_text("x")
                what = options
                options = [str(folder / o) if o.startswith("FILE") else o for o in options]
                out = [] if "--out" in options else ["--out", str(folder / "out")]
                argv = ["run", str(BASELINE), *out, *options, "--quiet", "--no-figures"]
            else:
                what = damage
                batch = interrupted_copy(finished, folder)
                damage_batch(batch, damage)
                argv = ["run", "--resume", str(batch), "--quiet"]
            before = time.perf_counter()
            result = attempt(argv, folder)
            name = verdict(result)
            counts[name] += 1
            counts[f"{kind} inputs"] += 1
            counts["seconds"] += time.perf_counter() - before
            if name != "refused":
                failures.append((name, kind, repr(what)[:200], result.err[:300], result.code))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    one()
    shutil.rmtree(root, ignore_errors=True)
    return counts, failures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=2000, help="inputs to try (default 2000)")
    args = parser.parse_args(argv)
    clock = time.perf_counter()
    counts, failures = campaign(args.inputs)
    total = sum(counts[k] for k in counts if k.endswith(" inputs"))
    print(f"{total} inputs in {time.perf_counter() - clock:.0f} s")
    for kind in ("scenario", "command", "batch"):
        print(f"  {kind} inputs: {counts[f'{kind} inputs']}")
    for name in ("refused", "traceback", "hang", "partial", "accepted", "message"):
        print(f"  {name}: {counts[name]}")
    for failure in failures[:20]:
        print("  FAIL", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
