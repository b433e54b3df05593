"""HTTP routes of the model registry: thin, typed; the service does the work."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from modelplane.api.deps import Caller, Session
from modelplane.api.namespaces import Namespace
from modelplane.api.pagination import Page, PageParams, page_params
from modelplane.api.registry import service
from modelplane.api.registry.schemas import (
    AliasOut,
    AliasSet,
    ModelCreate,
    ModelOut,
    ModelVersionCreate,
    ModelVersionOut,
    TagOut,
    TagSet,
)
from modelplane.apis.v1alpha1.common import DNS_LABEL_PATTERN

router = APIRouter(prefix="/api/v1", tags=["registry"])
ModelPath = Annotated[str, Path(min_length=1, max_length=63, pattern=DNS_LABEL_PATTERN, description="Model name.")]
VersionPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="Version number.")]
AliasPath = Annotated[
    str, Path(min_length=1, max_length=63, pattern=DNS_LABEL_PATTERN, description="Alias (a DNS label).")
]
TagKeyPath = Annotated[str, Path(min_length=1, max_length=250, pattern=r"^[\w\-.:]+$", description="Tag name.")]
Paging = Annotated[PageParams, Depends(page_params)]
MODEL = "/namespaces/{namespace}/models/{name}"


@router.post("/namespaces/{namespace}/models", status_code=status.HTTP_201_CREATED, response_model=ModelOut)
async def create_model(
    namespace: Namespace, body: ModelCreate, session: Session, caller: Caller, response: Response
) -> ModelOut:
    """Create a model; creating it again returns it unchanged (200)."""
    model, created = await service.create_model(session, caller, namespace, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return model


@router.get("/namespaces/{namespace}/models", response_model=Page[ModelOut])
async def list_models(namespace: Namespace, session: Session, caller: Caller, page: Paging) -> Page[ModelOut]:
    """The models of the namespace by name."""
    return await service.list_models(session, caller, namespace, page)


@router.get(MODEL, response_model=ModelOut)
async def get_model(namespace: Namespace, name: ModelPath, session: Session, caller: Caller) -> ModelOut:
    """A model with its latest version and aliases."""
    return await service.get_model(session, caller, namespace, name)


@router.post(f"{MODEL}/versions", status_code=status.HTTP_201_CREATED, response_model=ModelVersionOut)
async def create_version(
    namespace: Namespace,
    name: ModelPath,
    body: ModelVersionCreate,
    session: Session,
    caller: Caller,
    response: Response,
) -> ModelVersionOut:
    """Register a version (and the model, if new); registering its sha256 again returns it (200)."""
    version, created = await service.create_version(session, caller, namespace, name, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return version


@router.get(f"{MODEL}/versions", response_model=Page[ModelVersionOut])
async def list_versions(
    namespace: Namespace, name: ModelPath, session: Session, caller: Caller, page: Paging
) -> Page[ModelVersionOut]:
    """The versions of a model, newest first."""
    return await service.list_versions(session, caller, namespace, name, page)


@router.get(f"{MODEL}/versions/{{version}}", response_model=ModelVersionOut)
async def get_version(
    namespace: Namespace, name: ModelPath, version: VersionPath, session: Session, caller: Caller
) -> ModelVersionOut:
    """One version with its tags and aliases."""
    return await service.get_version(session, caller, namespace, name, version)


@router.put(f"{MODEL}/aliases/{{alias}}", response_model=AliasOut)
async def set_alias(
    namespace: Namespace, name: ModelPath, alias: AliasPath, body: AliasSet, session: Session, caller: Caller
) -> AliasOut:
    """Point an alias at a version (needs editor); it moves atomically and always has one target."""
    return await service.set_alias(session, caller, namespace, name, alias, body)


@router.get(f"{MODEL}/aliases/{{alias}}", response_model=ModelVersionOut)
async def get_alias(
    namespace: Namespace, name: ModelPath, alias: AliasPath, session: Session, caller: Caller
) -> ModelVersionOut:
    """The version an alias points at."""
    return await service.get_alias(session, caller, namespace, name, alias)


@router.delete(f"{MODEL}/aliases/{{alias}}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_alias(
    namespace: Namespace, name: ModelPath, alias: AliasPath, session: Session, caller: Caller
) -> None:
    """Remove an alias."""
    await service.delete_alias(session, caller, namespace, name, alias)


@router.put(f"{MODEL}/versions/{{version}}/tags/{{key}}", response_model=TagOut)
async def set_tag(
    namespace: Namespace,
    name: ModelPath,
    version: VersionPath,
    key: TagKeyPath,
    body: TagSet,
    session: Session,
    caller: Caller,
) -> TagOut:
    """Set a tag of a version."""
    return await service.set_tag(session, caller, namespace, name, version, key, body)


@router.delete(f"{MODEL}/versions/{{version}}/tags/{{key}}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_tag(
    namespace: Namespace, name: ModelPath, version: VersionPath, key: TagKeyPath, session: Session, caller: Caller
) -> None:
    """Remove a tag of a version."""
    await service.delete_tag(session, caller, namespace, name, version, key)
