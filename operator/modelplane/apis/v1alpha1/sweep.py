"""Sweeps of a TrainingRun, pure: the trials of ``spec.sweep`` and the best of their results.

The one implementation both sides use: the operator plans one Job per trial with :func:`expand_trials`
(passing each trial's values as ``MODELPLANE_TRIAL_PARAMS``) before anything ran, so trial *i*'s Job
name and run id are known up front and a restarted operator resumes the same sweep; the trainer
(``modelplane.jobs``) merges a trial's values over ``spec.hyperparameters`` with
:func:`trial_hyperparameters`; :func:`best_trial` ranks finished trials by the objective. It sits with
the API types because it is a function of them only (standard library, no framework): the operator and
the jobs may both import ``modelplane.apis`` (``.importlinter``), never each other.

Both algorithms are deterministic: a Grid enumerates the Cartesian product in the order the parameters
are listed (the last one varies fastest); a Random search draws ``maxTrials`` samples from
``random.Random(sweep.seed or spec.seed)``. Float values are rounded to ten significant digits, so a
Linear grid from 0.1 to 0.3 gives 0.2, not 0.20000000000000004.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from modelplane.apis.v1alpha1.training_run import (
    Direction,
    Objective,
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
    """A sweep that cannot be expanded (the operator reports it as InvalidSpec)."""


def expand_trials(spec: TrainingRunSpec) -> list[dict[str, Any]]:
    """The searched values of every trial of ``spec.sweep``, in trial-index order ([] without a sweep)."""
    sweep = spec.sweep
    if sweep is None:
        return []
    if sweep.algorithm == SweepAlgorithm.GRID:
        return grid_trials(sweep)
    return random_trials(sweep, sweep.seed if sweep.seed is not None else spec.seed)


def trial_count(spec: TrainingRunSpec) -> int:
    """How many Jobs the run has: one per trial, one without a sweep."""
    return len(expand_trials(spec)) if spec.sweep is not None else 1


def grid_trials(sweep: SweepSpec) -> list[dict[str, Any]]:
    """Every combination of the parameters' grid values, at most ``maxTrials`` of them."""
    axes = [grid_values(parameter) for parameter in sweep.parameters]
    size = math.prod(len(axis) for axis in axes)
    if sweep.max_trials is None and size > MAX_TRIALS:
        raise SweepError(f"the grid has {size} combinations, more than {MAX_TRIALS}: set maxTrials or shrink it")
    limit = min(size, sweep.max_trials or size)
    names = [parameter.name for parameter in sweep.parameters]
    return [dict(zip(names, values, strict=True)) for values in itertools.islice(itertools.product(*axes), limit)]


def grid_values(parameter: SweepParameter) -> list[Any]:
    """The values a Grid tries for one parameter: its ``values``, or ``steps`` points across its range."""
    if parameter.values is not None:
        return list(parameter.values)
    span = _range(parameter)
    if span.steps is None:
        raise SweepError(f"sweep parameter {parameter.name!r}: a Grid needs values or a range with steps")
    points: list[Any] = []
    for i in range(span.steps):
        fraction = i / (span.steps - 1)
        if span.scale == Scale.LOG:
            value = math.exp(math.log(span.min) + fraction * (math.log(span.max) - math.log(span.min)))
        else:
            value = span.min + fraction * (span.max - span.min)
        value = _finish(value, span)
        if value not in points:  # integer rounding may repeat a point
            points.append(value)
    return points


def random_trials(sweep: SweepSpec, seed: int) -> list[dict[str, Any]]:
    """``maxTrials`` samples: a uniform choice among ``values``, or a Linear/Log-uniform draw from a range."""
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
            if span.scale == Scale.LOG:
                value = math.exp(rng.uniform(math.log(span.min), math.log(span.max)))
            else:
                value = rng.uniform(span.min, span.max)
            trial[parameter.name] = _finish(value, span)
        trials.append(trial)
    return trials


def trial_hyperparameters(spec: TrainingRunSpec, trial_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The effective hyperparameters of a trial: its values over ``spec.hyperparameters``."""
    return {**spec.hyperparameters, **(trial_params or {})}


def best_trial(
    results: Mapping[int, Mapping[str, float]] | Sequence[Mapping[str, float] | None], objective: Objective
) -> tuple[int, float] | None:
    """The index and objective value of the best trial; trials without a finite value are skipped.

    ``results`` maps trial index to its metrics (or is a list indexed by trial, None for unfinished ones).
    Ties go to the lowest index, so the choice never depends on the order trials finished in.
    """
    items: Iterable[tuple[int, Mapping[str, float] | None]] = (
        results.items() if isinstance(results, Mapping) else enumerate(results)
    )
    best: tuple[int, float] | None = None
    sign = 1.0 if objective.direction == Direction.MAXIMIZE else -1.0
    for index, metrics in sorted(items, key=lambda item: item[0]):
        value = (metrics or {}).get(objective.metric)
        if value is None or isinstance(value, bool) or not math.isfinite(value):
            continue
        if best is None or sign * value > sign * best[1]:
            best = (index, float(value))
    return best


def _range(parameter: SweepParameter) -> ParameterRange:
    if parameter.range is None:
        raise SweepError(f"sweep parameter {parameter.name!r} needs values or a range")
    span = parameter.range
    if not span.min < span.max:
        raise SweepError(f"sweep parameter {parameter.name!r}: min must be less than max")
    if span.scale == Scale.LOG and span.min <= 0:
        raise SweepError(f"sweep parameter {parameter.name!r}: a Log range needs min > 0")
    if span.integer and math.ceil(span.min) > math.floor(span.max):
        raise SweepError(f"sweep parameter {parameter.name!r}: no integer lies in [{span.min}, {span.max}]")
    return span


def _finish(value: float, span: ParameterRange) -> int | float:
    """A sample rounded (to an integer, or to significant digits) and kept inside the range."""
    if span.integer:
        return min(max(round(value), math.ceil(span.min)), math.floor(span.max))
    return min(max(float(f"{value:.{SIGNIFICANT_DIGITS}g}"), span.min), span.max)
