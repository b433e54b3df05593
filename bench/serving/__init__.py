"""Serving benchmark: ModelPlane's inference server against MLServer, KServe and raw ONNX Runtime (``run.py``)."""
