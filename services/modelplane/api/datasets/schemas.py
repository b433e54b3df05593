"""Request and response bodies of the datasets API (snake_case JSON).

A dataset version is what an ingest job produced: a content digest, the schema, counts, the split
artifacts and a profile. ``schema`` is ``data_schema`` in Python (pydantic reserves the name).

Bodies derive from :class:`~modelplane.api.schemas.RequestBody` (unknown fields and text the database
cannot store are a 422). Non-finite numbers in free-form JSON are found by :func:`non_finite` and
answered by the services with a 400: a 422 would have to echo the NaN, which JSON cannot carry.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from modelplane.api.schemas import RequestBody
from modelplane.apis.v1alpha1.common import DIGEST_PATTERN, DNS_SUBDOMAIN_PATTERN


def non_finite(value: Any) -> bool:
    """Whether a JSON document holds NaN or Infinity, which PostgreSQL's JSONB (and JSON itself) refuses."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


Text = Annotated[str, StringConstraints(max_length=4096)]
DatasetName = Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)]
Digest = Annotated[str, StringConstraints(min_length=71, max_length=71, pattern=DIGEST_PATTERN)]
Uri = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
SplitName = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][-_.A-Za-z0-9]*$")]
COUNT_MAX = 2**63 - 1
MAX_PARENTS = 100


class DatasetVersionCreate(RequestBody):
    """A version as the ingest job reports it. The digest identifies the content."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    digest: Digest = Field(description="Content digest, sha256:<64 hex>.")
    data_schema: dict[str, Any] = Field(default_factory=dict, alias="schema", description="Column names and types.")
    rows: int | None = Field(None, ge=0, le=COUNT_MAX, description="Number of rows.")
    columns: int | None = Field(None, ge=0, le=2**31 - 1, description="Number of columns.")
    source: dict[str, Any] = Field(default_factory=dict, description="Where the data came from (URI, query, ...).")
    artifacts: dict[SplitName, Uri] = Field(
        default_factory=dict, max_length=64, description="URI of each split, by split name (train, test, ...)."
    )
    profile_uri: Uri | None = Field(None, description="URI of the statistical profile (drift baseline).")
    parents: list[Digest] = Field(
        default_factory=list,
        max_length=MAX_PARENTS,
        description="Digests of the versions this one was derived from (any dataset of the namespace).",
    )


class DatasetVersionOut(BaseModel):
    """An immutable dataset version."""

    model_config = ConfigDict(populate_by_name=True)

    namespace: str
    name: str
    version: int = Field(description="1, 2, ... in order of registration.")
    digest: str
    data_schema: dict[str, Any] = Field(alias="schema")
    rows: int | None
    columns: int | None
    source: dict[str, Any]
    artifacts: dict[str, str]
    profile_uri: str | None
    parents: list[str] = Field(description="Digests of the parent versions.")
    created_at: datetime
    created_by: str


class DatasetSummary(BaseModel):
    """A dataset: its name, how many versions it has, and the latest one."""

    name: str
    versions: int
    latest: DatasetVersionOut
