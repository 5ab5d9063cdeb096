"""Batch runs per second over executors and workers, and memory of a large batch, in one run.

Measures metrics-only batches (``store="metrics"``, ensemble engine) of the calibrated baseline
through :func:`experiments.batch.run_batch`, the path ``multivector run`` takes:

* runs/s of ``--runs`` runs with the ``serial`` executor and 1 worker (the reference row), the
  ``threads`` executor (the ensemble's default) and the ``processes`` executor with 2 workers,
  and the ``dask`` executor with 2 workers (a local cluster that ``run_batch`` starts and stops
  itself);
* peak memory of a ``--large``-run batch (``processes``, 2 workers), run in a fresh interpreter:
  the main process's peak resident set, the largest worker's, and the batch folder's size.

It then says whether two targets hold: 2 workers reach at least 1.8 times the runs/s of one,
and a 100,000-run metrics-only batch peaks at no more than 2 GB (main process plus workers).

Notes
-----
Each row reports the seconds and runs/s that ``run_batch`` returns (``BatchResult.seconds`` and
``.runs_per_second``) and the wall time around the call (which also counts planning and the
folder's creation). Ratios are to the serial 1-worker row measured in the same run; machines
are noisy (about 15%), so compare figures from one run only. The ensemble kernel is compiled
and a tiny batch run first, not timed; the fork server is stopped after each row, so each
``processes`` row starts its own, as a ``multivector run`` does. Every batch is written to a
temporary folder, removed afterwards. Each row also shows the CPUs other processes used
meanwhile (``/proc/stat`` less this process tree's ``getrusage``): well above zero, the machine
was shared and the figures are skewed.

Peaks are the kernel's high-water marks of resident memory: ``getrusage`` for the main process
(``RUSAGE_SELF``) and for its reaped descendants (``RUSAGE_CHILDREN``: the largest single one),
and each descendant's ``VmHWM`` in ``/proc``, sampled every 0.1 s while it lives (Linux), to
tell the workers from the helper processes (fork server, resource tracker). Resident sets count
pages the workers share with the fork server in each of them, so their sum is an upper bound.

Examples
--------
::

    python benchmarks/batch_scaling.py [--runs N] [--large N] [--skip-dask] [--skip-large]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from experiments.batch import run_batch
from experiments.store import BatchError
from model.ensemble import warm_up
from model.scenario import load_scenario

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.toml"
SPEEDUP_TARGET = 1.8
MEMORY_TARGET = 2 * 10**9  # bytes: 2 GB
MIB = 1024 * 1024
CHILD_MARK = "batch_scaling-child:"


@dataclass(frozen=True)
class Row:
    label: str
    runs: int
    seconds: float  # BatchResult.seconds
    rate: float  # BatchResult.runs_per_second
    wall: float  # measured around run_batch
    others: float | None  # CPUs other processes used on average meanwhile


def measure(label: str, scenario, runs: int, executor: str, workers: int) -> Row:
    """Run one metrics-only batch into a temporary folder; its timings."""
    with tempfile.TemporaryDirectory(prefix="batch_scaling-") as out:
        machine, own = _machine_cpu_seconds(), _own_cpu_seconds()
        start = time.perf_counter()
        result = run_batch(
            scenario,
            runs=runs,
            store="metrics",
            engine="ensemble",
            executor=executor,
            workers=workers,
            out=out,
            progress=False,
            command=[Path(__file__).name, label],
        )
        wall = time.perf_counter() - start
        others = _other_cpus(machine, own, wall)
    return Row(label, result.runs, result.seconds, result.runs_per_second, wall, others)


# --------------------------------------------------------------------------------------------
# memory of a large batch (in a fresh interpreter: --child-large)


def _status(pid: int) -> dict[str, int]:
    """``VmHWM`` and ``VmRSS`` of a process from ``/proc/<pid>/status``, in bytes."""
    out = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0]) * 1024
    return out


def _descendants(root: int) -> dict[int, int]:
    """Descendants of a process: pid -> depth (1 for its children), from ``/proc``."""
    parent = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
            parent[int(entry)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue  # exited meanwhile
    depth = {root: 0}
    changed = True
    while changed:
        changed = False
        for pid, ppid in parent.items():
            if pid not in depth and ppid in depth:
                depth[pid] = depth[ppid] + 1
                changed = True
    del depth[root]
    return depth


def _role(pid: int, depth: int) -> str:
    """``fork server``, ``resource tracker`` or ``worker`` (deeper descendants), ``other``."""
    if depth >= 2:
        return "worker"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            text = cmdline.read().decode(errors="replace")
    except OSError:
        return "other"
    for module, role in (("forkserver", "fork server"), ("resource_tracker", "resource tracker")):
        if f"multiprocessing.{module}" in text:
            return role
    return "other"


class TreeSampler(threading.Thread):
    """Samples, every ``interval`` s, the peak (``VmHWM``) of each descendant of this process
    and the largest total current resident memory (``VmRSS``) of the process and descendants.
    """

    def __init__(self, interval: float = 0.1):
        super().__init__(daemon=True)
        self.interval = interval
        self.peaks: dict[int, tuple[int, int, str]] = {}  # pid -> (depth, VmHWM bytes, role)
        self.total = 0
        self.working = Path("/proc/self/status").exists()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while self.working and not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def sample(self) -> None:
        me = os.getpid()
        total = _status(me).get("VmRSS", 0)
        for pid, depth in _descendants(me).items():
            try:
                status = _status(pid)
            except OSError:
                continue
            total += status.get("VmRSS", 0)
            _, before, role = self.peaks.get(pid) or (depth, 0, _role(pid, depth))
            self.peaks[pid] = (depth, max(before, status.get("VmHWM", 0)), role)
        self.total = max(self.total, total)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        if self.working:
            self.sample()


def _reap_helpers() -> None:
    """Stop the fork server and resource tracker so their ``getrusage`` reaches this process."""
    from multiprocessing import forkserver, resource_tracker

    for helper in (forkserver._forkserver, resource_tracker._resource_tracker):
        with contextlib.suppress(Exception):  # private API: only makes RUSAGE_CHILDREN complete
            helper._stop()


def _folder_size(path: Path) -> tuple[int, int, int]:
    """Files, apparent bytes and allocated bytes under a folder."""
    files = apparent = allocated = 0
    for folder, _, names in os.walk(path):
        for name in names:
            info = os.stat(os.path.join(folder, name))
            files += 1
            apparent += info.st_size
            allocated += getattr(info, "st_blocks", 0) * 512 or info.st_size
    return files, apparent, allocated


def large_child(runs: int) -> None:
    """Run the large batch here (a fresh interpreter) and print its memory figures as JSON."""
    scenario = load_scenario(BASELINE)
    sampler = TreeSampler()
    sampler.start()
    with tempfile.TemporaryDirectory(prefix="batch_scaling-") as out:
        start = time.perf_counter()
        result = run_batch(
            scenario,
            runs=runs,
            store="metrics",
            engine="ensemble",
            executor="processes",
            workers=2,
            out=out,
            progress=False,
            command=[Path(__file__).name, "--child-large", str(runs)],
        )
        wall = time.perf_counter() - start
        files, apparent, allocated = _folder_size(result.path)
    sampler.stop()
    _reap_helpers()
    scale = 1024  # ru_maxrss is in KiB on Linux, bytes on macOS
    if sys.platform == "darwin":
        scale = 1
    peaks = sorted(sampler.peaks.values())
    helpers = {}
    for _, hwm, role in peaks:
        if role != "worker":
            helpers[role] = max(helpers.get(role, 0), hwm)
    report = {
        "runs": result.runs,
        "seconds": result.seconds,
        "rate": result.runs_per_second,
        "wall": wall,
        "self_peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale,
        "children_peak": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale,
        "sampled": sampler.working,
        "helpers": helpers,
        "workers": [hwm for _, hwm, role in peaks if role == "worker"],
        "tree_total": sampler.total,
        "files": files,
        "apparent": apparent,
        "allocated": allocated,
    }
    print(CHILD_MARK + json.dumps(report), flush=True)


def measure_large(runs: int) -> dict | None:
    """The large batch's memory figures, from a fresh interpreter running ``large_child``."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child-large", str(runs)]
    child = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    for line in child.stdout.splitlines():
        if line.startswith(CHILD_MARK):
            return json.loads(line.removeprefix(CHILD_MARK))
    print(f"large batch: the child process failed (exit {child.returncode})", file=sys.stderr)
    return None


# --------------------------------------------------------------------------------------------
# other load on the machine


def _machine_cpu_seconds() -> float | None:
    """CPU time the machine has spent busy or stolen by its host so far (``/proc/stat``)."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
        user, nice, system, _, _, irq, softirq, steal = (int(f) for f in fields[1:9])
    except (OSError, ValueError):
        return None
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU time of this process and its reaped descendants (workers, clusters, the child)."""
    _reap_helpers()  # the fork server reaps the pool's workers: count them through it
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )


def _cpus(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _other_cpus(machine: float | None, own: float, seconds: float) -> float | None:
    """CPUs other processes used on average since ``machine`` and ``own`` CPU times."""
    now = _machine_cpu_seconds()
    if machine is None or now is None or seconds <= 0:
        return None
    return max(now - machine - (_own_cpu_seconds() - own), 0.0) / seconds


# --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000, help="runs per throughput row")
    parser.add_argument("--large", type=int, default=100_000, help="runs of the memory batch")
    parser.add_argument("--skip-dask", action="store_true", help="no dask executor row")
    parser.add_argument("--skip-large", action="store_true", help="no large-batch memory run")
    parser.add_argument("--child-large", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_large is not None:
        large_child(args.child_large)
        return
    machine_start, clock_start = _machine_cpu_seconds(), time.perf_counter()

    scenario = load_scenario(BASELINE)
    warm_up()  # compile or load the ensemble kernel, so run_batch does not fall back to Mesa
    with tempfile.TemporaryDirectory(prefix="batch_scaling-") as out:
        run_batch(
            scenario,
            runs=8,
            store="metrics",
            engine="ensemble",
            executor="serial",
            workers=1,
            out=out,
            progress=False,
            command=[Path(__file__).name, "warm-up"],
        )

    configurations = [
        ("serial, 1 worker", "serial", 1),
        ("threads, 2 workers (default)", "threads", 2),
        ("processes, 2 workers", "processes", 2),
    ]
    if not args.skip_dask:
        configurations.append(("dask, 2 workers", "dask", 2))
    rows = []
    for label, executor, workers in configurations:
        try:
            rows.append(measure(label, scenario, args.runs, executor, workers))
        except BatchError as error:
            print(f"{label}: not measured ({error})", file=sys.stderr)
    large = None
    if not args.skip_large:
        machine, own, start = _machine_cpu_seconds(), _own_cpu_seconds(), time.perf_counter()
        large = measure_large(args.large)
        if large is not None:
            large["others"] = _other_cpus(machine, own, time.perf_counter() - start)

    by_label = {row.label: row for row in rows}
    serial = by_label.get("serial, 1 worker")
    print(
        f"baseline: {scenario.n_steps} monthly steps, {len(scenario.states)} states, "
        f"{len(scenario.powers)} powers, {len(scenario.dimensions)} dimensions; "
        f"metrics-only store, ensemble engine; {os.cpu_count()} CPUs"
    )
    print(
        f"{'configuration':30} {'runs':>7} {'seconds':>8} {'runs/s':>8} {'ratio':>6}"
        f" {'wall s':>8} {'wall runs/s':>11} {'wall ratio':>10} {'other CPUs':>10}"
    )
    for row in rows:
        ratio = row.rate / serial.rate if serial else float("nan")
        wall_rate = row.runs / row.wall
        wall_ratio = wall_rate / (serial.runs / serial.wall) if serial else float("nan")
        print(
            f"{row.label:30} {row.runs:7d} {row.seconds:8.2f} {row.rate:8.1f} {ratio:6.2f}"
            f" {row.wall:8.2f} {wall_rate:11.1f} {wall_ratio:10.2f} {_cpus(row.others):>10}"
        )
    print(
        "(seconds, runs/s: BatchResult; wall: measured around run_batch; ratio: to serial 1;"
        " other CPUs: used by other processes meanwhile, on average)"
    )

    upper = None
    if large is not None:
        workers = large["workers"]
        # samples may miss a worker's last 0.1 s; the largest reaped descendant (a worker or the
        # fork server) bounds every worker from above, so both workers are taken at the larger
        worker_peak = max([*workers, large["children_peak"]])
        upper = large["self_peak"] + 2 * worker_peak
        print(
            f"large batch: {large['runs']} runs, processes, 2 workers: "
            f"{large['seconds']:.1f} s ({large['rate']:.1f} runs/s; wall {large['wall']:.1f} s;"
            f" other CPUs {_cpus(large.get('others'))})"
        )
        print(f"  main process peak:       {large['self_peak'] / MIB:8.0f} MiB")
        print(
            f"  largest worker peak:     {worker_peak / MIB:8.0f} MiB"
            f"  (sampled workers: {', '.join(f'{w / MIB:.0f}' for w in workers) or 'none'} MiB;"
            f" largest reaped child, getrusage: {large['children_peak'] / MIB:.0f} MiB)"
        )
        for role, hwm in large["helpers"].items():
            print(f"  {role + ' peak:':24} {hwm / MIB:8.0f} MiB")
        if large["sampled"]:
            print(f"  sampled total resident:  {large['tree_total'] / MIB:8.0f} MiB at most")
        print(
            f"  batch folder:            {large['allocated'] / MIB:8.1f} MiB on disk"
            f" ({large['apparent'] / MIB:.1f} MiB in {large['files']} files)"
        )

    for name in ("threads, 2 workers (default)", "processes, 2 workers"):
        two = by_label.get(name)
        if two and serial:
            ratio = two.rate / serial.rate
            wall = (serial.wall / serial.runs) / (two.wall / two.runs)
            print(
                f"target 2 workers >= {SPEEDUP_TARGET}x one worker ({name.split(',')[0]}): "
                f"{'HOLDS' if ratio >= SPEEDUP_TARGET else 'FAILS'} ({ratio:.2f}x; "
                f"wall {wall:.2f}x)"
            )
    if upper is not None:
        print(
            f"target peak memory of a {large['runs']:,}-run metrics-only batch <= 2 GB: "
            f"{'HOLDS' if upper <= MEMORY_TARGET else 'FAILS'} (main + 2 x largest worker "
            f"peak = {upper / MIB:.0f} MiB = {upper / 1e9:.2f} GB, an upper bound)"
        )
    else:
        print("target peak memory <= 2 GB: not measured")

    machine_end, elapsed = _machine_cpu_seconds(), time.perf_counter() - clock_start
    if machine_start is not None and machine_end is not None:
        others = max(machine_end - machine_start - _own_cpu_seconds(), 0.0)
        cores = others / elapsed
        print(
            f"other load: {others:.1f} CPU-seconds used by other processes over {elapsed:.0f} s"
            f" ({cores:.2f} CPUs on average)"
            + (": the machine was busy, figures are skewed; rerun when idle" if cores > 0.1 else "")
        )


if __name__ == "__main__":
    main()
