"""``runs``, ``models`` and ``lineage``: what the control plane recorded (runs, registry, lineage graph)."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer

from modelplane.cli import output as ui
from modelplane.cli.resources import HomeOption, NamespaceOption, OutputOption
from modelplane.cli.session import Session, SessionError


def _get(home: Any, method: str, path: str, **kwargs: Any) -> Any:
    try:
        with Session.open(home).client() as client:
            response = client.request(method, path, **kwargs)
    except SessionError as error:
        raise ui.fail(str(error)) from None
    except httpx.HTTPError as error:
        raise ui.fail(f"cannot reach the control plane: {error}") from None
    if response.status_code >= 400:
        try:
            detail = response.json().get("message") or response.json().get("detail") or response.text
        except ValueError:
            detail = response.text
        raise ui.fail(f"{response.status_code}: {detail}")
    return response.json()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _model_row(model: dict[str, Any]) -> list[str]:
    aliases = ",".join(f"{k}={v}" for k, v in (model.get("aliases") or {}).items())
    return [str(model.get("name", "")), _fmt(model.get("latest_version")), aliases]


def _version_row(version: dict[str, Any]) -> list[str]:
    metrics = " ".join(f"{k}={_fmt(x)}" for k, x in sorted((version.get("metrics") or {}).items())[:4])
    return [
        str(version.get("version")),
        ",".join(version.get("aliases") or []),
        str(version.get("sha256", ""))[:16],
        str(version.get("run_id") or "")[:12],
        metrics,
    ]


def runs_command(
    experiment: Annotated[str | None, typer.Argument(help="Only runs of this experiment (a TrainingRun name).")] = None,
    filter_: Annotated[str, typer.Option("--filter", help='e.g. "metrics.accuracy > 0.9".')] = "",
    order_by: Annotated[str | None, typer.Option("--order-by", help='e.g. "metrics.accuracy DESC".')] = None,
    limit: Annotated[int, typer.Option("--limit", help="Most runs shown.")] = 50,
    namespace: NamespaceOption = "default",
    output: OutputOption = ui.Output.TABLE,
    home: HomeOption = None,
) -> None:
    """Runs recorded by training (sweep trials included): status, metrics, params."""
    body: dict[str, Any] = {"filter": filter_, "page_size": limit, "view": "full"}
    if experiment:
        body["experiment"] = experiment
    if order_by:
        body["order_by"] = order_by
    page = _get(home, "POST", f"/api/v1/namespaces/{namespace}/runs/search", json=body)
    items = page.get("items") or []
    if output not in (ui.Output.TABLE, ui.Output.WIDE):
        ui.dump(items, output)
        return
    metric_keys = sorted({m for r in items for m in (r.get("metrics") or {})})[:6]
    rows = []
    for run in items:
        metrics = run.get("metrics") or {}
        values = [
            _fmt(metrics.get(k, {}).get("value") if isinstance(metrics.get(k), dict) else metrics.get(k))
            for k in metric_keys
        ]
        rows.append(
            [run.get("run_id", "")[:12], run.get("experiment", ""), run.get("name", ""), run.get("status", ""), *values]
        )
    ui.table(["Run", "Experiment", "Name", "Status", *metric_keys], rows)


def models_command(
    model: Annotated[str | None, typer.Argument(help="A model: list its versions.")] = None,
    namespace: NamespaceOption = "default",
    output: OutputOption = ui.Output.TABLE,
    home: HomeOption = None,
) -> None:
    """Registered models, or one model's versions with digests, metrics and aliases."""
    if model is None:
        items = _get(home, "GET", f"/api/v1/namespaces/{namespace}/models").get("items") or []
        if output not in (ui.Output.TABLE, ui.Output.WIDE):
            ui.dump(items, output)
            return
        ui.table(
            ["Model", "Latest", "Aliases"],
            [
                [
                    m.get("name", ""),
                    _fmt(m.get("latest_version")),
                    ",".join(f"{k}={v}" for k, v in (m.get("aliases") or {}).items()),
                ]
                for m in items
            ],
        )
        return
    items = _get(home, "GET", f"/api/v1/namespaces/{namespace}/models/{model}/versions").get("items") or []
    if output not in (ui.Output.TABLE, ui.Output.WIDE):
        ui.dump(items, output)
        return
    ui.table(
        ["Version", "Aliases", "Digest", "Run", "Metrics"],
        [
            [
                str(v.get("version")),
                ",".join(v.get("aliases") or []),
                str(v.get("sha256", ""))[:16],
                str(v.get("run_id") or "")[:12],
                " ".join(f"{k}={_fmt(x)}" for k, x in sorted((v.get("metrics") or {}).items())[:4]),
            ]
            for v in items
        ],
    )


def lineage_command(
    node: Annotated[str, typer.Argument(help="model:NAME:VERSION, run:RUN_ID, dataset:sha256:HEX or deployment:ID.")],
    direction: Annotated[str, typer.Option("--direction", help="upstream, downstream or both.")] = "both",
    namespace: NamespaceOption = "default",
    output: OutputOption = ui.Output.TABLE,
    home: HomeOption = None,
) -> None:
    """Where a model, run or dataset version came from and what was made of it."""
    graph = _get(home, "GET", f"/api/v1/namespaces/{namespace}/lineage", params={"node": node, "direction": direction})
    if output not in (ui.Output.TABLE, ui.Output.WIDE):
        ui.dump(graph, output)
        return
    ui.table(
        ["Node", "Type", "Label"],
        [[str(n.get("id", "")), str(n.get("type", "")), str(n.get("label", ""))] for n in graph.get("nodes") or []],
    )
    ui.table(
        ["From", "Relation", "To"],
        [
            [str(e.get("source", "")), str(e.get("relation", "")), str(e.get("target", ""))]
            for e in graph.get("edges") or []
        ],
    )


def register(app: typer.Typer) -> None:
    app.command("runs")(runs_command)
    app.command("models")(models_command)
    app.command("lineage")(lineage_command)
