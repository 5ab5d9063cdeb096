"""How long the dashboard makes a person wait: cold start, Run, and a 50-seed ensemble.

Serves the dashboard (``multivector app``, as a user starts it) on a free port and drives it
in Debian's Chromium headless through Playwright, as the end-to-end tests do, then prints:

* cold start to first figure: from starting the server process to the dependence chart drawn
  (its canvas on the page) in a fresh browser page;
* Run to updated views: from the click on Run (after moving Kazakhstan's balancing slider, so
  each run differs) to the summary table showing the new run and the page no longer busy;
  the median and the largest of ``--runs`` clicks;
* a 50-seed ensemble: from the click on Ensemble (after a new seed, so nothing is cached) to
  the table's ensemble column shown and the page no longer busy; the median and the largest
  of ``--ensembles`` clicks.

The targets of issue 18 on an idle 2-core machine, with the ensemble kernel's compile cache
warm (``multivector run`` once, or a first start of the dashboard, fills it): Run 0.5 s,
ensemble 2 s, cold start 8 s. The load average before and after is printed with the figures:
above about 1 the machine was shared and the figures are skewed.

Usage::

    python benchmarks/dashboard_latency.py [--scenario FILE] [--runs 5] [--ensembles 3]

Notes
-----
The end of each measurement is seen by polling the page (Playwright's ``wait_for_function``,
every animation frame), so a figure is at most about 16 ms late. Charts are drawn by ECharts in
the browser as soon as their data arrive, with the table's update.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
TARGETS = {"cold start to first figure": 8.0, "Run to updated views": 0.5, "50-seed ensemble": 2.0}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _busy_gone_and(condition: str) -> str:
    """A page expression: ``condition`` holds and the busy bar is gone."""
    return f"!document.querySelector('.mv-busy') && ({condition})"


def measure(scenario: Path, runs: int, ensembles: int) -> dict[str, list[float]]:
    """Seconds of each measurement, by name (see the module's docstring)."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    figures: dict[str, list[float]] = {name: [] for name in TARGETS}
    with tempfile.TemporaryFile("w+") as log, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        start = time.monotonic()
        server = subprocess.Popen(
            [sys.executable, "-m", "experiments.cli", "app", str(scenario), "--port", str(port)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=2):
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() - start > 120:
                        log.seek(0)
                        raise SystemExit(f"the server did not start:\n{log.read()}") from None
                    time.sleep(0.05)
            page.goto(url)
            page.locator(".mv-figure-dependence canvas").first.wait_for(timeout=120_000)
            figures["cold start to first figure"].append(time.monotonic() - start)

            kaz_row = "document.querySelector('.mv-summary tr[data-state=\"KAZ\"]')"
            slider = page.get_by_role("slider", name="Kazakhstan balancing propensity")
            for k in range(runs):
                before = page.locator('.mv-summary tr[data-state="KAZ"]').get_attribute(
                    "data-dependence"
                )
                slider.focus()
                page.keyboard.press("PageUp" if k % 2 == 0 else "PageDown")
                page.locator(".mv-stale").wait_for()
                clicked = time.monotonic()
                page.locator(".mv-run").click()
                page.wait_for_function(
                    _busy_gone_and(f"{kaz_row}.dataset.dependence !== '{before}'"),
                    timeout=60_000,
                    polling="raf",
                )
                figures["Run to updated views"].append(time.monotonic() - clicked)

            seed = page.get_by_label("Seed (batch seed; the run shown is replicate 0)")
            for k in range(ensembles):
                seed.fill(str(1000 + k))
                seed.press("Enter")
                page.locator(".mv-stale").wait_for()
                clicked = time.monotonic()
                page.locator(".mv-ensemble").click()
                page.wait_for_function(
                    _busy_gone_and(
                        f"document.querySelector('.mv-summary').textContent.includes("
                        f"'50 runs') && document.querySelector('.mv-muted').textContent"
                        f".includes('seed {1000 + k} ')"
                    ),
                    timeout=300_000,
                    polling="raf",
                )
                figures["50-seed ensemble"].append(time.monotonic() - clicked)
        finally:
            browser.close()
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "baseline.toml")
    parser.add_argument("--runs", type=int, default=5, help="Run clicks to time (default 5)")
    parser.add_argument("--ensembles", type=int, default=3, help="ensembles to time (default 3)")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(
            f"dashboard_latency: {CHROMIUM} not found (apt-get install chromium)", file=sys.stderr
        )
        return 2
    load_before = _load()
    figures = measure(args.scenario, args.runs, args.ensembles)
    print(f"load average before: {load_before}; after: {_load()} (1, 5, 15 min)")
    print(f"{'measurement':<28} {'median s':>9} {'max s':>7} {'target s':>9}  met")
    for name, seconds in figures.items():
        median, worst = statistics.median(seconds), max(seconds)
        met = "yes" if median <= TARGETS[name] else "no"
        print(f"{name:<28} {median:>9.2f} {worst:>7.2f} {TARGETS[name]:>9.1f}  {met}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
