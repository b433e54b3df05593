"""Entry point: ``python -m modelplane.serving --config models.yaml --host 127.0.0.1 --port 8080``.

Where it sits: what an InferenceService's container runs. Reads the config (``--config``, else
``MODELPLANE_SERVING_CONFIG``, else the ``MODELPLANE_SERVING_MODEL_*`` variables), builds the ASGI
application and runs it under uvicorn (uvloop and httptools when installed, no access log: metrics and
payload logs cover requests). On SIGTERM or SIGINT uvicorn stops accepting connections and lets the
requests in flight finish (up to ``--graceful-timeout`` seconds) before the lifespan shutdown drains
the batchers and flushes the payload log.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from modelplane.serving.config import ConfigError, config_from_env, read_config


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m modelplane.serving", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, help="YAML or JSON config file (default: $MODELPLANE_SERVING_CONFIG)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind (default: 8080)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument(
        "--graceful-timeout", type=int, default=30, help="seconds to let in-flight requests finish on shutdown"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the server until it is told to stop; the exit status."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        config = read_config(args.config) if args.config is not None else config_from_env()
    except ConfigError as exc:
        logging.getLogger("modelplane.serving").error("Refused to start: %s", exc)
        return 2

    import uvicorn

    from modelplane.serving.rest.app import build_app

    uvicorn.run(
        build_app(config),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=args.graceful_timeout,
        lifespan="on",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
