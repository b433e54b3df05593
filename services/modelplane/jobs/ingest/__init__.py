"""The Dataset ingest job: source → table → validation → digest → splits, profile → control plane.

:func:`modelplane.jobs.ingest.job.run_ingest` is the entry point (``python -m modelplane.jobs ingest``
in a pod, or called in-process by the local runtime). Each step is a module: :mod:`.source` fetches the
files, :mod:`.table` reads them, :mod:`.validation` infers or checks the schema, :mod:`.manifest` digests
the content, :mod:`.split` and :mod:`.profile` derive the artifacts.
"""
