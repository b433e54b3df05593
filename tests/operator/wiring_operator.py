"""The ModelPlane operator as a file for kopf runs against kmock: it registers the real handlers.

kopf re-executes this file on every run with a fresh registry (the default one during the run), so the
handlers are registered by calling ``registration.register`` rather than by importing a module.
"""

from __future__ import annotations

import kopf

from modelplane.operator import registration

registration.register(kopf.get_default_registry())
