"""Entry point of the operator process: ``kopf run -m modelplane.operator.main --all-namespaces``.

One import wires the whole operator (``registration.register`` into kopf's default registry): ModelPlane's
kopf settings, the runtime, and the handlers of every kind that has landed (Dataset, TrainingRun).
"""

from __future__ import annotations

import kopf

from modelplane.operator import registration

registration.register(kopf.get_default_registry())
