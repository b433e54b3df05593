"""The ``modelplane`` command line: the user's entry point on a laptop and in CI pipelines.

Subcommands stay thin: they parse arguments, call into the packages that own the behaviour (CRD
generation and validation today; the local runtime and the control-plane client as they land), and
render results with rich.
"""
