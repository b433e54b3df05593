"""What every benchmark shares: child servers (``processes``), peers' virtualenvs (``venvs``), the run's facts
(``facts``) and the generated section of ``docs/benchmarks.md`` (``markdown``).

The benchmarks run as scripts with ``bench/`` on ``sys.path``, so this is the top-level package ``common``.
"""
