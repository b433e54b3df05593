"""Validate generated Kubernetes objects against the official schemas of a pinned Kubernetes minor.

Every builder test (Jobs, Deployments, Services, HPAs, PDBs, NetworkPolicies, RBAC, Helm output) calls
:func:`assert_valid_manifest` on what it built, so an object the API server of that version would reject
fails in the unit tier. ModelPlane's own kinds are checked against the generated CRD schemas instead
(kubernetes-validate has no schema for them), with the same defaults, CEL rules and messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import kubernetes_validate

from modelplane.apis.meta import GROUP
from modelplane.crd.validation import InvalidResourceError, validate_resource

KUBERNETES_VERSION = "1.34.0"
"""The Kubernetes minor ModelPlane targets; the cluster tier's kube-apiserver has the same minor."""


class InvalidManifestError(AssertionError):
    """A generated object that the pinned Kubernetes version would reject."""


def validate_manifest(obj: Mapping[str, Any], kubernetes_version: str = KUBERNETES_VERSION) -> None:
    """Raise :class:`InvalidManifestError` naming the object and the field when ``obj`` is invalid."""
    api_version = str(obj.get("apiVersion", ""))
    name = f"{obj.get('kind', '<no kind>')}/{(obj.get('metadata') or {}).get('name', '<no name>')}"
    if api_version.split("/", 1)[0] == GROUP:
        try:
            validate_resource(obj)
        except InvalidResourceError as error:
            raise InvalidManifestError(f"{name}: {error}") from error
        return
    try:
        kubernetes_validate.validate(dict(obj), kubernetes_version, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(p) for p in error.path) or "<root>"
        raise InvalidManifestError(f"{name}: {path}: {error.message}") from error
    except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as error:
        raise InvalidManifestError(
            f"{name}: no schema for {api_version} {obj.get('kind')} in {kubernetes_version}"
        ) from error


def assert_valid_manifests(objects: Iterable[Mapping[str, Any]], kubernetes_version: str = KUBERNETES_VERSION) -> None:
    """Validate every object; one error listing all invalid ones."""
    problems = []
    for obj in objects:
        try:
            validate_manifest(obj, kubernetes_version)
        except InvalidManifestError as error:
            problems.append(str(error))
    if problems:
        raise InvalidManifestError("\n".join(problems))


assert_valid_manifest = validate_manifest
