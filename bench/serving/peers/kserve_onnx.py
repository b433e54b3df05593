"""KServe 0.21 model server for ONNX models: ``python kserve_onnx.py --http_port P name=/path/model.onnx ...``.

Where it sits: started by ``bench/serving/servers.py`` with KServe's interpreter from its own virtualenv,
inside the benchmark's loopback-only network namespace (KServe's REST server always binds 0.0.0.0).
A custom ``kserve.Model`` subclass per model creates its ``onnxruntime.InferenceSession`` on load (same
session options as ModelPlane in the benchmark) and answers OIP v2 requests with every output. gRPC is
off (the other servers speak REST only here), and so are the lines it logs per request (its latency log
line, its timing middleware's ``kserve.trace`` lines, uvicorn's access log): no other server logs each request.
"""

from __future__ import annotations

import logging
import sys

import numpy as np
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer
from kserve.utils.utils import from_np_dtype
from onnx_session import open_session


class OnnxModel(Model):
    """One ONNX file; the session is created by :meth:`load`."""

    def __init__(self, name: str, path: str) -> None:
        super().__init__(name)
        self.path = path
        self.load()

    def load(self) -> bool:
        self._session, self._input, self._outputs = open_session(self.path)
        self.ready = True
        return True

    async def predict(
        self,
        payload: InferRequest,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> InferResponse:
        rows = payload.inputs[0].as_numpy()
        results: list[np.ndarray] = self._session.run(self._outputs, {self._input: rows})
        outputs = []
        for name, value in zip(self._outputs, results, strict=True):
            output = InferOutput(name=name, shape=list(value.shape), datatype=from_np_dtype(value.dtype))
            output.set_data_from_numpy(value, binary_data=False)
            outputs.append(output)
        return InferResponse(response_id=payload.id or "", model_name=self.name, infer_outputs=outputs)


def main() -> None:
    models = []
    for arg in sys.argv[1:]:
        if "=" in arg and not arg.startswith("--"):
            name, path = arg.split("=", 1)
            models.append(OnnxModel(name, path))
    server = ModelServer(enable_grpc=False, enable_latency_logging=False)
    # No log line per request, as for the other servers: uvicorn's access log and the two lines
    # (wall and CPU time) that KServe's timing middleware writes to ``kserve.trace``.
    for name in ("uvicorn.access", "kserve.trace"):
        logging.getLogger(name).setLevel(logging.WARNING)
    server.start(models)


if __name__ == "__main__":
    main()
