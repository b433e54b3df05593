"""The load: a closed loop of N connections driven by wrk, and the server's CPU time while it ran.

Where it sits: ``measure.py`` calls :func:`drive` for each (model, rows per request, concurrency) cell:
a warm-up run whose numbers are dropped, then one timed run. wrk (C, one thread, pinned to the client's
cores) keeps ``concurrency`` keep-alive connections busy, each sending its next request when the last
answer arrived, cycling through a pool of pre-built bodies (``wrk.lua``); it counts non-2xx answers as
errors and reports latency percentiles from its histogram. The same client, bodies and settings drive
every server.

Each round also records how much CPU other work on the machine took while it ran (the machine's busy
time minus the server's and wrk's): the reference machine is shared, and the report says how much.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().with_name("wrk.lua")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class LoadError(RuntimeError):
    """wrk failed or printed no result."""


@dataclass(frozen=True)
class Round:
    """One timed run of one cell."""

    requests: int
    seconds: float
    errors: int
    p50: float  # seconds
    p90: float
    p99: float
    server_cpu_seconds: float  # CPU time of the server's processes during the run
    other_cpu_seconds: float  # CPU time of everything else on the machine but wrk during the run

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_request(self) -> float:
        return self.server_cpu_seconds / self.requests if self.requests else float("nan")

    def as_json(self) -> dict[str, float | int]:
        return {**asdict(self), "rate": self.rate}


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise LoadError("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    return found


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every live process in process group ``pgid`` (threads included)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[2]) == pgid:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU seconds every CPU of the machine spent busy since boot (``/proc/stat``: all but idle and iowait)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wrk(base_url: str, path: str, bodies: Path, concurrency: int, seconds: int, cpus: str | None) -> dict[str, object]:
    argv = [wrk_binary(), "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "10s", "-s", str(SCRIPT)]
    argv += [base_url, "--", str(bodies), path]
    if cpus:
        argv = ["taskset", "-c", cpus, *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result: dict[str, object] = json.loads(line.removeprefix("BENCH_JSON "))
            return result
    raise LoadError(f"wrk exited with {done.returncode} and no result:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def drive(
    base_url: str,
    model: str,
    bodies: Path,
    concurrency: int,
    *,
    warmup: int,
    seconds: int,
    cpus: str | None,
    server_pgid: int,
) -> Round:
    """Warm up for ``warmup`` s (numbers dropped), then one timed run of ``seconds`` s."""
    path = f"/v2/models/{model}/infer"
    if warmup > 0:
        _wrk(base_url, path, bodies, concurrency, warmup, cpus)
    cpu_before, busy_before, wrk_before = (
        group_cpu_seconds(server_pgid),
        machine_busy_seconds(),
        _children_cpu_seconds(),
    )
    raw = _wrk(base_url, path, bodies, concurrency, seconds, cpus)
    cpu = group_cpu_seconds(server_pgid) - cpu_before
    other = machine_busy_seconds() - busy_before - cpu - (_children_cpu_seconds() - wrk_before)
    errors = raw["errors"]
    latency = raw["latency_us"]
    assert isinstance(errors, dict)
    assert isinstance(latency, dict)
    return Round(
        requests=int(raw["requests"]),  # type: ignore[call-overload]
        seconds=int(raw["duration_us"]) / 1e6,  # type: ignore[call-overload]
        errors=sum(int(v) for v in errors.values()),
        p50=latency["p50"] / 1e6,
        p90=latency["p90"] / 1e6,
        p99=latency["p99"] / 1e6,
        server_cpu_seconds=cpu,
        other_cpu_seconds=max(0.0, other),
    )
