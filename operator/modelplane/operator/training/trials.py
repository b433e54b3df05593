"""The trials of a TrainingRun's sweep: the Grid or the Random samples of ``spec.sweep``. Pure.

``expand_trials(spec)`` gives the searched values of every trial in trial-index order ([] without a
sweep); ``trial_hyperparameters`` merges one trial's values over ``spec.hyperparameters``. Deterministic:
a Grid enumerates the Cartesian product in parameter order (the last parameter varies fastest); a Random
search draws ``maxTrials`` samples from ``random.Random(sweep.seed or spec.seed)``; floats are rounded to
ten significant digits and kept inside their range. So the operator names trial *i*'s Job and run id
before anything ran, and a restarted operator resumes the same sweep.

The jobs package has the same algorithm for the local mode (``modelplane.jobs.sweep``; the operator may
not import it, see ``.importlinter``): a parity test keeps the two equal.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping
from typing import Any

from modelplane.apis.v1alpha1.training_run import (
    ParameterRange,
    Scale,
    SweepAlgorithm,
    SweepParameter,
    SweepSpec,
    TrainingRunSpec,
)

MAX_TRIALS = 1000
SIGNIFICANT_DIGITS = 10


class SweepError(ValueError):
    """A sweep that cannot be expanded (reported as InvalidSpec)."""


def expand_trials(spec: TrainingRunSpec) -> list[dict[str, Any]]:
    """The searched values of every trial of ``spec.sweep``, in trial-index order ([] without a sweep)."""
    sweep = spec.sweep
    if sweep is None:
        return []
    if sweep.algorithm is SweepAlgorithm.GRID:
        return _grid(sweep)
    return _random(sweep, sweep.seed if sweep.seed is not None else spec.seed)


def trial_hyperparameters(spec: TrainingRunSpec, values: Mapping[str, Any] | None) -> dict[str, Any]:
    """The effective hyperparameters of a trial: its values over ``spec.hyperparameters``."""
    return {**spec.hyperparameters, **(values or {})}


def trial_count(spec: TrainingRunSpec) -> int:
    """How many Jobs the run has: one per trial, one without a sweep."""
    return len(expand_trials(spec)) if spec.sweep is not None else 1


def _grid(sweep: SweepSpec) -> list[dict[str, Any]]:
    axes = [_grid_values(parameter) for parameter in sweep.parameters]
    size = math.prod(len(axis) for axis in axes)
    if sweep.max_trials is None and size > MAX_TRIALS:
        raise SweepError(f"the grid has {size} combinations, more than {MAX_TRIALS}: set maxTrials or shrink it")
    limit = min(size, sweep.max_trials or size)
    names = [parameter.name for parameter in sweep.parameters]
    return [dict(zip(names, values, strict=True)) for values in itertools.islice(itertools.product(*axes), limit)]


def _grid_values(parameter: SweepParameter) -> list[Any]:
    if parameter.values is not None:
        return list(parameter.values)
    span = _range(parameter)
    if span.steps is None:
        raise SweepError(f"sweep parameter {parameter.name!r}: a Grid needs values or a range with steps")
    points: list[Any] = []
    for i in range(span.steps):
        fraction = i / (span.steps - 1)
        if span.scale is Scale.LOG:
            value = math.exp(math.log(span.min) + fraction * (math.log(span.max) - math.log(span.min)))
        else:
            value = span.min + fraction * (span.max - span.min)
        point = _finish(value, span)
        if point not in points:  # integer rounding may repeat a point
            points.append(point)
    return points


def _random(sweep: SweepSpec, seed: int) -> list[dict[str, Any]]:
    if sweep.max_trials is None:
        raise SweepError("a Random sweep needs maxTrials")
    rng = random.Random(seed)
    trials = []
    for _ in range(sweep.max_trials):
        trial: dict[str, Any] = {}
        for parameter in sweep.parameters:
            if parameter.values is not None:
                trial[parameter.name] = rng.choice(parameter.values)
                continue
            span = _range(parameter)
            if span.scale is Scale.LOG:
                value = math.exp(rng.uniform(math.log(span.min), math.log(span.max)))
            else:
                value = rng.uniform(span.min, span.max)
            trial[parameter.name] = _finish(value, span)
        trials.append(trial)
    return trials


def _range(parameter: SweepParameter) -> ParameterRange:
    if parameter.range is None:
        raise SweepError(f"sweep parameter {parameter.name!r} needs values or a range")
    span = parameter.range
    if not span.min < span.max:
        raise SweepError(f"sweep parameter {parameter.name!r}: min must be less than max")
    if span.scale is Scale.LOG and span.min <= 0:
        raise SweepError(f"sweep parameter {parameter.name!r}: a Log range needs min > 0")
    if span.integer and math.ceil(span.min) > math.floor(span.max):
        raise SweepError(f"sweep parameter {parameter.name!r}: no integer lies in [{span.min}, {span.max}]")
    return span


def _finish(value: float, span: ParameterRange) -> int | float:
    """A sample rounded (to an integer, or to significant digits) and kept inside the range."""
    if span.integer:
        return min(max(round(value), math.ceil(span.min)), math.floor(span.max))
    return min(max(float(f"{value:.{SIGNIFICANT_DIGITS}g}"), span.min), span.max)
