"""Status conditions, the one status vocabulary of every kind.

Shaped like ``metav1.Condition``: the operator recomputes every condition on each pass and only moves
``lastTransitionTime`` when the status flips (see ``set_condition``). ``observedGeneration`` says which
spec the condition judged. kstatus-aware tools (Argo CD, Flux, ``kubectl wait``) read ``Ready``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from modelplane.apis.v1alpha1.base import ApiModel

CONDITION_TYPE_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"


class ConditionStatus(StrEnum):
    """Whether a condition holds."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(ApiModel):
    """One observation of the resource's state, as in ``metav1.Condition``."""

    type: str = Field(
        description="Type of the condition in CamelCase, e.g. Ready.",
        max_length=316,
        pattern=CONDITION_TYPE_PATTERN,
    )
    status: ConditionStatus = Field(description="Status of the condition: True, False or Unknown.")
    reason: str = Field(
        description="One CamelCase word for the last transition, for machines (e.g. JobCreated).",
        max_length=1024,
        pattern=REASON_PATTERN,
    )
    message: str = Field("", description="A sentence for humans about the transition.", max_length=32768)
    last_transition_time: datetime = Field(
        description="When the condition last changed status.",
    )
    observed_generation: int | None = Field(
        None,
        ge=0,
        description="The metadata.generation of the spec this condition was computed from.",
    )


Conditions = Annotated[
    list[Condition],
    Field(
        max_length=32,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    ),
]
"""A list of conditions, unique by type (a list-map keyed by ``type`` in the schema)."""


def find_condition(conditions: Sequence[Condition], type_: str) -> Condition | None:
    """The condition of this type, if present."""
    return next((c for c in conditions if c.type == type_), None)


def set_condition(
    conditions: Sequence[Condition],
    type_: str,
    status: ConditionStatus,
    reason: str,
    *,
    message: str = "",
    observed_generation: int | None = None,
    now: datetime | None = None,
) -> list[Condition]:
    """A new condition list with one condition set; its transition time moves only on a status flip."""
    previous = find_condition(conditions, type_)
    changed = previous is None or previous.status != status
    transition = (now or datetime.now(UTC)) if changed or previous is None else previous.last_transition_time
    updated = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=transition.replace(microsecond=0),
        observed_generation=observed_generation,
    )
    return (
        [*(c for c in conditions if c.type != type_), updated]
        if previous is None
        else [updated if c.type == type_ else c for c in conditions]
    )


def is_true(conditions: Sequence[Condition], type_: str) -> bool:
    """Whether the condition of this type is present and True."""
    condition = find_condition(conditions, type_)
    return condition is not None and condition.status is ConditionStatus.TRUE
