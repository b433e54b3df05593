"""Alias moves under concurrency, on SQLite and PostgreSQL: many clients moving the same alias to different
versions leave exactly one holder, and every read taken meanwhile sees exactly one holder too."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import itertools
import random
import uuid

import httpx
import pytest

pytestmark = pytest.mark.db
VERSIONS = 6


def sha() -> str:
    return hashlib.sha256(uuid.uuid4().bytes).hexdigest()


def model_url(namespace: str, *rest: object) -> str:
    return "/".join([f"/api/v1/namespaces/{namespace}/models/churn", *map(str, rest)])


def holders(versions: list[dict]) -> list[int]:
    return [v["version"] for v in versions if "champion" in v["aliases"]]


async def test_concurrent_moves_and_reads_always_see_one_holder(api, namespace):
    for _ in range(VERSIONS):
        body = {"artifact_uri": "s3://m/a.onnx", "sha256": sha(), "size_bytes": 1}
        assert (await api.post(model_url(namespace, "versions"), json=body)).status_code == 201
    await api.put(model_url(namespace, "aliases", "champion"), json={"version": 1})
    rng = random.Random(7)
    targets = [rng.randint(1, VERSIONS) for _ in range(24)]

    async def move(version: int) -> httpx.Response:
        return await api.put(model_url(namespace, "aliases", "champion"), json={"version": version})

    async def read_alias() -> tuple[str, object]:
        response = await api.get(model_url(namespace, "aliases", "champion"))
        assert response.status_code == 200, response.text
        return "alias", response.json()

    async def read_model() -> tuple[str, object]:
        response = await api.get(model_url(namespace))
        assert response.status_code == 200, response.text
        return "model", response.json()

    async def read_versions() -> tuple[str, object]:
        response = await api.get(model_url(namespace, "versions"), params={"page_size": 100})
        assert response.status_code == 200, response.text
        return "versions", response.json()

    readers = [read_alias, read_model, read_versions] * 8
    work = [move(v) for v in targets] + [reader() for reader in readers]
    rng.shuffle(work)
    answers = await asyncio.gather(*work)

    moves = [a for a in answers if isinstance(a, httpx.Response)]
    assert [r.status_code for r in moves] == [200] * len(targets), [r.text for r in moves]
    for kind, body in (a for a in answers if isinstance(a, tuple)):
        if kind == "alias":  # the holder it names carries the alias
            assert "champion" in body["aliases"]
        elif kind == "model":
            assert set(body["aliases"]) == {"champion"}
            assert body["aliases"]["champion"] in range(1, VERSIONS + 1)
        else:  # a listing never shows the alias on two versions, nor on none
            assert len(holders(body["items"])) == 1, holders(body["items"])
    final = (await api.get(model_url(namespace))).json()["aliases"]["champion"]
    listing = (await api.get(model_url(namespace, "versions"), params={"page_size": 100})).json()["items"]
    assert holders(listing) == [final]
    assert (await api.get(model_url(namespace, "aliases", "champion"))).json()["version"] == final


def test_concurrent_moves_over_http_from_many_threads(live_api, namespace):
    """The same over real HTTP: each thread its own connection, the server's pool serving them at once."""
    headers = {"Authorization": f"Bearer {live_api.settings.auth.admin_token.get_secret_value()}"}
    with httpx.Client(base_url=live_api.url, headers=headers, timeout=30) as client:
        for _ in range(VERSIONS):
            body = {"artifact_uri": "s3://m/a.onnx", "sha256": sha(), "size_bytes": 1}
            assert client.post(model_url(namespace, "versions"), json=body).status_code == 201

    def move(version: int) -> tuple[int, int]:
        with httpx.Client(base_url=live_api.url, headers=headers, timeout=30) as client:
            response = client.put(model_url(namespace, "aliases", "champion"), json={"version": version})
            return response.status_code, response.json()["version"]

    targets = [1 + i % VERSIONS for i in range(30)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(move, targets))
    assert [status for status, _ in answers] == [200] * len(targets)
    assert [version for _, version in answers] == targets
    with httpx.Client(base_url=live_api.url, headers=headers, timeout=30) as client:
        listing = client.get(model_url(namespace, "versions"), params={"page_size": 100}).json()["items"]
        model = client.get(model_url(namespace)).json()
        chain = client.get(f"/api/v1/namespaces/{namespace}/audit", params={"page_size": 1000}).json()["items"]
    assert holders(listing) == [model["aliases"]["champion"]]
    moved = [e for e in reversed(chain) if e["action"] == "model_alias.set"]
    assert len(moved) == len(targets)
    assert all(later["before"] == earlier["after"] for earlier, later in itertools.pairwise(moved))
    assert moved[-1]["after"] == {"version": model["aliases"]["champion"]}
