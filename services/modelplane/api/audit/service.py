"""Recording writes in the audit log, inside the transaction of the write itself.

Every service calls :func:`record` before it commits, so an audit row exists exactly when the write
does. ``before``/``after`` are short JSON summaries, not whole rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from modelplane.api.audit.models import AuditEntry
from modelplane.api.auth.principal import Principal


def record(
    session: AsyncSession,
    principal: Principal,
    action: str,
    namespace: str,
    object_type: str,
    object_id: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add one audit row to the session's transaction."""
    session.add(
        AuditEntry(
            principal=principal.name,
            action=action,
            namespace=namespace,
            object_type=object_type,
            object_id=object_id,
            before=before,
            after=after,
        )
    )


async def list_entries(session: AsyncSession, namespace: str, after_id: int | None, limit: int) -> list[AuditEntry]:
    """Audit rows of a namespace, newest first, after a keyset position."""
    query = select(AuditEntry).where(AuditEntry.namespace == namespace)
    if after_id is not None:
        query = query.where(AuditEntry.id < after_id)
    return list(await session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))
