"""The alias rule across versions of a model: the newest live claimant holds an alias (ties: the greater name),
and the registry changes one version's pass makes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from modelplane.operator.model.aliases import (
    Claimant,
    claimant_of,
    holders,
    plan_aliases,
    releasable,
    siblings_of,
)

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def body(name: str, *, created: str, aliases: list[str], version: int | None = 1, ready: bool = True, **meta: Any):
    conditions = [{"type": "Ready", "status": "True" if ready else "False", "reason": "x"}]
    return {
        "metadata": {"name": name, "creationTimestamp": created, **meta},
        "spec": {"modelName": "iris", "aliases": aliases},
        "status": {"registeredVersion": version, "conditions": conditions},
    }


def claimant(name: str, minutes: int, *aliases: str, version: int = 1, live: bool = True) -> Claimant:
    return Claimant(name, T0 + timedelta(minutes=minutes), version, aliases, live)


def test_stored_versions_are_read_as_claimants():
    live = claimant_of(body("a", created="2026-03-01T12:00:00Z", aliases=["champion"], version=3))
    assert live == Claimant("a", T0, 3, ("champion",), True)
    assert not claimant_of(body("b", created="2026-03-01T12:00:00Z", aliases=[], ready=False)).live
    assert not claimant_of(body("c", created="2026-03-01T12:00:00Z", aliases=[], version=None)).live
    deleting = body("d", created="2026-03-01T12:00:00Z", aliases=[], deletionTimestamp="2026-03-02T00:00:00Z")
    assert not claimant_of(deleting).live
    other_model = body("e", created="2026-03-01T12:00:00Z", aliases=[])
    other_model["spec"]["modelName"] = "wine"
    listed = [live, other_model, body("me", created="2026-03-01T12:00:00Z", aliases=[])]
    assert [c.name for c in siblings_of([*(listed[1:]), body("a", created="x", aliases=[])], "iris", "me")] == ["a"]


def test_the_newest_live_claimant_holds_and_the_greater_name_breaks_ties():
    old, new = claimant("v1", 0, "champion"), claimant("v2", 5, "champion", "staging")
    same_second = claimant("v3", 5, "staging")
    not_ready = claimant("v9", 60, "champion", live=False)
    won = holders([old, new, same_second, not_ready])
    assert won["champion"].name == "v2"
    assert won["staging"].name == "v3"  # equal creationTimestamp: the greater name
    assert holders([old, new, same_second][::-1]) == won  # the order of the listing does not matter


def test_the_winner_puts_what_the_registry_lacks_and_a_loser_reports_the_holder():
    me, older = claimant("v2", 5, "champion", version=2), claimant("v1", 0, "champion", version=1)
    plan = plan_aliases(me, [older], {"champion": 1}, managed_before=set())
    assert (plan.put, plan.remove, plan.conflicts, plan.managed) == (("champion",), (), (), ("champion",))
    assert plan_aliases(me, [older], {"champion": 2}, set()).put == ()  # already there: nothing to do
    loser = plan_aliases(older, [me], {"champion": 2}, managed_before={"champion"})
    assert loser.put == ()
    assert loser.conflicts == (("champion", me),)
    assert loser.managed == ()
    assert loser.remove == ()  # still claimed in its spec: never removed by the loser


def test_a_dropped_alias_is_removed_only_when_it_points_here_and_nobody_else_claims_it():
    me = claimant("v2", 5, version=2)
    assert plan_aliases(me, [], {"staging": 2}, managed_before={"staging"}).remove == ("staging",)
    assert plan_aliases(me, [], {"staging": 3}, managed_before={"staging"}).remove == ()  # moved elsewhere
    assert plan_aliases(me, [], {"staging": 2}, managed_before=set()).remove == ()  # set in the registry by hand
    other = claimant("v1", 0, "staging")
    assert plan_aliases(me, [other], {"staging": 2}, managed_before={"staging"}).remove == ()  # v1 moves it


def test_a_deleted_version_releases_what_no_live_version_claims():
    claimed = claimant("v1", 0, "champion")
    gone = claimant("v0", 0, "staging", live=False)
    assert releasable([claimed, gone], ["champion", "staging", "beta"]) == ("beta", "staging")
