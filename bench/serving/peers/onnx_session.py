"""The ONNX Runtime session of the peers' runtimes and of the raw limit: the options every system runs with.

Where it sits: imported by ``mlserver_onnx.py`` and ``kserve_onnx.py`` in the peers' own interpreters (this
folder is on their path; only ``onnxruntime`` is needed) and by ``limit.py``: one intra-op and one inter-op
thread, all graph optimizations, no spinning. ModelPlane's server gets the same from its model config
(``runtime: {intraOpThreads: 1, interOpThreads: 1}`` in ``servers.py``, the rest its defaults).
"""

from __future__ import annotations

import onnxruntime as ort


def session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def open_session(path: str) -> tuple[ort.InferenceSession, str, list[str]]:
    """A CPU session of the model at ``path``; its (first) input's name and every output's name."""
    session = ort.InferenceSession(path, sess_options=session_options(), providers=["CPUExecutionProvider"])
    return session, session.get_inputs()[0].name, [output.name for output in session.get_outputs()]
