"""The measuring phase: every system in turn, alone, in passes; raw ONNX Runtime last. Writes raw JSON.

    python bench/serving/measure.py PLAN.json      # run by run.py, inside a private network namespace

Where it sits: ``run.py`` prepares everything that needs the network or the training libraries (peer
virtualenvs, models, bodies, expected answers) and writes a plan, then starts this script in a network
namespace whose only interface is loopback (``unshare --net``), so no server can be reached from outside
whatever address it binds. Here, per pass (the order of systems reversed every other pass), each system
is started alone pinned to the server's cores, its answers are checked against raw ONNX Runtime's for
both models at both batch sizes, every (model, rows, concurrency) cell gets a warm-up and one timed run
of wrk pinned to the client's cores, and the system is stopped. Before each system's turn it waits (a
bounded time) for the machine to be quiet: this is a shared machine, and a pass timed while other work
runs there says little. Medians over passes are taken by ``report.py``.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.facts import log
from common.processes import stop_on_signal
from serving import load, servers
from serving.servers import Running, ServedFile


def start(system: str, plan: dict[str, Any], models: list[ServedFile]) -> contextlib.AbstractContextManager[Running]:
    workdir, cpus = Path(plan["workdir"]), plan["server_cpus"]
    if system == "modelplane":
        return servers.modelplane(workdir, models, cpus, batching=True)
    if system == "modelplane-nobatch":
        return servers.modelplane(workdir, models, cpus, batching=False)
    if system == "mlserver":
        return servers.mlserver(workdir, models, cpus, Path(plan["pythons"]["mlserver"]))
    if system == "kserve":
        return servers.kserve(workdir, models, cpus, Path(plan["pythons"]["kserve"]), plan["private_network"])
    raise SystemExit(f"unknown system {system!r}")


def check(running: Running, plan: dict[str, Any]) -> list[str]:
    """Each model at each batch size answers what raw ONNX Runtime answers; a list of mismatches."""
    problems = []
    for case in plan["expected"]:
        body = Path(case["bodies"]).read_text().splitlines()[0].encode()
        got = servers.check_answer(running.base_url, case["model"], body)
        for name, want in case["outputs"].items():
            have = np.asarray(got.get(name, []), dtype=np.float64).ravel()
            expect = np.asarray(want, dtype=np.float64).ravel()
            if have.shape != expect.shape or not np.allclose(have, expect, rtol=1e-5, atol=1e-6):
                problems.append(f"{case['model']}/{case['batch']} {name}: {have[:6]} != {expect[:6]}")
    return problems


def cells(plan: dict[str, Any]) -> Iterator[tuple[str, int, int]]:
    for model in plan["models"]:
        for batch in plan["batches"]:
            for concurrency in plan["concurrencies"]:
                yield model["name"], batch, concurrency


def wait_for_quiet(limit: float, threshold: float) -> tuple[float, float]:
    """Wait until other work uses less than ``threshold`` of a CPU (over 1 s), at most ``limit`` seconds.

    The seconds waited and the last load seen (CPUs' worth of busy time).
    """
    started = time.monotonic()
    while True:
        before = load.machine_busy_seconds()
        time.sleep(1.0)
        busy = load.machine_busy_seconds() - before
        waited = time.monotonic() - started
        if busy < threshold or waited >= limit:
            return waited, busy
        time.sleep(4.0)


def bench_system(system: str, plan: dict[str, Any], models: list[ServedFile], results: dict[str, Any]) -> None:
    entry = results["systems"].setdefault(system, {"startup": [], "rounds": {}, "checks": [], "quiet": []})
    waited, busy = wait_for_quiet(plan["quiet_wait"], plan["quiet_threshold"])
    entry["quiet"].append({"waited": waited, "busy": busy})
    if waited >= 5:
        log(f"  waited {waited:.0f} s for other work to calm down (now {busy:.2f} CPUs busy)")
    started = time.monotonic()
    with start(system, plan, models) as running:
        entry["startup"].append(running.startup_seconds)
        problems = check(running, plan)
        entry["checks"].append(problems)
        if problems:
            log(f"  {system}: answers differ from raw ONNX Runtime: {problems}")
        for model, batch, concurrency in cells(plan):
            round_ = load.drive(
                running.base_url,
                model,
                Path(plan["bodies"][f"{model}/{batch}"]),
                concurrency,
                warmup=plan["warmup"],
                seconds=plan["seconds"],
                cpus=plan["client_cpus"],
                server_pgid=running.pid,
            )
            entry["rounds"].setdefault(f"{model}/{batch}/{concurrency}", []).append(round_.as_json())
            errors = f", {round_.errors} errors" if round_.errors else ""
            log(
                f"  {system:>18} {model:>6} x{batch:<2} c{concurrency:<2}: {round_.rate:9,.0f} req/s, "
                f"p50 {round_.p50 * 1000:7.2f} ms, p99 {round_.p99 * 1000:8.2f} ms, "
                f"CPU {round_.cpu_per_request * 1e6:6.0f} us/req, "
                f"others {round_.other_cpu_seconds / round_.seconds:4.2f} CPUs{errors}"
            )
    log(f"  {system}: pass done in {time.monotonic() - started:.0f} s")


def raw_limit(plan: dict[str, Any]) -> dict[str, Any]:
    """Raw ONNX Runtime per (model, rows): ``limit.py`` pinned to the server's cores."""
    script = Path(__file__).resolve().with_name("limit.py")
    found: dict[str, Any] = {}
    for model in plan["models"]:
        for batch in plan["batches"]:
            argv = [sys.executable, str(script), model["path"], plan["rows_files"][model["name"]], str(batch)]
            argv += [str(plan["limit_seconds"]), str(plan["limit_rounds"])]
            if plan["server_cpus"]:
                argv = ["taskset", "-c", plan["server_cpus"], *argv]
            done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=600)
            found[f"{model['name']}/{batch}"] = json.loads(done.stdout.strip().splitlines()[-1])
            rates = found[f"{model['name']}/{batch}"]["rates"]
            log(f"  raw ONNX Runtime {model['name']:>6} x{batch:<2}: {float(np.median(rates)):10,.0f} calls/s")
    return found


def main(argv: list[str]) -> int:
    stop_on_signal()
    plan: dict[str, Any] = json.loads(Path(argv[0]).read_text())
    models = [ServedFile(m["name"], Path(m["path"]), m["sha256"]) for m in plan["models"]]
    results: dict[str, Any] = {"systems": {}, "failures": {}, "limit": {}, "quiet_wait": plan["quiet_wait"]}
    systems: list[str] = plan["systems"]
    for number in range(plan["passes"]):
        order = systems if number % 2 == 0 else systems[::-1]
        log(f"pass {number + 1} of {plan['passes']}: {', '.join(order)}")
        for system in order:
            try:
                bench_system(system, plan, models, results)
            except Exception as exc:  # one broken system must not lose the others' numbers
                log(f"  {system} failed: {exc}")
                results["failures"].setdefault(system, []).append(
                    "".join(traceback.format_exception_only(exc)).strip()[-2000:]
                )
    log("raw ONNX Runtime (the limit)")
    results["limit"] = raw_limit(plan)
    Path(plan["output"]).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
