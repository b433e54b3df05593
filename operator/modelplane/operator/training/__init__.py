"""TrainingRun: trials of a sweep (``trials``), training Jobs and their Services and the ModelVersion
(``builders``), status from Jobs and the control plane (``status``), the pass (``reconcile``) and its kopf
registration (``handlers``)."""
