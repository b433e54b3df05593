"""Deployments domain of the control plane."""
