"""The limit: raw ONNX Runtime in one process, ``session.run`` in a loop, no HTTP, no JSON.

    python bench/serving/limit.py MODEL.onnx ROWS_FILE.npy BATCH SECONDS ROUNDS   # prints one JSON line

Where it sits: ``measure.py`` runs this script pinned to the server's cores with the same session
options as every server (one intra-op and one inter-op thread, all graph optimizations, no spinning)
and the same rows as the request bodies, already float32 arrays: what is left is the model itself.
Each round is ``SECONDS`` of back-to-back calls; the answer holds every round's calls/s and the
per-call latency percentiles over all rounds.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from peers.onnx_session import open_session

POOL = 16


def main(argv: list[str]) -> int:
    model, rows_file, batch, seconds, rounds = argv[0], argv[1], int(argv[2]), float(argv[3]), int(argv[4])
    session, name, outputs = open_session(model)
    rows = np.load(rows_file).astype(np.float32)
    feeds = [{name: np.ascontiguousarray(rows[(i * batch) % (len(rows) - batch) :][:batch])} for i in range(POOL)]
    for feed in feeds * 50:  # warm-up
        session.run(outputs, feed)
    rates: list[float] = []
    latencies: list[int] = []
    run, clock = session.run, time.perf_counter_ns
    for _ in range(rounds):
        calls = 0
        started = clock()
        deadline = started + int(seconds * 1e9)
        now = started
        while now < deadline:
            before = now
            run(outputs, feeds[calls % POOL])
            now = clock()
            latencies.append(now - before)
            calls += 1
        rates.append(calls / ((now - started) / 1e9))
    ns = np.array(latencies)
    print(
        json.dumps(
            {
                "rates": rates,
                "p50": float(np.percentile(ns, 50)) / 1e9,
                "p99": float(np.percentile(ns, 99)) / 1e9,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
