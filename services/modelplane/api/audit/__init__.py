"""Audit domain of the control plane."""
