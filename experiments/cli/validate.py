"""``multivector validate``: score scenarios against the article's patterns (k of n hold)."""

from __future__ import annotations

import json
from pathlib import Path

from experiments.cli.options import (
    add_out,
    add_workers,
    check_out,
    check_toml_file,
    load_checked,
    positive_int,
    runs,
    seed,
)

__all__ = ["register"]


def register(subparsers) -> None:
    """Add ``validate`` to the ``multivector`` parser."""
    parser = subparsers.add_parser(
        "validate",
        help="score scenarios against the article's patterns (k of n hold)",
        description="Run each scenario for --runs seeds and check every pattern of the "
        "registry; prints the pattern table and writes validation.md and validation.parquet. "
        "With --observed, also score the runs against the observed data in data/observed/ "
        "(fit window to 2012, validation window 2013-2021) next to three reference forecasts, "
        "and write observed.md, observed-*.parquet and one figure per dimension.",
    )
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help="scenario files (default: scenarios/baseline.toml)",
    )
    parser.add_argument("--runs", type=runs, default=100, help="seeds (default 100)")
    parser.add_argument("--seed", type=seed, help="batch seed (default: the scenario's)")
    parser.add_argument(
        "--patterns", help="pattern registry (default: patterns.toml beside the scenario)"
    )
    parser.add_argument(
        "--observed",
        action="store_true",
        help="also score the runs against the observed data (trade, migration and remittances, "
        "arms, UN votes) with persistence, trend and equal-share reference forecasts",
    )
    parser.add_argument(
        "--prior-check",
        type=positive_int,
        metavar="N",
        help="also draw N parameter vectors from the calibration's prior ([calibration.free] "
        "ranges, uniform), run each for --runs seeds, and report each pattern's pass rate: "
        "a pattern holding for 95%% of draws or more is a sanity check, not a test",
    )
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="the observed dataset's folder (default: data/observed in the repository)",
    )
    add_workers(parser)
    add_out(parser)
    parser.set_defaults(handler=validate_command)


def _print_table(title: str, table) -> None:
    from experiments.patterns import headline

    print(title)
    width = max(len(p) for p in table["pattern"])
    for row in table.itertuples():
        print(
            f"  {row.pattern:<{width}}  {row.verdict:<22} margin {row.margin_median:+.3f} "
            f"[{row.margin_p05:+.3f}, {row.margin_p95:+.3f}]  {row.source}"
        )
    print(f"  {headline(table)}")


def validate_command(args, command: list[str]) -> int:
    """Validate each scenario; print the tables and, for several, the comparison."""
    from experiments.batch import replicate_seeds
    from experiments.calibration import patterns_for, validate
    from experiments.patterns import headline, pattern_table
    from experiments.store import NewFolder, stamp, versions

    out = check_out(args.out)
    paths = args.scenarios or ["scenarios/baseline.toml"]
    scenarios = [load_checked(path) for path in paths]  # all errors before any run
    if args.patterns is not None:
        check_toml_file(args.patterns, "--patterns")
    registries = [patterns_for(s, args.patterns) for s in scenarios]
    observed = None
    if args.observed or args.data:
        from experiments.observed import DATA, load_observed

        observed = load_observed(args.data or DATA)
    summary = []
    for scenario, (patterns, path) in zip(scenarios, registries, strict=True):
        batch_seed = scenario.seed if args.seed is None else args.seed
        seeds = replicate_seeds(batch_seed, args.runs)
        table = validate(scenario, patterns, seeds, threads=args.workers)
        _print_table(
            f"{scenario.file} ({scenario.name}, hash {scenario.hash[:8]}): "
            f"{args.runs} runs, batch seed {batch_seed}, patterns {path}",
            table,
        )
        stem = f"validation-{stamp()}-{scenario.hash[:8]}"
        with NewFolder(out / scenario.name, stem) as folder:
            table.to_parquet(folder.path / "validation.parquet", index=False)
            (folder.path / "validation.md").write_text(
                f"# Validation of {scenario.title}\n\n"
                f"Scenario `{scenario.file}` (hash `{scenario.hash}`), {args.runs} runs with "
                f"batch seed {batch_seed}, patterns `{path}`.\n\n"
                f"**{headline(table)}.** A pattern holds when its predicate holds in at least "
                "80% of runs and fails when in at most 20%.\n\n" + pattern_table(table) + "\n"
            )
            manifest = {
                "scenario": {"file": scenario.file, "hash": scenario.hash},
                "patterns": str(path),
                "runs": args.runs,
                "batch_seed": batch_seed,
                "seeds": [int(s) for s in seeds],
                "holding": int(table["holds"].sum()),
                "patterns_total": len(table),
                "versions": versions(),
                "command": list(command),
            }
            if observed is not None:
                line = _write_observed(folder.path, scenario, observed, seeds, batch_seed, args)
                manifest["observed"] = {"data": str(args.data or "data/observed"), "line": line}
            (folder.path / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        print(f"  report: {Path(folder.path) / 'validation.md'}")
        if observed is not None:
            print(f"  observed data: {Path(folder.path) / 'observed.md'}")
        prior_line = None
        if args.prior_check:
            prior_line = _prior_check(folder.path, scenario, patterns, seeds, args)
        summary.append((scenario, table, line if observed is not None else None, prior_line))
    if len(summary) > 1:
        print("comparison:")
        width = max(len(s.name) for s, _, _, _ in summary)
        for scenario, table, _, _ in summary:
            partial = int(((table["fraction_holding"] > 0.2) & ~table["holds"]).sum())
            print(
                f"  {scenario.name:<{width}}  {int(table['holds'].sum()):3d} of {len(table)} "
                f"hold, {partial} partly, {int((table['fraction_holding'] <= 0.2).sum())} fail"
            )
    # the output ends with the prior-check line(s), then the observed-data line(s)
    for k in (3, 2):
        for scenario, *_ in summary:
            line = next(row for row in summary if row[0] is scenario)[k]
            if line is not None:
                print(f"{scenario.name}: {line}" if len(summary) > 1 else line)
    return 0


def _prior_check(folder, scenario, patterns, seeds, args) -> str:
    """Run the prior check, print its table, write prior-check.md/.parquet; the final line."""
    import numpy as np

    from experiments.calibration import calibration_spec, prior_check, prior_draws
    from experiments.patterns import SANITY

    spec = calibration_spec(scenario)
    draws = prior_draws(scenario, spec, args.prior_check, spec.seed)
    held = prior_check(scenario, patterns, draws, seeds, threads=args.workers)
    feasible = held[held["feasible"]]
    rate = {p.id: float(feasible[p.id].mean()) if len(feasible) else 0.0 for p in patterns}
    sanity = [p.id for p in patterns if rate[p.id] >= SANITY]
    scored = [p.id for p in patterns if p.id not in sanity]
    met = feasible[scored].sum(axis=1) if scored else feasible.iloc[:, :0].sum(axis=1)
    median = float(np.median(met)) if len(met) else 0.0
    print(
        f"  prior check: {len(draws)} draws of {len(spec.free)} free parameters "
        f"({len(feasible)} feasible), {len(seeds)} runs each; pass rate under the prior:"
    )
    width = max(len(p.id) for p in patterns)
    lines = [
        f"# Prior check of {scenario.title}",
        "",
        f"{len(draws)} draws from the calibration's prior (every `[calibration.free]` "
        f"parameter uniform over its range, seed {spec.seed}), {len(feasible)} feasible, each "
        f"run for {len(seeds)} seeds. A pattern holds for a draw when it holds in 80% of its "
        f"runs; one holding for {100 * SANITY:.0f}% of draws or more is a sanity check.",
        "",
        "| pattern | pass rate under the prior | this check says | registry role |",
        "|---|---|---|---|",
    ]
    for p in patterns:
        says = "sanity" if p.id in sanity else "scored"
        flag = "" if says == p.role else "  (registry says " + p.role + ")"
        print(f"    {p.id:<{width}}  {100 * rate[p.id]:5.1f}%  {says}{flag}")
        lines.append(f"| `{p.id}` | {100 * rate[p.id]:.1f}% | {says} | {p.role} |")
    line = (
        f"prior check: {len(draws)} draws; {len(scored)} patterns scored, {len(sanity)} kept as "
        f"sanity checks; median draw meets {median:g} of {len(scored)}"
    )
    lines += ["", line, ""]
    (folder / "prior-check.md").write_text("\n".join(lines))
    held.join(draws).to_parquet(folder / "prior-check.parquet")
    return line


def _write_observed(folder, scenario, observed, seeds, batch_seed, args) -> str:
    """Score the scenario against the observed data; write the tables, report and figures."""
    from experiments.figures import save_figure
    from experiments.observed import score, summarise, summary_line
    from experiments.observed_report import (
        DIMENSION_INDICATORS,
        dimension_figure,
        report_markdown,
    )

    result = score(scenario, seeds, observed, threads=args.workers)
    result.shares.to_parquet(folder / "observed-shares.parquet", index=False)
    ranks = result.ranks.copy()
    for column in ("items", "observed_values", "model_values"):
        ranks[column] = ranks[column].map(list)
    ranks.to_parquet(folder / "observed-ranks.parquet", index=False)
    (folder / "observed.md").write_text(report_markdown(result, scenario, observed, batch_seed))
    for dimension in DIMENSION_INDICATORS:
        if dimension in scenario.dimension_ids:
            figure = dimension_figure(result, scenario, dimension, observed)
            save_figure(figure, folder / "figures", f"observed-{dimension}")
    table = summarise(result, ["window"])
    print("  observed data (mean absolute error of shares; model, persistence, trend, equal):")
    for window, row in table.iterrows():
        print(
            f"    {window:<10} {int(row['observations']):4d} obs  model {row['mae_model']:.3f}  "
            f"persistence {row['mae_persistence']:.3f}  trend {row['mae_trend']:.3f}  "
            f"equal {row['mae_equal']:.3f}"
        )
    return summary_line(result)
