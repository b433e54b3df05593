"""Which ModelVersion holds an alias of a model, and what to change in the registry to get there. Pure.

An alias (``champion``, ``staging``) points at one version of a model at a time. Several ModelVersions of the
same model may claim it in ``spec.aliases``; the rule that decides, on every pass and in every operator alike:
among the *live* claimants (Ready, registered, not being deleted), the one with the newest
``metadata.creationTimestamp`` holds it, and between equal timestamps (they have a resolution of one second)
the greater name. The others report ``AliasConflict`` naming the holder and stay Ready. An alias no spec
claims is left as the registry has it; an alias this version claimed and no longer does is removed when it
still points here and no other live version claims it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from modelplane.operator.jobstate import parse_time
from modelplane.operator.model import reasons

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Claimant:
    """A ModelVersion as the alias rule sees it."""

    name: str
    created: datetime | None = None
    version: int | None = None
    claims: tuple[str, ...] = ()
    live: bool = False
    """Ready, registered and not being deleted: only live versions hold aliases."""

    @property
    def rank(self) -> tuple[datetime, str]:
        return (self.created or _EPOCH, self.name)


def claimant_of(body: Mapping[str, Any]) -> Claimant:
    """Read a stored ModelVersion (a raw object: siblings are only read, never validated)."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    ready = any(c.get("type") == reasons.READY and c.get("status") == "True" for c in status.get("conditions") or [])
    version = status.get("registeredVersion")
    registered = version if isinstance(version, int) and version > 0 else None
    return Claimant(
        name=str(meta.get("name", "")),
        created=parse_time(meta.get("creationTimestamp")),
        version=registered,
        claims=tuple(str(a) for a in spec.get("aliases") or []),
        live=ready and registered is not None and not meta.get("deletionTimestamp"),
    )


def siblings_of(bodies: Iterable[Mapping[str, Any]], model_name: str, name: str) -> list[Claimant]:
    """The other ModelVersions of ``model_name`` among ``bodies`` (a namespace's list)."""
    return [
        claimant_of(b)
        for b in bodies
        if (b.get("spec") or {}).get("modelName") == model_name and (b.get("metadata") or {}).get("name") != name
    ]


def holders(claimants: Iterable[Claimant]) -> dict[str, Claimant]:
    """Alias → the live claimant that holds it by the rule."""
    won: dict[str, Claimant] = {}
    for claimant in claimants:
        if not claimant.live:
            continue
        for alias in claimant.claims:
            held = won.get(alias)
            if held is None or claimant.rank > held.rank:
                won[alias] = claimant
    return won


@dataclass(frozen=True)
class AliasPlan:
    """What to change in the registry for one live version."""

    put: tuple[str, ...] = ()
    """Aliases to point at this version."""
    remove: tuple[str, ...] = ()
    """Aliases to delete: dropped from this spec, still pointing here, claimed by no other live version."""
    conflicts: tuple[tuple[str, Claimant], ...] = ()
    """Aliases this version claims and another holds, with the holder."""
    managed: tuple[str, ...] = ()
    """Aliases this version holds by the rule once the plan is carried out."""


def plan_aliases(
    me: Claimant, others: Sequence[Claimant], current: Mapping[str, int], managed_before: Collection[str]
) -> AliasPlan:
    """The registry changes that make ``current`` (alias → version) agree with the rule, for ``me`` (live)."""
    won = holders([me, *others])
    put: list[str] = []
    managed: list[str] = []
    conflicts: list[tuple[str, Claimant]] = []
    for alias in sorted(set(me.claims)):
        holder = won.get(alias)
        if holder is None or holder.name == me.name:
            managed.append(alias)
            if current.get(alias) != me.version:
                put.append(alias)
        else:
            conflicts.append((alias, holder))
    claimed = claimed_by(others)
    remove = [
        alias
        for alias in sorted(managed_before)
        if alias not in me.claims and current.get(alias) == me.version and alias not in claimed
    ]
    return AliasPlan(tuple(put), tuple(remove), tuple(conflicts), tuple(managed))


def claimed_by(others: Iterable[Claimant]) -> set[str]:
    """Every alias a live claimant among ``others`` claims."""
    return {alias for claimant in others if claimant.live for alias in claimant.claims}


def releasable(others: Sequence[Claimant], held: Collection[str]) -> tuple[str, ...]:
    """Of the aliases a deleted version holds, those to remove (no other live version claims them: a claimant
    moves its alias itself)."""
    claimed = claimed_by(others)
    return tuple(sorted(alias for alias in held if alias not in claimed))


def conflict_message(conflicts: Sequence[tuple[str, Claimant]]) -> str:
    """``Alias champion is held by ModelVersion iris-b (version 4); ...`` with the rule."""
    parts = []
    for alias, holder in conflicts:
        version = f" (version {holder.version})" if holder.version is not None else ""
        parts.append(f"alias {alias} is held by ModelVersion {holder.name}{version}")
    text = "; ".join(parts)
    return (
        f"{text[0].upper()}{text[1:]}: of the Ready versions claiming an alias, the newest "
        "(creationTimestamp, then name) holds it."
    )
