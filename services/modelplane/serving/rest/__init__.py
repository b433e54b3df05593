"""The Open Inference Protocol v2 REST adapter (plus the v1 ``instances`` convenience endpoint).

Where it sits: on top of :mod:`modelplane.serving.dataplane`. ``app`` assembles the ASGI application:
inference requests take a lean path (``handlers`` over ``codec``/``predict``), everything else is a
typed FastAPI route (``routes``, ``schemas``); ``errors`` maps the serving exceptions to status codes.
"""
