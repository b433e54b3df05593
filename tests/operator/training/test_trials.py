from __future__ import annotations

from typing import Any

import pytest

from modelplane.apis.v1alpha1 import TrainingRunSpec
from modelplane.operator.training.trials import SweepError, expand_trials, trial_count, trial_hyperparameters


def spec(sweep: dict[str, Any] | None = None, **extra: Any) -> TrainingRunSpec:
    body: dict[str, Any] = {
        "datasetRef": {"name": "iris"},
        "trainer": {"builtin": {"estimator": "Ridge"}},
        "hyperparameters": {"alpha": 1.0, "fit_intercept": True},
        **extra,
    }
    if sweep is not None:
        body["sweep"] = {"objective": {"metric": "r2"}, **sweep}
    return TrainingRunSpec.model_validate(body)


GRID = {
    "algorithm": "Grid",
    "parameters": [
        {"name": "alpha", "range": {"min": 0.1, "max": 0.3, "steps": 3}},
        {"name": "solver", "values": ["svd", "cholesky"]},
    ],
}
LOG_INT = {
    "algorithm": "Grid",
    "parameters": [
        {"name": "max_iter", "range": {"min": 10, "max": 1000, "steps": 5, "scale": "Log", "integer": True}}
    ],
}
RANDOM = {
    "algorithm": "Random",
    "maxTrials": 4,
    "seed": 11,
    "parameters": [
        {"name": "alpha", "range": {"min": 0.001, "max": 10, "scale": "Log"}},
        {"name": "solver", "values": ["svd", "lsqr", "sag"]},
    ],
}


def test_a_run_without_a_sweep_has_one_trial():
    assert expand_trials(spec()) == []
    assert trial_count(spec()) == 1


def test_grid_is_the_cartesian_product_last_parameter_fastest():
    trials = expand_trials(spec(GRID))
    assert trials == [
        {"alpha": 0.1, "solver": "svd"},
        {"alpha": 0.1, "solver": "cholesky"},
        {"alpha": 0.2, "solver": "svd"},
        {"alpha": 0.2, "solver": "cholesky"},
        {"alpha": 0.3, "solver": "svd"},
        {"alpha": 0.3, "solver": "cholesky"},
    ]
    assert trial_hyperparameters(spec(GRID), trials[3]) == {"alpha": 0.2, "fit_intercept": True, "solver": "cholesky"}
    assert len(expand_trials(spec({**GRID, "maxTrials": 4}))) == 4


def test_log_integer_grid_points_are_rounded_and_unique():
    assert expand_trials(spec(LOG_INT)) == [{"max_iter": v} for v in (10, 32, 100, 316, 1000)]


def test_random_search_is_deterministic_in_its_seed():
    first, again = expand_trials(spec(RANDOM)), expand_trials(spec(RANDOM))
    assert first == again
    assert len(first) == 4
    assert all(0.001 <= t["alpha"] <= 10 and t["solver"] in ("svd", "lsqr", "sag") for t in first)
    assert expand_trials(spec({**RANDOM, "seed": 12})) != first
    without_seed = {k: v for k, v in RANDOM.items() if k != "seed"}
    assert expand_trials(spec(without_seed, seed=11)) == first


def test_too_large_a_grid_needs_max_trials():
    huge = {"algorithm": "Grid", "parameters": [{"name": f"p{i}", "values": list(range(10))} for i in range(4)]}
    with pytest.raises(SweepError, match="10000 combinations"):
        expand_trials(spec(huge))
    assert len(expand_trials(spec({**huge, "maxTrials": 7}))) == 7


@pytest.mark.parametrize("sweep", [GRID, LOG_INT, RANDOM, {**GRID, "maxTrials": 5}])
def test_the_operator_and_the_jobs_expand_sweeps_alike(sweep: dict[str, Any]):
    """The jobs package has the same algorithm for the local mode; the two must agree trial for trial."""
    jobs_sweep = pytest.importorskip("modelplane.jobs.sweep")
    assert expand_trials(spec(sweep)) == jobs_sweep.expand_trials(spec(sweep))
