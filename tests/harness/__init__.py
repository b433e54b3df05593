"""ModelPlane's reusable test harness: real components behind pytest fixtures.

The fixtures live in :mod:`harness.plugin` (registered from ``tests/conftest.py``);
the building blocks (servers, clients, skip helpers) live in the sibling modules
so that other test helpers and benchmarks can use them without pytest fixtures.
"""
