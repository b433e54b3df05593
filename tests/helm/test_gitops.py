"""GitOps: the Argo CD health check (run in Lua 5.1, as Argo CD's gopher-lua runs it) against the conditions
the operator writes, and the Argo CD files (helm/argocd/) and a team's resources (examples/gitops/) against the
chart and each other."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from harness.skips import missing_component
from helm.chart import CHART_DIR, REPO_ROOT, render

pytestmark = pytest.mark.unit

GITOPS = REPO_ROOT / "examples" / "gitops"
ARGOCD = REPO_ROOT / "helm" / "argocd"
HEALTH_LUA = ARGOCD / "health.lua"
GUIDE = REPO_ROOT / "docs" / "gitops.md"
KINDS = ("Dataset", "TrainingRun", "ModelVersion", "InferenceService", "Rollout")

Health = Callable[[dict[str, Any]], tuple[str, str]]


@pytest.fixture(scope="module")
def health() -> Health:
    """The health script as a function of an object: ``(status, message)``."""
    try:
        from lupa import lua51  # type: ignore[import-untyped]
    except ImportError:
        missing_component("lupa (Lua 5.1 for Python) is not installed: pip install lupa")
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    script = runtime.eval(f"function(obj)\n{HEALTH_LUA.read_text(encoding='utf-8')}\nend")

    def run(obj: dict[str, Any]) -> tuple[str, str]:
        result = script(runtime.table_from(obj, recursive=True))
        return str(result["status"]), str(result["message"])

    return run


def resource(kind: str, conditions: Iterable[dict[str, Any]] = (), generation: int = 2, **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "x", "namespace": "ml", "generation": generation},
        "spec": extra.pop("spec", {}),
        "status": {"observedGeneration": generation, "conditions": list(conditions)},
    }
    obj.update(extra)
    return obj


def cond(type_: str, status: str, reason: str = "Reason", message: str = "") -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message}


def test_the_script_is_the_same_everywhere_it_is_shipped() -> None:
    script = HEALTH_LUA.read_text(encoding="utf-8")
    config = yaml.safe_load((ARGOCD / "argocd-cm.yaml").read_text(encoding="utf-8"))
    keys = {f"resource.customizations.health.modelplane.io_{kind}" for kind in KINDS}
    assert set(config["data"]) == keys
    assert all(config["data"][key] == script for key in keys)
    blocks = re.findall(r"```lua\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert blocks == [script], "docs/gitops.md must show health.lua verbatim"


def test_an_object_the_operator_has_not_seen_is_progressing(health: Health) -> None:
    fresh = resource("Dataset")
    del fresh["status"]
    assert health(fresh) == ("Progressing", "Waiting for the ModelPlane operator")
    stale = resource("TrainingRun", [cond("Ready", "True")], generation=3)
    stale["status"]["observedGeneration"] = 2
    assert health(stale) == ("Progressing", "Waiting for the operator to observe generation 3")


@pytest.mark.parametrize("kind", KINDS)
def test_ready_is_healthy(kind: str, health: Health) -> None:
    assert health(resource(kind, [cond("Ready", "True", "Ready", "serving v3")])) == ("Healthy", "serving v3")


def reason_constants(module: ModuleType) -> set[str]:
    return {v for k, v in vars(module).items() if k.isupper() and isinstance(v, str) and re.fullmatch(r"[A-Z]\w+", v)}


def final_reasons() -> dict[str, tuple[ModuleType, frozenset[str]]]:
    """Per kind: its reasons module and the reasons after which only a spec change helps (from the code)."""
    from modelplane.operator.dataset import reasons as dataset
    from modelplane.operator.inference import reasons as inference
    from modelplane.operator.model import reasons as model
    from modelplane.operator.training import reasons as training

    return {
        "Dataset": (dataset, frozenset({dataset.VALIDATION_FAILED, dataset.JOB_FAILED})),
        "TrainingRun": (training, training.TERMINAL_FAILURES),
        "ModelVersion": (model, model.FINAL_FAILURES),
        "InferenceService": (
            inference,
            inference.INVALID | {inference.PROGRESS_DEADLINE_EXCEEDED, inference.DEPLOYMENT_UNAVAILABLE},
        ),
    }


@pytest.mark.parametrize("kind", ["Dataset", "TrainingRun", "ModelVersion", "InferenceService"])
def test_final_failures_are_degraded_and_everything_else_progressing(kind: str, health: Health) -> None:
    module, final = final_reasons()[kind]
    failing = "Succeeded" if kind == "TrainingRun" else "Ready"
    for reason in sorted(reason_constants(module)):
        conditions = [cond("Ready", "False", reason, "why")]
        if failing != "Ready":
            conditions.append(cond(failing, "False", reason, "why"))
        status, message = health(resource(kind, conditions))
        expected = "Degraded" if reason in final else "Progressing"
        assert status == expected, f"{kind} with reason {reason}: {status}"
        assert f"({reason}): why" in message


def test_final_reasons_of_the_code_are_in_the_script() -> None:
    script = HEALTH_LUA.read_text(encoding="utf-8")
    for kind, (_, final) in final_reasons().items():
        table = re.search(rf"  {kind} = \{{(.*?)\}},?\n(  \w|\}})", script, flags=re.DOTALL)
        assert table, kind
        assert set(re.findall(r"(\w+) = true", table[1])) == set(final), kind


def test_paused_and_rolled_back(health: Health) -> None:
    suspended = resource("TrainingRun", [cond("Ready", "False", "Pending")], spec={"suspend": True})
    assert health(suspended)[0] == "Suspended"
    paused = resource("Rollout", [cond("Ready", "False", "Paused"), cond("Paused", "True", "StepPause", "10m")])
    assert health(paused) == ("Suspended", "Paused True (StepPause): 10m")
    rolled_back = resource("Rollout", [cond("Ready", "False"), cond("RolledBack", "True", "AnalysisFailed", "p99")])
    assert health(rolled_back) == ("Degraded", "RolledBack True (AnalysisFailed): p99")
    stalled = resource("InferenceService", [cond("Stalled", "True", "Stuck")])
    assert health(stalled)[0] == "Degraded"


# --- the examples ---------------------------------------------------------------------------------------------


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def applications() -> dict[str, dict[str, Any]]:
    return {p.name.removesuffix("-application.yaml"): load_all(p)[0] for p in sorted(ARGOCD.glob("*-application.yaml"))}


def test_applications_point_at_paths_that_exist() -> None:
    apps = applications()
    assert set(apps) == {"modelplane", "ml-team-a"}
    for app in apps.values():
        assert (app["apiVersion"], app["kind"]) == ("argoproj.io/v1alpha1", "Application")
        source = app["spec"]["source"]
        assert (REPO_ROOT / source["path"]).is_dir(), source["path"]
        assert "ServerSideApply=true" in app["spec"]["syncPolicy"]["syncOptions"]
        for values in source.get("helm", {}).get("valueFiles", []):
            assert (REPO_ROOT / source["path"] / values).resolve().is_file(), values
    waves = [
        int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
        for a in (apps["modelplane"], apps["ml-team-a"])
    ]
    assert waves[0] < waves[1], "the platform syncs before the teams"


def test_production_values_render_and_name_the_example_secrets(tmp_path: Path) -> None:
    app = applications()["modelplane"]
    (values,) = [
        (REPO_ROOT / app["spec"]["source"]["path"] / v).resolve() for v in app["spec"]["source"]["helm"]["valueFiles"]
    ]
    objects = render(
        files=[values],
        release=app["spec"]["source"]["helm"]["releaseName"],
        namespace=app["spec"]["destination"]["namespace"],
    )
    assert not [o for o in objects if o["kind"] == "Secret"], "Argo CD would regenerate chart-made Secrets each sync"
    referenced = set()
    for obj in objects:
        text = yaml.safe_dump(obj)
        referenced |= set(re.findall(r"secretName: (\S+)", text)) | set(
            re.findall(r"secretKeyRef:\n\s+key: \S+\n\s+name: (\S+)", text)
        )
    examples = {s["metadata"]["name"] for s in load_all(ARGOCD / "secrets.example.yaml")}
    assert referenced <= examples, referenced - examples
    assert (CHART_DIR / "values.yaml").is_file()


def test_team_resources_sync_in_lifecycle_order() -> None:
    docs = {d["kind"]: d for p in sorted((GITOPS / "ml-team-a").glob("*.yaml")) for d in load_all(p)}
    order = ["Dataset", "TrainingRun", "ModelVersion", "InferenceService"]
    assert list(docs) == order
    waves = [int(docs[k]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for k in order]
    assert waves == sorted(waves)
    assert len(set(waves)) == len(waves)
    assert docs["TrainingRun"]["spec"]["datasetRef"]["name"] == docs["Dataset"]["metadata"]["name"]
    assert docs["ModelVersion"]["spec"]["source"]["trainingRunRef"]["name"] == docs["TrainingRun"]["metadata"]["name"]
    model_ref = docs["InferenceService"]["spec"]["modelRef"]
    assert model_ref["name"] == docs["ModelVersion"]["spec"]["modelName"]
    assert model_ref["alias"] in docs["ModelVersion"]["spec"]["aliases"]
