"""``multivector calibrate``: fit a scenario's free parameters to the patterns."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from experiments.cli.options import add_workers, month, positive_int

__all__ = ["register"]


def register(subparsers) -> None:
    """Add ``calibrate`` to the ``multivector`` parser."""
    parser = subparsers.add_parser(
        "calibrate",
        help="fit the scenario's free parameters to the patterns",
        description="Fit the parameters in the scenario's [calibration.free] table to the "
        "pattern registry by differential evolution, and write a scenario that extends it.",
    )
    parser.add_argument("scenario", help="the scenario to fit, with a [calibration] table")
    parser.add_argument(
        "--until", type=month, metavar="YYYY-MM", help="fit only patterns ending by this month"
    )
    parser.add_argument(
        "--output", help="scenario file to write (default: <scenario>-calibrated.toml beside it)"
    )
    parser.add_argument("--name", help="the fitted scenario's name")
    parser.add_argument("--patterns", help="pattern registry")
    parser.add_argument("--maxiter", type=positive_int, help="generations")
    add_workers(parser)
    parser.add_argument("--force", action="store_true", help="replace the output file if it exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=calibrate_command)


def calibrate_command(args, command: list[str]) -> int:
    """Fit, write the fitted scenario, validate it and write the report."""
    from dataclasses import replace

    import numpy as np
    import pandas as pd

    from experiments.batch import replicate_seeds
    from experiments.calibration import (
        calibrate,
        calibration_spec,
        fitted_scenario_text,
        patterns_for,
        validate,
    )
    from experiments.patterns import headline, pattern_table
    from experiments.store import NewFolder, stamp
    from model.scenario import load_scenario, month_index

    scenario = load_scenario(args.scenario)
    spec = calibration_spec(scenario)
    if args.maxiter is not None:
        spec = replace(spec, maxiter=args.maxiter)
    patterns, path = patterns_for(scenario, args.patterns)
    source = Path(scenario.file)
    output = (
        Path(args.output) if args.output else source.with_name(f"{source.stem}-calibrated.toml")
    )
    name = args.name or f"{scenario.name}-calibrated"
    _check_output(output, scenario, args.force)
    regenerate = " ".join(
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
    text = fitted_scenario_text(scenario, fit, output, name, regenerate)
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
        + (
            f" and {fit.observed} fit-window observations of data/observed/ (years to 2012; "
            f"weight {spec.observed_weight:g}; the validation window is never read)"
            if fit.observed
            else ""
        )
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
        lines.append(
            f"In sample (ending by {args.until}): {int(after[inside]['holds'].sum())} of "
            f"{int(inside.sum())} hold. **Out of sample** (later patterns, not fitted): "
            f"{int(after[~inside]['holds'].sum())} of {int((~inside).sum())} hold "
            f"(before the fit: {int(before[~inside]['holds'].sum())})."
        )
    lines += ["", "## After the fit", "", pattern_table(after), ""]
    with NewFolder(Path("results") / fitted.name, f"calibration-{stamp()}-{fit.id}") as folder:
        (folder.path / "report.md").write_text("\n".join(lines))
        history = pd.DataFrame(
            {"generation": np.arange(1, len(fit.history) + 1), "loss": fit.history}
        )
        history.to_parquet(folder.path / "history.parquet", index=False)
        after.assign(fitted=True).to_parquet(folder.path / "validation.parquet", index=False)
    print(f"fit {fit.id}: loss {fit.loss:.4f} after {fit.evaluations} evaluations")
    for key, value in fit.values.items():
        print(f"  {key} = {value:g}")
    print(f"validation (100 seeds): before {headline(before)}; after {headline(after)}")
    if last is not None:
        print(
            f"  in sample (ending by {args.until}): {int(after[inside]['holds'].sum())} of "
            f"{int(inside.sum())}; out of sample: {int(after[~inside]['holds'].sum())} of "
            f"{int((~inside).sum())} hold (before the fit: {int(before[~inside]['holds'].sum())})"
        )
    print(f"scenario: {output}")
    print(f"report: {folder.path / 'report.md'}")
    return 0


def _check_output(output: Path, scenario, force: bool) -> None:
    """Refuse, before any fitting, an output the fit could not or should not write."""
    from model.scenario import ScenarioError

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
