"""The lineage of any node: where it came from (upstream) and what was made of it (downstream).

The graph is dataset version → runs (``runs.dataset_digest``) → model versions (``model_versions.run_id``,
and ``model_versions.dataset_digest`` directly) → deployments, plus dataset versions derived from
others and sweep trials under their parent run. A walk goes breadth first, one batch of queries per
level and direction, and stops at ``max_nodes`` (the answer then says ``truncated``). ``both`` is the
upstream walk and the downstream walk from the node, not every node connected to it: a deployment's
lineage shows its model's dataset, not every other model trained on that dataset.

A dataset node stands for a digest: the same bytes registered under two dataset names are one node,
and a digest that runs name but nobody registered still appears (``registered: false``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from modelplane.api.auth.models import Role
from modelplane.api.auth.principal import Principal
from modelplane.api.datasets.models import DatasetVersion
from modelplane.api.errors import InvalidRequest, NotFound
from modelplane.api.lineage import repository as repo
from modelplane.api.lineage.schemas import Direction, LineageEdge, LineageGraph, LineageNode, NodeType, Relation
from modelplane.api.runs.models import Run

Key = tuple[NodeType, Any]
"""A node inside the walk: (dataset, digest) or (run | model | deployment, primary key)."""
Edge = tuple[Key, Key, Relation]
"""(upstream node, downstream node, relation)."""

NODE_SYNTAX = "node must be dataset:sha256:<64 hex>, run:<32 hex run id>, model:<name>:<version> or deployment:<id>"
_NODE_PATTERNS = {
    NodeType.DATASET: re.compile(r"dataset:(sha256:[a-f0-9]{64})"),
    NodeType.RUN: re.compile(r"run:([0-9a-f]{32})"),
    NodeType.MODEL: re.compile(r"model:([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?):([0-9]{1,12})"),
    NodeType.DEPLOYMENT: re.compile(r"deployment:([0-9]{1,20})"),
}
MAX_VERSION = 2**31 - 1
MAX_ID = 2**63 - 1


def parse_node(node: str) -> tuple[NodeType, tuple[str, ...]]:
    """The type and the parts of a node id; 400 when it is not one."""
    for node_type, pattern in _NODE_PATTERNS.items():
        match = pattern.fullmatch(node)
        if match:
            return node_type, match.groups()
    raise InvalidRequest(f"{NODE_SYNTAX}; got {node!r}")


class _Walk:
    """The graph being discovered, with the rows read so far."""

    def __init__(self, session: AsyncSession, namespace: str, max_nodes: int) -> None:
        self.session, self.namespace, self.max_nodes = session, namespace, max_nodes
        self.limit = max_nodes + 1
        self.nodes: dict[Key, LineageNode] = {}
        self.edges: set[Edge] = set()
        self.truncated = False
        self.runs: dict[int, Run] = {}
        self.versions: dict[int, repo.ModelVersionRef] = {}
        self.deployments: dict[int, repo.DeploymentRef] = {}

    # --- the root ------------------------------------------------------------------------------------

    async def find(self, node_type: NodeType, parts: tuple[str, ...]) -> Key:
        """The key of the node asked about; 404 when the namespace has no such node."""
        session, namespace = self.session, self.namespace
        if node_type is NodeType.DATASET:
            digest = parts[0]
            if not await repo.datasets(session, namespace, [digest]) and not await repo.digest_is_used(
                session, namespace, digest
            ):
                raise NotFound(f"dataset version {digest} not found in namespace {namespace!r}")
            return node_type, digest
        if node_type is NodeType.RUN:
            run = await repo.run_by_run_id(session, namespace, parts[0])
            if run is None:
                raise NotFound(f"run {parts[0]} not found in namespace {namespace!r}")
            self.runs[run.id] = run
            return node_type, run.id
        if node_type is NodeType.MODEL:
            name, number = parts[0], int(parts[1])
            ref = (
                await repo.model_version_by_number(session, namespace, name, number) if number <= MAX_VERSION else None
            )
            if ref is None:
                raise NotFound(f"model {name!r} has no version {number} in namespace {namespace!r}")
            self.versions[ref[0].id] = ref
            return node_type, ref[0].id
        deployment_id = int(parts[0])
        found = await repo.deployments(session, namespace, [deployment_id]) if deployment_id <= MAX_ID else []
        if not found:
            raise NotFound(f"deployment {deployment_id} not found in namespace {namespace!r}")
        self.deployments[deployment_id] = found[0]
        return node_type, deployment_id

    # --- walking ---------------------------------------------------------------------------------------

    async def walk(self, root: Key, *, upstream: bool) -> None:
        """Add everything upstream (or downstream) of ``root``, level by level, until max_nodes."""
        await self.admit([root])
        frontier, seen = [root], {root}
        while frontier:
            edges = await (self._up(frontier) if upstream else self._down(frontier))
            reached = [edge[0] if upstream else edge[1] for edge in edges]
            await self.admit([key for key in reached if self._known(key)])
            self.edges.update(edge for edge in edges if edge[0] in self.nodes and edge[1] in self.nodes)
            frontier = [key for key in dict.fromkeys(reached) if key in self.nodes and key not in seen]
            seen.update(frontier)

    def _known(self, key: Key) -> bool:
        """Whether the row of a node was read (a dataset digest needs none)."""
        node_type, value = key
        if node_type is NodeType.RUN:
            return value in self.runs
        if node_type is NodeType.MODEL:
            return value in self.versions
        return node_type is NodeType.DATASET or value in self.deployments

    def _full(self, rows: list[Any] | list[tuple[str, str]]) -> None:
        if len(rows) >= self.limit:
            self.truncated = True

    async def _up(self, frontier: list[Key]) -> list[Edge]:
        """Edges into the frontier from its sources."""
        digests, runs, versions, deployments = _split(frontier)
        edges: list[Edge] = []
        links = await repo.dataset_links(self.session, self.namespace, digests, parents=True, limit=self.limit)
        self._full(links)
        edges += [((NodeType.DATASET, up), (NodeType.DATASET, down), Relation.DERIVED_FROM) for up, down in links]
        for run in (self.runs[pk] for pk in runs):
            if run.dataset_digest is not None:
                edges.append(((NodeType.DATASET, run.dataset_digest), (NodeType.RUN, run.id), Relation.TRAINED_ON))
            if run.parent_id is not None:
                edges.append(((NodeType.RUN, run.parent_id), (NodeType.RUN, run.id), Relation.TRIAL_OF))
        for row, _ in (self.versions[pk] for pk in versions):
            if row.run_id is not None:
                edges.append(((NodeType.RUN, row.run_id), (NodeType.MODEL, row.id), Relation.PRODUCED_BY))
            if row.dataset_digest is not None:
                edges.append(((NodeType.DATASET, row.dataset_digest), (NodeType.MODEL, row.id), Relation.TRAINED_ON))
        for deployment, _, _ in (self.deployments[pk] for pk in deployments):
            edges.append(
                ((NodeType.MODEL, deployment.version_id), (NodeType.DEPLOYMENT, deployment.id), Relation.SERVES)
            )
        await self._read_runs({up[1] for up, _, _ in edges if up[0] is NodeType.RUN})
        await self._read_versions({up[1] for up, _, _ in edges if up[0] is NodeType.MODEL})
        return edges

    async def _down(self, frontier: list[Key]) -> list[Edge]:
        """Edges out of the frontier to what was made of it."""
        session, namespace, limit = self.session, self.namespace, self.limit
        digests, runs, versions, _ = _split(frontier)
        edges: list[Edge] = []
        links = await repo.dataset_links(session, namespace, digests, parents=False, limit=limit)
        self._full(links)
        edges += [((NodeType.DATASET, up), (NodeType.DATASET, down), Relation.DERIVED_FROM) for up, down in links]
        trained = await repo.runs_on_datasets(session, namespace, digests, limit)
        trials = await repo.child_runs(session, namespace, runs, limit)
        for found in (trained, trials):
            self._full(found)
            self.runs.update((run.id, run) for run in found)
        edges += [((NodeType.DATASET, r.dataset_digest), (NodeType.RUN, r.id), Relation.TRAINED_ON) for r in trained]
        edges += [((NodeType.RUN, r.parent_id), (NodeType.RUN, r.id), Relation.TRIAL_OF) for r in trials]
        direct = await repo.model_versions_on_datasets(session, namespace, digests, limit)
        produced = await repo.model_versions_of_runs(session, namespace, runs, limit)
        for found_versions in (direct, produced):
            self._full(found_versions)
            self.versions.update((row.id, (row, name)) for row, name in found_versions)
        edges += [
            ((NodeType.DATASET, row.dataset_digest), (NodeType.MODEL, row.id), Relation.TRAINED_ON) for row, _ in direct
        ]
        edges += [((NodeType.RUN, row.run_id), (NodeType.MODEL, row.id), Relation.PRODUCED_BY) for row, _ in produced]
        served = await repo.deployments_of_versions(session, namespace, versions, limit)
        self._full(served)
        self.deployments.update((ref[0].id, ref) for ref in served)
        edges += [((NodeType.MODEL, d.version_id), (NodeType.DEPLOYMENT, d.id), Relation.SERVES) for d, _, _ in served]
        return edges

    async def _read_runs(self, ids: set[int]) -> None:
        missing = ids - self.runs.keys()
        self.runs.update((run.id, run) for run in await repo.runs(self.session, self.namespace, missing))

    async def _read_versions(self, ids: set[int]) -> None:
        missing = ids - self.versions.keys()
        found = await repo.model_versions(self.session, self.namespace, missing)
        self.versions.update((row.id, (row, name)) for row, name in found)

    # --- nodes -----------------------------------------------------------------------------------------

    async def admit(self, keys: list[Key]) -> None:
        """Add the nodes of ``keys`` not in the graph yet, as long as there is room."""
        new: list[Key] = []
        for key in dict.fromkeys(keys):
            if key in self.nodes:
                continue
            if len(self.nodes) + len(new) >= self.max_nodes:
                self.truncated = True
                break
            new.append(key)
        digests = [value for node_type, value in new if node_type is NodeType.DATASET]
        registered: dict[str, list[DatasetVersion]] = defaultdict(list)
        for version in await repo.datasets(self.session, self.namespace, digests):
            registered[version.digest].append(version)
        for key in new:
            self.nodes[key] = self._node(key, registered)

    def _node(self, key: Key, registered: dict[str, list[DatasetVersion]]) -> LineageNode:
        node_type, value = key
        attributes: dict[str, Any]
        if node_type is NodeType.DATASET:
            return _dataset_node(value, registered.get(value, []))
        if node_type is NodeType.RUN:
            run = self.runs[value]
            attributes = {
                "run_id": run.run_id,
                "experiment": run.experiment,
                "name": run.name,
                "status": run.status.value,
                "start_time": run.start_time,
                "end_time": run.end_time,
                "dataset_digest": run.dataset_digest,
            }
            return LineageNode(id=f"run:{run.run_id}", type=node_type, label=run.name, attributes=attributes)
        if node_type is NodeType.MODEL:
            row, name = self.versions[value]
            attributes = {
                "model": name,
                "version": row.version,
                "sha256": row.sha256,
                "format": row.format,
                "artifact_uri": row.artifact_uri,
                "dataset_digest": row.dataset_digest,
                "created_at": row.created_at,
            }
            return LineageNode(
                id=f"model:{name}:{row.version}", type=node_type, label=f"{name} v{row.version}", attributes=attributes
            )
        deployment, model, version = self.deployments[value]
        attributes = {
            "service": deployment.service,
            "model": model,
            "version": version,
            "percent": deployment.traffic_percent,
            "started_at": deployment.started_at,
            "ended_at": deployment.ended_at,
            "active": deployment.ended_at is None,
        }
        label = f"{deployment.service} ({deployment.traffic_percent}%)"
        return LineageNode(id=f"deployment:{deployment.id}", type=node_type, label=label, attributes=attributes)

    def graph(self, root: Key) -> LineageGraph:
        edges = [
            LineageEdge(source=self.nodes[up].id, target=self.nodes[down].id, relation=relation)
            for up, down, relation in self.edges
        ]
        edges.sort(key=lambda edge: (edge.source, edge.target, edge.relation))
        return LineageGraph(
            root=self.nodes[root].id, nodes=list(self.nodes.values()), edges=edges, truncated=self.truncated
        )


def _split(frontier: list[Key]) -> tuple[list[str], list[int], list[int], list[int]]:
    """The frontier's dataset digests, run, model version and deployment keys."""
    by_type: dict[NodeType, list[Any]] = defaultdict(list)
    for node_type, value in frontier:
        by_type[node_type].append(value)
    return by_type[NodeType.DATASET], by_type[NodeType.RUN], by_type[NodeType.MODEL], by_type[NodeType.DEPLOYMENT]


def _dataset_node(digest: str, versions: list[DatasetVersion]) -> LineageNode:
    attributes: dict[str, Any] = {
        "digest": digest,
        "registered": bool(versions),
        "versions": [{"name": v.name, "version": v.version} for v in versions],
    }
    if versions:
        first = versions[0]
        attributes |= {"rows": first.rows, "columns": first.columns, "created_at": first.created_at}
        label = ", ".join(f"{v.name} v{v.version}" for v in versions)
    else:
        label = digest[:19]
    return LineageNode(id=f"dataset:{digest}", type=NodeType.DATASET, label=label, attributes=attributes)


async def lineage(
    session: AsyncSession, principal: Principal, namespace: str, node: str, direction: Direction, max_nodes: int
) -> LineageGraph:
    """The lineage graph of ``node`` in ``namespace``."""
    principal.require(namespace, Role.VIEWER)
    node_type, parts = parse_node(node)
    walk = _Walk(session, namespace, max_nodes)
    root = await walk.find(node_type, parts)
    if direction in (Direction.UPSTREAM, Direction.BOTH):
        await walk.walk(root, upstream=True)
    if direction in (Direction.DOWNSTREAM, Direction.BOTH):
        await walk.walk(root, upstream=False)
    return walk.graph(root)
