"""``multivector validate``: score scenarios against the article's patterns (k of n hold)."""

from __future__ import annotations

import json
from pathlib import Path

from experiments.cli.options import add_out, add_workers, check_out, positive_int, seed

__all__ = ["register"]


def register(subparsers) -> None:
    """Add ``validate`` to the ``multivector`` parser."""
    parser = subparsers.add_parser(
        "validate",
        help="score scenarios against the article's patterns (k of n hold)",
        description="Run each scenario for --runs seeds and check every pattern of the "
        "registry; prints the pattern table and writes validation.md and validation.parquet.",
    )
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help="scenario files (default: scenarios/baseline.toml)",
    )
    parser.add_argument("--runs", type=positive_int, default=100, help="seeds (default 100)")
    parser.add_argument("--seed", type=seed, help="batch seed (default: the scenario's)")
    parser.add_argument(
        "--patterns", help="pattern registry (default: patterns.toml beside the scenario)"
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
    from model.scenario import load_scenario

    out = check_out(args.out)
    paths = args.scenarios or ["scenarios/baseline.toml"]
    scenarios = [load_scenario(path) for path in paths]  # all errors before any run
    registries = [patterns_for(s, args.patterns) for s in scenarios]
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
            (folder.path / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        print(f"  report: {Path(folder.path) / 'validation.md'}")
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
