"""Bearer tokens: generated with ``secrets``, stored as sha256, resolved to a principal per request.

A resolution is one query (the token joined with its principal's role bindings), and none while the
principal is in the process's :class:`~modelplane.api.auth.cache.PrincipalCache`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from modelplane.api.auth.cache import PrincipalCache
from modelplane.api.auth.models import ALL_NAMESPACES, ApiToken, Role, RoleBinding
from modelplane.api.auth.principal import Principal
from modelplane.api.db.base import utcnow
from modelplane.api.errors import Unauthenticated

TOKEN_PREFIX = "mpt_"
BOOTSTRAP_ADMIN = "bootstrap-admin"


def new_token() -> str:
    """A fresh random token (shown once to its owner, never stored)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the database stores for a token."""
    return hashlib.sha256(token.encode()).hexdigest()


_TOKENS = ApiToken.__table__
_BINDINGS = RoleBinding.__table__
_RESOLVE = (
    select(_TOKENS.c.principal, _TOKENS.c.revoked_at, _TOKENS.c.expires_at, _BINDINGS.c.namespace, _BINDINGS.c.role)
    .select_from(_TOKENS.outerjoin(_BINDINGS, _BINDINGS.c.principal == _TOKENS.c.principal))
    .where(_TOKENS.c.token_hash == bindparam("token_hash"))
)


async def resolve_token(
    session: AsyncSession, token: str, admin_token: str | None, cache: PrincipalCache | None = None
) -> Principal:
    """The principal a token stands for; 401 for an unknown, expired or revoked token."""
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Principal(BOOTSTRAP_ADMIN, {ALL_NAMESPACES: Role.ADMIN})
    token_hash = hash_token(token)
    now: datetime = utcnow()
    if cache is not None and (cached := cache.get(token_hash, now)) is not None:
        return cached
    generation = cache.generation if cache is not None else 0
    connection = await session.connection()
    rows = (await connection.execute(_RESOLVE, {"token_hash": token_hash})).all()
    if not rows:
        raise Unauthenticated("the bearer token is not valid")
    name, revoked_at, expires_at = rows[0][:3]
    if revoked_at is not None:
        raise Unauthenticated("the bearer token was revoked")
    if expires_at is not None and expires_at <= now:
        raise Unauthenticated("the bearer token has expired")
    principal = Principal(name, {row.namespace: row.role for row in rows if row.namespace is not None})
    if cache is not None:
        cache.put(token_hash, principal, expires_at, generation)
    return principal
