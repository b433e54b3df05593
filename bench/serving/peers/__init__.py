"""Peer servers' glue code, run by the peers' own interpreters (never imported by the benchmark)."""
