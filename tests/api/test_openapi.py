"""One OpenAPI document for the whole control plane, and schemathesis finds no 5xx against a live server."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.db


def test_openapi_document_covers_every_domain(live_api):
    document = httpx.get(f"{live_api.url}/openapi.json").json()
    assert document["info"]["title"] == "ModelPlane control plane"
    tags = {
        tag for operations in document["paths"].values() for op in operations.values() for tag in op.get("tags", [])
    }
    assert {"runs", "auth", "artifacts", "audit", "health"} <= tags
    assert "/api/v1/runs/{run_id}/log-batch" in document["paths"]


def test_schemathesis_finds_no_server_errors(live_api, tmp_path):
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis (st) is not installed in the test environment"
    result = subprocess.run(
        [
            st,
            "run",
            f"{live_api.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--header",
            f"Authorization: Bearer {live_api.settings.auth.admin_token.get_secret_value()}",
            "--max-examples",
            "25",
            "--seed",
            "20261122",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
