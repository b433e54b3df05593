"""Registry domain of the control plane."""
