"""Rollout: moving an InferenceService to a candidate ModelVersion safely.

The rollout controller writes the target InferenceService's ``spec.traffic`` step by step (real request
weights, applied by the router, never replica ratios), runs analysis between steps, and promotes the
candidate or rolls back to the stable version on failure or when the progress deadline passes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from modelplane.apis.meta import AGE_COLUMN, KindInfo, PrinterColumn, ready_column, reason_column
from modelplane.apis.v1alpha1.base import ApiModel, CustomResource
from modelplane.apis.v1alpha1.common import LocalObjectReference, cel_rules, exactly_one
from modelplane.apis.v1alpha1.conditions import Conditions

VERSION = "v1alpha1"


class BuiltinMetric(StrEnum):
    """Metrics the router measures per version."""

    ERROR_RATE = "ErrorRate"
    LATENCY_P99_SECONDS = "LatencyP99Seconds"
    FEEDBACK = "Feedback"


class BanditAlgorithm(StrEnum):
    """How a bandit shares traffic from observed rewards."""

    EPSILON_GREEDY = "EpsilonGreedy"
    THOMPSON_SAMPLING = "ThompsonSampling"


class AnalysisOutcome(StrEnum):
    """The verdict of one measurement; no data is Inconclusive, never Failed."""

    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"


class PrometheusQuery(ApiModel):
    """A PromQL query returning one scalar for the candidate."""

    address: str | None = Field(
        None,
        description="Prometheus base URL; the operator's default when unset.",
        max_length=2048,
        pattern=r"^https?://",
    )
    query: str = Field(
        description="PromQL; {{version}} and {{service}} are substituted.", min_length=1, max_length=8192
    )


class AnalysisMetric(ApiModel):
    """One measured metric and the range a healthy candidate keeps it in."""

    model_config = cel_rules(
        exactly_one("builtin", "prometheus"),
        {"rule": "has(self.min) || has(self.max)", "message": "a metric needs min or max"},
        {
            "rule": "!has(self.builtin) || self.builtin != 'Feedback' || has(self.feedbackKey)",
            "message": "a Feedback metric needs feedbackKey",
            "fieldPath": ".feedbackKey",
        },
    )

    name: str = Field(description="Name of the measurement.", min_length=1, max_length=63)
    builtin: BuiltinMetric | None = Field(None, description="A metric the router measures.")
    feedback_key: str | None = Field(None, description="Feedback metric key for builtin Feedback.", max_length=128)
    prometheus: PrometheusQuery | None = Field(None, description="A PromQL query.")
    min: float | None = Field(None, description="Lowest healthy value.")
    max: float | None = Field(None, description="Highest healthy value.")


class Analysis(ApiModel):
    """Repeated measurements; too many failures roll back."""

    metrics: list[AnalysisMetric] = Field(
        description="What to measure.",
        min_length=1,
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    interval_seconds: int = Field(60, ge=1, le=86400, description="Time between measurements.")
    count: int = Field(5, ge=1, le=1000, description="Measurements per analysis.")
    failure_limit: int = Field(1, ge=0, le=1000, description="Failed measurements tolerated before rolling back.")
    inconclusive_limit: int = Field(
        3, ge=0, le=1000, description="Inconclusive (no data) measurements after which the rollout pauses."
    )
    min_requests: int = Field(50, ge=0, description="Requests the candidate must have seen for a measurement to count.")


class Pause(ApiModel):
    """Wait before the next step; forever (until resumed) when durationSeconds is unset."""

    duration_seconds: int | None = Field(None, ge=0, le=2_592_000, description="How long to wait.")


class CanaryStep(ApiModel):
    """One canary step: exactly one of setWeight, pause and analysis."""

    model_config = cel_rules(exactly_one("setWeight", "pause", "analysis"))

    set_weight: int | None = Field(None, ge=0, le=100, description="Send this percent of requests to the candidate.")
    pause: Pause | None = Field(None, description="Wait.")
    analysis: Analysis | None = Field(None, description="Measure; failure rolls back.")


class CanaryStrategy(ApiModel):
    """Shift traffic to the candidate in steps."""

    steps: list[CanaryStep] = Field(description="The steps, in order.", min_length=1, max_length=64)


class BlueGreenStrategy(ApiModel):
    """Run the candidate beside the stable version at 0% and switch all traffic at once."""

    preview_header: str | None = Field(
        "x-modelplane-preview",
        description="Requests with this header set reach the candidate before promotion.",
        max_length=256,
    )
    analysis: Analysis | None = Field(None, description="Analysis on preview traffic before the switch.")
    auto_promotion_seconds: int | None = Field(
        None,
        ge=0,
        le=2_592_000,
        description="Switch after this long when analysis passed; wait to be resumed when unset.",
    )


class ShadowStrategy(ApiModel):
    """Mirror requests to the candidate; its answers are recorded, never returned."""

    mirror_percent: int = Field(100, ge=1, le=100, description="Percent of requests mirrored.")
    duration_seconds: int = Field(3600, ge=1, le=2_592_000, description="How long to shadow.")
    analysis: Analysis | None = Field(None, description="Analysis on the mirrored traffic.")
    promote: bool = Field(False, description="Promote the candidate when analysis passed; otherwise only report.")


class HeaderMatch(ApiModel):
    """A request header condition."""

    model_config = cel_rules(exactly_one("exact", "regex"))

    name: str = Field(description="Header name (case-insensitive).", min_length=1, max_length=256)
    exact: str | None = Field(None, description="Exact header value.", max_length=1024)
    regex: str | None = Field(None, description="RE2 regular expression of the value.", max_length=1024)


class AbTestStrategy(ApiModel):
    """Route requests that match headers to the candidate, the rest to the stable version."""

    match: list[HeaderMatch] = Field(description="All must match.", min_length=1, max_length=16)
    duration_seconds: int = Field(3600, ge=1, le=2_592_000, description="How long the test runs.")
    analysis: Analysis | None = Field(None, description="Analysis comparing the two arms.")


class BanditStrategy(ApiModel):
    """Share traffic by observed reward from the feedback API; the better arm wins over time."""

    algorithm: BanditAlgorithm = Field(
        BanditAlgorithm.THOMPSON_SAMPLING, description="EpsilonGreedy or ThompsonSampling."
    )
    epsilon: float = Field(0.1, ge=0, le=1, description="Exploration rate of EpsilonGreedy.")
    reward_key: str = Field(
        description="Feedback metric key used as reward (higher is better).", min_length=1, max_length=128
    )
    duration_seconds: int = Field(86400, ge=60, le=2_592_000, description="How long the bandit runs before deciding.")
    min_samples: int = Field(100, ge=1, description="Rewards per arm before the bandit may decide.")


class Strategy(ApiModel):
    """How traffic moves; exactly one strategy."""

    model_config = cel_rules(exactly_one("canary", "blueGreen", "shadow", "abTest", "bandit"))

    canary: CanaryStrategy | None = Field(None, description="Stepped canary with analysis.")
    blue_green: BlueGreenStrategy | None = Field(None, description="Blue-green switch.")
    shadow: ShadowStrategy | None = Field(None, description="Shadow (mirrored) traffic.")
    ab_test: AbTestStrategy | None = Field(None, description="Header-based A/B test.")
    bandit: BanditStrategy | None = Field(None, description="Multi-armed bandit.")


class RolloutSpec(ApiModel):
    """Desired state of a Rollout."""

    target_ref: LocalObjectReference = Field(description="The InferenceService whose traffic moves.")
    candidate_ref: LocalObjectReference = Field(description="The ModelVersion to roll out; it must be Ready.")
    strategy: Strategy = Field(description="How traffic moves.")
    progress_deadline_seconds: int = Field(
        3600, ge=60, le=2_592_000, description="Roll back when the rollout has not finished after this long."
    )
    paused: bool = Field(False, description="Hold at the current step.")


class MeasurementRecord(ApiModel):
    """One measurement of an analysis."""

    metric: str = Field(description="Analysis metric name.", max_length=63)
    value: float | None = Field(None, description="Measured value; absent when there was no data.")
    outcome: AnalysisOutcome = Field(description="Successful, Failed or Inconclusive.")
    time: datetime = Field(description="When it was measured.")


class RolloutStatus(ApiModel):
    """Observed state of a Rollout."""

    observed_generation: int | None = Field(None, ge=0, description="The generation this status was computed from.")
    conditions: Conditions = Field(
        default_factory=list,
        description="Current conditions: Progressing, Paused, Ready (promoted), RolledBack.",
    )
    stable_version: str | None = Field(None, description="ModelVersion serving before the rollout.", max_length=253)
    current_step: int | None = Field(None, ge=0, description="Index of the canary step in progress.")
    candidate_weight: int = Field(0, ge=0, le=100, description="Percent of requests the candidate receives now.")
    measurements: list[MeasurementRecord] = Field(
        default_factory=list, description="Latest measurements, newest last.", max_length=100
    )


class Rollout(CustomResource):
    """A progressive delivery of a ModelVersion: canary, blue-green, shadow, A/B or bandit, with rollback."""

    kind_info: ClassVar[KindInfo] = KindInfo(
        kind="Rollout",
        plural="rollouts",
        singular="rollout",
        short_names=("mpro",),
        version=VERSION,
        printer_columns=(
            ready_column(),
            PrinterColumn("Target", ".spec.targetRef.name", description="InferenceService."),
            PrinterColumn("Candidate", ".spec.candidateRef.name", description="ModelVersion rolled out."),
            PrinterColumn("Weight", ".status.candidateWeight", "integer", "Percent of requests to the candidate."),
            PrinterColumn("Step", ".status.currentStep", "integer", "Canary step in progress.", priority=1),
            reason_column(),
            AGE_COLUMN,
        ),
    )

    spec: RolloutSpec = Field(description="Desired state of the Rollout.")
    status: RolloutStatus | None = Field(None, description="Observed state of the Rollout.")
