"""``apply``/``get``/``describe``/``delete``/``wait`` through typer's runner, against a local home directory.

No daemon runs here: these commands read and write the local object store directly (the lifecycle tests in
tests/cli/test_demo.py run them against a live daemon).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from modelplane.cli.main import app
from modelplane.local.store import ObjectStore

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MODELPLANE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def write(path: Path, *documents: object) -> Path:
    path.write_text(yaml.safe_dump_all(documents), encoding="utf-8")
    return path


def test_apply_writes_validated_objects_in_lifecycle_order(home: Path) -> None:
    result = runner.invoke(app, ["apply", "-f", str(ROOT / "examples/quickstart")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines == [
        "dataset.modelplane.io/breast-cancer created",
        "trainingrun.modelplane.io/breast-cancer-rf created",
        "modelversion.modelplane.io/breast-cancer-v1 created",
        "inferenceservice.modelplane.io/breast-cancer created",
    ]
    stored = ObjectStore(home / "objects.db").get("TrainingRun", "default", "breast-cancer-rf")
    assert stored is not None
    assert stored["spec"]["numNodes"] == 1  # the CRD's defaults, as the API server stores them
    again = runner.invoke(app, ["apply", "-f", str(ROOT / "examples/quickstart")])
    assert again.stdout.splitlines()[0] == "dataset.modelplane.io/breast-cancer unchanged"
    assert "not running" in again.stderr


def test_invalid_objects_are_rejected_with_the_api_servers_messages(home: Path, tmp_path: Path) -> None:
    bad = write(
        tmp_path / "bad.yaml",
        {
            "apiVersion": "modelplane.io/v1alpha1",
            "kind": "TrainingRun",
            "metadata": {"name": "x"},
            "spec": {"numNodes": 0},
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "y"}},
    )
    result = runner.invoke(app, ["apply", "-f", str(bad)])
    assert result.exit_code == 1
    assert "spec.numNodes: Invalid value: 0" in result.stderr
    assert 'no kind "ConfigMap" is registered' in result.stderr
    assert ObjectStore(home / "objects.db").list("TrainingRun") == []


def test_missing_references_are_errors_unless_allowed(home: Path, tmp_path: Path) -> None:
    run = yaml.safe_load((ROOT / "examples/quickstart/10-training.yaml").read_text())
    path = write(tmp_path / "run.yaml", run)
    refused = runner.invoke(app, ["apply", "-f", str(path)])
    assert refused.exit_code == 1
    assert "refers to Dataset 'breast-cancer', which does not exist" in refused.stderr
    allowed = runner.invoke(app, ["apply", "-f", str(path), "--no-ref-check"])
    assert allowed.exit_code == 0, allowed.output


def test_bad_yaml_and_missing_files(home: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [", encoding="utf-8")
    result = runner.invoke(app, ["apply", "-f", str(broken)])
    assert result.exit_code == 1
    assert "not valid YAML" in result.stderr
    missing = runner.invoke(app, ["apply", "-f", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1
    assert "no such file or directory" in missing.stderr


def test_get_tables_and_machine_output(home: Path) -> None:
    runner.invoke(app, ["apply", "-f", str(ROOT / "examples/quickstart")])
    table = runner.invoke(app, ["get", "datasets"])
    assert table.exit_code == 0
    header, row = table.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "VERSION", "ROWS", "COLUMNS", "AGE"]
    assert row.split()[:2] == ["breast-cancer", "<none>"]
    as_json = runner.invoke(app, ["get", "mptr", "breast-cancer-rf", "-o", "json"])
    assert json.loads(as_json.stdout)["spec"]["datasetRef"] == {"name": "breast-cancer"}
    names = runner.invoke(app, ["get", "all", "-o", "name"])
    assert "modelversion.modelplane.io/breast-cancer-v1" in names.stdout.splitlines()
    everything = runner.invoke(app, ["get", "all"])
    assert "inferenceservices" in everything.stdout
    unknown = runner.invoke(app, ["get", "widgets"])
    assert unknown.exit_code == 1
    assert 'resource type "widgets"' in unknown.stderr
    absent = runner.invoke(app, ["get", "datasets", "nope"])
    assert absent.exit_code == 1
    assert '"nope" not found' in absent.stderr


def test_describe_and_delete(home: Path) -> None:
    runner.invoke(app, ["apply", "-f", str(ROOT / "examples/quickstart")])
    described = runner.invoke(app, ["describe", "dataset/breast-cancer"])
    assert described.exit_code == 0, described.output
    assert "Name:         breast-cancer" in described.stdout
    assert "claimName: quickstart-data" in described.stdout
    deleted = runner.invoke(app, ["delete", "-f", str(ROOT / "examples/quickstart/30-serving.yaml")])
    assert deleted.exit_code == 0, deleted.output
    assert 'inferenceservice.modelplane.io "breast-cancer" deleted' in deleted.stdout
    again = runner.invoke(app, ["delete", "inferenceservice", "breast-cancer"])
    assert again.exit_code == 1
    assert "not found" in again.stderr


def test_wait_and_logs_need_the_daemon_and_say_so(home: Path) -> None:
    runner.invoke(app, ["apply", "-f", str(ROOT / "examples/quickstart")])
    waited = runner.invoke(app, ["wait", "dataset", "breast-cancer", "--timeout", "1"])
    assert waited.exit_code == 1
    assert "modelplane up" in waited.stderr
    logs = runner.invoke(app, ["logs", "trainingrun/breast-cancer-rf"])
    assert logs.exit_code == 1
    assert "has no pods yet" in logs.stderr
    bad_for = runner.invoke(app, ["wait", "dataset", "breast-cancer", "--for", "delete"])
    assert bad_for.exit_code == 1
    assert "condition=TYPE" in bad_for.stderr


def test_status_reports_a_stopped_local_mode(home: Path) -> None:
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 3
    assert "not running" in result.stdout
    down = runner.invoke(app, ["down"])
    assert down.exit_code == 0
    assert "not running" in down.stdout


def test_a_sweeps_progress_bar() -> None:
    from modelplane.cli.resources import progress_bar

    assert progress_bar({"status": {"trials": {"total": 4, "succeeded": 1, "failed": 1, "running": 2}}}, 8) == (
        "[####----] 2/4 trials, 2 running · "
    )
    assert progress_bar({"status": {}}) == ""
