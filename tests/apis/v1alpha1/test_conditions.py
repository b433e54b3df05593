from __future__ import annotations

from datetime import UTC, datetime, timedelta

from modelplane.apis.v1alpha1.conditions import ConditionStatus, find_condition, is_true, set_condition

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_set_condition_adds_then_keeps_transition_time_while_status_holds():
    first = set_condition(
        [], "Ready", ConditionStatus.FALSE, "JobRunning", message="running", observed_generation=1, now=T0
    )
    again = set_condition(
        first,
        "Ready",
        ConditionStatus.FALSE,
        "JobPending",
        message="pending",
        observed_generation=2,
        now=T0 + timedelta(minutes=5),
    )
    condition = find_condition(again, "Ready")
    assert condition is not None
    assert condition.last_transition_time == T0
    assert condition.reason == "JobPending"
    assert condition.observed_generation == 2
    assert len(again) == 1


def test_set_condition_moves_transition_time_on_flip_and_keeps_other_conditions():
    conditions = set_condition([], "Validated", ConditionStatus.TRUE, "Verified", now=T0)
    conditions = set_condition(conditions, "Ready", ConditionStatus.FALSE, "Evaluating", now=T0)
    flipped = set_condition(conditions, "Ready", ConditionStatus.TRUE, "GatesPassed", now=T0 + timedelta(hours=1))
    assert [c.type for c in flipped] == ["Validated", "Ready"]
    ready = find_condition(flipped, "Ready")
    assert ready is not None
    assert ready.last_transition_time == T0 + timedelta(hours=1)
    assert is_true(flipped, "Ready")
    assert not is_true(flipped, "Missing")


def test_condition_wire_format_is_camel_case():
    [condition] = set_condition([], "Ready", ConditionStatus.TRUE, "Done", observed_generation=3, now=T0)
    wire = condition.to_wire()
    assert wire == {
        "type": "Ready",
        "status": "True",
        "reason": "Done",
        "message": "",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
        "observedGeneration": 3,
    }
