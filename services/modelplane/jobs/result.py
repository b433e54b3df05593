"""The one-line JSON result a job reports: the last line of stdout and the termination message.

Kubernetes keeps at most 4096 bytes of ``/dev/termination-log``, so :func:`encode_result` shrinks a
result that is too long: it drops the bulky optional parts first (lineage parameters, package lists; a
model's signature and evaluation details), then shortens lists and the message, and marks the result
``"truncated": true``. The full details are
always in the control plane (run, dataset version, validation report artifact).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from modelplane.jobs.encoding import json_safe

RESULT_FILE_ENV = "MODELPLANE_RESULT_FILE"
TERMINATION_LOG = Path("/dev/termination-log")
MAX_RESULT_BYTES = 4096
MESSAGE_LIMIT = 1024


def encode_result(result: Mapping[str, Any], limit: int = MAX_RESULT_BYTES) -> str:
    """``result`` as one line of compact JSON of at most ``limit`` bytes."""
    data: dict[str, Any] = json_safe(dict(result))
    if isinstance(data.get("message"), str) and len(data["message"]) > MESSAGE_LIMIT:
        data["message"] = data["message"][: MESSAGE_LIMIT - 3] + "..."
    line = _dump(data)
    if len(line.encode()) <= limit:
        return line
    data["truncated"] = True
    lineage = data.get("lineage")
    for key in ("parameters", "packages"):
        if isinstance(lineage, dict) and key in lineage:
            del lineage[key]
            line = _dump(data)
            if len(line.encode()) <= limit:
                return line
    for key in ("signature", "evaluation", "baseline"):  # a ModelVersion's: the registry keeps them
        if data.get(key) is not None and len(line.encode()) > limit:
            data[key] = None
            line = _dump(data)
    if len(line.encode()) <= limit:
        return line
    validation = data.get("validation")
    while isinstance(validation, dict) and validation.get("failedRules") and len(line.encode()) > limit:
        validation["failedRules"] = validation["failedRules"][: len(validation["failedRules"]) // 2]
        line = _dump(data)
    while isinstance(data.get("gates"), list) and data["gates"] and len(line.encode()) > limit:
        data["gates"] = data["gates"][: len(data["gates"]) // 2]
        line = _dump(data)
    while len(line.encode()) > limit and len(data.get("message") or "") > 16:
        data["message"] = data["message"][: len(data["message"]) // 2] + "..."
        line = _dump(data)
    if len(line.encode()) > limit:  # still too long: keep what the operator needs
        kept = (
            "kind",
            "name",
            "uid",
            "observedGeneration",
            "succeeded",
            "reason",
            "digest",
            "version",
            "runId",
            "artifactUri",
            "registeredVersion",
            "artifact",
            "optimizedArtifact",
            "singleInferenceMicroseconds",
            "truncated",
        )
        line = _dump({k: data[k] for k in kept if k in data})
    return line


def result_file(env: Mapping[str, str] | None = None) -> Path | None:
    """Where the result goes besides stdout: ``MODELPLANE_RESULT_FILE``, else the termination log if present."""
    env = os.environ if env is None else env
    configured = env.get(RESULT_FILE_ENV)
    if configured:
        return Path(configured)
    return TERMINATION_LOG if TERMINATION_LOG.exists() else None


def write_result(result: Mapping[str, Any], *, path: Path | None, stream: TextIO | None = None) -> str:
    """Print the encoded result as the last line of ``stream`` (stdout) and write it to ``path``."""
    line = encode_result(result)
    stream = stream or sys.stdout
    stream.write(line + "\n")
    stream.flush()
    if path is not None:
        path.write_text(line, encoding="utf-8")
    return line


def _dump(data: Mapping[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
