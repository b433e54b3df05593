"""Which ModelVersions an InferenceService serves: its reference (or a model's alias, or ``spec.traffic``)
resolved against the ModelVersions the reconciler read. Pure.

Only a Ready ModelVersion with a verified artifact can be served. A reference that does not resolve yet
(missing, not Ready, nobody holds the alias) is a :class:`Resolution` with a reason and no versions: the
reconciler then changes no Deployment, so whatever version was served keeps serving.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from modelplane.apis.v1alpha1 import InferenceService, ModelVersion
from modelplane.apis.v1alpha1.common import SecretKeySelector
from modelplane.apis.v1alpha1.conditions import ConditionStatus, find_condition
from modelplane.operator.inference import reasons


@dataclass(frozen=True)
class ServedVersion:
    """One ModelVersion to serve and where its artifact is."""

    model_version: str
    """The ModelVersion's name."""
    model_name: str
    """The registered model: the ``{model}`` of the v2 URLs."""
    version: str
    """The ``{version}`` of the v2 URLs: the registered version number, else the ModelVersion's name."""
    registered_version: int | None
    uri: str
    sha256: str
    weight: int = 100
    optimized: bool = False
    s3_endpoint: str | None = None
    access_key_id_ref: SecretKeySelector | None = None
    secret_access_key_ref: SecretKeySelector | None = None


@dataclass(frozen=True)
class Resolution:
    """The versions to serve, or why there are none yet."""

    versions: tuple[ServedVersion, ...] = ()
    reason: str = reasons.RESOLVED
    message: str = ""

    @property
    def resolved(self) -> bool:
        return self.reason == reasons.RESOLVED and bool(self.versions)


def is_servable(version: ModelVersion) -> bool:
    """Ready, with a verified artifact."""
    status = version.status
    if status is None or status.artifact is None:
        return False
    ready = find_condition(status.conditions, reasons.READY)
    return ready is not None and ready.status is ConditionStatus.TRUE


def _not_ready(version: ModelVersion) -> Resolution:
    name = version.metadata.name
    ready = find_condition(version.status.conditions, reasons.READY) if version.status else None
    if ready is not None and ready.status is not ConditionStatus.TRUE:
        why = f" ({ready.reason}: {ready.message})" if ready.message else f" ({ready.reason})"
    elif ready is not None:
        why = " (no verified artifact in its status)"
    else:
        why = " (not validated yet)"
    return Resolution(reason=reasons.MODEL_VERSION_NOT_READY, message=f"ModelVersion {name} is not Ready{why}.")


def served_version(service: InferenceService, version: ModelVersion, weight: int) -> ServedVersion:
    """The artifact of a servable version (the optimized one when asked for and present)."""
    status = version.status
    assert status is not None
    assert status.artifact is not None
    artifact = status.artifact
    optimized = service.spec.runtime.use_optimized_artifact and status.optimized_artifact is not None
    if optimized:
        assert status.optimized_artifact is not None
        uri, sha256 = status.optimized_artifact.uri, status.optimized_artifact.sha256
    else:
        uri, sha256 = artifact.uri, artifact.sha256
    external = version.spec.source.external
    from_external = external is not None and external.uri == uri
    registered = status.registered_version
    return ServedVersion(
        model_version=version.metadata.name,
        model_name=version.spec.model_name,
        version=str(registered) if registered is not None else version.metadata.name,
        registered_version=registered,
        uri=uri,
        sha256=sha256,
        weight=weight,
        optimized=optimized,
        s3_endpoint=external.endpoint if external is not None and from_external else None,
        access_key_id_ref=external.access_key_id_ref if external is not None and from_external else None,
        secret_access_key_ref=external.secret_access_key_ref if external is not None and from_external else None,
    )


def _by_name(service: InferenceService, name: str, found: Mapping[str, ModelVersion], weight: int) -> Resolution:
    version = found.get(name)
    if version is None:
        return Resolution(reason=reasons.MODEL_VERSION_NOT_FOUND, message=f"ModelVersion {name} does not exist.")
    if not is_servable(version):
        return _not_ready(version)
    return Resolution(versions=(served_version(service, version, weight),))


def _alias_holder(model: str, alias: str, found: Mapping[str, ModelVersion]) -> ModelVersion | None:
    """The version holding the alias: a servable one first, then the highest registered version, then by name."""
    holders = [
        v for v in found.values() if v.spec.model_name == model and v.status is not None and alias in v.status.aliases
    ]
    if not holders:
        return None
    return min(
        holders,
        key=lambda v: (
            not is_servable(v),
            -((v.status.registered_version or 0) if v.status else 0),
            v.metadata.name,
        ),
    )


def resolve(service: InferenceService, found: Mapping[str, ModelVersion]) -> Resolution:
    """The versions ``service`` serves, from the ModelVersions ``found`` by name (those it names, or every
    ModelVersion of the namespace for a ``modelRef``)."""
    spec = service.spec
    if spec.traffic:
        versions: list[ServedVersion] = []
        for target in spec.traffic:
            one = _by_name(service, target.model_version, found, target.weight)
            if not one.resolved:
                return one
            versions.extend(one.versions)
        models = sorted({v.model_name for v in versions})
        if len(models) > 1:
            message = f"spec.traffic names versions of several models ({', '.join(models)}); one model per service."
            return Resolution(reason=reasons.MODEL_NAMES_DIFFER, message=message)
        return Resolution(versions=tuple(versions))
    if spec.model_version_ref is not None:
        return _by_name(service, spec.model_version_ref.name, found, 100)
    if spec.model_ref is not None:
        ref = spec.model_ref
        holder = _alias_holder(ref.name, ref.alias, found)
        if holder is None:
            message = f"No ModelVersion of model {ref.name} holds the alias {ref.alias}."
            return Resolution(reason=reasons.ALIAS_NOT_FOUND, message=message)
        if not is_servable(holder):
            return _not_ready(holder)
        return Resolution(versions=(served_version(service, holder, 100),))
    return Resolution(reason=reasons.INVALID_SPEC, message="Set spec.modelVersionRef or spec.modelRef.")


def needed_names(service: InferenceService) -> tuple[str, ...] | None:
    """The ModelVersions the reconciler must read by name; None when it must list the namespace (an alias)."""
    spec = service.spec
    if spec.traffic:
        return tuple(t.model_version for t in spec.traffic)
    if spec.model_version_ref is not None:
        return (spec.model_version_ref.name,)
    if spec.model_ref is not None:
        return None
    return ()
