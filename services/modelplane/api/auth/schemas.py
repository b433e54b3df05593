"""Bodies of the auth API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from modelplane.api.auth.models import Role

PrincipalName = Annotated[
    str, StringConstraints(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$")
]
NamespaceOrAll = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$", max_length=63)]


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    principal: PrincipalName = Field(description="Who the token authenticates (a user or a service account).")
    description: str = Field("", max_length=1024, description="What the token is for.")
    expires_in_seconds: int | None = Field(None, ge=60, le=315_360_000, description="Lifetime; no expiry when unset.")
    roles: dict[NamespaceOrAll, Role] = Field(
        default_factory=dict, description="Roles to bind to the principal, by namespace ('*' for all)."
    )


class TokenCreated(BaseModel):
    id: int = Field(description="Token id, for revocation.")
    token: str = Field(description="The bearer token. Shown once; only its hash is stored.")
    principal: str
    expires_at: datetime | None


class RoleBindingBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role = Field(description="viewer, editor or admin.")


class RoleBindingOut(BaseModel):
    principal: str
    namespace: str
    role: Role


class WhoAmI(BaseModel):
    principal: str
    authenticated: bool
    roles: dict[str, Role]
