"""Kind names as users type them, and the columns ``get`` shows: the CRDs' own printer columns. Pure.

``modelplane get`` accepts what ``kubectl get`` accepts for ModelPlane's kinds — the kind (any case), its
plural, singular and short names (``mpds``, ``mptr``, ...) — plus the child kinds the local mode runs
(``jobs``, ``pods``, ``deployments``, ``services``, ``events``). Columns come from the same
``additionalPrinterColumns`` the CRDs declare, evaluated with the small JSONPath subset they use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from modelplane.apis.meta import GROUP, PrinterColumn
from modelplane.apis.v1alpha1 import KINDS


@dataclass(frozen=True)
class KindName:
    """A kind the CLI knows."""

    kind: str
    plural: str
    api_version: str
    columns: tuple[PrinterColumn, ...] = ()
    aliases: tuple[str, ...] = ()

    @property
    def resource(self) -> str:
        """``datasets.modelplane.io``-style name as kubectl prints it."""
        group = self.api_version.rpartition("/")[0]
        return f"{self.kind.lower()}.{group}" if group else self.kind.lower()


MODELPLANE_KINDS: tuple[KindName, ...] = tuple(
    KindName(
        k.kind_info.kind,
        k.kind_info.plural,
        k.kind_info.api_version,
        k.kind_info.printer_columns,
        (k.kind_info.kind.lower(), k.kind_info.plural, k.kind_info.singular, *k.kind_info.short_names),
    )
    for k in KINDS
)
LIFECYCLE_ORDER = ("Dataset", "TrainingRun", "ModelVersion", "InferenceService", "Rollout")
"""``apply`` of a directory writes kinds in this order, so references exist before their users."""

CHILD_KINDS: tuple[KindName, ...] = (
    KindName("Job", "jobs", "batch/v1", aliases=("job", "jobs")),
    KindName("Pod", "pods", "v1", aliases=("pod", "pods", "po")),
    KindName("Deployment", "deployments", "apps/v1", aliases=("deployment", "deployments", "deploy")),
    KindName("Service", "services", "v1", aliases=("service", "services", "svc")),
    KindName("Event", "events", "v1", aliases=("event", "events", "ev")),
    KindName("Secret", "secrets", "v1", aliases=("secret", "secrets")),
    KindName(
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        "autoscaling/v2",
        aliases=("hpa", "horizontalpodautoscalers"),
    ),
    KindName("PodDisruptionBudget", "poddisruptionbudgets", "policy/v1", aliases=("pdb", "poddisruptionbudgets")),
)


class UnknownKindError(LookupError):
    """A name that is no kind the CLI knows."""


def resolve_kind(name: str) -> KindName:
    """The kind of a user-typed name (``datasets``, ``mptr``, ``TrainingRun``, ``trainingruns.modelplane.io``)."""
    wanted = name.strip().lower().removesuffix(f".{GROUP}")
    for kind in (*MODELPLANE_KINDS, *CHILD_KINDS):
        if wanted in kind.aliases or wanted == kind.kind.lower():
            return kind
    known = ", ".join(k.plural for k in MODELPLANE_KINDS)
    raise UnknownKindError(f'the server doesn\'t have a resource type "{name}" (ModelPlane kinds: {known})')


def kind_of_body(body: Mapping[str, Any]) -> KindName:
    kind = str(body.get("kind", ""))
    for known in (*MODELPLANE_KINDS, *CHILD_KINDS):
        if known.kind == kind:
            return known
    raise UnknownKindError(f'no kind "{kind}" is registered')


_FILTER = re.compile(r'^\[\?\(@\.(?P<key>[A-Za-z0-9_]+)==["\'](?P<value>[^"\']*)["\']\)\]')
_FIELD = re.compile(r"^\.(?P<key>[A-Za-z0-9_]+)")
_INDEX = re.compile(r"^\[(?P<index>\d+|\*)\]")


def json_path(obj: Any, path: str) -> list[Any]:
    """Values at a kubectl-style JSONPath (``.a.b``, ``[0]``, ``[*]``, ``[?(@.type=="Ready")]``)."""
    values = [obj]
    rest = path.strip().removeprefix("{").removesuffix("}")
    while rest:
        if found := _FILTER.match(rest):
            values = [
                item
                for value in values
                if isinstance(value, list)
                for item in value
                if isinstance(item, Mapping) and str(item.get(found["key"])) == found["value"]
            ]
        elif found := _FIELD.match(rest):
            values = [v[found["key"]] for v in values if isinstance(v, Mapping) and found["key"] in v]
        elif found := _INDEX.match(rest):
            index = found["index"]
            if index == "*":
                values = [item for v in values if isinstance(v, list) for item in v]
            else:
                values = [v[int(index)] for v in values if isinstance(v, list) and len(v) > int(index)]
        else:
            raise ValueError(f"unsupported JSONPath {path!r} at {rest!r}")
        rest = rest[found.end() :]
    return values


def age(timestamp: str | None, now: datetime | None = None) -> str:
    """kubectl's age: ``45s``, ``3m12s``, ``5h``, ``2d``."""
    if not timestamp:
        return "<unknown>"
    then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    seconds = int(((now or datetime.now(UTC)) - then).total_seconds())
    if seconds < 120:
        return f"{max(seconds, 0)}s"
    if seconds < 600:
        return f"{seconds // 60}m{seconds % 60}s"
    if seconds < 3 * 3600:
        return f"{seconds // 60}m"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def cell(obj: Mapping[str, Any], column: PrinterColumn, now: datetime | None = None) -> str:
    """One printer column's text for one object."""
    values = json_path(obj, column.json_path)
    if not values:
        return "<none>" if column.type != "date" else "<unknown>"
    if column.type == "date":
        return age(str(values[0]), now)
    value = values[0] if len(values) == 1 else values
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "<none>"
    return str(value)


def columns(kind: KindName, *, wide: bool) -> list[PrinterColumn]:
    """The columns after NAME: the CRD's printer columns (priority > 0 only when wide), else AGE."""
    if kind.columns:
        return [c for c in kind.columns if wide or c.priority == 0]
    return [PrinterColumn("Age", ".metadata.creationTimestamp", "date")]
