"""Who is calling and what they may do: the principal resolved from a bearer token.

Pure: role checks read only the principal's bindings. ``*`` binds a role in every namespace; each role
includes the lower ones (admin ⊃ editor ⊃ viewer).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modelplane.api.auth.models import ALL_NAMESPACES, ROLE_RANK, Role
from modelplane.api.errors import Forbidden, Unauthenticated

ANONYMOUS = "system:anonymous"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller (or the anonymous one) and its roles per namespace."""

    name: str
    roles: dict[str, Role] = field(default_factory=dict)
    authenticated: bool = True

    def role_in(self, namespace: str) -> Role | None:
        """The strongest role this principal has in ``namespace``."""
        candidates = [r for ns, r in self.roles.items() if ns in (namespace, ALL_NAMESPACES)]
        return max(candidates, key=ROLE_RANK.__getitem__, default=None)

    def can(self, namespace: str, role: Role) -> bool:
        """Whether the principal holds ``role`` (or a stronger one) in ``namespace``."""
        held = self.role_in(namespace)
        return held is not None and ROLE_RANK[held] >= ROLE_RANK[role]

    def require(self, namespace: str, role: Role) -> None:
        """Raise 401 for an anonymous caller, 403 for one without ``role`` in ``namespace``."""
        if self.can(namespace, role):
            return
        if not self.authenticated:
            raise Unauthenticated("a bearer token is required (Authorization: Bearer <token>)")
        raise Forbidden(f"{self.name} needs the {role.value} role in namespace {namespace!r}")


def anonymous(read_allowed: bool) -> Principal:
    """The caller without a token: a viewer everywhere when anonymous reads are allowed."""
    return Principal(ANONYMOUS, {ALL_NAMESPACES: Role.VIEWER} if read_allowed else {}, authenticated=False)
