"""The ModelPlane operator: kopf handlers that reconcile the five kinds into Kubernetes objects.

``main`` is what ``kopf run -m modelplane.operator.main`` loads: it configures kopf (``settings``) and
imports one thin handler module per kind as they land. Builders and status computations below it are
pure functions of the API types and never import kopf or a client.
"""
