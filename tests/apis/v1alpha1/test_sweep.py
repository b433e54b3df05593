"""The sweep module shared by the operator and the jobs: trial expansion (Grid, Random, scales, rounding),
effective hyperparameters and best-trial selection."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import pytest

from modelplane.apis.v1alpha1.sweep import (
    SweepError,
    best_trial,
    expand_trials,
    grid_values,
    trial_count,
    trial_hyperparameters,
)
from modelplane.apis.v1alpha1.training_run import Objective, TrainingRunSpec

pytestmark = pytest.mark.unit


def spec(sweep: dict[str, Any] | None, **fields: Any) -> TrainingRunSpec:
    body: dict[str, Any] = {
        "datasetRef": {"name": "iris"},
        "trainer": {"builtin": {"estimator": "RandomForestClassifier"}},
        "hyperparameters": {"n_estimators": 10, "max_depth": 3},
        **fields,
    }
    if sweep is not None:
        body["sweep"] = {"objective": {"metric": "accuracy"}, **sweep}
    return TrainingRunSpec.model_validate(body)


def test_a_run_without_a_sweep_has_no_searched_values_and_one_trial():
    assert expand_trials(spec(None)) == []
    assert trial_count(spec(None)) == 1


def test_grid_is_the_product_in_parameter_order():
    sweep = {
        "parameters": [
            {"name": "max_depth", "values": [2, 4]},
            {"name": "criterion", "values": ["gini", "log_loss"]},
        ]
    }
    trials = expand_trials(spec(sweep))
    assert trials == [
        {"max_depth": 2, "criterion": "gini"},
        {"max_depth": 2, "criterion": "log_loss"},
        {"max_depth": 4, "criterion": "gini"},
        {"max_depth": 4, "criterion": "log_loss"},
    ]
    assert trial_count(spec(sweep)) == 4
    assert len(expand_trials(spec({**sweep, "maxTrials": 3}))) == 3


@pytest.mark.parametrize(
    ("range_", "expected"),
    [
        ({"min": 0.1, "max": 0.3, "steps": 3}, [0.1, 0.2, 0.3]),
        ({"min": 1e-4, "max": 1, "steps": 5, "scale": "Log"}, [1e-4, 1e-3, 1e-2, 0.1, 1.0]),
        ({"min": 1, "max": 4, "steps": 7, "integer": True}, [1, 2, 3, 4]),  # rounding repeats are dropped
        ({"min": 1, "max": 1000, "steps": 4, "scale": "Log", "integer": True}, [1, 10, 100, 1000]),
        ({"min": 10, "max": 1000, "steps": 5, "scale": "Log", "integer": True}, [10, 32, 100, 316, 1000]),
    ],
)
def test_grid_ranges_with_steps(range_: dict[str, Any], expected: list[Any]):
    trials = expand_trials(spec({"parameters": [{"name": "p", "range": range_}]}))
    assert [t["p"] for t in trials] == expected
    assert all(type(v) is type(expected[0]) for v in (t["p"] for t in trials))


def test_max_trials_caps_a_grid_and_a_huge_grid_needs_it():
    parameters = [{"name": f"p{i}", "values": list(range(10))} for i in range(4)]
    assert len(expand_trials(spec({"parameters": parameters, "maxTrials": 7}))) == 7
    with pytest.raises(SweepError, match="10000 combinations"):
        expand_trials(spec({"parameters": parameters}))


def test_random_is_reproducible_in_range_and_seeded():
    sweep = {
        "algorithm": "Random",
        "maxTrials": 50,
        "parameters": [
            {"name": "learning_rate", "range": {"min": 1e-4, "max": 1e-1, "scale": "Log"}},
            {"name": "max_depth", "range": {"min": 2, "max": 8, "integer": True}},
            {"name": "subsample", "range": {"min": 0.5, "max": 1.0}},
            {"name": "criterion", "values": ["gini", "entropy"]},
        ],
    }
    first = expand_trials(spec(sweep, seed=7))
    assert first == expand_trials(spec(sweep, seed=7))
    assert first != expand_trials(spec(sweep, seed=8))
    assert first == expand_trials(spec({**sweep, "seed": 7}, seed=99))  # sweep.seed wins over spec.seed
    assert len(first) == 50
    rates = [t["learning_rate"] for t in first]
    assert all(1e-4 <= r <= 1e-1 for r in rates)
    # log-uniform: about a third of the samples per decade
    assert sum(r < 1e-3 for r in rates) > 5
    assert sum(r > 1e-2 for r in rates) > 5
    assert {t["max_depth"] for t in first} <= set(range(2, 9))
    assert all(type(t["max_depth"]) is int for t in first)
    assert all(0.5 <= t["subsample"] <= 1.0 for t in first)
    assert {t["criterion"] for t in first} == {"gini", "entropy"}
    json.dumps(first)  # the operator passes them as MODELPLANE_TRIAL_PARAMS


def test_invalid_sweeps_are_errors():
    parameter = spec({"parameters": [{"name": "p", "values": [1]}]}).sweep.parameters[0]  # type: ignore[union-attr]
    with pytest.raises(SweepError, match="needs values or a range"):
        grid_values(parameter.model_copy(update={"values": None}))
    with pytest.raises(SweepError, match="no integer"):
        expand_trials(
            spec({"parameters": [{"name": "p", "range": {"min": 0.2, "max": 0.8, "integer": True, "steps": 2}}]})
        )


def test_trial_values_override_the_spec_hyperparameters():
    assert trial_hyperparameters(spec(None), {"max_depth": 5, "criterion": "gini"}) == {
        "n_estimators": 10,
        "max_depth": 5,
        "criterion": "gini",
    }
    assert trial_hyperparameters(spec(None), None) == {"n_estimators": 10, "max_depth": 3}


def test_best_trial_by_direction_ties_and_missing_values():
    results = {
        3: {"accuracy": 0.9, "rmse": 2.0},
        1: {"accuracy": 0.95, "rmse": 3.0},
        2: {"rmse": 1.0},
        0: {"accuracy": math.nan},
    }
    assert best_trial(results, Objective(metric="accuracy")) == (1, 0.95)
    assert best_trial(results, Objective(metric="rmse", direction="Minimize")) == (2, 1.0)
    assert best_trial([{"f1": 0.8}, None, {"f1": 0.8}], Objective(metric="f1")) == (0, 0.8)  # ties: lowest index
    assert best_trial({0: {}}, Objective(metric="f1")) is None


def test_the_jobs_and_the_operator_use_this_one_implementation():
    """No copy of the algorithm elsewhere: both callers import this module."""
    from modelplane.jobs.training import job
    from modelplane.operator.training import builders, reconcile

    assert job.trial_hyperparameters is trial_hyperparameters
    assert builders.trial_hyperparameters is trial_hyperparameters
    assert reconcile.expand_trials is expand_trials


def test_importing_the_sweep_module_loads_nothing_heavy():
    heavy = ("numpy", "pyarrow", "sklearn", "onnx", "onnxruntime", "minio", "httpx", "kopf", "fastapi")
    code = f"import sys, modelplane.apis.v1alpha1.sweep; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
