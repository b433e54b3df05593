"""The multi-stage Dockerfile: hadolint, and a parse of its stages against the package and the chart.

No Docker engine is needed: each component target must install only its own extra (and the dependency
closure of that extra, read from the installed package metadata, must leave out the other components' heavy
dependencies), run as a numeric non-root user, and start an entry point that exists in the code.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from helm.chart import CHART_DIR, REPO_ROOT, require_tool

pytestmark = pytest.mark.unit

DOCKERFILE = REPO_ROOT / "Dockerfile"
TARGETS = ("operator", "api", "serving", "jobs")
NOT_IN = {
    "operator": {"onnxruntime", "fastapi", "sqlalchemy", "scikit-learn"},
    "api": {"kopf", "onnxruntime", "scikit-learn"},
    "serving": {"kopf", "sqlalchemy", "alembic", "psycopg", "scikit-learn"},
    "jobs": {"kopf", "fastapi", "sqlalchemy", "alembic"},
}
"""Distributions a component image must not carry."""


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [arg for kw, arg in self.instructions if kw == keyword]


def parse(path: Path = DOCKERFILE) -> dict[str, Stage]:
    """Stages by name: continuation lines joined, comments and the parser directive dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in logical:
        keyword, _, argument = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?: AS (\S+))?", argument.strip(), flags=re.IGNORECASE)
            assert match, line
            current = Stage(name=match[2] or f"stage-{len(stages)}", base=match[1])
            stages[current.name] = current
        elif current is not None:
            current.instructions.append((keyword, argument.strip()))
    return stages


def exec_form(argument: str) -> list[str]:
    value = json.loads(argument)
    assert isinstance(value, list), argument
    assert all(isinstance(v, str) for v in value), argument
    return value


def labels(stage: Stage) -> dict[str, str]:
    found: dict[str, str] = {}
    for argument in stage.all("LABEL"):
        found |= dict(re.findall(r'(\S+?)="([^"]*)"', argument))
    return found


def test_hadolint_finds_nothing() -> None:
    hadolint = require_tool("hadolint")
    done = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_one_target_per_component_on_the_shared_runtime() -> None:
    stages = parse()
    assert set(TARGETS) <= set(stages)
    for target in TARGETS:
        stage = stages[target]
        assert stage.base == "runtime", target
        assert stage.all("COPY") == [f"--from=venv-{target} /opt/modelplane /opt/modelplane"], target
        assert not stage.all("USER"), f"{target} must not change the user"
        assert not stage.all("RUN"), f"{target} must not install more"


def test_each_component_installs_only_its_extra() -> None:
    stages = parse()
    for target in TARGETS:
        (run,) = stages[f"venv-{target}"].all("RUN")
        installed = re.findall(r"\[(\w+)\]", run)
        assert installed == [target], f"venv-{target} installs {installed}"
        assert stages[f"venv-{target}"].base == "venv"


def test_images_run_as_a_numeric_non_root_user_with_no_bytecode_writes() -> None:
    runtime = parse()["runtime"]
    (user,) = runtime.all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), user
    assert int(uid) >= 10000, user
    assert gid.isdigit(), user
    env = " ".join(runtime.all("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PATH=/opt/modelplane/bin:$PATH" in env
    assert runtime.all("WORKDIR") == ["/tmp"]


def test_every_image_has_oci_labels_naming_the_charts_repository() -> None:
    stages = parse()
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text(encoding="utf-8"))
    common = labels(stages["runtime"])
    for key in ("licenses", "source", "version", "revision", "vendor"):
        assert f"org.opencontainers.image.{key}" in common
    for target in TARGETS:
        own = labels(stages[target])
        assert own["org.opencontainers.image.title"] == values["images"][target]["repository"]
        assert own["org.opencontainers.image.description"]


def module_exists(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def test_entrypoints_start_code_that_exists() -> None:
    stages = parse()
    entry = {target: exec_form(stages[target].all("ENTRYPOINT")[0]) for target in TARGETS}
    assert entry["operator"][:3] == ["kopf", "run", "-m"]
    assert module_exists(entry["operator"][3])
    assert entry["api"][:2] == ["uvicorn", "--factory"]
    module, _, attribute = entry["api"][2].partition(":")
    assert callable(getattr(importlib.import_module(module), attribute))
    for target in ("serving", "jobs"):
        assert entry[target][:2] == ["python", "-m"]
        assert module_exists(f"{entry[target][2]}.__main__"), target
    for target in TARGETS:
        exec_form(stages[target].all("CMD")[0])


def test_the_operators_job_command_runs_in_the_jobs_image() -> None:
    from modelplane.operator.dataset import builders as dataset_builders
    from modelplane.operator.training import builders as training_builders

    jobs = exec_form(parse()["jobs"].all("ENTRYPOINT")[0])
    for command in (dataset_builders.COMMAND, training_builders.COMMAND):
        assert command[:3] == jobs, command


def test_dockerignore_admits_exactly_what_the_build_copies() -> None:
    lines = [line.strip() for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()]
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = set()
    for argument in parse()["wheel"].all("COPY"):
        copied |= {source.rstrip("/") for source in argument.split()[:-1]}
    assert copied == allowed
    assert lines.count("*") == 1


# --- what each extra pulls in ------------------------------------------------------------------------------------


def closure(extra: str) -> set[str]:
    """Canonical names of every distribution ``modelplane[extra]`` installs (from the installed metadata)."""
    seen: set[str] = set()
    queue: list[tuple[str, frozenset[str]]] = [("modelplane", frozenset({extra}))]
    while queue:
        name, extras = queue.pop()
        try:
            requirements = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for text in requirements:
            requirement = Requirement(text)
            if requirement.marker is not None and not any(
                requirement.marker.evaluate({"extra": e}) for e in (extras or {""})
            ):
                continue
            dependency = canonicalize_name(requirement.name)
            if dependency == "modelplane":  # the dev extra refers to the others
                continue
            key = f"{dependency}[{','.join(sorted(requirement.extras))}]"
            if key not in seen:
                seen.add(key)
                queue.append((dependency, frozenset(requirement.extras)))
    return {key.partition("[")[0] for key in seen}


@pytest.mark.parametrize("target", TARGETS)
def test_an_image_carries_none_of_the_other_components_heavy_dependencies(target: str) -> None:
    installed = closure(target)
    leaked = NOT_IN[target] & installed
    assert not leaked, f"modelplane[{target}] pulls in {sorted(leaked)}"


def test_the_closure_is_not_vacuous() -> None:
    assert {"onnxruntime", "numpy", "fastapi"} <= closure("serving")
    assert {"kopf", "kubernetes", "pydantic"} <= closure("operator")
    assert {"sqlalchemy", "alembic", "psycopg", "minio"} <= closure("api")
