"""The embedded local mode: the whole lifecycle on one machine, from the same YAML that goes to a cluster.

Where it sits: below the CLI (``modelplane up/apply/get/...``), beside the operator. The operator's own
reconcilers (``modelplane.operator.*.reconcile``) run unchanged against a local object store that speaks
the subset of the Kubernetes API they use (:mod:`.store`, :mod:`.kube`); a local "kubelet"
(:mod:`.kubelet`) runs the Jobs and Deployments they create as local processes (the same job and
serving commands a pod runs, translated by :mod:`.containers`); the control plane runs in-process on
SQLite with a local artifact directory (:mod:`.daemon`). Only the "where does this run" layer is new.
"""
