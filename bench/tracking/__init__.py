"""Tracking benchmark: ModelPlane's control plane against MLflow's tracking server (``run.py``)."""
