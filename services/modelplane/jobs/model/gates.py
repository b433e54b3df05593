"""Evaluation gates (pure): thresholds on the measured metrics, and the comparison with an alias holder.

Where it sits: after :mod:`.scoring`; a failed gate stops the job before optimization and registration,
and :func:`gate_message` becomes the condition message. A threshold passes when the metric was measured
and lies within ``[min, max]``; a metric the evaluation could not compute (``roc_auc`` on one class,
say) fails its gate. ``mustBeatAlias`` compares each gate metric (every metric both have when there are
no thresholds) with the alias holder's registered value: higher is better for ``accuracy``, ``f1``,
``precision``, ``recall``, ``roc_auc`` and ``r2``, lower for ``log_loss``, ``rmse`` and ``mae``; a tie
passes, so re-validating the holder's own artifact passes. A metric the holder has no value for is not
compared; no holder at all passes the comparison, and the result says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modelplane.apis.v1alpha1.model_version import GateMetric, Threshold

LOWER_IS_BETTER = frozenset({GateMetric.LOG_LOSS.value, GateMetric.RMSE.value, GateMetric.MAE.value})


@dataclass(frozen=True)
class Gate:
    """One gate's outcome: the measured value and its bounds (for a baseline gate, the holder's value)."""

    metric: str
    value: float | None
    min: float | None
    max: float | None
    passed: bool
    alias: str | None = None
    """Set on a baseline comparison: the alias whose holder set the bound."""

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "metric": self.metric,
            "value": self.value,
            "min": self.min,
            "max": self.max,
            "passed": self.passed,
        }
        if self.alias is not None:
            wire["alias"] = self.alias
        return wire

    def describe(self) -> str:
        """``accuracy 0.81 < min 0.9``; ``log_loss 0.2 <= max 0.3``; ``accuracy 0.93 >= champion 0.91``."""
        if self.value is None:
            return f"{self.metric} not measured"
        bound_name = self.alias or ""
        parts = []
        if self.min is not None:
            op = ">=" if self.value >= self.min else "<"
            parts.append(f"{self.metric} {_num(self.value)} {op} {bound_name or 'min'} {_num(self.min)}")
        if self.max is not None:
            op = "<=" if self.value <= self.max else ">"
            parts.append(f"{self.metric} {_num(self.value)} {op} {bound_name or 'max'} {_num(self.max)}")
        return ", ".join(parts) or f"{self.metric} {_num(self.value)}"


@dataclass(frozen=True)
class Baseline:
    """The version holding an alias, as the registry knows it (version None: nothing holds it)."""

    alias: str
    version: int | None
    metrics: Mapping[str, float]

    def to_wire(self) -> dict[str, Any]:
        return {"alias": self.alias, "version": self.version, "metrics": dict(self.metrics)}


def threshold_gates(thresholds: Sequence[Threshold], metrics: Mapping[str, float]) -> list[Gate]:
    """One gate per threshold."""
    gates = []
    for threshold in thresholds:
        value = metrics.get(threshold.metric.value)
        passed = (
            value is not None
            and (threshold.min is None or value >= threshold.min)
            and (threshold.max is None or value <= threshold.max)
        )
        gates.append(Gate(threshold.metric.value, value, threshold.min, threshold.max, passed))
    return gates


def baseline_gates(baseline: Baseline, metrics: Mapping[str, float], gate_metrics: Iterable[str]) -> list[Gate]:
    """One gate per compared metric: at least as good as the holder's value."""
    if baseline.version is None:
        return []
    names = list(dict.fromkeys(gate_metrics)) or sorted(set(metrics) & set(baseline.metrics))
    gates = []
    for name in names:
        bound = baseline.metrics.get(name)
        if bound is None:
            continue
        value = metrics.get(name)
        if name in LOWER_IS_BETTER:
            gates.append(Gate(name, value, None, bound, value is not None and value <= bound, baseline.alias))
        else:
            gates.append(Gate(name, value, bound, None, value is not None and value >= bound, baseline.alias))
    return gates


def gate_message(gates: Sequence[Gate], baseline: Baseline | None = None) -> str:
    """Every gate, failed ones first: ``gates failed: accuracy 0.81 < min 0.9; passed: f1 0.93 >= min 0.9``."""
    failed = [g.describe() for g in gates if not g.passed]
    passed = [g.describe() for g in gates if g.passed]
    parts = []
    if failed:
        parts.append("gates failed: " + "; ".join(failed))
    if passed:
        parts.append("passed: " + "; ".join(passed))
    if baseline is not None:
        parts.append(baseline_note(baseline))
    return "; ".join(parts)


def baseline_note(baseline: Baseline) -> str:
    if baseline.version is None:
        return f"no version holds alias {baseline.alias}, so mustBeatAlias passes"
    return f"compared with {baseline.alias} (version {baseline.version})"


def _num(value: float) -> str:
    return f"{value:.4g}"
