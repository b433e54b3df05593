"""Which ModelVersions an InferenceService serves: by name, by a model's alias, or by spec.traffic; and why not."""

from __future__ import annotations

from modelplane.operator.inference import reasons
from modelplane.operator.inference.resolution import needed_names, resolve


def test_a_ready_version_named_by_reference_is_served(make_service, make_version):
    service = make_service({"modelVersionRef": {"name": "credit-v4"}})
    resolution = resolve(service, {"credit-v4": make_version("credit-v4")})
    assert resolution.resolved
    (served,) = resolution.versions
    assert (served.model_version, served.model_name, served.version, served.weight) == (
        "credit-v4",
        "credit-default",
        "4",
        100,
    )
    assert needed_names(service) == ("credit-v4",)


def test_a_missing_or_unready_version_is_a_reason_to_wait(make_service, make_version):
    service = make_service({"modelVersionRef": {"name": "credit-v4"}})
    missing = resolve(service, {})
    unready = resolve(service, {"credit-v4": make_version("credit-v4", ready=False)})
    assert (missing.resolved, missing.reason) == (False, reasons.MODEL_VERSION_NOT_FOUND)
    assert (unready.resolved, unready.reason) == (False, reasons.MODEL_VERSION_NOT_READY)
    assert unready.message == "ModelVersion credit-v4 is not Ready (GateFailed: accuracy 0.71 is below 0.8)."


def test_an_alias_resolves_to_the_ready_holder_of_that_model(make_service, make_version):
    service = make_service({"modelRef": {"name": "credit-default", "alias": "champion"}})
    found = {
        "credit-v3": make_version("credit-v3", registered=3),
        "credit-v4": make_version("credit-v4", registered=4, aliases=["champion"]),
        "other-v9": make_version("other-v9", model="other", registered=9, aliases=["champion"]),
    }
    resolution = resolve(service, found)
    assert [v.model_version for v in resolution.versions] == ["credit-v4"]
    assert needed_names(service) is None  # the reconciler lists the namespace


def test_an_alias_nobody_holds_or_held_by_an_unready_version_waits(make_service, make_version):
    service = make_service({"modelRef": {"name": "credit-default", "alias": "champion"}})
    nobody = resolve(service, {"credit-v3": make_version("credit-v3", aliases=["staging"])})
    unready = resolve(service, {"credit-v5": make_version("credit-v5", ready=False, aliases=["champion"])})
    assert (nobody.reason, nobody.message) == (
        reasons.ALIAS_NOT_FOUND,
        "No ModelVersion of model credit-default holds the alias champion.",
    )
    assert unready.reason == reasons.MODEL_VERSION_NOT_READY


def test_a_stale_alias_holder_loses_to_a_ready_one(make_service, make_version):
    service = make_service({"modelRef": {"name": "credit-default", "alias": "champion"}})
    found = {
        "credit-v5": make_version("credit-v5", registered=5, ready=False, aliases=["champion"]),
        "credit-v4": make_version("credit-v4", registered=4, aliases=["champion"]),
    }
    assert [v.model_version for v in resolve(service, found).versions] == ["credit-v4"]


def test_traffic_overrides_the_reference_and_every_listed_version_must_be_ready(make_service, make_version):
    traffic = [{"modelVersion": "credit-v4", "weight": 80}, {"modelVersion": "credit-v5", "weight": 20}]
    service = make_service({"modelVersionRef": {"name": "credit-v3"}, "traffic": traffic})
    found = {"credit-v4": make_version("credit-v4"), "credit-v5": make_version("credit-v5", registered=5)}
    resolution = resolve(service, found)
    assert [(v.model_version, v.weight) for v in resolution.versions] == [("credit-v4", 80), ("credit-v5", 20)]
    assert needed_names(service) == ("credit-v4", "credit-v5")
    partly = resolve(service, {"credit-v4": make_version("credit-v4")})
    assert (partly.reason, partly.message) == (
        reasons.MODEL_VERSION_NOT_FOUND,
        "ModelVersion credit-v5 does not exist.",
    )


def test_traffic_across_models_is_refused(make_service, make_version):
    traffic = [{"modelVersion": "credit-v4", "weight": 50}, {"modelVersion": "churn-v1", "weight": 50}]
    service = make_service({"modelVersionRef": {"name": "credit-v4"}, "traffic": traffic})
    found = {"credit-v4": make_version("credit-v4"), "churn-v1": make_version("churn-v1", model="churn")}
    resolution = resolve(service, found)
    assert resolution.reason == reasons.MODEL_NAMES_DIFFER
    assert reasons.MODEL_NAMES_DIFFER in reasons.INVALID


def test_the_optimized_artifact_is_served_only_when_asked_for_and_present(make_service, make_version):
    asked = make_service({"modelVersionRef": {"name": "v"}, "runtime": {"useOptimizedArtifact": True}})
    plain = make_service({"modelVersionRef": {"name": "v"}})
    with_optimized = make_version("v", digest="9f" * 32, optimized="7a" * 32)
    without = make_version("v", digest="9f" * 32)
    assert resolve(asked, {"v": with_optimized}).versions[0].sha256 == "7a" * 32
    assert resolve(asked, {"v": with_optimized}).versions[0].optimized
    assert resolve(asked, {"v": without}).versions[0].sha256 == "9f" * 32
    assert resolve(plain, {"v": with_optimized}).versions[0].sha256 == "9f" * 32
