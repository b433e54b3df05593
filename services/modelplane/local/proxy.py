"""The local Service proxy: a Deployment's stable port, in front of the ports of its ready pods.

Where it sits: under the local kubelet (:mod:`.kubelet`), in the part kube-proxy plays on a cluster. Each pod
of a local Deployment listens on a port of its own; the Deployment keeps one stable port (the URL its
Service is annotated with), where a :class:`ServiceProxy` accepts connections and pipes each to one ready
pod, in turn. The kubelet sets the ready pods as they change, so a rolling update never refuses a request:
the new pod joins before the old one leaves, and the old one drains what it was serving (uvicorn's
graceful shutdown). A connection that arrives while no pod is ready waits up to
:data:`NO_BACKEND_WAIT_SECONDS` for one (the first start, a restart) before it is closed.

The proxies run on a thread of their own with its own event loop (:class:`ProxyThread`), so inference
traffic never queues behind the control plane and the controllers on the daemon's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

NO_BACKEND_WAIT_SECONDS = 30.0
CHUNK = 256 * 1024
T = TypeVar("T")


class ServiceProxy:
    """One stable port on 127.0.0.1 spreading connections over the ports of the ready pods."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._backends: tuple[int, ...] = ()
        self._turn = itertools.count()
        self._changed: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def backends(self) -> tuple[int, ...]:
        return self._backends

    def set_backends(self, ports: Sequence[int]) -> None:
        """The ready pods' ports (call on the proxy's loop)."""
        self._backends = tuple(ports)
        if self._changed is not None and self._backends:
            self._changed.set()

    async def start(self) -> None:
        self._changed = asyncio.Event()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _backend(self) -> int | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + NO_BACKEND_WAIT_SECONDS
        while not self._backends:
            remaining = deadline - loop.time()
            if remaining <= 0 or self._changed is None:
                return None
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        backends = self._backends
        return backends[next(self._turn) % len(backends)]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            port = await self._backend()
            if port is None:
                logger.warning("No ready pod behind 127.0.0.1:%d: closing a connection.", self.port)
                return
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError as error:
                logger.warning("Pod port %d refused a connection (%s).", port, error)
                return
            try:
                await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
            finally:
                upstream_writer.close()
        finally:
            writer.close()
            self._connections.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then half-close (HTTP/1.1 keep-alive connections end that way)."""
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


class ProxyThread:
    """The proxies' own event loop, on a daemon thread; every method is called from the kubelet's loop."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="service-proxies", daemon=True)
        self._thread.start()
        self.proxies: dict[tuple[str, str], ServiceProxy] = {}

    async def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self._loop))

    async def ensure(self, key: tuple[str, str], port: int) -> ServiceProxy:
        """The proxy of ``key`` on ``port``, started when it is not running (or runs on another port)."""
        proxy = self.proxies.get(key)
        if proxy is not None and proxy.port == port:
            return proxy
        if proxy is not None:
            await self.remove(key)
        proxy = ServiceProxy(port)
        await self._call(proxy.start())
        self.proxies[key] = proxy
        logger.info("Service proxy for %s/%s listens on 127.0.0.1:%d.", key[0], key[1], port)
        return proxy

    def set_backends(self, key: tuple[str, str], ports: Sequence[int]) -> None:
        proxy = self.proxies.get(key)
        if proxy is not None and tuple(ports) != proxy.backends:
            self._loop.call_soon_threadsafe(proxy.set_backends, tuple(ports))

    async def remove(self, key: tuple[str, str]) -> None:
        proxy = self.proxies.pop(key, None)
        if proxy is not None:
            await self._call(proxy.close())

    async def close(self) -> None:
        for key in list(self.proxies):
            await self.remove(key)
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 5.0)
        self._loop.close()
