"""What one reconcile pass hands back to its handler: Events to post and whether to retry.

The reconciler writes status itself (one server-side apply per pass, only when it changed); the handler
posts :class:`Event` objects on the parent and turns ``retry_after`` / ``permanent`` into kopf's
``TemporaryError`` / ``PermanentError``. :func:`transition_events` derives the Events from conditions
that changed, so "important transitions" are exactly the condition flips users see in status. Pure.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from modelplane.apis.v1alpha1.conditions import Condition, ConditionStatus, find_condition


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to post on the reconciled object."""

    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class Outcome:
    """The result of one pass."""

    events: tuple[Event, ...] = ()
    retry_after: float | None = None
    retry_message: str = ""
    permanent: str | None = None
    status_written: bool = False
    children_created: tuple[str, ...] = ()
    resync_after: float | None = None
    """Check the object again after this many seconds even if nothing changes (time-based work remains)."""


@dataclass(frozen=True)
class EventPolicy:
    """Which conditions produce Events, and which reasons are warnings."""

    types: tuple[str, ...]
    warnings: Collection[str] = field(default_factory=frozenset)
    quiet: Collection[str] = field(default_factory=frozenset)
    """Reasons that post no Event (a routine "in progress" state every object passes through)."""


def transition_events(old: Sequence[Condition], new: Sequence[Condition], policy: EventPolicy) -> tuple[Event, ...]:
    """One Event per watched condition whose status or reason changed (to a reason that is not quiet)."""
    events: list[Event] = []
    for type_ in policy.types:
        after = find_condition(new, type_)
        if after is None:
            continue
        before = find_condition(old, type_)
        if before is not None and before.status == after.status and before.reason == after.reason:
            continue
        if after.reason in policy.quiet:
            continue
        warning = after.status is ConditionStatus.FALSE and after.reason in policy.warnings
        message = after.message or f"{type_} is {after.status.value}."
        events.append(Event("Warning" if warning else "Normal", after.reason, message))
    return tuple(events)
