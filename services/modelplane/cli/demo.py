"""``modelplane demo``: the whole lifecycle on this machine, from ``examples/quickstart/`` (``make demo``).

Where it sits: on top of the local mode and the other commands — it does what a user would type:
write the quickstart's data (scikit-learn's breast-cancer table, shipped with scikit-learn), ``up`` with
the data directory mapped to the Dataset's claim, ``apply -f examples/quickstart/``, ``wait`` for each
stage with its progress, send real rows to the served model, and print a summary. ``--summary-json``
writes the figures for scripts (the local lifecycle test asserts on them). Running it again reuses what
is there: the same data gives the same digests, so nothing is retrained.
"""

from __future__ import annotations

import csv
import json
import statistics
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from modelplane.cli import output as ui
from modelplane.cli.kinds import resolve_kind
from modelplane.cli.predict import Endpoint, PredictError, endpoint, infer
from modelplane.cli.resources import HomeOption, apply_objects, read_files, wait_for
from modelplane.cli.session import DEFAULT_PORT, Session, SessionError

DATA_CLAIM = "quickstart-data"
DATA_FILE = "breast_cancer.csv"
TARGET = "malignant"
STAGES = (
    ("Dataset", "breast-cancer", "Ready", "ingest, validate, split and profile the data"),
    ("TrainingRun", "breast-cancer-rf", "Succeeded", "sweep four random forests, keep the best"),
    ("ModelVersion", "breast-cancer-v1", "Ready", "verify, evaluate against the gates, quantize, register"),
    ("InferenceService", "breast-cancer", "Ready", "serve the champion over Open Inference Protocol v2"),
)


def write_data(directory: Path) -> tuple[Path, list[list[float]], list[int]]:
    """The breast-cancer table as CSV (features with underscores, ``malignant`` 1/0); (path, rows, labels)."""
    from sklearn.datasets import load_breast_cancer  # the jobs extra's dependency, only needed here

    data = load_breast_cancer()
    names = [str(n).replace(" ", "_") for n in data.feature_names]
    rows = [[float(v) for v in row] for row in data.data]
    labels = [int(t == 0) for t in data.target]  # scikit-learn's target 0 is malignant
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / DATA_FILE
    text_rows = [[*(repr(v) for v in row), str(label)] for row, label in zip(rows, labels, strict=True)]
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*names, TARGET])
        writer.writerows(text_rows)
    tmp.replace(path)
    return path, rows, labels


def sample(rows: list[list[float]], labels: list[int], count: int = 8) -> tuple[list[list[float]], list[int]]:
    """``count`` rows spread over the table (both classes), as a client would send them."""
    step = max(len(rows) // count, 1)
    picked = list(range(0, step * count, step))[:count]
    return [rows[i] for i in picked], [labels[i] for i in picked]


def write_sample(directory: Path, rows: list[list[float]]) -> Path:
    """The sample rows as CSV without the target: what ``modelplane predict NAME -f`` takes."""
    path = directory / "sample-rows.csv"
    path.write_text("\n".join(",".join(repr(v) for v in row) for row in rows) + "\n", encoding="utf-8")
    return path


def _latency(client: httpx.Client, target: Endpoint, row: list[float], requests: int) -> float:
    """Median milliseconds of ``requests`` sequential one-row requests (after a short warm-up)."""
    for _ in range(10):
        infer(client, target, [row])
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        infer(client, target, [row])
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _labels_of(result: dict[str, Any], count: int) -> list[Any]:
    for out in result.get("outputs") or []:
        if out.get("datatype") in ("INT64", "INT32", "BYTES") and len(out.get("data") or []) == count:
            return list(out["data"])
    first = (result.get("outputs") or [{}])[0]
    return list(first.get("data") or [])[:count]


def run_demo(session: Session, directory: Path, port: int, timeout: float, latency_requests: int) -> dict[str, Any]:
    """Run the lifecycle; the summary document."""
    started = time.monotonic()
    data_dir = session.home.root / "quickstart-data"
    path, rows, labels = write_data(data_dir)
    ui.out.print(f"[bold]1/6[/bold] data: {len(rows)} rows written to {path}", highlight=False)
    session.set_volumes({DATA_CLAIM: data_dir})
    state, fresh = session.up(port)
    ui.out.print(f"[bold]2/6[/bold] local mode {'started' if fresh else 'running'}: control plane {state['apiUrl']}")
    bodies, errors = read_files([directory])
    written, more = apply_objects(session, bodies, "default")
    if errors or more:
        raise ui.fail("; ".join(errors + more))
    ui.out.print(f"[bold]3/6[/bold] applied {', '.join(f'{w.display} ({w.action})' for w in written)}", highlight=False)
    objects: dict[str, dict[str, Any]] = {}
    for i, (kind, name, condition, what) in enumerate(STAGES, start=1):
        stage_started = time.monotonic()
        known = resolve_kind(kind)
        objects[kind] = wait_for(session, known, "default", name, condition, timeout)
        ui.out.print(
            f"      [green]✓[/green] {i}. {known.resource}/{name}: {what} "
            f"[dim]({time.monotonic() - stage_started:.1f}s)[/dim]",
            highlight=False,
        )
    ui.out.print("[bold]4/6[/bold] every stage is Ready")
    with httpx.Client(timeout=30.0) as client:
        try:
            target = endpoint(session.store, "default", "breast-cancer", client)
            sample_rows, sample_labels = sample(rows, labels)
            result = infer(client, target, sample_rows)
            predicted = _labels_of(result, len(sample_rows))
            p50 = _latency(client, target, rows[0], latency_requests)
        except PredictError as error:
            raise ui.fail(str(error)) from None
    ui.out.print(f"[bold]5/6[/bold] predictions from {target.infer_url}")
    dataset, training = objects["Dataset"], objects["TrainingRun"]
    model, service = objects["ModelVersion"], objects["InferenceService"]
    trials = (training.get("status") or {}).get("trials") or {}
    summary = {
        "dataset": {
            "name": "breast-cancer",
            "digest": dataset["status"].get("digest"),
            "version": dataset["status"].get("version"),
            "rows": dataset["status"].get("rows"),
        },
        "training": {
            "name": "breast-cancer-rf",
            "runId": training["status"].get("runId"),
            "trials": trials.get("total"),
            "bestTrial": trials.get("bestTrial"),
            "bestParameters": trials.get("bestParameters"),
            "metrics": training["status"].get("metrics"),
        },
        "model": {
            "name": "breast-cancer-v1",
            "registeredVersion": model["status"].get("registeredVersion"),
            "digest": (model["status"].get("artifact") or {}).get("sha256"),
            "metrics": model["status"].get("metrics"),
            "aliases": model["status"].get("aliases"),
            "optimizedArtifact": model["status"].get("optimizedArtifact"),
        },
        "serving": {
            "url": service["status"].get("url"),
            "localUrl": target.base_url,
            "model": target.model,
            "samplePredictions": predicted,
            "sampleLabels": sample_labels,
            "p50LatencyMs": round(p50, 3),
            "latencyRequests": latency_requests,
        },
        "seconds": round(time.monotonic() - started, 1),
        "sampleFile": str(write_sample(data_dir, sample_rows)),
    }
    _print_summary(summary, state["apiUrl"])
    return summary


def _print_summary(summary: dict[str, Any], api_url: str) -> None:
    ds, tr, mv, sv = summary["dataset"], summary["training"], summary["model"], summary["serving"]
    metrics = ", ".join(f"{k}={v:.3f}" for k, v in sorted((tr.get("metrics") or {}).items()))
    gates = ", ".join(f"{k}={v:.3f}" for k, v in sorted((mv.get("metrics") or {}).items()))
    optimized = mv.get("optimizedArtifact") or {}
    lines = [
        f"dataset        breast-cancer v{ds['version']}  {ds['rows']} rows  {ds['digest']}",
        f"best trial     #{tr['bestTrial']} of {tr['trials']}  {tr['bestParameters']}",
        f"  metrics      {metrics}",
        f"model version  breast-cancer v{mv['registeredVersion']}  aliases {mv['aliases']}  sha256:{mv['digest']}",
        f"  test split   {gates}",
    ]
    if optimized:
        lines.append(
            f"  quantized    {optimized.get('sizeBytes')} bytes, accuracy delta {optimized.get('accuracyDelta')}"
        )
    lines += [
        f"serving        {sv['localUrl']}/v2/models/{sv['model']}/infer  (cluster URL {sv['url']})",
        f"  predictions  {sv['samplePredictions']}  (true labels {sv['sampleLabels']})",
        f"  p50 latency  {sv['p50LatencyMs']:.2f} ms over {sv['latencyRequests']} one-row requests",
        f"total          {summary['seconds']}s",
    ]
    ui.out.print("[bold]6/6[/bold] summary")
    for line in lines:
        ui.out.print("      " + line, highlight=False)
    ui.out.print(
        "\nExplore: modelplane get all · modelplane describe mptr breast-cancer-rf · modelplane runs "
        f"breast-cancer-rf · modelplane lineage model:breast-cancer:{mv['registeredVersion']} · "
        f"modelplane predict breast-cancer -f {summary['sampleFile']} · API docs {api_url}/docs · "
        "modelplane down",
        highlight=False,
    )


def demo_command(
    directory: Annotated[Path, typer.Option("--dir", help="The quickstart manifests.")] = Path("examples/quickstart"),
    port: Annotated[int, typer.Option("--port", help="Control-plane port on 127.0.0.1.")] = DEFAULT_PORT,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds allowed per stage.")] = 900.0,
    latency_requests: Annotated[int, typer.Option("--latency-requests", help="Requests timed for p50.")] = 200,
    summary_json: Annotated[Path | None, typer.Option("--summary-json", help="Also write the summary here.")] = None,
    home: HomeOption = None,
) -> None:
    """Run the quickstart end to end: data, sweep, gated model version, serving, predictions."""
    if not directory.is_dir():
        raise ui.fail(f"{directory} is not a directory (run from the repository root or pass --dir)")
    session = Session.open(home)
    try:
        summary = run_demo(session, directory, port, timeout, latency_requests)
    except SessionError as error:
        raise ui.fail(str(error)) from None
    if summary_json is not None:
        summary_json.write_text(json.dumps(summary, indent=2), encoding="utf-8")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
