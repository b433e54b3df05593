"""The ModelPlane inference server: ONNX Runtime models over the Open Inference Protocol v2.

Where it sits: an InferenceService's pods run ``python -m modelplane.serving --config models.yaml``. The
server loads each configured model version (``repository``, ``artifacts``, ``model``), serves it through
a protocol-agnostic ``dataplane`` (dynamic batching in ``batcher``, ``metrics``, sampled payload logging
in ``payload_log``) under a thin OIP v2 REST adapter (``rest``).

Importing this package loads nothing: ONNX Runtime, numpy and the web framework are imported by the
modules that need them, so ``import modelplane.serving`` is cheap for tools that only read its config.
"""
