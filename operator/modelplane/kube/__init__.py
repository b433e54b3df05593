"""Kubernetes access for ModelPlane: the only package that talks to the Kubernetes API.

``connection`` resolves credentials (in-cluster service account or a kubeconfig, read with the
``kubernetes`` package's loaders); ``client`` is a small asyncio client over httpx that gets, lists,
server-side applies (field manager ``modelplane-operator``), patches and deletes objects by
``resources.ResourceType``; ``errors`` maps the API server's answers to one exception tree. It imports
nothing of ModelPlane but the API types, and no kopf: the operator decides what an error means for a
reconcile.
"""
