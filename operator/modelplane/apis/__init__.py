"""ModelPlane API types: the pydantic models of the custom resources.

This package is the leaf of the dependency graph: it imports nothing of ModelPlane's own, and every
other package (the CRD generator, the operator, the control plane, the local runtime) reads and writes
custom resources through these models. The CRDs under ``crds/`` are generated from them.
"""
