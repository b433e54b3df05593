"""Run a kopf operator as its own process (``python -m kopf run``) against a real API server.

The ``cluster`` tier runs the operator the way it runs in a cluster: a separate process that logs in
with a kubeconfig (``KUBECONFIG``, read by kopf's kubernetes-client login), so it holds only the
permissions of that identity (see :func:`harness.cluster.operator_identity`) and its registry, logging
and ``sys.modules`` are its own. Its log (``--verbose``) goes to a file that tests can read.

:func:`run_operator` returns once kopf has started watching (the ``Starting the watch-stream for``
debug lines); on exit kopf gets SIGTERM (a graceful stop), then SIGKILL after ``stop_timeout``.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from harness.envtest import ServerProcess

WATCH_LINE = re.compile(r"Starting the watch-stream for (?P<resource>\S+) ")
FRAMEWORK_RESOURCES = ("namespaces.", "customresourcedefinitions.", "kopfpeerings.", "clusterkopfpeerings.")
# Environment variables that must not leak into the operator: it sees only its own kubeconfig.
_SCRUBBED_ENV = ("MODELPLANE_TEST_KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")


class OperatorProcess:
    """A running ``kopf run``: its log, liveness and the resources it watches."""

    def __init__(self, process: ServerProcess) -> None:
        self.process = process

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    def output(self) -> str:
        """Everything the operator has logged so far."""
        try:
            return self.process.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def watched_resources(self) -> set[str]:
        """``plural.version.group`` of every resource kopf has started watching (framework ones excluded)."""
        return {
            match["resource"]
            for match in WATCH_LINE.finditer(self.output())
            if not match["resource"].startswith(FRAMEWORK_RESOURCES)
        }

    def check_running(self) -> None:
        """Raise with the operator's log if it has exited (pass it as ``alive=`` to ``KubeClient.wait_for``)."""
        self.process.check_running()


@contextlib.contextmanager
def run_operator(
    target: str | os.PathLike[str],
    *,
    kubeconfig: Path,
    log_path: Path,
    namespaces: Sequence[str] = (),
    module: bool = False,
    watching: Sequence[str] = (),
    extra_args: Sequence[str] = (),
    startup_timeout: float = 30.0,
    stop_timeout: float = 15.0,
) -> Iterator[OperatorProcess]:
    """Run ``kopf run --standalone --verbose`` on a file (or a module with ``module=True``).

    ``namespaces``: ``--namespace`` for each (default ``--all-namespaces``). Entering waits until kopf
    watches every resource named in ``watching`` (``plural.version.group`` or a prefix such as
    ``datasets.``), or any non-framework resource when it is empty.
    """
    argv = [sys.executable, "-m", "kopf", "run", "--standalone", "--verbose"]
    if namespaces:
        for namespace in namespaces:
            argv += ["--namespace", namespace]
    else:
        argv.append("--all-namespaces")
    argv += list(extra_args)
    argv += ["-m", os.fspath(target)] if module else [os.fspath(target)]
    env = {key: value for key, value in os.environ.items() if key not in _SCRUBBED_ENV}
    env.update(KUBECONFIG=str(kubeconfig), PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")

    process = ServerProcess("kopf operator", argv, log_path, env=env)
    operator = OperatorProcess(process)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            operator.check_running()
            watched = operator.watched_resources()
            if watched and all(any(w.startswith(want) for w in watched) for want in watching):
                break
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"the operator did not start watching {list(watching) or 'any resource'} in "
                    f"{startup_timeout:.0f}s:\n{operator.output()[-4000:]}"
                )
            time.sleep(0.05)
        yield operator
    finally:
        process.stop(timeout=stop_timeout)
