"""A CustomResourceDefinition (``apiextensions.k8s.io/v1``) for each kind.

Pure: from a :class:`~modelplane.apis.v1alpha1.base.CustomResource` class to the CRD dict; the writer and
the validators call it, nothing here touches files or the API server.
"""

from __future__ import annotations

from typing import Any

from modelplane.apis.v1alpha1 import KINDS
from modelplane.apis.v1alpha1.base import CustomResource
from modelplane.crd.structural import to_structural

API_VERSION_DOC = (
    "APIVersion defines the versioned schema of this representation of an object. Servers should "
    "convert recognized schemas to the latest internal value, and may reject unrecognized values."
)
KIND_DOC = (
    "Kind is a string value representing the REST resource this object represents. Servers may infer "
    "this from the endpoint the client submits requests to. In CamelCase."
)
LABELS = {"app.kubernetes.io/name": "modelplane", "app.kubernetes.io/part-of": "modelplane"}


def build_openapi_schema(kind: type[CustomResource]) -> dict[str, Any]:
    """The ``openAPIV3Schema`` of one kind: apiVersion, kind, metadata, and the structural spec and status."""
    pydantic_schema = kind.model_json_schema(by_alias=True, mode="validation")
    defs = pydantic_schema.get("$defs", {})
    properties = pydantic_schema["properties"]
    schema: dict[str, Any] = {
        "description": kind.__doc__ or kind.kind_info.kind,
        "type": "object",
        "properties": {
            "apiVersion": {"description": API_VERSION_DOC, "type": "string"},
            "kind": {"description": KIND_DOC, "type": "string"},
            "metadata": {"type": "object"},
            "spec": to_structural(properties["spec"], defs),
            "status": to_structural(properties["status"], defs),
        },
        "required": ["spec"],
    }
    if kind.root_validations:
        schema["x-kubernetes-validations"] = list(kind.root_validations)
    return schema


def build_crd(kind: type[CustomResource]) -> dict[str, Any]:
    """The CRD of one kind, with status subresource, printer columns, short names and category."""
    info = kind.kind_info
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": info.crd_name, "labels": dict(LABELS)},
        "spec": {
            "group": info.group,
            "names": {
                "kind": info.kind,
                "listKind": info.list_kind_name,
                "plural": info.plural,
                "singular": info.singular,
                "shortNames": list(info.short_names),
                "categories": list(info.categories),
            },
            "scope": info.scope,
            "versions": [
                {
                    "name": info.version,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [column.to_crd() for column in info.printer_columns],
                    "schema": {"openAPIV3Schema": build_openapi_schema(kind)},
                }
            ],
        },
    }


def build_all_crds() -> list[dict[str, Any]]:
    """The CRDs of every kind, in lifecycle order."""
    return [build_crd(kind) for kind in KINDS]


def crd_file_name(crd: dict[str, Any]) -> str:
    """``modelplane.io_<plural>.yaml``, the file name under ``crds/``."""
    return f"{crd['spec']['group']}_{crd['spec']['names']['plural']}.yaml"
