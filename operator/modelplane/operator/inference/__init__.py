"""The InferenceService controller: resolve the served ModelVersion(s), build the model server's Deployment(s),
Service, HPA(s) and PodDisruptionBudget, report URL, replicas and conditions (docs/operator.md)."""
