"""HTTP routes of authentication: tokens, role bindings, and ``whoami``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, status
from sqlalchemy import delete, select

from modelplane.api.audit.service import record
from modelplane.api.auth.models import ALL_NAMESPACES, ApiToken, Role, RoleBinding
from modelplane.api.auth.schemas import RoleBindingBody, RoleBindingOut, TokenCreate, TokenCreated, WhoAmI
from modelplane.api.auth.tokens import hash_token, new_token
from modelplane.api.db.base import utcnow
from modelplane.api.db.upsert import insert_for
from modelplane.api.deps import Caller, Principals, Session
from modelplane.api.errors import NotFound
from modelplane.api.namespaces import Namespace

router = APIRouter(prefix="/api/v1", tags=["auth"])
PrincipalPath = Annotated[str, Path(min_length=1, max_length=253, description="Principal name.")]


@router.get("/whoami", response_model=WhoAmI)
async def whoami(caller: Caller) -> WhoAmI:
    """The caller's principal and roles."""
    return WhoAmI(principal=caller.name, authenticated=caller.authenticated, roles=dict(caller.roles))


async def _bind(session: Session, principal: str, namespace: str, role: Role) -> None:
    statement = insert_for(session, RoleBinding).values(
        principal=principal, namespace=namespace, role=role, created_at=utcnow()
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["principal", "namespace"], set_={"role": statement.excluded.role}
        )
    )


@router.post("/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenCreated)
async def create_token(body: TokenCreate, session: Session, caller: Caller, principals: Principals) -> TokenCreated:
    """Issue a token for a principal and bind roles; needs admin in every namespace named."""
    for namespace in body.roles or {ALL_NAMESPACES: Role.VIEWER}:
        caller.require(namespace, Role.ADMIN)
    token = new_token()
    expires_at = utcnow() + timedelta(seconds=body.expires_in_seconds) if body.expires_in_seconds else None
    row = ApiToken(
        principal=body.principal,
        token_hash=hash_token(token),
        description=body.description,
        created_by=caller.name,
        expires_at=expires_at,
    )
    session.add(row)
    for namespace, role in body.roles.items():
        await _bind(session, body.principal, namespace, role)
    await session.flush()
    record(
        session,
        caller,
        "token.create",
        ALL_NAMESPACES,
        "token",
        str(row.id),
        after={"principal": body.principal, "roles": {k: v.value for k, v in body.roles.items()}},
    )
    await session.commit()
    principals.invalidate()  # the new bindings apply to the principal's other tokens too
    return TokenCreated(id=row.id, token=token, principal=body.principal, expires_at=expires_at)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=2**63 - 1)], session: Session, caller: Caller, principals: Principals
) -> None:
    """Revoke a token: its owner or an admin of every namespace may."""
    row = await session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"token {token_id} not found")
    if row.principal != caller.name:
        caller.require(ALL_NAMESPACES, Role.ADMIN)
    row.revoked_at = utcnow()
    record(session, caller, "token.revoke", ALL_NAMESPACES, "token", str(token_id), before={"principal": row.principal})
    await session.commit()
    principals.invalidate()


@router.get("/namespaces/{namespace}/rolebindings", response_model=list[RoleBindingOut])
async def list_bindings(namespace: Namespace, session: Session, caller: Caller) -> list[RoleBindingOut]:
    """Who holds which role in a namespace (bindings to '*' included)."""
    caller.require(namespace, Role.ADMIN)
    rows = await session.scalars(
        select(RoleBinding)
        .where(RoleBinding.namespace.in_([namespace, ALL_NAMESPACES]))
        .order_by(RoleBinding.principal)
    )
    return [RoleBindingOut(principal=r.principal, namespace=r.namespace, role=r.role) for r in rows]


@router.put("/namespaces/{namespace}/rolebindings/{principal}", response_model=RoleBindingOut)
async def bind_role(
    namespace: Namespace,
    principal: PrincipalPath,
    body: RoleBindingBody,
    session: Session,
    caller: Caller,
    principals: Principals,
) -> RoleBindingOut:
    """Give a principal a role in a namespace (replacing its previous role there)."""
    caller.require(namespace, Role.ADMIN)
    await _bind(session, principal, namespace, body.role)
    record(session, caller, "rolebinding.set", namespace, "rolebinding", principal, after={"role": body.role.value})
    await session.commit()
    principals.invalidate()
    return RoleBindingOut(principal=principal, namespace=namespace, role=body.role)


@router.delete("/namespaces/{namespace}/rolebindings/{principal}", status_code=status.HTTP_204_NO_CONTENT)
async def unbind_role(
    namespace: Namespace, principal: PrincipalPath, session: Session, caller: Caller, principals: Principals
) -> None:
    """Remove a principal's role in a namespace."""
    caller.require(namespace, Role.ADMIN)
    result = await session.execute(
        delete(RoleBinding).where(RoleBinding.namespace == namespace, RoleBinding.principal == principal)
    )
    if not getattr(result, "rowcount", 0):
        raise NotFound(f"{principal} has no role in namespace {namespace!r}")
    record(session, caller, "rolebinding.delete", namespace, "rolebinding", principal)
    await session.commit()
    principals.invalidate()
