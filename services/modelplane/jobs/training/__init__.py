"""The built-in trainer: a scikit-learn estimator fitted on a Dataset version and exported to ONNX.

:func:`modelplane.jobs.training.job.run_training` is the entry point (``python -m modelplane.jobs train``
in a pod, or called in-process by the local runtime). :mod:`.estimator` resolves the estimator and its
hyperparameters, :mod:`.data` loads the splits, :mod:`.evaluation` computes the metrics, and
:mod:`.export` converts the model to ONNX and checks ONNX Runtime agrees with scikit-learn.
"""
