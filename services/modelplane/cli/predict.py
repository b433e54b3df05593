"""``predict``: send rows to an InferenceService served by the local mode, over the Open Inference Protocol v2.

Where it sits: a thin client of the model server (``modelplane.serving``). It finds the service's local
URL (the local kubelet annotates the InferenceService's Service with it), reads the model's metadata
(``GET /v2/models/{name}``: input name and datatype) and posts one v2 ``infer`` request with the rows as
a ``[rows, features]`` tensor. The demo reuses :func:`endpoint` and :func:`infer`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from modelplane.cli import output as ui
from modelplane.cli.resources import HomeOption, NamespaceOption, OutputOption
from modelplane.cli.session import Session
from modelplane.local.kubelet import URL_ANNOTATION
from modelplane.local.store import ObjectStore

FLOAT_TYPES = {"FP32", "FP64", "FP16"}


class PredictError(RuntimeError):
    """The service cannot be reached or refused the rows."""


@dataclass(frozen=True)
class Endpoint:
    """Where a served model answers."""

    base_url: str
    model: str
    input_name: str
    datatype: str
    features: int | None

    @property
    def infer_url(self) -> str:
        return f"{self.base_url}/v2/models/{self.model}/infer"


def service_url(store: ObjectStore, namespace: str, name: str) -> str:
    """The local URL of an InferenceService's Service."""
    service = store.get("InferenceService", namespace, name)
    if service is None:
        raise PredictError(f'inferenceservices "{name}" not found in namespace "{namespace}"')
    uid = service["metadata"]["uid"]
    for child in store.list("Service", namespace):
        owned = any(o.get("uid") == uid for o in child["metadata"].get("ownerReferences") or [])
        url = (child["metadata"].get("annotations") or {}).get(URL_ANNOTATION)
        if owned and url:
            return str(url)
    raise PredictError(f"inferenceservice {name} has no running server yet (wait for its Ready condition)")


def _model_names(store: ObjectStore, namespace: str, name: str) -> list[str]:
    service = store.get("InferenceService", namespace, name) or {}
    status, spec = service.get("status") or {}, service.get("spec") or {}
    names: list[str] = []
    url = str(status.get("url") or "")
    if "/v2/models/" in url:
        names.append(url.split("/v2/models/", 1)[1].split("/", 1)[0])
    names += [str((spec.get("modelRef") or {}).get("name") or ""), name]
    names += [str(t.get("modelVersion")) for t in status.get("traffic") or []]
    return [n for n in dict.fromkeys(names) if n]


def endpoint(store: ObjectStore, namespace: str, name: str, client: httpx.Client) -> Endpoint:
    """The served model's URL and input, from its v2 metadata."""
    base = service_url(store, namespace, name)
    for model in _model_names(store, namespace, name):
        response = client.get(f"{base}/v2/models/{model}")
        if response.status_code == 200:
            metadata = response.json()
            first = (metadata.get("inputs") or [{}])[0]
            shape = first.get("shape") or []
            features = int(shape[-1]) if len(shape) > 1 and int(shape[-1]) > 0 else None
            return Endpoint(base, model, str(first.get("name")), str(first.get("datatype", "FP32")), features)
    raise PredictError(f"the server of {name} at {base} serves none of {_model_names(store, namespace, name)}")


def infer(client: httpx.Client, target: Endpoint, rows: Sequence[Sequence[float]]) -> dict[str, Any]:
    """One v2 infer request of ``rows``; the response document."""
    flat = [float(v) if target.datatype in FLOAT_TYPES else v for row in rows for v in row]
    width = len(rows[0]) if rows else 0
    body = {
        "inputs": [{"name": target.input_name, "shape": [len(rows), width], "datatype": target.datatype, "data": flat}]
    }
    response = client.post(target.infer_url, json=body)
    if response.status_code != 200:
        try:
            detail = response.json().get("error") or response.text
        except ValueError:
            detail = response.text
        raise PredictError(f"{response.status_code} from {target.infer_url}: {detail}")
    result: dict[str, Any] = response.json()
    return result


def read_rows(data: str | None, file: Path | None) -> list[list[float]]:
    """Rows from ``--data`` (JSON) or a JSON / CSV file (a header row is skipped)."""
    if data is None and file is None:
        raise PredictError("pass rows with --data '[[...], ...]' or -f rows.json|rows.csv")
    text = data if data is not None else file.read_text(encoding="utf-8")  # type: ignore[union-attr]
    if file is not None and file.suffix == ".csv":
        lines = [line.split(",") for line in text.splitlines() if line.strip()]
        try:
            float(lines[0][0])
        except ValueError:
            lines = lines[1:]
        return [[float(v) for v in line] for line in lines]
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise PredictError(f"rows are not valid JSON: {error}") from None
    if isinstance(parsed, dict) and "instances" in parsed:
        parsed = parsed["instances"]
    if not isinstance(parsed, list) or not parsed:
        raise PredictError("rows must be a non-empty JSON list of rows")
    rows = parsed if isinstance(parsed[0], list) else [parsed]
    return [[float(v) for v in row] for row in rows]


def predict_command(
    name: Annotated[str, typer.Argument(help="InferenceService name.")],
    data: Annotated[str | None, typer.Option("--data", "-d", help="Rows as JSON: [[f1, f2, ...], ...].")] = None,
    file: Annotated[Path | None, typer.Option("--filename", "-f", help="Rows in a JSON or CSV file.")] = None,
    namespace: NamespaceOption = "default",
    output: OutputOption = ui.Output.TABLE,
    home: HomeOption = None,
) -> None:
    """Send rows to a served model and print its outputs."""
    session = Session.open(home)
    try:
        rows = read_rows(data, file)
        with httpx.Client(timeout=30.0) as client:
            target = endpoint(session.store, namespace, name, client)
            result = infer(client, target, rows)
    except (PredictError, httpx.HTTPError, OSError) as error:
        raise ui.fail(str(error)) from None
    if output not in (ui.Output.TABLE, ui.Output.WIDE):
        ui.dump(result, output)
        return
    outputs = result.get("outputs") or []
    headers = ["Row", *[str(o.get("name")) for o in outputs]]
    table_rows = []
    for i in range(len(rows)):
        cells = [str(i)]
        for out in outputs:
            values = out.get("data") or []
            per_row = max(len(values) // max(len(rows), 1), 1)
            chunk = values[i * per_row : (i + 1) * per_row]
            cells.append(", ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in chunk))
        table_rows.append(cells)
    ui.table(headers, table_rows)
    ui.err.print(f"model {result.get('model_name', target.model)} version {result.get('model_version', '')}")


def register(app: typer.Typer) -> None:
    app.command("predict")(predict_command)
