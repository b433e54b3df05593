"""Dataset: ingest Jobs (``builders``), status from the Job and the control plane (``status``), the pass that
ties them together (``reconcile``) and its kopf registration (``handlers``)."""
