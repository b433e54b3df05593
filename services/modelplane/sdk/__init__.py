"""The ModelPlane Python SDK: log runs, metrics, artifacts and models from training code.

    from modelplane.sdk import start_run

    with start_run(experiment="iris") as run:      # reads MODELPLANE_* variables set by the operator
        run.log_params({"max_depth": 8})
        for step in range(100):
            run.log_metric("loss", loss, step=step)  # buffered: cheap in a hot loop, sent in batches

Everything talks to the control plane over HTTP (``ModelPlaneClient``); nothing here imports the server.
"""

from modelplane.sdk.client import ModelPlaneClient, ModelPlaneError
from modelplane.sdk.config import ClientConfig
from modelplane.sdk.run import ActiveRun, start_run

__all__ = ["ActiveRun", "ClientConfig", "ModelPlaneClient", "ModelPlaneError", "start_run"]
