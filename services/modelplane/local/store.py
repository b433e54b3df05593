"""The local object store: Kubernetes objects in one SQLite file, with the API server's bookkeeping.

Where it sits: under :mod:`.apiserver` (the HTTP face the operator's Kubernetes client talks to) and the
CLI (``apply``/``get``/``delete`` write and read it directly, from another process: SQLite in WAL mode
with a busy timeout makes that safe). It does what the API server does for the operator and nothing
more: uids, ``creationTimestamp``, ``generation`` (bumped when ``spec`` changes), ``resourceVersion``,
the ``status`` subresource, label selectors, finalizers (a delete only marks ``deletionTimestamp``
while any remain) and garbage collection of dependents through their owner references.

Every write appends to a change log; the daemon polls :meth:`ObjectStore.changes_since` to learn which
objects to reconcile, the way a controller's watch would tell it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import sqlite3
import threading
import uuid
from builtins import list as List  # noqa: N812 - ObjectStore.list shadows the builtin in annotations
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    api_version TEXT NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    uid TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, namespace, name));
CREATE INDEX IF NOT EXISTS objects_uid ON objects (uid);
CREATE TABLE IF NOT EXISTS changes (
    revision INTEGER PRIMARY KEY AUTOINCREMENT, api_version TEXT NOT NULL, kind TEXT NOT NULL,
    namespace TEXT NOT NULL, name TEXT NOT NULL, deleted INTEGER NOT NULL);
"""


class StoreError(Exception):
    """A request the store refuses; ``code`` is the HTTP status the API server would answer."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Change:
    """One write: which object, and whether it is gone."""

    revision: int
    api_version: str
    kind: str
    namespace: str
    name: str
    deleted: bool


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


_REQUIREMENT = re.compile(
    r"^\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9_./-]+)\s*"
    r"(?:(?P<op>==|!=|=)\s*(?P<value>[A-Za-z0-9_.-]*)|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?\s*$"
)


def _split_selector(selector: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return parts


def parse_selector(selector: str | None) -> list[re.Match[str]]:
    """The requirements of a label selector; :class:`StoreError` (400) when one is malformed."""
    requirements = []
    for requirement in _split_selector(selector or ""):
        found = _REQUIREMENT.match(requirement)
        if found is None:
            raise StoreError(400, "BadRequest", f"unable to parse requirement: {requirement.strip()!r}")
        requirements.append(found)
    return requirements


def _satisfies(labels: Mapping[str, str], found: re.Match[str]) -> bool:
    key = found["key"]
    if found["neg"]:
        return key not in labels
    if found["op"] in ("=", "=="):
        return labels.get(key) == found["value"]
    if found["op"] == "!=":
        return labels.get(key) != found["value"]
    if found["setop"]:
        values = {v.strip() for v in found["values"].split(",") if v.strip()}
        return labels.get(key) in values if found["setop"] == "in" else labels.get(key) not in values
    return key in labels


def matches_selector(labels: Mapping[str, str], selector: str | None) -> bool:
    """Whether ``labels`` satisfy a Kubernetes label selector string (equality and set-based)."""
    return all(_satisfies(labels, found) for found in parse_selector(selector))


class ObjectStore:
    """Objects by (kind, namespace, name); cluster-scoped objects use the namespace ``""``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connection().executescript(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # --- reads -----------------------------------------------------------------------------------------

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        row = (
            self._connection()
            .execute("SELECT body FROM objects WHERE kind=? AND namespace=? AND name=?", (kind, namespace, name))
            .fetchone()
        )
        return json.loads(row[0]) if row else None

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None) -> list[dict[str, Any]]:
        """Objects of a kind (in one namespace, or all with None), in namespace/name order."""
        if namespace is None:
            rows = self._connection().execute("SELECT body FROM objects WHERE kind=? ORDER BY namespace, name", (kind,))
        else:
            rows = self._connection().execute(
                "SELECT body FROM objects WHERE kind=? AND namespace=? ORDER BY name", (kind, namespace)
            )
        requirements = parse_selector(label_selector)  # a malformed selector is a 400 even when nothing matches
        items = [json.loads(row[0]) for row in rows]
        return [
            o for o in items if all(_satisfies((o.get("metadata") or {}).get("labels") or {}, r) for r in requirements)
        ]

    def kinds(self) -> List[str]:
        return [row[0] for row in self._connection().execute("SELECT DISTINCT kind FROM objects ORDER BY kind")]

    def revision(self) -> int:
        row = self._connection().execute("SELECT max(revision) FROM changes").fetchone()
        return int(row[0] or 0)

    def changes_since(self, revision: int) -> List[Change]:
        rows = self._connection().execute(
            "SELECT revision, api_version, kind, namespace, name, deleted FROM changes WHERE revision > ? "
            "ORDER BY revision",
            (revision,),
        )
        return [Change(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]

    # --- writes ----------------------------------------------------------------------------------------

    def _write(self, db: sqlite3.Connection, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        namespace = meta.get("namespace") or ""
        cursor = db.execute(
            "INSERT INTO changes (api_version, kind, namespace, name, deleted) VALUES (?, ?, ?, ?, 0)",
            (obj["apiVersion"], obj["kind"], namespace, meta["name"]),
        )
        meta["resourceVersion"] = str(cursor.lastrowid)
        db.execute(
            "INSERT OR REPLACE INTO objects (api_version, kind, namespace, name, uid, body) VALUES (?, ?, ?, ?, ?, ?)",
            (obj["apiVersion"], obj["kind"], namespace, meta["name"], meta["uid"], json.dumps(obj)),
        )
        return obj

    def _remove(self, db: sqlite3.Connection, obj: Mapping[str, Any]) -> None:
        meta = obj["metadata"]
        namespace = meta.get("namespace") or ""
        db.execute(
            "DELETE FROM objects WHERE kind=? AND namespace=? AND name=?", (obj["kind"], namespace, meta["name"])
        )
        db.execute(
            "INSERT INTO changes (api_version, kind, namespace, name, deleted) VALUES (?, ?, ?, ?, 1)",
            (obj["apiVersion"], obj["kind"], namespace, meta["name"]),
        )
        self._collect_dependents(db, str(meta.get("uid") or ""))

    def _collect_dependents(self, db: sqlite3.Connection, uid: str) -> None:
        """Garbage collection: delete every object owned by ``uid`` (background propagation)."""
        if not uid:
            return
        rows = db.execute("SELECT body FROM objects WHERE body LIKE ?", (f'%"uid": "{uid}"%',)).fetchall()
        for (raw,) in rows:
            dependent = json.loads(raw)
            owners = (dependent.get("metadata") or {}).get("ownerReferences") or []
            if any(owner.get("uid") == uid for owner in owners):
                self._delete_in(db, dependent)

    def _read(self, db: sqlite3.Connection, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        row = db.execute(
            "SELECT body FROM objects WHERE kind=? AND namespace=? AND name=?", (kind, namespace, name)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Create ``obj``; 409 AlreadyExists when it does."""
        with self._connect() as db:
            meta = obj.get("metadata") or {}
            if self._read(db, str(obj["kind"]), meta.get("namespace") or "", meta["name"]) is not None:
                raise StoreError(409, "AlreadyExists", f'{obj["kind"]} "{meta["name"]}" already exists')
            return self._write(db, self._new(obj))

    def _new(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        body = copy.deepcopy(dict(obj))
        meta = body.setdefault("metadata", {})
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_iso()
        meta.pop("deletionTimestamp", None)
        meta.pop("resourceVersion", None)
        if "spec" in body:
            meta["generation"] = 1
        return body

    def apply(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Create or update like ``kubectl apply`` / a forced server-side apply of a whole object.

        ``spec`` (and any other top-level field but ``status``) is replaced when given, kept when absent;
        labels and annotations are merged; owner references and finalizers are replaced when given.
        ``generation`` moves when ``spec`` changes. ``status`` is only written through :meth:`apply_status`.
        """
        with self._connect() as db:
            meta = obj.get("metadata") or {}
            namespace = meta.get("namespace") or ""
            current = self._read(db, str(obj["kind"]), namespace, meta["name"])
            if current is None:
                fresh = self._new(obj)
                fresh.pop("status", None)
                return self._write(db, fresh)
            updated = copy.deepcopy(current)
            for key, value in obj.items():
                if key not in ("metadata", "status", "apiVersion", "kind"):
                    updated[key] = copy.deepcopy(value)
            target = updated["metadata"]
            for key in ("labels", "annotations"):
                if meta.get(key):
                    target[key] = {**(target.get(key) or {}), **meta[key]}
            for key in ("ownerReferences", "finalizers"):
                if key in meta:
                    target[key] = copy.deepcopy(meta[key])
            if "spec" in obj and obj.get("spec") != current.get("spec"):
                target["generation"] = int(target.get("generation") or 0) + 1
            return self._settle(db, updated)

    def _settle(self, db: sqlite3.Connection, obj: dict[str, Any]) -> dict[str, Any]:
        """Write ``obj``, or remove it when it is being deleted and its last finalizer is gone."""
        meta = obj["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._remove(db, obj)
            return obj
        return self._write(db, obj)

    def apply_status(self, kind: str, namespace: str, name: str, status: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the status subresource."""
        with self._connect() as db:
            current = self._read(db, kind, namespace, name)
            if current is None:
                raise StoreError(404, "NotFound", f'{kind} "{name}" not found')
            current["status"] = copy.deepcopy(dict(status))
            return self._write(db, current)

    def patch(
        self, kind: str, namespace: str, name: str, patch: Mapping[str, Any], *, subresource: str | None = None
    ) -> dict[str, Any]:
        """A JSON merge patch of the object (or of its status only); a ``metadata.resourceVersion`` in the patch
        is a precondition (409 Conflict when the object changed since), as on the API server."""
        with self._connect() as db:
            current = self._read(db, kind, namespace, name)
            if current is None:
                raise StoreError(404, "NotFound", f'{kind} "{name}" not found')
            expected = (patch.get("metadata") or {}).get("resourceVersion")
            if expected is not None and str(expected) != current["metadata"].get("resourceVersion"):
                raise StoreError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {kind} "{name}": the object has been modified; '
                    "please apply your changes to the latest version and try again",
                )
            if subresource == "status":
                patched = dict(current)
                patched["status"] = merge_patch(current.get("status") or {}, patch.get("status") or {})
            else:
                patched = merge_patch(current, {k: v for k, v in patch.items() if k != "status"})
                patched["metadata"] = {**patched["metadata"], "uid": current["metadata"]["uid"]}
                if patched.get("spec") != current.get("spec"):
                    patched["metadata"]["generation"] = int(current["metadata"].get("generation") or 0) + 1
            return self._settle(db, patched)

    def delete(self, kind: str, namespace: str, name: str) -> bool:
        """Delete (or mark for deletion while finalizers remain); False when it did not exist."""
        with self._connect() as db:
            current = self._read(db, kind, namespace, name)
            if current is None:
                return False
            self._delete_in(db, current)
            return True

    def _delete_in(self, db: sqlite3.Connection, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        if meta.get("finalizers"):
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = now_iso()
                self._write(db, obj)
            return
        self._remove(db, obj)
