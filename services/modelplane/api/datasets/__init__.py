"""Datasets domain of the control plane."""
