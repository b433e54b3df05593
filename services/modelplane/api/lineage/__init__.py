"""Lineage domain of the control plane."""
