"""The principal cache: entries expire, a token's own expiry still applies, invalidation by the auth routes
takes effect at once in this process, and a change made elsewhere within the cache's bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from modelplane.api.auth.cache import PrincipalCache
from modelplane.api.auth.models import ApiToken, Role, RoleBinding
from modelplane.api.auth.principal import Principal
from modelplane.api.auth.tokens import hash_token

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ALICE = Principal("alice", {"team-a": Role.EDITOR})


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.unit
def test_an_entry_is_served_until_its_ttl_then_dropped():
    clock = Clock()
    cache = PrincipalCache(5.0, clock=clock)
    cache.put("h", ALICE, None, cache.generation)
    clock.now += 4.9
    assert cache.get("h", NOW) is ALICE
    clock.now += 0.1
    assert cache.get("h", NOW) is None
    assert len(cache) == 0


@pytest.mark.unit
def test_the_tokens_own_expiry_applies_to_cached_entries():
    cache = PrincipalCache(5.0, clock=Clock())
    cache.put("h", ALICE, NOW + timedelta(seconds=1), cache.generation)
    assert cache.get("h", NOW) is ALICE
    assert cache.get("h", NOW + timedelta(seconds=1)) is None


@pytest.mark.unit
def test_invalidate_forgets_everything_and_rejects_lookups_that_began_before_it():
    cache = PrincipalCache(5.0, clock=Clock())
    cache.put("h", ALICE, None, cache.generation)
    began = cache.generation  # a lookup reads the database ...
    cache.invalidate()  # ... while a revocation commits
    assert cache.get("h", NOW) is None
    cache.put("h", ALICE, None, began)  # ... and must not store what it read
    assert cache.get("h", NOW) is None
    cache.put("h", ALICE, None, cache.generation)
    assert cache.get("h", NOW) is ALICE


@pytest.mark.unit
def test_zero_ttl_turns_the_cache_off():
    cache = PrincipalCache(0, clock=Clock())
    cache.put("h", ALICE, None, cache.generation)
    assert cache.get("h", NOW) is None


@pytest.mark.unit
def test_the_cache_is_bounded():
    clock = Clock()
    cache = PrincipalCache(5.0, clock=clock, max_entries=3)
    for name in "abc":
        cache.put(name, ALICE, None, cache.generation)
    clock.now += 2
    cache.put("d", ALICE, None, cache.generation)  # all three still fresh: forgotten at once
    assert len(cache) == 1
    assert cache.get("d", NOW) is ALICE
    clock.now += 4  # "d" is stale now: pruned to make room
    cache.put("e", ALICE, None, cache.generation)
    cache.put("f", ALICE, None, cache.generation)
    cache.put("g", ALICE, None, cache.generation)
    assert len(cache) <= 3
    assert cache.get("g", NOW) is ALICE


# --- Through the API: the cache the app holds ---------------------------------------------------------------


@pytest.fixture
def clock(api):
    """Replace the app's principal cache with one on a hand-moved clock (TTL 5 s)."""
    clock = Clock()
    api.app.state.mp.principals = PrincipalCache(5.0, clock=clock)
    return clock


async def whoami(api, token):
    return await api.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})


async def new_token(api, principal, roles):
    response = await api.post("/api/v1/tokens", json={"principal": principal, "roles": roles})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.db
async def test_revocation_through_this_process_applies_at_once(api, clock, namespace):
    token = await new_token(api, "grace", {namespace: "viewer"})
    assert (await whoami(api, token["token"])).status_code == 200
    assert len(api.app.state.mp.principals) == 1
    assert (await api.delete(f"/api/v1/tokens/{token['id']}")).status_code == 204
    response = await whoami(api, token["token"])
    assert response.status_code == 401
    assert response.json()["detail"] == "the bearer token was revoked"


@pytest.mark.db
async def test_role_changes_through_this_process_apply_at_once(api, clock, namespace):
    token = (await new_token(api, "heidi", {namespace: "viewer"}))["token"]
    assert (await whoami(api, token)).json()["roles"] == {namespace: "viewer"}
    await api.put(f"/api/v1/namespaces/{namespace}/rolebindings/heidi", json={"role": "editor"})
    assert (await whoami(api, token)).json()["roles"] == {namespace: "editor"}
    await new_token(api, "heidi", {"other": "admin"})  # a new token's bindings are the principal's
    assert (await whoami(api, token)).json()["roles"] == {namespace: "editor", "other": "admin"}
    await api.delete(f"/api/v1/namespaces/{namespace}/rolebindings/heidi")
    assert (await whoami(api, token)).json()["roles"] == {"other": "admin"}


@pytest.mark.db
async def test_a_revocation_made_by_another_process_applies_within_the_ttl(api, clock, namespace):
    token = (await new_token(api, "ivan", {namespace: "viewer"}))["token"]
    assert (await whoami(api, token)).status_code == 200
    async with api.app.state.mp.sessions() as session:  # another replica revokes it and drops the binding
        await session.execute(
            update(ApiToken).where(ApiToken.token_hash == hash_token(token)).values(revoked_at=datetime.now(UTC))
        )
        await session.execute(update(RoleBinding).where(RoleBinding.principal == "ivan").values(role=Role.ADMIN))
        await session.commit()
    clock.now += 4.9
    cached = await whoami(api, token)
    assert cached.status_code == 200
    assert cached.json()["roles"] == {namespace: "viewer"}
    clock.now += 0.1
    assert (await whoami(api, token)).status_code == 401


@pytest.mark.db
async def test_a_cached_token_still_expires_on_time(api, clock, namespace):
    token = (await new_token(api, "judy", {namespace: "viewer"}))["token"]
    assert (await whoami(api, token)).status_code == 200
    async with api.app.state.mp.sessions() as session:
        expires = datetime.now(UTC) - timedelta(seconds=1)
        await session.execute(
            update(ApiToken).where(ApiToken.token_hash == hash_token(token)).values(expires_at=expires)
        )
        await session.commit()
    # the cached entry still holds the old expiry (none); the next read after the TTL sees the new one
    clock.now += 5
    response = await whoami(api, token)
    assert response.status_code == 401
    assert response.json()["detail"] == "the bearer token has expired"


@pytest.mark.db
async def test_unknown_tokens_are_not_cached(api, clock):
    assert (await whoami(api, "mpt_not-a-token")).status_code == 401
    assert len(api.app.state.mp.principals) == 0
