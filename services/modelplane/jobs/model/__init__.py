"""The model validation job: a ModelVersion's artifact checked, evaluated, optimized and registered.

:func:`modelplane.jobs.model.job.run_model_validation` is the entry point (``python -m modelplane.jobs
validate-model`` in a pod, or called in-process). The steps, one module each:

- :mod:`.source`: resolve the artifact (operator's ``MODELPLANE_MODEL_SOURCE``, else from the resource and
  the control plane), fetch it (artifact API, external S3 or HTTP), verify its sha256, publish it.
- :mod:`.check`: the ONNX checker and an ONNX Runtime session; one inference and its latency.
- :mod:`.signature`: the inferred signature (OIP v2 datatypes, -1 for dynamic dimensions), the comparison
  with the declared one, and sample inputs synthesized from it.
- :mod:`.data`: the evaluation Dataset version and split as model inputs and targets.
- :mod:`.scoring`: the model's predictions on the split as the standard metrics.
- :mod:`.gates`: thresholds and the ``mustBeatAlias`` comparison (pure).
- :mod:`.optimize`: ONNX Runtime dynamic quantization, measured against the original.
- :mod:`.registration`: the registry record (lineage, digests, signature, metrics).
"""
