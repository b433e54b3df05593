"""TrainingRun: training Jobs (one per trial of a sweep, ``modelplane.apis.v1alpha1.sweep``), their Services
and the ModelVersion (``builders``), status from Jobs and the control plane (``status``), the pass
(``reconcile``) and its kopf registration (``handlers``)."""
