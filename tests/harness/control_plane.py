"""Control-plane fixtures: a migrated database (SQLite and real PostgreSQL), an app client, a live server.

The database is migrated once per session and backend; tests isolate themselves by namespace (each test
gets a fresh random one), so nothing needs truncating between tests.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from harness.ports import free_port

if TYPE_CHECKING:  # the app and its dependencies load only in tests that use these fixtures
    from fastapi import FastAPI

    from modelplane.api.settings import Settings

ADMIN_TOKEN = "test-admin-token"


@pytest.fixture(scope="session")
def sqlite_api_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("api-sqlite") / "modelplane.db"
    url = f"sqlite+aiosqlite:///{path}"
    from modelplane.api.db.migrate import upgrade

    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgres_api_url(postgres_database: str) -> str:
    from modelplane.api.db.migrate import upgrade

    upgrade(postgres_database)
    return postgres_database


@pytest.fixture(params=["sqlite", "postgres"])
def api_db_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_api_url" if request.param == "sqlite" else "postgres_api_url"
    return str(request.getfixturevalue(name))


def make_settings(db_url: str, artifacts_root: Path, **overrides: Any) -> Settings:
    """Settings of a test control plane: this database, a local artifact directory, the admin token."""
    from pydantic import SecretStr

    from modelplane.api.settings import ArtifactBackend, ArtifactSettings, AuthSettings, DatabaseSettings, Settings

    return Settings(
        db=DatabaseSettings(url=SecretStr(db_url), pool_size=5, pool_timeout_seconds=2),
        artifacts=ArtifactSettings(backend=ArtifactBackend.LOCAL, local_root=artifacts_root),
        auth=AuthSettings(admin_token=SecretStr(ADMIN_TOKEN)),
        **overrides,
    )


@pytest.fixture
def api_settings(api_db_url: str, tmp_path: Path) -> Settings:
    return make_settings(api_db_url, tmp_path / "artifacts")


@pytest.fixture
async def api(api_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client of a running app (lifespan included), over ASGI."""
    from modelplane.api.app import create_app

    app = create_app(api_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://control-plane", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


@pytest.fixture
def namespace() -> str:
    return f"ns-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def client_as(
    api: httpx.AsyncClient,
) -> AsyncIterator[Callable[[str, dict[str, str]], Awaitable[httpx.AsyncClient]]]:
    """A factory: a client of the same app authenticated as a new principal with the given roles."""
    clients: list[httpx.AsyncClient] = []

    async def make(principal: str, roles: dict[str, str]) -> httpx.AsyncClient:
        response = await api.post("/api/v1/tokens", json={"principal": principal, "roles": roles})
        assert response.status_code == 201, response.text
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api.app),  # type: ignore[attr-defined]
            base_url="http://control-plane",
            headers={"Authorization": f"Bearer {response.json()['token']}"},
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def anonymous_client(api: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=api.app)  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url="http://control-plane") as client:
        yield client


@dataclass
class LiveApi:
    """A control plane served by uvicorn over real HTTP on 127.0.0.1."""

    url: str
    settings: Settings
    app: FastAPI


@contextlib.contextmanager
def serve(settings: Settings) -> Iterator[LiveApi]:
    """Serve a control plane with these settings by uvicorn in a background thread; stop it on exit."""
    import uvicorn

    from modelplane.api.app import create_app

    port = free_port()
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield LiveApi(url=f"http://127.0.0.1:{port}", settings=settings, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture
def live_api(api_settings: Settings) -> Iterator[LiveApi]:
    """The app served by a real uvicorn server over HTTP on 127.0.0.1, stopped after the test."""
    with serve(api_settings) as live:
        yield live
