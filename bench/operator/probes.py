"""What the operator benchmark reads while it runs: watches, the operator's RSS and CPU, the API server's requests.

Pure readers with no opinion on phases (``run.py`` has those): :class:`Watch` follows one collection and
records the first time each object satisfied a predicate; :func:`rss_kib` and :func:`cpu_seconds` read
``/proc/<pid>``; :class:`Requests` diffs the API server's ``apiserver_request_total`` counters.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.kubeapi import KubeClient, _http_client

_METRIC = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def machine_facts() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    load = "unknown"
    with contextlib.suppress(OSError):
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average_at_start": load,
    }


class Requests:
    """The API server's request counters (``apiserver_request_total``) by ``VERB resource[/subresource]``."""

    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube

    def snapshot(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for line in str(self.kube.get("/metrics")).splitlines():
            match = _METRIC.match(line)
            if match is None:
                continue
            labels = dict(_LABEL.findall(match["labels"]))
            if labels.get("verb") in ("WATCH", "CONNECT") or not labels.get("resource"):
                continue
            sub = f"/{labels['subresource']}" if labels.get("subresource") else ""
            counts[f"{labels['verb']} {labels['resource']}{sub}"] += int(float(match["value"]))
        return counts

    @staticmethod
    def per_object(before: Counter[str], after: Counter[str], own: Counter[str], objects: int) -> dict[str, float]:
        """Requests per object between two snapshots, less the benchmark's own (``own``)."""
        diff = after - before
        diff.subtract(own)
        shown = {key: round(value / objects, 2) for key, value in sorted(diff.items()) if value > 0}
        shown["total"] = round(sum(v for v in diff.values() if v > 0) / objects, 2)
        return shown


class Watch:
    """A watch on one collection: the first time each object (by ``key(obj)``) satisfied ``want(obj)``."""

    def __init__(
        self,
        kube: KubeClient,
        path: str,
        key: Callable[[dict[str, Any]], str | None],
        want: Callable[[dict[str, Any]], bool],
    ) -> None:
        self._http = _http_client(kube.connection, timeout=None)  # type: ignore[arg-type]
        self.path, self.key, self.want = path, key, want
        self.seen: dict[str, float] = {}
        self.objects: dict[str, dict[str, Any]] = {}
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        listed = kube.get(path)
        self._rv = listed["metadata"]["resourceVersion"]
        for obj in listed.get("items") or []:
            self._note(obj, time.perf_counter())
        self._thread = threading.Thread(target=self._loop, name=f"watch {path}", daemon=True)
        self._thread.start()

    def event(self, key: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault(key, threading.Event())

    def count(self, keys: set[str] | None = None) -> int:
        with self._lock:
            return len(self.seen) if keys is None else len(keys.intersection(self.seen))

    def _note(self, obj: dict[str, Any], now: float) -> None:
        key = self.key(obj)
        if key is None or not self.want(obj):
            return
        with self._lock:
            if key not in self.seen:
                self.seen[key] = now
                self.objects[key] = obj
            self._events.setdefault(key, threading.Event()).set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            params = {"watch": "1", "resourceVersion": self._rv, "allowWatchBookmarks": "true", "timeoutSeconds": "30"}
            try:
                with self._http.stream("GET", self.path, params=params) as response:
                    for line in response.iter_lines():
                        if self._stop.is_set():
                            return
                        if not line:
                            continue
                        now = time.perf_counter()
                        event = json.loads(line)
                        obj = event.get("object") or {}
                        self._rv = (obj.get("metadata") or {}).get("resourceVersion", self._rv)
                        if event.get("type") in ("ADDED", "MODIFIED"):
                            self._note(obj, now)
            except Exception:  # a dropped watch is re-opened from the last resourceVersion
                if not self._stop.is_set():
                    time.sleep(0.1)

    def close(self) -> None:
        self._stop.set()
        self._http.close()
        self._thread.join(timeout=5)
