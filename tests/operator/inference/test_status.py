"""An InferenceService's status from what a pass observed: every Ready reason, the URL, replicas and traffic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from modelplane.apis.v1alpha1.conditions import find_condition
from modelplane.operator.inference import builders, reasons
from modelplane.operator.inference.deployment_state import deployment_state
from modelplane.operator.inference.resolution import Resolution, served_version
from modelplane.operator.inference.status import InferenceObservation, compute_inference_service_status

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BASIC = {"modelVersionRef": {"name": "credit-v4"}}
URL = "http://credit.risk.svc.cluster.local/v2/models/credit-default"


def observe(service, versions, *deployments, current=None, invalid=None):
    resolution = Resolution(versions=tuple(versions))
    predictors = builders.plan_predictors(service, versions, current)
    states = tuple(deployment_state(d) for d in deployments)
    return InferenceObservation(resolution, predictors, states, invalid)


def condition(status, type_):
    found = find_condition(status.conditions, type_)
    assert found is not None
    return found


def test_an_available_rolled_out_deployment_is_ready_with_url_and_traffic(make_service, make_version, make_deployment):
    service = make_service(BASIC)
    v4 = served_version(service, make_version("credit-v4"), 100)
    status = compute_inference_service_status(
        service, observe(service, [v4], make_deployment("credit-predictor", "credit-v4")), NOW
    )
    ready, resolved = condition(status, reasons.READY), condition(status, reasons.MODEL_RESOLVED)
    assert (ready.status.value, ready.reason) == ("True", reasons.SERVING)
    assert ready.message == f"Serving at {URL} with 2 ready replicas."
    assert (resolved.status.value, resolved.reason) == ("True", reasons.RESOLVED)
    assert resolved.message == "Serving ModelVersion credit-v4: model credit-default version 4."
    assert status.url == URL
    assert status.ready_replicas == 2
    assert [t.to_wire() for t in status.traffic] == [{"modelVersion": "credit-v4", "weight": 100, "readyReplicas": 2}]
    assert status.observed_generation == 3
    assert {c.observed_generation for c in status.conditions} == {3}


def test_a_deployment_just_created_or_not_yet_observed_is_progressing(make_service, make_version, make_deployment):
    service = make_service(BASIC)
    v4 = served_version(service, make_version("credit-v4"), 100)
    created = compute_inference_service_status(service, observe(service, [v4]), NOW)
    unseen = make_deployment("credit-predictor", "credit-v4", generation=2, observed=1)
    stale = compute_inference_service_status(service, observe(service, [v4], unseen), NOW)
    starting = make_deployment("credit-predictor", "credit-v4", replicas=1, updated=1, ready=0, available=False)
    started = compute_inference_service_status(service, observe(service, [v4], starting), NOW)
    for status in (created, stale, started):
        assert condition(status, reasons.READY).reason == reasons.DEPLOYMENT_PROGRESSING
        assert condition(status, reasons.READY).status.value == "False"
    assert condition(started, reasons.READY).message == (
        "Deployment credit-predictor is starting ModelVersion credit-v4 (0 of 2 updated replicas ready)."
    )


def test_a_rolling_version_change_is_progressing_while_the_old_pods_serve(make_service, make_version, make_deployment):
    service = make_service({"modelVersionRef": {"name": "credit-v5"}})
    v5 = served_version(service, make_version("credit-v5", registered=5), 100)
    # maxSurge 1, maxUnavailable 0: two old pods ready, one new pod ready.
    rolling = make_deployment("credit-predictor", "credit-v5", generation=2, observed=2, replicas=3, updated=1, ready=3)
    status = compute_inference_service_status(service, observe(service, [v5], rolling), NOW)
    ready = condition(status, reasons.READY)
    assert (ready.status.value, ready.reason) == ("False", reasons.DEPLOYMENT_PROGRESSING)
    assert "the previous pods serve" in ready.message
    assert status.ready_replicas == 3
    assert status.traffic[0].ready_replicas == 1  # only the new pod runs credit-v5


def test_a_stuck_rollout_reports_the_deployments_message(make_service, make_version, make_deployment):
    service = make_service(BASIC)
    v4 = served_version(service, make_version("credit-v4"), 100)
    stuck = make_deployment(
        "credit-predictor",
        "credit-v4",
        replicas=3,
        updated=1,
        ready=2,
        progressing=("False", "ProgressDeadlineExceeded"),
        message='ReplicaSet "credit-predictor-7c9" has timed out progressing.',
    )
    ready = condition(compute_inference_service_status(service, observe(service, [v4], stuck), NOW), reasons.READY)
    assert (ready.status.value, ready.reason) == ("False", reasons.PROGRESS_DEADLINE_EXCEEDED)
    assert ready.message.endswith('ReplicaSet "credit-predictor-7c9" has timed out progressing.')


def test_a_rolled_out_deployment_without_ready_pods_is_unavailable(make_service, make_version, make_deployment):
    service = make_service(BASIC)
    v4 = served_version(service, make_version("credit-v4"), 100)
    down = make_deployment("credit-predictor", "credit-v4", ready=0, available=False)
    ready = condition(compute_inference_service_status(service, observe(service, [v4], down), NOW), reasons.READY)
    assert (ready.status.value, ready.reason) == ("False", reasons.DEPLOYMENT_UNAVAILABLE)
    assert (
        ready.message == "Deployment credit-predictor is not available: Deployment does not have minimum availability."
    )


def test_an_unresolved_version_waits_and_says_what_still_serves(make_service, make_deployment):
    service = make_service({"modelVersionRef": {"name": "credit-v5"}})
    resolution = Resolution(reason=reasons.MODEL_VERSION_NOT_READY, message="ModelVersion credit-v5 is not Ready.")
    previous = service.model_copy(update={"status": None})
    observed = InferenceObservation(
        resolution, deployments=(deployment_state(make_deployment("credit-predictor", "credit-v4")),)
    )
    status = compute_inference_service_status(previous, observed, NOW)
    resolved, ready = condition(status, reasons.MODEL_RESOLVED), condition(status, reasons.READY)
    assert (resolved.status.value, resolved.reason) == ("False", reasons.MODEL_VERSION_NOT_READY)
    assert (ready.status.value, ready.reason) == ("False", reasons.MODEL_VERSION_NOT_READY)
    assert ready.message == "ModelVersion credit-v5 is not Ready. Still serving credit-v4 (2 ready replicas)."
    assert [t.model_version for t in status.traffic] == ["credit-v4"]
    assert status.ready_replicas == 2


def test_each_waiting_reason_is_reported(make_service):
    service = make_service(BASIC)
    for reason in (reasons.MODEL_VERSION_NOT_FOUND, reasons.ALIAS_NOT_FOUND, reasons.MODEL_NAMES_DIFFER):
        status = compute_inference_service_status(
            service, InferenceObservation(Resolution(reason=reason, message="m.")), NOW
        )
        assert condition(status, reasons.MODEL_RESOLVED).reason == reason
        assert condition(status, reasons.READY).message == "m."
        assert status.url is None


def test_an_invalid_accelerator_keeps_what_runs_and_says_why(make_service, make_version, make_deployment):
    service = make_service(BASIC)
    v4 = served_version(service, make_version("credit-v4"), 100)
    running = make_deployment("credit-predictor", "credit-v4")
    invalid = (reasons.UNKNOWN_ACCELERATOR, "accelerator 'mi300' is not a profile of this operator")
    status = compute_inference_service_status(service, observe(service, [v4], running, invalid=invalid), NOW)
    ready = condition(status, reasons.READY)
    assert (ready.reason, ready.message) == invalid
    assert condition(status, reasons.MODEL_RESOLVED).status.value == "True"


def test_a_split_reports_each_versions_weight_and_pods(make_service, make_version, make_deployment):
    traffic = [{"modelVersion": "credit-v4", "weight": 90}, {"modelVersion": "credit-v5", "weight": 10}]
    service = make_service({**BASIC, "traffic": traffic})
    v4 = served_version(service, make_version("credit-v4"), 90)
    v5 = served_version(service, make_version("credit-v5", registered=5), 10)
    extra = builders.extra_name(service, "credit-v5")
    deployments = (
        make_deployment("credit-predictor", "credit-v4", weight=90),
        make_deployment(extra, "credit-v5", weight=10, desired=1, replicas=1, updated=1, ready=1),
    )
    status = compute_inference_service_status(service, observe(service, [v4, v5], *deployments), NOW)
    assert [t.to_wire() for t in status.traffic] == [
        {"modelVersion": "credit-v4", "weight": 90, "readyReplicas": 2},
        {"modelVersion": "credit-v5", "weight": 10, "readyReplicas": 1},
    ]
    assert condition(status, reasons.MODEL_RESOLVED).message == (
        "Serving ModelVersions credit-v4 (90%), credit-v5 (10%) of model credit-default."
    )
    assert condition(status, reasons.READY).status.value == "True"


def test_transition_times_move_only_when_a_condition_flips(make_service, make_version, make_deployment):
    service = make_service(BASIC)
    v4 = served_version(service, make_version("credit-v4"), 100)
    first = compute_inference_service_status(
        service, observe(service, [v4], make_deployment("credit-predictor", "credit-v4")), NOW
    )
    again = compute_inference_service_status(
        service.model_copy(update={"status": first}),
        observe(
            service, [v4], make_deployment("credit-predictor", "credit-v4", ready=3, replicas=3, updated=3, desired=3)
        ),
        NOW + timedelta(minutes=5),
    )
    assert condition(again, reasons.READY).last_transition_time == NOW
    assert again.ready_replicas == 3
    down = compute_inference_service_status(
        service.model_copy(update={"status": again}),
        observe(service, [v4], make_deployment("credit-predictor", "credit-v4", ready=0, available=False)),
        NOW + timedelta(minutes=9),
    )
    assert condition(down, reasons.READY).last_transition_time == NOW + timedelta(minutes=9)
    assert condition(down, reasons.MODEL_RESOLVED).last_transition_time == NOW
