"""CustomResourceDefinitions generated from the API types, and validation of objects against them.

``structural`` turns pydantic's JSON schema into a Kubernetes structural schema, ``build`` wraps it in a
CRD, ``write`` keeps ``crds/`` in step with the types (``make crds``), and ``validation`` checks a custom
resource the way the API server would (schema, defaults, unknown fields, CEL rules) for the CLI and the
local runtime, where no API server runs.
"""
