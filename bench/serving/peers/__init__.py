"""Peer servers' glue code, run by the peers' own interpreters (``limit.py`` also uses ``onnx_session``)."""
