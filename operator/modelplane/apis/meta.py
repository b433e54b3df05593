"""Kind metadata: what the CRD generator needs to know about a kind beyond its fields.

Each custom-resource class carries one :class:`KindInfo` as a class variable. The generator turns it into
the CRD's ``names``, scope, printer columns and subresources; the rest of the system uses it for the
group/version/plural triple (kopf selectors, API paths) so those strings live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

GROUP = "modelplane.io"
CATEGORY = "modelplane"

ColumnType = Literal["string", "integer", "number", "boolean", "date"]


@dataclass(frozen=True)
class PrinterColumn:
    """One ``additionalPrinterColumns`` entry: what ``kubectl get`` shows for a kind."""

    name: str
    json_path: str
    type: ColumnType = "string"
    description: str = ""
    priority: int = 0

    def to_crd(self) -> dict[str, object]:
        column: dict[str, object] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description:
            column["description"] = self.description
        if self.priority:
            column["priority"] = self.priority
        return column


def ready_column(condition: str = "Ready") -> PrinterColumn:
    """The status of one condition as a column, the first column of every kind."""
    return PrinterColumn(
        name=condition,
        json_path=f'.status.conditions[?(@.type=="{condition}")].status',
        description=f"Whether the {condition} condition is True.",
    )


def reason_column(condition: str = "Ready") -> PrinterColumn:
    """The reason of one condition, shown with ``-o wide``."""
    return PrinterColumn(
        name="Reason",
        json_path=f'.status.conditions[?(@.type=="{condition}")].reason',
        description=f"Why the {condition} condition has its status.",
        priority=1,
    )


AGE_COLUMN = PrinterColumn(
    name="Age",
    json_path=".metadata.creationTimestamp",
    type="date",
    description="Time since the resource was created.",
)


@dataclass(frozen=True)
class KindInfo:
    """Names and presentation of one kind in group ``modelplane.io``."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    version: str
    printer_columns: tuple[PrinterColumn, ...]
    group: str = GROUP
    categories: tuple[str, ...] = (CATEGORY,)
    scope: Literal["Namespaced", "Cluster"] = "Namespaced"
    list_kind: str = field(default="")

    @property
    def api_version(self) -> str:
        """``group/version`` as written in ``apiVersion``."""
        return f"{self.group}/{self.version}"

    @property
    def crd_name(self) -> str:
        """``metadata.name`` of the CRD: ``<plural>.<group>``."""
        return f"{self.plural}.{self.group}"

    @property
    def list_kind_name(self) -> str:
        return self.list_kind or f"{self.kind}List"
