"""Resolved principals by token hash, reused for a few seconds so that a request costs no token query.

Where it sits: :func:`modelplane.api.auth.tokens.resolve_token` reads and fills it; the auth routes call
:meth:`PrincipalCache.invalidate` after they commit a change to tokens or role bindings; one instance per
process lives in :class:`modelplane.api.state.AppState`. So a revoked token, a new or removed role binding
takes effect at once in the process that made the change, and within ``ttl_seconds`` in the others
(other uvicorn workers, other replicas). A token's own expiry is checked on every hit.

Only successful resolutions are kept (a new token has a new hash, so nothing negative needs keeping). An
entry is stored only if no invalidation happened since its lookup began (the generation check), so a
lookup that raced a revocation cannot put the old principal back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from modelplane.api.auth.principal import Principal

DEFAULT_TTL_SECONDS = 5.0
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    token_expires_at: datetime | None
    fresh_until: float


class PrincipalCache:
    """Principals by token hash for ``ttl_seconds`` (0 turns the cache off); at most ``max_entries``."""

    def __init__(
        self,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[str, _Entry] = {}
        self.generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token_hash: str, now: datetime) -> Principal | None:
        """The cached principal of a token, unless stale or the token has expired by ``now``."""
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if self._clock() >= entry.fresh_until or (entry.token_expires_at is not None and entry.token_expires_at <= now):
            self._entries.pop(token_hash, None)
            return None
        return entry.principal

    def put(self, token_hash: str, principal: Principal, token_expires_at: datetime | None, generation: int) -> None:
        """Keep a principal resolved by a lookup that began at ``generation`` (ignored if one was invalidated
        since, or if the cache is off)."""
        if self.ttl_seconds <= 0 or generation != self.generation:
            return
        now = self._clock()
        if len(self._entries) >= self._max_entries:
            self._entries = {k: e for k, e in self._entries.items() if e.fresh_until > now}
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
        self._entries[token_hash] = _Entry(principal, token_expires_at, now + self.ttl_seconds)

    def invalidate(self) -> None:
        """Forget every principal: tokens or role bindings changed."""
        self.generation += 1
        self._entries.clear()
