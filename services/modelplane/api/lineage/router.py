"""HTTP route of lineage: thin, typed; the service walks the graph."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from modelplane.api.deps import Caller, Session
from modelplane.api.lineage import service
from modelplane.api.lineage.schemas import Direction, LineageGraph
from modelplane.api.namespaces import Namespace

router = APIRouter(prefix="/api/v1", tags=["lineage"])
MAX_NODES = 1000


@router.get("/namespaces/{namespace}/lineage", response_model=LineageGraph)
async def lineage(
    namespace: Namespace,
    session: Session,
    caller: Caller,
    node: Annotated[
        str,
        Query(
            min_length=1,
            max_length=200,
            description="dataset:sha256:<64 hex>, run:<run id>, model:<name>:<version> or deployment:<id>.",
        ),
    ],
    direction: Annotated[Direction, Query(description="upstream, downstream, or both.")] = Direction.BOTH,
    max_nodes: Annotated[int, Query(ge=1, le=MAX_NODES, description="Most nodes to return.")] = MAX_NODES,
) -> LineageGraph:
    """Where a node came from and what was made of it: datasets, runs, model versions, deployments."""
    return await service.lineage(session, caller, namespace, node, direction, max_nodes)
