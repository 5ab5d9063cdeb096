"""``multivector calibrate``: fit a scenario's free parameters to the patterns."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from experiments.cli.options import add_workers, check_toml_file, month, positive_int

__all__ = ["register"]


def register(subparsers) -> None:
    """Add ``calibrate`` to the ``multivector`` parser."""
    parser = subparsers.add_parser(
        "calibrate",
        help="fit the scenario's free parameters to the patterns",
        description="Fit the parameters in the scenario's [calibration.free] table to the "
        "pattern registry (and, with observed_weight, the fit-window observations): by "
        'differential evolution (one point), or with [calibration] method = "abc-smc" an '
        "ABC-SMC posterior, written as weighted particles, whose medians the output scenario "
        "takes. The output scenario extends the input.",
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
    parser.add_argument(
        "--posterior",
        metavar="FILE",
        help='with [calibration] method = "abc-smc": the posterior\'s particles (Parquet) to '
        "write (default: <output>-posterior.parquet beside the output)",
    )
    add_workers(parser)
    parser.add_argument("--force", action="store_true", help="replace the output file if it exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=calibrate_command)


def calibrate_command(args, command: list[str]) -> int:
    """Fit, write the fitted scenario, validate it and write the report."""
    from dataclasses import replace

    import numpy as np
    import pandas as pd

    from experiments.calibration import (
        calibrate,
        calibration_spec,
        fitted_scenario_text,
        patterns_for,
    )
    from experiments.patterns import headline, pattern_table
    from experiments.store import NewFolder, stamp
    from model.scenario import load_scenario, month_index

    scenario = load_scenario(args.scenario)
    spec = calibration_spec(scenario)
    if args.maxiter is not None:
        spec = replace(spec, maxiter=args.maxiter)
    if args.patterns is not None:
        check_toml_file(args.patterns, "--patterns")
    patterns, path = patterns_for(scenario, args.patterns)
    source = Path(scenario.file)
    output = (
        Path(args.output) if args.output else source.with_name(f"{source.stem}-calibrated.toml")
    )
    name = args.name or f"{scenario.name}-calibrated"
    _check_output(output, scenario, args.force)
    posterior_file = None
    if spec.method == "abc-smc":
        posterior_file = (
            Path(args.posterior)
            if args.posterior
            else output.with_name(f"{output.stem}-posterior.parquet")
        )
        _check_output(posterior_file, scenario, args.force, "--posterior")
    elif args.posterior:
        from experiments.cli.options import UsageError

        raise UsageError('--posterior needs [calibration] method = "abc-smc" in the scenario')
    regenerate = " ".join(
        [
            "multivector calibrate",
            str(source),
            f"--output {output}",
            f"--name {name}",
            *([f"--until {args.until}"] if args.until else []),
            *([f"--maxiter {args.maxiter}"] if args.maxiter else []),
            *([f"--patterns {args.patterns}"] if args.patterns else []),
            *([f"--posterior {posterior_file}"] if args.posterior else []),
            "--force",
        ]
    )
    started = datetime.now(UTC)
    if posterior_file is not None:
        return _calibrate_posterior(
            args, scenario, spec, patterns, path, output, posterior_file, name, regenerate, started
        )
    fit = calibrate(
        scenario,
        patterns=patterns,
        until=args.until,
        spec=spec,
        threads=args.workers,
        progress=not args.quiet,
    )
    text = fitted_scenario_text(scenario, fit, output, name, regenerate)
    fitted, before, after = _write_and_validate(output, text, scenario, patterns, args.workers)
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


def _check_output(output: Path, scenario, force: bool, option: str = "--output") -> None:
    """Refuse, before any fitting, an output the fit could not or should not write."""
    from model.scenario import ScenarioError

    key = option.lstrip("-")
    target = output.resolve()
    sources = {Path(leaf.file).resolve() for leaf in scenario.parameters.values()}
    sources.add(Path(scenario.file).resolve())
    if target in sources:
        raise ScenarioError(
            option, key, str(output), "a file other than the scenario and its parents"
        )
    if not target.parent.is_dir() or not os.access(target.parent, os.W_OK):
        raise ScenarioError(option, key, str(output), "a file in a writable folder")
    if target.exists() and not force:
        raise ScenarioError(option, key, str(output), "a new file (add --force to replace it)")


PREDICTIVE_DRAWS = 100  # posterior draws of the predictive checks
PREDICTIVE_RUNS = 4  # runs per draw


def _calibrate_posterior(
    args, scenario, spec, patterns, registry, output, posterior_file, name, regenerate, started
) -> int:
    """ABC-SMC: write the particles, the scenario at their medians, and the report."""
    import time

    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from experiments.calibration import (
        calibrate_posterior,
        posterior_predictive,
        posterior_scenario_text,
    )
    from experiments.figures import save_figure
    from experiments.observed import load_observed, summarise, summary_line
    from experiments.patterns import headline, pattern_table
    from experiments.posterior_report import (
        interval_table,
        marginals_figure,
        pairs_figure,
        predictive_observed_table,
    )
    from experiments.store import NewFolder, stamp, write_atomic
    from experiments.tables import markdown

    observed = load_observed()  # read once: the fit's targets and the predictive check
    clock = time.perf_counter()
    fit = calibrate_posterior(
        scenario,
        patterns=patterns,
        until=args.until,
        spec=spec,
        threads=args.workers,
        progress=not args.quiet,
        observed=observed,
    )
    seconds = time.perf_counter() - clock
    table = fit.posterior.table()
    metadata = {
        b"multivector": json.dumps(
            {"fit": fit.id, "scenario": str(scenario.file), "command": regenerate}
        ).encode()
    }
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), **metadata})
    buffer = pa.BufferOutputStream()
    pq.write_table(arrow, buffer)
    write_atomic(posterior_file, buffer.getvalue().to_pybytes())
    text = posterior_scenario_text(scenario, fit, output, name, posterior_file, regenerate)
    fitted, before, after = _write_and_validate(output, text, scenario, patterns, args.workers)
    predictive, result = posterior_predictive(
        scenario,
        table,
        patterns,
        draws=PREDICTIVE_DRAWS,
        runs=PREDICTIVE_RUNS,
        seed=fitted.seed,
        threads=args.workers,
        observed=observed,
    )
    intervals = interval_table(fit, {p.key: scenario.parameters[p.key].value for p in spec.free})
    scored = predictive[predictive["role"] == "scored"]
    held = int((scored["draws_holding"] >= 0.5).sum())
    line = summary_line(result)
    generations = pd.DataFrame([g.__dict__ for g in fit.posterior.generations]).rename_axis(
        "generation"
    )
    lines = [
        f"# Calibration {fit.id}: {scenario.title}",
        "",
        f"Input `{scenario.file}` (hash `{scenario.hash}`); output `{output}`; posterior "
        f"`{posterior_file}`; patterns `{registry}`; started "
        f"{started.isoformat(timespec='seconds')}; {seconds:.0f} s on {args.workers} worker(s).",
        "",
        f"ABC-SMC (experiments/abc.py: Del Moral, Doucet & Jasra 2012), seed {spec.seed}, "
        f"{spec.particles} particles, up to {spec.generations} generations"
        + (
            f", a noise floor from {spec.floor_sample} particles' self-distances"
            if spec.floor_sample
            else ""
        )
        + f", {fit.posterior.evaluations} particle simulations of {spec.runs} runs each. Flat "
        f"priors over the [calibration.free] ranges. Distance: the mean loss of the "
        f"{sum(p.scored for p in fit.patterns)} scored patterns"
        + (
            f" plus {spec.observed_weight:g} x the loss of {fit.observed} fit-window "
            f"observations (years to 2012; the validation window is never read)"
            if fit.observed
            else ""
        )
        + ".",
        "",
        "## Generations",
        "",
        markdown(generations, "{:.4g}"),
        "",
        "## Posterior: median and 90% credible interval",
        "",
        markdown(intervals.set_index("parameter"), "{:.4g}"),
        "",
        "`ci_share_of_prior`: the interval's width over the prior range's (0.9 for a parameter "
        "the data say nothing about).",
        "",
        "![marginals](figures/marginals.png)",
        "",
        "![pairs](figures/pairs.png)",
        "",
        f"## Posterior predictive ({PREDICTIVE_DRAWS} draws x {PREDICTIVE_RUNS} runs)",
        "",
        f"Scored patterns holding for at least half of the draws: {held} of {len(scored)}.",
        "`pass_rate`: share of all runs in which the pattern holds; `draws_holding`: share of "
        "draws for which it holds in at least 80% of their runs.",
        "",
        markdown(predictive.set_index("pattern")),
        "",
        "Observed data (mean absolute error of shares; the validation window was not fitted):",
        "",
        markdown(summarise(result, ("window", "dimension"))),
        "",
        line,
        "",
        f"## The scenario at the posterior medians ({output}), 100 seeds",
        "",
        f"Before the fit: {headline(before)}; at the medians: {headline(after)}.",
        "",
        pattern_table(after),
        "",
    ]
    with NewFolder(Path("results") / fitted.name, f"calibration-{stamp()}-{fit.id}") as folder:
        (folder.path / "report.md").write_text("\n".join(lines))
        table.to_parquet(folder.path / "posterior.parquet")
        generations.to_parquet(folder.path / "generations.parquet")
        intervals.to_parquet(folder.path / "intervals.parquet", index=False)
        predictive.to_parquet(folder.path / "predictive-patterns.parquet", index=False)
        predictive_observed_table(result).to_parquet(
            folder.path / "predictive-observed.parquet", index=False
        )
        after.assign(fitted=True).to_parquet(folder.path / "validation.parquet", index=False)
        save_figure(marginals_figure(fit), folder.path / "figures", "marginals")
        save_figure(pairs_figure(fit), folder.path / "figures", "pairs")
    print(
        f"fit {fit.id}: {len(fit.posterior.generations) - 1} generations, "
        f"{fit.posterior.evaluations} particle simulations, {seconds:.0f} s; "
        f"final threshold {fit.posterior.generations[-1].epsilon:.4f}"
    )
    for row in intervals.itertuples():
        print(f"  {row.parameter} = {row.median:.4g}  (90% CI {row.ci05:.4g} .. {row.ci95:.4g})")
    print(
        f"validation at the medians (100 seeds): before {headline(before)}; after {headline(after)}"
    )
    print(f"posterior predictive: {held} of {len(scored)} scored patterns hold for most draws")
    print(f"posterior: {posterior_file}")
    print(f"scenario: {output}")
    print(f"report: {folder.path / 'report.md'}")
    print(line)
    return 0


def _write_and_validate(output: Path, text: str, scenario, patterns, workers: int):
    """Write the fitted scenario atomically (it must load before it replaces anything), then
    validate the input and the fit with 100 seeds: ``(fitted, before, after)``."""
    from experiments.batch import replicate_seeds
    from experiments.calibration import validate
    from model.scenario import load_scenario

    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp.toml")
    try:
        tmp.write_text(text)
        load_scenario(tmp)
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    fitted = load_scenario(output)
    seeds = replicate_seeds(fitted.seed, 100)
    before = validate(scenario, patterns, seeds, threads=workers)
    after = validate(fitted, patterns, seeds, threads=workers)
    return fitted, before, after
