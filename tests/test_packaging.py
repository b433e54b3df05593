"""The built wheel carries both namespace portions and works outside the source tree.

Builds the wheel with uv, installs it with the operator extra into a throwaway virtualenv (packages come
from uv's cache after the first run), and imports and runs it from a directory outside the repository.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if UV is None:
        pytest.fail("uv is not installed in the test environment (make venv installs it)")
    out = tmp_path_factory.mktemp("dist")
    run(UV, "build", "--wheel", "--out-dir", out, ROOT, cwd=ROOT)
    [built] = out.glob("modelplane-*.whl")
    return built


def test_wheel_holds_both_portions_without_namespace_init(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "modelplane/apis/v1alpha1/dataset.py" in names
    assert "modelplane/operator/main.py" in names
    assert "modelplane/cli/main.py" in names
    assert "modelplane/__init__.py" not in names
    assert not [n for n in names if n.startswith(("operator/", "services/", "tests/"))]


def test_installed_wheel_imports_and_runs_outside_the_tree(wheel, tmp_path):
    venv = tmp_path / "venv"
    run(UV, "venv", "--quiet", "--python", sys.executable, venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    run(UV, "pip", "install", "--quiet", "--python", python, f"{wheel}[operator]", cwd=tmp_path)
    probe = (
        "import modelplane, modelplane.apis.v1alpha1, modelplane.crd.validation, modelplane.operator.main;"
        "print(list(modelplane.__path__))"
    )
    result = run(python, "-c", probe, cwd=tmp_path)
    assert str(ROOT) not in result.stdout, "imported from the source tree, not the wheel"
    assert "site-packages" in result.stdout
    validated = run(venv / "bin" / "modelplane", "validate", "-f", ROOT / "examples", cwd=tmp_path)
    assert "is valid" in validated.stdout
