"""Entry point of the operator process: ``kopf run -m modelplane.operator.main --all-namespaces``.

Registers the startup configuration; the per-kind handler modules are imported here as they land, so
one import wires the whole operator.
"""

from __future__ import annotations

import kopf

from modelplane.operator import settings

kopf.on.startup()(settings.configure)
