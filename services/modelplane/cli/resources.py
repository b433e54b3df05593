"""``apply``, ``get``, ``describe``, ``delete``, ``wait`` and ``logs`` against the local mode's objects.

Where it sits: typer commands over :class:`~modelplane.cli.session.Session`'s object store. ``apply``
validates every object with the CRD schemas (:func:`modelplane.crd.validation.validate_resource`: the API
server's defaults and messages), checks that what it references exists (or comes in the same apply),
and writes in lifecycle order. ``wait`` polls like ``kubectl wait``, with a live line showing the
condition's message, and gives up early when the object failed for good.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from modelplane.cli import output as ui
from modelplane.cli.kinds import (
    CHILD_KINDS,
    LIFECYCLE_ORDER,
    MODELPLANE_KINDS,
    KindName,
    UnknownKindError,
    age,
    kind_of_body,
    resolve_kind,
)
from modelplane.cli.manifests import ManifestError, read_manifests
from modelplane.cli.session import Session
from modelplane.crd.validation import InvalidResourceError, validate_resource
from modelplane.local.store import ObjectStore

NamespaceOption = Annotated[str, typer.Option("--namespace", "-n", help="Namespace of the objects.")]
HomeOption = Annotated[
    Path | None, typer.Option("--home", envvar="MODELPLANE_HOME", help="Local state directory (~/.modelplane).")
]
OutputOption = Annotated[ui.Output, typer.Option("--output", "-o", help="table, wide, json, yaml or name.")]

TERMINAL_REASONS = frozenset(
    {
        "ValidationFailed",
        "JobFailed",
        "InvalidSpec",
        "InvalidData",
        "TrainingFailed",
        "DeadlineExceeded",
        "AllTrialsFailed",
        "UnknownAccelerator",
        "DigestMismatch",
        "InvalidModel",
        "SignatureMismatch",
        "GateFailed",
    }
)
"""Ready=False reasons after which waiting longer cannot help (the spec must change)."""


def _references(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(kind, name) of the objects ``body`` refers to."""
    spec = body.get("spec") or {}
    kind = body.get("kind")
    refs: list[tuple[str, str]] = []
    if kind == "TrainingRun" and (spec.get("datasetRef") or {}).get("name"):
        refs.append(("Dataset", spec["datasetRef"]["name"]))
    if kind == "ModelVersion":
        source = (spec.get("source") or {}).get("trainingRunRef") or {}
        if source.get("name"):
            refs.append(("TrainingRun", source["name"]))
        dataset = ((spec.get("evaluation") or {}).get("datasetRef") or {}).get("name")
        if dataset:
            refs.append(("Dataset", dataset))
    if kind == "InferenceService":
        if (spec.get("modelVersionRef") or {}).get("name"):
            refs.append(("ModelVersion", spec["modelVersionRef"]["name"]))
        refs.extend(("ModelVersion", t["modelVersion"]) for t in spec.get("traffic") or [] if t.get("modelVersion"))
    if kind == "Rollout":
        for key, target in (("targetRef", "InferenceService"), ("candidateRef", "ModelVersion")):
            if (spec.get(key) or {}).get("name"):
                refs.append((target, spec[key]["name"]))
    return refs


def _model_version_names(store: ObjectStore, namespace: str, batch: Iterable[Mapping[str, Any]]) -> set[str]:
    names = {o["metadata"]["name"] for o in store.list("ModelVersion", namespace)}
    names |= {b["metadata"]["name"] for b in batch if b.get("kind") == "ModelVersion"}
    return names


@dataclass
class Applied:
    """What one apply did."""

    display: str
    action: str


def apply_objects(
    session: Session, bodies: Sequence[Mapping[str, Any]], namespace: str, *, check_refs: bool = True
) -> tuple[list[Applied], list[str]]:
    """Validate, check references and write; (what was written, errors). Invalid objects are not written."""
    store = session.store
    errors: list[str] = []
    valid: list[dict[str, Any]] = []
    for body in bodies:
        display = f"{body.get('kind', '<no kind>')}/{(body.get('metadata') or {}).get('name', '<no name>')}"
        try:
            kind_of_body(body)
        except UnknownKindError:
            errors.append(
                f'{display}: no kind "{body.get("kind")}" is registered for version "{body.get("apiVersion")}" '
                "(the local mode runs ModelPlane's kinds only)"
            )
            continue
        if body.get("kind") in {k.kind for k in CHILD_KINDS}:
            errors.append(f"{display}: the local mode creates {body['kind']}s itself; apply ModelPlane kinds")
            continue
        try:
            checked = validate_resource(body)
        except InvalidResourceError as error:
            errors.append(f"{display}: {error}")
            continue
        checked["metadata"]["namespace"] = checked["metadata"].get("namespace") or namespace
        valid.append(checked)
    written: list[Applied] = []
    valid.sort(key=lambda b: LIFECYCLE_ORDER.index(b["kind"]) if b["kind"] in LIFECYCLE_ORDER else 99)
    for body in valid:
        meta = body["metadata"]
        display = f"{kind_of_body(body).resource}/{meta['name']}"
        if check_refs:
            missing = [
                f"{kind} {name!r}"
                for kind, name in _references(body)
                if store.get(kind, meta["namespace"], name) is None
                and not any(b["kind"] == kind and b["metadata"]["name"] == name for b in valid)
                and not (kind == "ModelVersion" and name in _model_version_names(store, meta["namespace"], valid))
            ]
            if missing:
                errors.append(
                    f"{display}: refers to {', '.join(missing)}, which does not exist in namespace "
                    f"{meta['namespace']!r} (apply it first, or pass --no-ref-check)"
                )
                continue
        before = store.get(body["kind"], meta["namespace"], meta["name"])
        after = store.apply(body)
        if before is None:
            action = "created"
        elif (
            before.get("spec") == after.get("spec")
            and (before["metadata"].get("labels") or {}) == (after["metadata"].get("labels") or {})
            and (before["metadata"].get("annotations") or {}) == (after["metadata"].get("annotations") or {})
        ):
            action = "unchanged"
        else:
            action = "configured"
        written.append(Applied(display, action))
    return written, errors


def read_files(files: Sequence[Path]) -> tuple[list[dict[str, Any]], list[str]]:
    bodies: list[dict[str, Any]] = []
    errors: list[str] = []
    for path in files:
        try:
            bodies.extend(m.body for m in read_manifests(path))
        except ManifestError as error:
            errors.append(str(error))
    return bodies, errors


def condition(obj: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for item in (obj.get("status") or {}).get("conditions") or []:
        if item.get("type") == type_:
            return dict(item)
    return None


def terminal_failure(obj: Mapping[str, Any]) -> str | None:
    """Why ``obj`` will not become Ready without a spec change, or None."""
    generation = (obj.get("metadata") or {}).get("generation")
    succeeded = condition(obj, "Succeeded")
    if succeeded and succeeded.get("status") == "False" and succeeded.get("observedGeneration") == generation:
        return f"{succeeded.get('reason')}: {succeeded.get('message')}"
    ready = condition(obj, "Ready")
    if (
        ready
        and ready.get("status") == "False"
        and ready.get("reason") in TERMINAL_REASONS
        and ready.get("observedGeneration") == generation
    ):
        return f"{ready.get('reason')}: {ready.get('message')}"
    return None


def progress_bar(obj: Mapping[str, Any], width: int = 12) -> str:
    """``[#####-------] 2/4 trials `` for a sweep in progress, else ``""``."""
    trials = (obj.get("status") or {}).get("trials") or {}
    total = int(trials.get("total") or 0)
    if total <= 1:
        return ""
    done = int(trials.get("succeeded") or 0) + int(trials.get("failed") or 0)
    filled = round(width * done / total)
    return f"[{'#' * filled}{'-' * (width - filled)}] {done}/{total} trials, {trials.get('running') or 0} running · "


def wait_for(
    session: Session,
    kind: KindName,
    namespace: str,
    name: str,
    condition_type: str,
    timeout: float,
    *,
    progress: bool = True,
    interval: float = 0.5,
) -> dict[str, Any]:
    """Wait until the condition is True for the object's generation; raises ``typer.Exit`` otherwise."""
    store = session.store
    deadline = time.monotonic() + timeout
    label = f"{kind.resource}/{name}"
    status_line = ui.err.status(f"waiting for {label}", spinner="dots") if progress else None
    started = time.monotonic()
    try:
        if status_line is not None:
            status_line.start()
        while True:
            obj = store.get(kind.kind, namespace, name)
            if obj is None:
                raise ui.fail(f'{kind.plural} "{name}" not found in namespace "{namespace}"')
            found = condition(obj, condition_type)
            generation = obj["metadata"].get("generation")
            if found and found.get("status") == "True" and found.get("observedGeneration", generation) == generation:
                return obj
            failure = terminal_failure(obj)
            if failure is not None:
                raise ui.fail(f"{label} failed: {failure}")
            if time.monotonic() > deadline:
                message = (found or {}).get("message") or "no status yet"
                raise ui.fail(f"timed out after {timeout:.0f}s waiting for {label} {condition_type}: {message}")
            if status_line is not None:
                message = (found or condition(obj, "Ready") or {}).get("message") or "waiting for the controller"
                bar = progress_bar(obj)
                status_line.update(f"{label}: {bar}{message} [dim]({time.monotonic() - started:.0f}s)[/dim]")
            time.sleep(interval)
    finally:
        if status_line is not None:
            status_line.stop()


def _describe(store: ObjectStore, obj: Mapping[str, Any]) -> str:
    meta = obj["metadata"]
    lines = [
        f"Name:         {meta['name']}",
        f"Namespace:    {meta.get('namespace', '')}",
        f"Kind:         {obj['kind']}",
        f"Generation:   {meta.get('generation', '')}",
        f"Created:      {meta.get('creationTimestamp', '')} ({age(meta.get('creationTimestamp'))} ago)",
    ]
    if meta.get("labels"):
        lines.append("Labels:       " + ", ".join(f"{k}={v}" for k, v in meta["labels"].items()))
    if meta.get("deletionTimestamp"):
        lines.append(f"Deleting:     since {meta['deletionTimestamp']} (finalizers: {meta.get('finalizers')})")
    lines.append("Spec:")
    lines.extend("  " + line for line in yaml.safe_dump(obj.get("spec") or {}, sort_keys=False).splitlines())
    status = dict(obj.get("status") or {})
    conditions = status.pop("conditions", [])
    if status:
        lines.append("Status:")
        lines.extend("  " + line for line in yaml.safe_dump(status, sort_keys=False).splitlines())
    lines.append("Conditions:")
    for c in conditions:
        lines.append(f"  {c.get('type'):<14} {c.get('status'):<6} {c.get('reason', ''):<24} {c.get('message', '')}")
    children = [
        child
        for kind in ("Job", "Deployment", "Service", "ModelVersion")
        for child in store.list(kind, meta.get("namespace"))
        if any(o.get("uid") == meta.get("uid") for o in child["metadata"].get("ownerReferences") or [])
    ]
    if children:
        lines.append("Children:")
        lines.extend(f"  {c['kind']}/{c['metadata']['name']}" for c in children)
    events = [
        e
        for e in store.list("Event", meta.get("namespace"))
        if (e.get("involvedObject") or {}).get("uid") == meta.get("uid")
    ]
    events.sort(key=lambda e: (e.get("lastTimestamp") or "", e["metadata"]["name"]))
    lines.append("Events:" if events else "Events:       <none>")
    for e in events:
        lines.append(f"  {e.get('type'):<8} {e.get('reason'):<24} {age(e.get('lastTimestamp')):>6}  {e.get('message')}")
    return "\n".join(lines)


def _pods_of(store: ObjectStore, obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pods that ran for ``obj``: its own, its Jobs' or Deployments' (oldest first)."""
    meta = obj["metadata"]
    owners = {meta.get("uid")}
    for kind in ("Job", "Deployment"):
        for child in store.list(kind, meta.get("namespace")):
            if any(o.get("uid") in owners for o in child["metadata"].get("ownerReferences") or []):
                owners.add(child["metadata"]["uid"])
    pods = [
        p
        for p in store.list("Pod", meta.get("namespace"))
        if any(o.get("uid") in owners for o in p["metadata"].get("ownerReferences") or [])
    ]
    return sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""))


def _split_target(target: str, name: str | None) -> tuple[KindName, str | None]:
    if "/" in target and name is None:
        kind_text, _, name = target.partition("/")
        return resolve_kind(kind_text), name
    return resolve_kind(target), name


def apply_command(
    files: Annotated[list[Path], typer.Option("--filename", "-f", help="File or directory (repeatable).")],
    namespace: NamespaceOption = "default",
    home: HomeOption = None,
    no_ref_check: Annotated[bool, typer.Option("--no-ref-check", help="Write objects with missing refs.")] = False,
) -> None:
    """Create or update resources from YAML/JSON files, validated like the API server validates them."""
    session = Session.open(home)
    bodies, errors = read_files(files)
    written, more = apply_objects(session, bodies, namespace, check_refs=not no_ref_check)
    errors += more
    for item in written:
        ui.out.print(f"{item.display} {item.action}", highlight=False)
    for error in errors:
        ui.err.print(f"[red]error:[/red] {error}", highlight=False)
    if not written and not errors:
        raise ui.fail("no objects passed to apply")
    if written and session.state() is None:
        ui.err.print("[yellow]note:[/yellow] the local mode is not running: `modelplane up` reconciles these")
    if errors:
        raise typer.Exit(1)


def get_command(
    kind: Annotated[str, typer.Argument(help="Kind (datasets, trainingruns, mpmv, ..., or all).")],
    name: Annotated[str | None, typer.Argument(help="Object name; all when omitted.")] = None,
    namespace: NamespaceOption = "default",
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="Every namespace.")] = False,
    output: OutputOption = ui.Output.TABLE,
    home: HomeOption = None,
) -> None:
    """List objects, or show one, like `kubectl get`."""
    session = Session.open(home)
    store = session.store
    ns = None if all_namespaces else namespace
    try:
        kinds = list(MODELPLANE_KINDS) if kind == "all" else [_split_target(kind, name)[0]]
    except UnknownKindError as error:
        raise ui.fail(str(error)) from None
    if "/" in kind and name is None:
        name = kind.partition("/")[2]
    shown = 0
    for known in kinds:
        items = store.list(known.kind, ns)
        if name is not None:
            items = [i for i in items if i["metadata"]["name"] == name]
            if not items:
                raise ui.fail(f'{known.plural}.{known.api_version.rpartition("/")[0] or "core"} "{name}" not found')
        if not items:
            continue
        if shown and output in (ui.Output.TABLE, ui.Output.WIDE):
            ui.out.print()
        if kind == "all" and output in (ui.Output.TABLE, ui.Output.WIDE):
            ui.out.print(f"[bold]{known.plural}[/bold]")
        ui.objects(known, items, output, all_namespaces=all_namespaces)
        shown += 1
    if not shown and output in (ui.Output.TABLE, ui.Output.WIDE):
        where = "any namespace" if all_namespaces else f"{namespace} namespace"
        ui.err.print(f"No resources found in {where}.")
    if session.state() is None and output in (ui.Output.TABLE, ui.Output.WIDE):
        ui.err.print("[yellow]note:[/yellow] the local mode is not running (`modelplane up`)")


def describe_command(
    kind: Annotated[str, typer.Argument(help="Kind, or KIND/NAME.")],
    name: Annotated[str | None, typer.Argument(help="Object name.")] = None,
    namespace: NamespaceOption = "default",
    home: HomeOption = None,
) -> None:
    """Show an object's spec, status, conditions, children and Events."""
    store = Session.open(home).store
    try:
        known, name = _split_target(kind, name)
    except UnknownKindError as error:
        raise ui.fail(str(error)) from None
    names = [name] if name else [o["metadata"]["name"] for o in store.list(known.kind, namespace)]
    for i, item in enumerate(names):
        obj = store.get(known.kind, namespace, item)
        if obj is None:
            raise ui.fail(f'{known.plural} "{item}" not found in namespace "{namespace}"')
        if i:
            ui.out.print()
        ui.out.print(_describe(store, obj), highlight=False, markup=False)


def delete_command(
    kind: Annotated[str | None, typer.Argument(help="Kind, or KIND/NAME.")] = None,
    name: Annotated[str | None, typer.Argument(help="Object name.")] = None,
    files: Annotated[list[Path] | None, typer.Option("--filename", "-f", help="Delete what these define.")] = None,
    namespace: NamespaceOption = "default",
    home: HomeOption = None,
) -> None:
    """Delete objects (their Jobs, pods and servers go with them)."""
    store = Session.open(home).store
    targets: list[tuple[KindName, str, str]] = []
    if files:
        bodies, errors = read_files(files)
        if errors:
            raise ui.fail("; ".join(errors))
        for body in bodies:
            try:
                known = kind_of_body(body)
            except UnknownKindError as error:
                raise ui.fail(str(error)) from None
            meta = body.get("metadata") or {}
            targets.append((known, meta.get("namespace") or namespace, str(meta.get("name"))))
    elif kind is not None:
        try:
            known, name = _split_target(kind, name)
        except UnknownKindError as error:
            raise ui.fail(str(error)) from None
        if not name:
            raise ui.fail("name a resource to delete (KIND NAME, KIND/NAME or -f FILE)")
        targets.append((known, namespace, name))
    else:
        raise ui.fail("name a resource to delete (KIND NAME, KIND/NAME or -f FILE)")
    missing = 0
    for known, ns, item in targets:
        if store.delete(known.kind, ns, item):
            ui.out.print(f'{known.resource} "{item}" deleted', highlight=False)
        else:
            missing += 1
            ui.err.print(f'[red]error:[/red] {known.plural} "{item}" not found in namespace "{ns}"')
    if missing:
        raise typer.Exit(1)


def wait_command(
    kind: Annotated[str, typer.Argument(help="Kind, or KIND/NAME.")],
    name: Annotated[str | None, typer.Argument(help="Object name.")] = None,
    for_: Annotated[str, typer.Option("--for", help="condition=TYPE (e.g. condition=Ready).")] = "condition=Ready",
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait.")] = 600.0,
    namespace: NamespaceOption = "default",
    home: HomeOption = None,
) -> None:
    """Wait until a condition is True (exits 1 at once when the object failed for good)."""
    if not for_.startswith("condition="):
        raise ui.fail("--for must be condition=TYPE, e.g. --for condition=Ready")
    try:
        known, name = _split_target(kind, name)
    except UnknownKindError as error:
        raise ui.fail(str(error)) from None
    if not name:
        raise ui.fail("name the object to wait for (KIND NAME or KIND/NAME)")
    session = Session.open(home)
    if session.state() is None:
        raise ui.fail("the local mode is not running: start it with `modelplane up`")
    wait_for(session, known, namespace, name, for_.removeprefix("condition="), timeout)
    ui.out.print(f"{known.resource}/{name} condition met", highlight=False)


def logs_command(
    kind: Annotated[str, typer.Argument(help="KIND/NAME or KIND (e.g. trainingrun/iris-rf), or `daemon`.")],
    name: Annotated[str | None, typer.Argument(help="Object name.")] = None,
    namespace: NamespaceOption = "default",
    tail: Annotated[int, typer.Option("--tail", help="Last lines per pod (0: all).")] = 0,
    home: HomeOption = None,
) -> None:
    """Print the logs of the jobs and servers that ran for an object (or of the local daemon)."""
    session = Session.open(home)
    if kind == "daemon":
        paths = [session.home.daemon_log]
    else:
        try:
            known, name = _split_target(kind, name)
        except UnknownKindError as error:
            raise ui.fail(str(error)) from None
        obj = session.store.get(known.kind, namespace, name or "")
        if obj is None:
            raise ui.fail(f'{known.plural} "{name}" not found in namespace "{namespace}"')
        pods = _pods_of(session.store, obj)
        if not pods:
            raise ui.fail(f"{known.resource}/{name} has no pods yet")
        paths = [session.home.pod_dir(namespace, p["metadata"]["name"]) / "log" for p in pods]
    for path in paths:
        if len(paths) > 1:
            ui.out.print(f"[bold]==> {path.parent.name} <==[/bold]")
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        lines = text.splitlines()
        typer.echo("\n".join(lines[-tail:] if tail else lines))


def register(app: typer.Typer) -> None:
    """Add the resource commands to ``app``."""
    app.command("apply")(apply_command)
    app.command("get")(get_command)
    app.command("describe")(describe_command)
    app.command("delete")(delete_command)
    app.command("wait")(wait_command)
    app.command("logs")(logs_command)
