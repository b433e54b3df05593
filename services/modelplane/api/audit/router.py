"""HTTP route of the audit log (admins of the namespace only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from modelplane.api.audit.service import list_entries
from modelplane.api.auth.models import Role
from modelplane.api.deps import Caller, Session
from modelplane.api.namespaces import Namespace
from modelplane.api.pagination import Page, PageParams, decode_int_token, encode_token, page_params

router = APIRouter(prefix="/api/v1", tags=["audit"])


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    principal: str
    action: str
    namespace: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@router.get("/namespaces/{namespace}/audit", response_model=Page[AuditEntryOut])
async def audit_log(
    namespace: Namespace, session: Session, caller: Caller, page: Annotated[PageParams, Depends(page_params)]
) -> Page[AuditEntryOut]:
    """Every write in the namespace, newest first."""
    caller.require(namespace, Role.ADMIN)
    after = decode_int_token(page.page_token, 1)[0] if page.page_token else None
    rows = await list_entries(session, namespace, after, page.page_size + 1)
    items = [
        AuditEntryOut(
            id=r.id,
            at=r.at,
            principal=r.principal,
            action=r.action,
            namespace=r.namespace,
            object_type=r.object_type,
            object_id=r.object_id,
            before=r.before,
            after=r.after,
        )
        for r in rows[: page.page_size]
    ]
    token = encode_token([items[-1].id]) if len(rows) > page.page_size else None
    return Page[AuditEntryOut](items=items, next_page_token=token)
