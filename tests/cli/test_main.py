"""The ``modelplane`` console script, run as users run it: a real subprocess of the installed entry point."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from typer.testing import CliRunner

from modelplane.cli.main import app
from modelplane.crd.files import rendered_crds

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def modelplane(*args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("modelplane", path=str(Path(sys.executable).parent))
    assert executable, "the modelplane console script is not installed next to this Python"
    return subprocess.run([executable, *args], capture_output=True, text=True, timeout=60, check=False)


def test_console_script_prints_version():
    result = modelplane("version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("modelplane 0.")


def test_crds_prints_every_crd_as_one_stream():
    result = runner.invoke(app, ["crds"])
    assert result.exit_code == 0, result.output
    documents = list(yaml.safe_load_all(result.stdout))
    assert [d["metadata"]["name"] for d in documents] == [
        "datasets.modelplane.io",
        "trainingruns.modelplane.io",
        "modelversions.modelplane.io",
        "inferenceservices.modelplane.io",
        "rollouts.modelplane.io",
    ]


def test_crds_writes_files(tmp_path):
    result = runner.invoke(app, ["crds", "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(rendered_crds())


def test_validate_accepts_the_examples():
    result = modelplane("validate", "-f", str(ROOT / "examples"))
    assert result.returncode == 0, result.stderr
    assert "Dataset/credit-default is valid" in result.stdout


def test_validate_rejects_with_the_field_and_exit_code_1(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: modelplane.io/v1alpha1\nkind: InferenceService\nmetadata: {name: s}\n"
        "spec: {modelVersionRef: {name: v}, replicas: {min: 3, max: 1}}\n---\n"
        "apiVersion: modelplane.io/v1alpha1\nkind: Dataset\nmetadata: {name: ok}\n"
        "spec: {source: {http: {url: 'https://example.com/a.csv'}}}\n"
    )
    result = modelplane("validate", "-f", str(bad))
    assert result.returncode == 1
    assert "spec.replicas: Invalid value" in result.stderr
    assert "replicas.min must be less than or equal to replicas.max" in result.stderr
    assert "Dataset/ok is valid" in result.stdout


def test_validate_reports_unreadable_files(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [unclosed\n")
    result = runner.invoke(app, ["validate", "-f", str(broken), "-f", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 1
    assert "not valid YAML" in result.stderr
    assert "missing.yaml: no such file or directory" in result.stderr


def test_validate_with_nothing_to_validate_fails(tmp_path):
    result = runner.invoke(app, ["validate", "-f", str(tmp_path)])
    assert result.exit_code == 1
    assert "no manifests found" in result.stderr


def test_list_objects_are_flattened(tmp_path):
    listed = tmp_path / "list.json"
    listed.write_text(
        '{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "modelplane.io/v1alpha1", "kind": "Dataset",'
        ' "metadata": {"name": "a"}, "spec": {"source": {"pvc": {"claimName": "data", "path": "/a.csv"}}}}]}'
    )
    result = runner.invoke(app, ["validate", "-f", str(listed)])
    assert result.exit_code == 0, result.output
    assert "Dataset/a is valid" in result.stdout
