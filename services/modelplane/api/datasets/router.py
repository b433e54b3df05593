"""HTTP routes of dataset versions: thin, typed; the service does the work."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from modelplane.api.datasets import service
from modelplane.api.datasets.schemas import DatasetSummary, DatasetVersionCreate, DatasetVersionOut
from modelplane.api.deps import Caller, Session
from modelplane.api.namespaces import Namespace
from modelplane.api.pagination import Page, PageParams, page_params
from modelplane.apis.v1alpha1.common import DNS_SUBDOMAIN_PATTERN

router = APIRouter(prefix="/api/v1", tags=["datasets"])
DatasetPath = Annotated[
    str, Path(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="Dataset name.")
]
VersionRefPath = Annotated[
    str,
    Path(
        max_length=71,
        pattern=r"^([0-9]{1,12}|sha256:[a-f0-9]{64})$",
        description="Version number (3) or content digest (sha256:<64 hex>).",
    ),
]
Paging = Annotated[PageParams, Depends(page_params)]


@router.post(
    "/namespaces/{namespace}/datasets/{name}/versions",
    status_code=status.HTTP_201_CREATED,
    response_model=DatasetVersionOut,
)
async def create_version(
    namespace: Namespace,
    name: DatasetPath,
    body: DatasetVersionCreate,
    session: Session,
    caller: Caller,
    response: Response,
) -> DatasetVersionOut:
    """Register a version; registering its digest again returns it (200), or 409 if the content differs."""
    version, created = await service.create_version(session, caller, namespace, name, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return version


@router.get("/namespaces/{namespace}/datasets", response_model=Page[DatasetSummary])
async def list_datasets(namespace: Namespace, session: Session, caller: Caller, page: Paging) -> Page[DatasetSummary]:
    """The datasets of the namespace by name, each with its latest version."""
    return await service.list_datasets(session, caller, namespace, page)


@router.get("/namespaces/{namespace}/datasets/{name}/versions", response_model=Page[DatasetVersionOut])
async def list_versions(
    namespace: Namespace, name: DatasetPath, session: Session, caller: Caller, page: Paging
) -> Page[DatasetVersionOut]:
    """The versions of a dataset, newest first."""
    return await service.list_versions(session, caller, namespace, name, page)


@router.get("/namespaces/{namespace}/datasets/{name}/versions/{ref}", response_model=DatasetVersionOut)
async def get_version(
    namespace: Namespace, name: DatasetPath, ref: VersionRefPath, session: Session, caller: Caller
) -> DatasetVersionOut:
    """One version, by number or by digest."""
    return await service.get_version(session, caller, namespace, name, ref)
