"""Bearer tokens: generated with ``secrets``, stored as sha256, resolved to a principal per request."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

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


async def resolve_token(session: AsyncSession, token: str, admin_token: str | None) -> Principal:
    """The principal a token stands for; 401 for an unknown, expired or revoked token."""
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Principal(BOOTSTRAP_ADMIN, {ALL_NAMESPACES: Role.ADMIN})
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    now: datetime = utcnow()
    if row is None:
        raise Unauthenticated("the bearer token is not valid")
    if row.revoked_at is not None:
        raise Unauthenticated("the bearer token was revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthenticated("the bearer token has expired")
    bindings = await session.scalars(select(RoleBinding).where(RoleBinding.principal == row.principal))
    return Principal(row.principal, {b.namespace: b.role for b in bindings})
