"""The local Service proxy: a stable port piping each connection to one ready pod's port, in turn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from harness.ports import free_port
from modelplane.local import proxy
from modelplane.local.proxy import ProxyThread, ServiceProxy

pytestmark = pytest.mark.local


async def backend(name: str) -> tuple[asyncio.Server, int]:
    """A pod stand-in: answers every line with its name and the line."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(f"{name}:{line.decode()}".encode())
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


async def ask(port: int, line: str = "hi") -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{line}\n".encode())
    await writer.drain()
    answer = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    return answer.decode().strip()


@pytest.fixture
async def service() -> AsyncIterator[ServiceProxy]:
    service = ServiceProxy(free_port())
    await service.start()
    yield service
    await service.close()


async def test_connections_go_to_the_ready_backends_in_turn_and_follow_a_change(service: ServiceProxy) -> None:
    (one, one_port), (two, two_port) = await backend("one"), await backend("two")
    service.set_backends([one_port, two_port])
    answers = [await ask(service.port, str(i)) for i in range(4)]
    assert [a.split(":")[0] for a in answers] in (["one", "two"] * 2, ["two", "one"] * 2)
    service.set_backends([two_port])
    assert [await ask(service.port) for _ in range(3)] == ["two:hi"] * 3
    for server in (one, two):
        server.close()


async def test_a_connection_waits_for_a_ready_backend(service: ServiceProxy) -> None:
    waiting = asyncio.create_task(ask(service.port, "early"))
    await asyncio.sleep(0.3)
    assert not waiting.done()  # no pod is ready: the connection is held, not refused
    server, port = await backend("late")
    service.set_backends([port])
    assert await waiting == "late:early"
    server.close()


async def test_without_a_backend_a_connection_is_closed_after_the_wait(
    service: ServiceProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proxy, "NO_BACKEND_WAIT_SECONDS", 0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, no answer
    writer.close()


async def test_a_dead_backend_closes_the_connection_and_the_next_one_is_served(service: ServiceProxy) -> None:
    dead = free_port()
    server, port = await backend("alive")
    service.set_backends([dead])
    reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    service.set_backends([port])
    assert await ask(service.port) == "alive:hi"
    server.close()


async def test_the_proxy_thread_serves_beside_the_callers_loop() -> None:
    proxies = ProxyThread()
    server, port = await backend("pod")
    key = ("ml", "web")
    stable = free_port()
    first = await proxies.ensure(key, stable)
    assert await proxies.ensure(key, stable) is first  # idempotent
    proxies.set_backends(key, [port])
    await until(lambda: first.backends == (port,))
    assert await ask(stable) == "pod:hi"
    await proxies.remove(key)
    with pytest.raises(ConnectionRefusedError):  # the port is closed with its proxy
        await ask(stable)
    await proxies.close()
    server.close()


async def until(check: Callable[[], bool]) -> None:
    for _ in range(100):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")
