"""The export examples of docs/guide/models.md for gradient-boosted trees: `examples/models/export_boosted.py`
(LightGBM and XGBoost through onnxmltools) writes a file that the validation job accepts as an external model
with the signature the script printed, scored on the breast-cancer test split against gates.

(The scikit-learn example is exercised in test_validation.py, with the import manifest beside it.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from modelplane.jobs.model.job import run_model_validation

pytestmark = [pytest.mark.db, pytest.mark.s3]

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "models"


def export(framework: str, output: Path) -> tuple[str, dict[str, object]]:
    """Run the example script; the sha256 and the signature it printed."""
    process = subprocess.run(
        [sys.executable, str(EXAMPLES / "export_boosted.py"), "--framework", framework, "--output", str(output)],
        check=True,
        capture_output=True,
        text=True,
        timeout=180,
    )
    lines = process.stdout.splitlines()
    sha256 = next(line.removeprefix("sha256: ") for line in lines if line.startswith("sha256: "))
    signature = yaml.safe_load("\n".join(lines[lines.index("signature:") + 1 :]))
    return sha256, signature


@pytest.mark.parametrize("framework", ["lightgbm", "xgboost"])
def test_a_boosted_tree_exported_by_the_example_is_validated_and_passes_its_gates(
    framework, ctx, make_model_version, ingest, models, http_files
):
    base, root = http_files
    sha256, signature = export(framework, root / f"cancer-{framework}.onnx")
    assert sha256 == models.sha256((root / f"cancer-{framework}.onnx").read_bytes())
    assert signature == {
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 30]}],
        "outputs": [
            {"name": "label", "datatype": "INT64", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]},
        ],
    }
    ingest("load_breast_cancer")
    spec = {
        "modelName": "cancer",
        "source": {"external": {"uri": f"{base}/cancer-{framework}.onnx", "sha256": sha256}},
        "signature": signature,
        "evaluation": {
            "datasetRef": {"name": "breast-cancer"},
            "split": "Test",
            "thresholds": [{"metric": "accuracy", "min": 0.9}, {"metric": "roc_auc", "min": 0.95}],
        },
    }

    result = run_model_validation(make_model_version(spec, name=f"cancer-{framework}"), ctx)

    assert result.succeeded, result.message
    wire = result.to_result()
    assert wire["signature"] == signature
    assert [(g["metric"], g["passed"]) for g in wire["gates"]] == [("accuracy", True), ("roc_auc", True)]
    assert wire["registeredVersion"] == 1
