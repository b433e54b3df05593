"""Auth domain of the control plane."""
