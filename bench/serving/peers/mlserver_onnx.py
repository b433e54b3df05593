"""MLServer custom runtime for an ONNX model: MLServer has no ONNX runtime package (``mlserver-onnx`` does not exist).

Where it sits: named as ``implementation`` in each model's ``model-settings.json`` written by
``bench/serving/servers.py``; imported by MLServer 1.7's interpreter from its own virtualenv. The
session options are the ones ModelPlane uses in the benchmark (one intra-op and one inter-op thread,
all graph optimizations, no spinning), the input is decoded and the outputs encoded with MLServer's
own numpy codec, as its documentation shows for custom runtimes.
"""

from __future__ import annotations

from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse
from onnx_session import open_session


class OnnxRuntime(MLModel):
    """An ``onnxruntime.InferenceSession`` created on load; one input, every output returned."""

    async def load(self) -> bool:
        uri = self.settings.parameters.uri if self.settings.parameters else None
        if not uri:
            raise ValueError("parameters.uri must name the .onnx file")
        self._session, self._input, self._outputs = open_session(uri)
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        rows = NumpyCodec.decode_input(payload.inputs[0])
        results = self._session.run(self._outputs, {self._input: rows})
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            id=payload.id,
            outputs=[NumpyCodec.encode_output(name, value) for name, value in zip(self._outputs, results, strict=True)],
        )
