"""Where the SDK finds the control plane: arguments first, then the ``MODELPLANE_*`` environment.

The operator injects these variables into training pods: ``MODELPLANE_API_URL``, ``MODELPLANE_TOKEN``
(or ``MODELPLANE_TOKEN_FILE``, a mounted Secret), ``MODELPLANE_NAMESPACE``, ``MODELPLANE_RUN_ID`` and
``MODELPLANE_EXPERIMENT``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ClientConfig:
    """Connection settings of the SDK."""

    api_url: str
    token: str | None = None
    namespace: str = "default"
    run_id: str | None = None
    experiment: str | None = None
    timeout_seconds: float = 30.0
    max_retries: int = 5

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> ClientConfig:
        """Settings from the environment, with explicit ``overrides`` winning."""
        env = os.environ if env is None else env
        token = env.get("MODELPLANE_TOKEN")
        token_file = env.get("MODELPLANE_TOKEN_FILE")
        if token is None and token_file:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        values: dict[str, object] = {
            "api_url": env.get("MODELPLANE_API_URL", "http://127.0.0.1:8080"),
            "token": token,
            "namespace": env.get("MODELPLANE_NAMESPACE", "default"),
            "run_id": env.get("MODELPLANE_RUN_ID"),
            "experiment": env.get("MODELPLANE_EXPERIMENT"),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
