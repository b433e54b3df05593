"""Runs domain of the control plane."""
