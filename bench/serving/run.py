"""ModelPlane's inference server against MLServer and KServe, with raw ONNX Runtime as the limit.

    python bench/serving/run.py            # 5 passes, all cells, writes docs/benchmarks.md (15-25 min)
    python bench/serving/run.py --quick    # 1 pass, prints the table (3-6 min)

Same models (a logistic regression and a 100-tree random forest, trained here, skl2onnx), same machine,
same client (wrk, closed loop) and same load: concurrency 1, 8 and 64 at 1 and 32 rows per request, a
warm-up then a fixed-duration timed run per cell. Each server runs alone, one process, pinned to one core
with ``taskset``, and wrk to another. The measuring phase runs in a private network namespace with only
loopback (``unshare --net``), so every server (KServe binds 0.0.0.0) is reachable from nowhere else.
The peers are installed by this script into virtualenvs of their own under the cache directory, never
into the project's. See bench/README.md for what each setting means for fairness.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from common.facts import REPO, cpu_count, cpu_model, git_revision, log, package_version
from common.markdown import write_section
from common.processes import stop_on_signal
from common.venvs import VENVS, distribution_version
from serving import models as bench_models
from serving import report, servers

MEASURE = Path(__file__).resolve().with_name("measure.py")


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 pass; prints the table unless --output")
    parser.add_argument("--passes", type=int, help="passes over every system (default 5; --quick: 1)")
    parser.add_argument("--seconds", type=int, help="timed run per cell, seconds (default 2)")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up per cell, seconds (default 1)")
    parser.add_argument("--systems", default=",".join(servers.SYSTEMS), help="comma-separated, of: %(default)s")
    parser.add_argument("--models", default="iris,cancer", help="comma-separated: iris,cancer")
    parser.add_argument("--concurrency", default="1,8,64", help="connections (default 1,8,64)")
    parser.add_argument("--batches", default="1,32", help="rows per request (default 1,32)")
    parser.add_argument("--server-cpus", help="taskset list for the servers (default: the first CPU)")
    parser.add_argument("--client-cpus", help="taskset list for wrk (default: the second CPU)")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60,
        help="before each system's turn, wait up to this many seconds for other work to use < 0.3 CPU (default 60)",
    )
    parser.add_argument("--no-namespace", action="store_true", help="measure in the host's network (KServe skipped)")
    parser.add_argument("--mlserver", default=servers.MLSERVER, help="pip spec (default %(default)s)")
    parser.add_argument("--kserve", default=servers.KSERVE, help="pip spec (default %(default)s)")
    parser.add_argument("--venvs", type=Path, default=VENVS, help="where the peers' virtualenvs are kept")
    parser.add_argument("--fresh-venv", action="store_true", help="reinstall the peers' virtualenvs")
    parser.add_argument("--output", type=Path, help="markdown to update (default: docs/benchmarks.md; --quick: none)")
    parser.add_argument("--json", type=Path, help="also write the raw results (and what the report needs) as JSON")
    parser.add_argument("--report-from", type=Path, help="render the section again from a --json file (no run)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (models, configs, server logs)")
    return parser.parse_args(argv)


def default_cpus() -> tuple[str | None, str | None]:
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2 or shutil.which("taskset") is None:
        return None, None
    return str(cpus[0]), str(cpus[1])


def namespace_prefix() -> list[str] | None:
    """How to enter a new network namespace here (root, or an unprivileged user namespace); None if neither works."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return None
    for prefix in (["unshare", "--net"], ["unshare", "--user", "--map-root-user", "--net"]):
        probe = subprocess.run([*prefix, "ip", "link", "set", "lo", "up"], capture_output=True, check=False)
        if probe.returncode == 0:
            return prefix
    return None


def prepare(args: argparse.Namespace, workdir: Path, systems: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Peer virtualenvs, models, bodies and expected answers; the plan for ``measure.py`` and the versions."""
    pythons: dict[str, str] = {}
    versions: dict[str, str] = {}
    for system, spec in (("mlserver", args.mlserver), ("kserve", args.kserve)):
        if system in systems:
            log(f"peer virtualenv: {spec}")
            python = servers.peer_venv(args.venvs, system, spec, args.fresh_venv)
            pythons[system] = str(python)
            versions[system] = distribution_version(python, system)
    log("training and converting the models")
    wanted = args.models.split(",")
    built = [m for m in bench_models.build(workdir) if m.name in wanted]
    batches, bodies, rows_files, expected = _ints(args.batches), {}, {}, []
    for model in built:
        rows_file = workdir / f"{model.name}-rows.npy"
        np.save(rows_file, model.rows)
        rows_files[model.name] = str(rows_file)
        for batch in batches:
            path = workdir / f"{model.name}-{batch}.jsonl"
            path.write_bytes(b"\n".join(model.bodies(batch)) + b"\n")
            bodies[f"{model.name}/{batch}"] = str(path)
            outputs = {k: v.tolist() for k, v in bench_models.expected(model, batch, 0).items()}
            expected.append({"model": model.name, "batch": batch, "bodies": str(path), "outputs": outputs})
    server_cpus, client_cpus = default_cpus()
    plan = {
        "workdir": str(workdir),
        "models": [{"name": m.name, "path": str(m.path), "sha256": m.sha256, "title": m.title} for m in built],
        "bodies": bodies,
        "rows_files": rows_files,
        "expected": expected,
        "systems": systems,
        "pythons": pythons,
        "passes": args.passes or (1 if args.quick else 5),
        "warmup": args.warmup,
        "seconds": args.seconds or 2,
        "concurrencies": _ints(args.concurrency),
        "batches": batches,
        "server_cpus": args.server_cpus or server_cpus,
        "client_cpus": args.client_cpus or client_cpus,
        "private_network": False,
        "quiet_wait": args.quiet_wait,
        "quiet_threshold": 0.3,
        "limit_seconds": 1.0,
        "limit_rounds": 1 if args.quick else 3,
        "output": str(workdir / "results.json"),
    }
    return plan, versions


def measure(plan: dict[str, Any], workdir: Path, no_namespace: bool) -> dict[str, Any]:
    """Run ``measure.py``, in a loopback-only network namespace when one can be made."""
    prefix = None if no_namespace else namespace_prefix()
    if prefix is None and "kserve" in plan["systems"]:
        log("no private network namespace: KServe (binds 0.0.0.0) is skipped")
        plan["systems"] = [s for s in plan["systems"] if s != "kserve"]
    plan["private_network"] = prefix is not None
    plan_file = workdir / "plan.json"
    plan_file.write_text(json.dumps(plan, indent=1))
    argv = [sys.executable, str(MEASURE), str(plan_file)]
    if prefix is not None:
        argv = [*prefix, "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *argv]
    child = subprocess.Popen(argv, cwd=REPO)
    try:
        returncode = child.wait()
    except BaseException:  # interrupted: let measure.py stop its servers (it unwinds on SIGTERM), then go
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=60)
        raise
    if returncode != 0:
        raise SystemExit(f"measure.py exited with {returncode}")
    results: dict[str, Any] = json.loads(Path(plan["output"]).read_text())
    return results


def _wrk_version() -> str:
    with contextlib.suppress(OSError):
        done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
        return (done.stdout or done.stderr).splitlines()[0].split(" [")[0]
    return "?"


def facts(plan: dict[str, Any], versions: dict[str, str], results: dict[str, Any]) -> list[tuple[str, str]]:
    startup = {s: f"{min(e['startup']):.1f} s" for s, e in results["systems"].items() if e["startup"]}
    batching = servers.MODELPLANE_BATCHING
    revision = git_revision("services/modelplane/serving")
    return [
        ("date", time.strftime("%Y-%m-%d %H:%M %Z")),
        (
            "machine",
            f"{cpu_count()} cores (nproc), {cpu_model()}; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}",
        ),
        (
            "pinning",
            f"servers on CPU {plan['server_cpus']}, wrk on CPU {plan['client_cpus']} (taskset)"
            if plan["server_cpus"]
            else "none (fewer than 2 CPUs or no taskset)",
        ),
        (
            "network",
            "a private network namespace with only loopback (unshare --net); every server on 127.0.0.1 except "
            "KServe (0.0.0.0, unreachable from outside the namespace)"
            if plan["private_network"]
            else "the host's; every server on 127.0.0.1 (KServe skipped: it binds 0.0.0.0)",
        ),
        (
            "client",
            f"{_wrk_version()}, 1 thread, N keep-alive connections (closed loop), {len(plan['bodies'])} pools of "
            f"{bench_models.POOL} OIP v2 JSON bodies; per cell {plan['warmup']} s warm-up + {plan['seconds']} s "
            f"timed, {plan['passes']} passes (system order reversed every other pass), medians over passes; before "
            f"each system's turn a wait of up to {plan['quiet_wait']:.0f} s for other work to drop under "
            f"{plan['quiet_threshold']} CPUs",
        ),
        (
            "ONNX Runtime",
            f"{package_version('onnxruntime')} in every server; sessions with 1 intra-op + 1 inter-op thread, "
            "all graph optimizations",
        ),
        (
            "ModelPlane",
            f"{package_version('modelplane')} at {revision}; `python -m modelplane.serving`, 1 process (uvicorn "
            f"{package_version('uvicorn')}, uvloop, httptools), no access log, metrics on; batching "
            f"`maxBatchSize: {batching['maxBatchSize']}, maxLatencyMs: {batching['maxLatencyMs']}` "
            "(and a run without batching)",
        ),
        (
            "MLServer",
            f"{versions.get('mlserver', 'not run')}: custom ONNX runtime, `parallel_workers: 0` (inference in the "
            "server process), `debug: false` (no access log), metrics on; httptools added to its virtualenv",
        ),
        (
            "KServe",
            f"{versions.get('kserve', 'not run')}: custom `kserve.Model`, 1 uvicorn worker (uvloop, httptools), gRPC "
            "off, latency logging, timing-middleware log lines and access log off",
        ),
        ("start-up to ready", ", ".join(f"{report.LABELS.get(s, s)} {v}" for s, v in startup.items())),
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_signal()
    systems = [s for s in args.systems.split(",") if s]
    unknown = sorted(set(systems) - set(servers.SYSTEMS))
    if unknown:
        raise SystemExit(f"unknown systems {unknown}: choose from {', '.join(servers.SYSTEMS)}")
    output = args.output or (None if args.quick else REPO / "docs" / "benchmarks.md")
    if args.report_from is not None:
        saved = json.loads(args.report_from.read_text())
        text = render(saved)
        print(text)
        if args.output is not None:
            write_section(args.output, text, report.BEGIN, report.END, report.HEADING)
        return 0
    command = shlex.join(["python", "bench/serving/run.py", *(argv if argv is not None else sys.argv[1:])])
    started, load_before = time.monotonic(), os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="modelplane-bench-serving-"))
    try:
        plan, versions = prepare(args, workdir, systems)
        results = measure(plan, workdir, args.no_namespace)
    finally:
        if args.keep:
            log(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    notes = [
        "Ratios are how many times better ModelPlane is than the best peer in that cell: throughput ModelPlane / "
        "the faster peer's; latency the lower of the peers' / ModelPlane's. `c=` is the number of connections.",
        "Every system serves both models from one process with one event loop pinned to one core: no server has "
        "more processes or threads than another (besides each framework's own idle helpers, e.g. MLServer's "
        "metrics server).",
        f"Whole run: {(time.monotonic() - started) / 60:.1f} min; 1-min load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after (the benchmark itself keeps about 2 busy).",
    ]
    saved = {
        "command": command,
        "facts": facts(plan, versions, results),
        "notes": notes,
        "plan": plan,
        "results": results,
    }
    text = render(saved)
    print(text)
    if output is not None:
        write_section(output, text, report.BEGIN, report.END, report.HEADING)
        log(f"wrote {output}")
    if args.json is not None:
        args.json.write_text(json.dumps(saved, indent=1))
    return 0


def render(saved: dict[str, Any]) -> str:
    """The markdown section from what a run saved (also what ``--report-from`` reads)."""
    plan = saved["plan"]
    titles = {m["name"]: m["title"] for m in plan["models"]}
    facts = [(str(k), str(v)) for k, v in saved["facts"]]
    return report.section(
        saved["results"], saved["command"], facts, titles, plan["batches"], plan["concurrencies"], saved["notes"]
    )


if __name__ == "__main__":
    sys.exit(main())
