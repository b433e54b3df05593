"""Response bodies of the lineage API: a graph of nodes and directed edges.

Node ids have the syntax of the ``node`` query parameter (``dataset:sha256:...``, ``run:<run id>``,
``model:<name>:<version>``, ``deployment:<id>``), so any node of an answer can be asked about next.
Edges point downstream, from what was used to what was made of it; ``relation`` reads from the target:
the target was ``derived_from``, ``trained_on``, ``trial_of``, ``produced_by`` the source, or
``serves`` it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class NodeType(StrEnum):
    DATASET = "dataset"
    RUN = "run"
    MODEL = "model"
    DEPLOYMENT = "deployment"


class Relation(StrEnum):
    DERIVED_FROM = "derived_from"
    """A dataset version derived from a parent version."""
    TRAINED_ON = "trained_on"
    """A run, or a model version, trained on a dataset version."""
    TRIAL_OF = "trial_of"
    """A run that is a trial of a sweep's parent run."""
    PRODUCED_BY = "produced_by"
    """A model version produced by a run."""
    SERVES = "serves"
    """A deployment that serves a model version."""


class Direction(StrEnum):
    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"
    BOTH = "both"


class LineageNode(BaseModel):
    id: str = Field(description="Node id, usable as the node query parameter.")
    type: NodeType
    label: str = Field(description="Short human-readable name.")
    attributes: dict[str, Any] = Field(description="Type-specific details.")


class LineageEdge(BaseModel):
    source: str = Field(description="Upstream node id.")
    target: str = Field(description="Downstream node id.")
    relation: Relation


class LineageGraph(BaseModel):
    root: str = Field(description="The node asked about.")
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    truncated: bool = Field(description="True when the graph had more nodes than max_nodes; some are left out.")
