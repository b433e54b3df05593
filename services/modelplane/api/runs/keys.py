"""Ids of metric keys, kept by the process: a key's id never changes and a key is never deleted.

Where it sits: the runs service asks :meth:`MetricKeyIds.resolve` for the ids of the keys of a log-batch
(creating the missing ones) or of a search (reading only); one instance per process lives in
:class:`modelplane.api.state.AppState`. Only ids read back as committed are kept: a key created by a
transaction that then rolls back must not be remembered.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from modelplane.api.runs import repository as repo

MAX_KEYS = 100_000


class MetricKeyIds:
    """Committed metric key ids by key (at most ``max_keys``; forgotten all at once beyond that)."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self._ids: dict[str, int] = {}
        self._max_keys = max_keys

    def __len__(self) -> int:
        return len(self._ids)

    async def resolve(self, session: AsyncSession, keys: Iterable[str], create: bool = True) -> dict[str, int]:
        """Ids of ``keys``; missing keys are created (``create``) or left out."""
        found, committed = await repo.metric_key_ids(session, keys, self._ids, create)
        if committed:
            if len(self._ids) + len(committed) > self._max_keys:
                self._ids.clear()
            self._ids.update(committed)
        return found
