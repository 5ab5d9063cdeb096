"""``multivector validate`` and ``multivector calibrate``: run, print, and write the reports.

Each report is written into its own folder under ``results/<scenario>/`` (created under a
temporary name and renamed when complete): ``validation-<stamp>-<hash>/`` with
``validation.md``, ``validation.parquet`` and ``manifest.json``; ``calibration-<stamp>-<fit>/``
with ``report.md``, ``history.parquet`` and ``validation.parquet``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.batch import _versions, replicate_seeds
from experiments.calibration import (
    calibrate,
    calibration_spec,
    default_patterns,
    fitted_scenario_text,
    validate,
)
from experiments.patterns import load_patterns
from model.scenario import Scenario, ScenarioError, load_scenario, month_index

__all__ = ["calibrate_command", "pattern_table", "validate_command"]


def pattern_table(table: pd.DataFrame) -> str:
    """The validation table as Markdown."""
    lines = [
        "| pattern | claim | source | margin: median [5%, 95%] | runs holding | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        lines.append(
            f"| `{row.pattern}` | {row.claim} | {row.source} | {row.margin_median:+.3f} "
            f"[{row.margin_p05:+.3f}, {row.margin_p95:+.3f}] | "
            f"{100 * row.fraction_holding:.0f}% | {row.verdict} |"
        )
    return "\n".join(lines)


def headline(table: pd.DataFrame) -> str:
    held = int(table["holds"].sum())
    return f"{held} of {len(table)} patterns hold ({100 * held / len(table):.0f}%)"


def _print_table(title: str, table: pd.DataFrame) -> None:
    print(title)
    width = max(len(p) for p in table["pattern"])
    for row in table.itertuples():
        print(
            f"  {row.pattern:<{width}}  {row.verdict:<22} margin {row.margin_median:+.3f} "
            f"[{row.margin_p05:+.3f}, {row.margin_p95:+.3f}]  {row.source}"
        )
    print(f"  {headline(table)}")


def _claim_folder(out: Path, scenario: Scenario, prefix: str, tag: str) -> tuple[Path, Path]:
    parent = out / scenario.name
    parent.mkdir(parents=True, exist_ok=True)
    stem = f"{prefix}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{tag}"
    final = parent / stem
    n = 0
    while final.exists():
        n += 1
        final = parent / f"{stem}-{n}"
    partial = parent / f".{final.name}.{os.getpid()}.partial"
    partial.mkdir()
    return partial, final


def _finish(partial: Path, final: Path) -> Path:
    try:
        partial.rename(final)
    except OSError:
        final = final.with_name(f"{final.name}-{os.getpid()}")
        partial.rename(final)
    return final


def _patterns_for(args, scenario: Scenario):
    path = Path(args.patterns) if args.patterns else default_patterns(scenario)
    return load_patterns(path, scenario), path


def validate_command(args, command: Sequence[str]) -> int:
    """Validate each scenario; print the tables and, for several, the comparison."""
    out = Path(args.out)
    paths = args.scenarios or ["scenarios/baseline.toml"]
    scenarios = [load_scenario(path) for path in paths]  # all errors before any run
    registries = [_patterns_for(args, s) for s in scenarios]
    summary = []
    for scenario, (patterns, path) in zip(scenarios, registries, strict=True):
        seed = scenario.seed if args.seed is None else args.seed
        seeds = replicate_seeds(seed, args.runs)
        table = validate(scenario, patterns, seeds, threads=args.workers)
        _print_table(
            f"{scenario.file} ({scenario.name}, hash {scenario.hash[:8]}): "
            f"{args.runs} runs, batch seed {seed}, patterns {path}",
            table,
        )
        partial, final = _claim_folder(out, scenario, "validation", scenario.hash[:8])
        try:
            table.to_parquet(partial / "validation.parquet", index=False)
            (partial / "validation.md").write_text(
                f"# Validation of {scenario.title}\n\n"
                f"Scenario `{scenario.file}` (hash `{scenario.hash}`), {args.runs} runs with "
                f"batch seed {seed}, patterns `{path}`.\n\n"
                f"**{headline(table)}.** A pattern holds when its predicate holds in at least "
                "80% of runs and fails when in at most 20%.\n\n" + pattern_table(table) + "\n"
            )
            (partial / "manifest.json").write_text(
                json.dumps(
                    {
                        "scenario": {"file": scenario.file, "hash": scenario.hash},
                        "patterns": str(path),
                        "runs": args.runs,
                        "batch_seed": seed,
                        "seeds": [int(s) for s in seeds],
                        "holding": int(table["holds"].sum()),
                        "patterns_total": len(table),
                        "versions": _versions(),
                        "command": list(command),
                    },
                    indent=2,
                )
                + "\n"
            )
            final = _finish(partial, final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        print(f"  report: {final / 'validation.md'}")
        summary.append((scenario, table))
    if len(summary) > 1:
        print("comparison:")
        width = max(len(s.name) for s, _ in summary)
        for scenario, table in summary:
            partial = int(((table["fraction_holding"] > 0.2) & ~table["holds"]).sum())
            print(
                f"  {scenario.name:<{width}}  {int(table['holds'].sum()):3d} of {len(table)} "
                f"hold, {partial} partly, {int((table['fraction_holding'] <= 0.2).sum())} fail"
            )
    return 0


def calibrate_command(args, command: Sequence[str]) -> int:
    """Fit, write the fitted scenario, validate it and write the report."""
    scenario = load_scenario(args.scenario)
    spec = calibration_spec(scenario)
    if args.maxiter is not None:
        from dataclasses import replace

        spec = replace(spec, maxiter=args.maxiter)
    patterns, path = _patterns_for(args, scenario)
    if args.until is not None:
        try:
            month_index(args.until)
        except ValueError:
            raise ScenarioError("--until", "until", args.until, 'a month "YYYY-MM"') from None
    source = Path(scenario.file)
    output = (
        Path(args.output) if args.output else source.with_name(f"{source.stem}-calibrated.toml")
    )
    name = args.name or f"{scenario.name}-calibrated"
    _check_output(output, scenario, args.force)
    command = " ".join(
        [
            "multivector calibrate",
            str(source),
            f"--output {output}",
            f"--name {name}",
            *([f"--until {args.until}"] if args.until else []),
            *([f"--maxiter {args.maxiter}"] if args.maxiter else []),
            *([f"--patterns {args.patterns}"] if args.patterns else []),
            "--force",
        ]
    )
    started = datetime.now(UTC)
    fit = calibrate(
        scenario,
        patterns=patterns,
        until=args.until,
        spec=spec,
        threads=args.workers,
        progress=not args.quiet,
    )
    text = fitted_scenario_text(scenario, fit, output, name, command)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp.toml")
    try:
        tmp.write_text(text)
        load_scenario(tmp)  # the file must load before it replaces anything
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    fitted = load_scenario(output)
    seeds = replicate_seeds(fitted.seed, 100)
    before = validate(scenario, patterns, seeds, threads=args.workers)
    after = validate(fitted, patterns, seeds, threads=args.workers)
    last = month_index(args.until) if args.until else None
    inside = np.array([p.months[1] <= last if last is not None else True for p in patterns])
    lines = [
        f"# Calibration {fit.id}: {scenario.title}",
        "",
        f"Input `{scenario.file}` (hash `{scenario.hash}`); output `{output}`; patterns "
        f"`{path}`; started {started.isoformat(timespec='seconds')}.",
        "",
        f"Differential evolution (scipy), seed {spec.seed}, {spec.maxiter} generations of "
        f"{spec.popsize} x {len(spec.free)} candidates ({fit.evaluations} evaluations), "
        f"{spec.runs} seeds per candidate. Fitted on "
        + (f"the {int(inside.sum())} patterns ending by {args.until}" if last else "all patterns")
        + f". Final loss {fit.loss:.4f}.",
        "",
        "| parameter | range | before | fitted |",
        "|---|---|---|---|",
    ]
    for p in spec.free:
        lines.append(
            f"| `{p.key}` | [{p.low:g}, {p.high:g}] | {scenario.parameters[p.key].value:g} | "
            f"{fit.values[p.key]:g} |"
        )
    lines += [
        "",
        f"Validation with 100 seeds: before {headline(before)}; after {headline(after)}.",
    ]
    if last is not None:
        out_of_sample = after[~inside]
        in_sample = after[inside]
        lines.append(
            f"In sample (ending by {args.until}): {int(in_sample['holds'].sum())} of "
            f"{len(in_sample)} hold. **Out of sample** (later patterns, not fitted): "
            f"{int(out_of_sample['holds'].sum())} of {len(out_of_sample)} hold "
            f"(before the fit: {int(before[~inside]['holds'].sum())})."
        )
    lines += ["", "## After the fit", "", pattern_table(after), ""]
    folder_partial, folder = _claim_folder(Path("results"), fitted, "calibration", fit.id)
    try:
        (folder_partial / "report.md").write_text("\n".join(lines))
        history = pd.DataFrame(
            {"generation": np.arange(1, len(fit.history) + 1), "loss": fit.history}
        )
        history.to_parquet(folder_partial / "history.parquet", index=False)
        after.assign(fitted=True).to_parquet(folder_partial / "validation.parquet", index=False)
        folder = _finish(folder_partial, folder)
    except BaseException:
        shutil.rmtree(folder_partial, ignore_errors=True)
        raise
    print(f"fit {fit.id}: loss {fit.loss:.4f} after {fit.evaluations} evaluations")
    for key, value in fit.values.items():
        print(f"  {key} = {value:g}")
    print(f"validation (100 seeds): before {headline(before)}; after {headline(after)}")
    if last is not None:
        print("  " + _oos_line(after, before, inside, args.until))
    print(f"scenario: {output}")
    print(f"report: {folder / 'report.md'}")
    return 0


def _check_output(output: Path, scenario: Scenario, force: bool) -> None:
    """Refuse, before any fitting, an output the fit could not or should not write."""
    target = output.resolve()
    sources = {Path(leaf.file).resolve() for leaf in scenario.parameters.values()}
    sources.add(Path(scenario.file).resolve())
    if target in sources:
        raise ScenarioError(
            "--output", "output", str(output), "a file other than the scenario and its parents"
        )
    if not target.parent.is_dir() or not os.access(target.parent, os.W_OK):
        raise ScenarioError("--output", "output", str(output), "a file in a writable folder")
    if target.exists() and not force:
        raise ScenarioError(
            "--output", "output", str(output), "a new file (add --force to replace it)"
        )


def _oos_line(after, before, inside, until) -> str:
    return (
        f"in sample (ending by {until}): {int(after[inside]['holds'].sum())} of "
        f"{int(inside.sum())}; out of sample: {int(after[~inside]['holds'].sum())} of "
        f"{int((~inside).sum())} hold (before the fit: {int(before[~inside]['holds'].sum())})"
    )
