"""ModelVersion: where the artifact comes from (``sources``), the validation Job (``builders``), the registry's
records (``records``), status from the Job's result and the registry (``results``, ``status``), alias ownership
across versions (``aliases``), who serves a version (``usage``), the pass (``reconcile``) and its writes
(``updates``), the deletion (``finalizer``) and the kopf registration (``handlers``)."""
