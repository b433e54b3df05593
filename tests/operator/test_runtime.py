"""The runtime's bookkeeping: per-object locks, requeues (retries and re-checks), the spread of re-checks,
the view of kopf's indices, and the versions that let a pass skip a read or a child event."""

from __future__ import annotations

import asyncio
from typing import Any

from modelplane.operator.jobstate import JobState
from modelplane.operator.runtime import (
    DATASETS_INDEX,
    JOBS_INDEX,
    RESYNC_SPREAD,
    Indices,
    JobView,
    KeyedLocks,
    Requeues,
    StatusVersions,
    resync_delay,
)


async def test_locks_are_per_key_and_forgotten_when_free():
    locks = KeyedLocks()
    order: list[str] = []

    async def hold(key: str, tag: str) -> None:
        async with locks.hold("Dataset", "ns", key):
            order.append(f"{tag}+")
            await asyncio.sleep(0.01)
            order.append(f"{tag}-")

    await asyncio.gather(hold("a", "1"), hold("a", "2"), hold("b", "3"))
    assert order.index("1-") < order.index("2+")
    assert len(locks) == 0


async def test_a_requeue_runs_once_after_its_delay_and_leaves_nothing_behind():
    requeues = Requeues()
    ran: list[str] = []

    async def again() -> None:
        ran.append("x")

    requeues.schedule(("k",), 0.01, again)
    assert len(requeues) == 1
    await asyncio.sleep(0.05)
    assert ran == ["x"]
    assert len(requeues) == 0
    assert requeues.due_in(("k",)) is None


async def test_the_latest_pass_decides_what_is_pending():
    requeues = Requeues()
    ran: list[str] = []

    def again(tag: str) -> Any:
        async def run() -> None:
            ran.append(tag)

        return run

    requeues.schedule(("k",), 60, again("resync"))
    requeues.schedule(("k",), 0.01, again("retry"))  # replaces the minute-long re-check
    due = requeues.due_in(("k",))
    assert due is not None
    assert due < 1
    await asyncio.sleep(0.05)
    assert ran == ["retry"]
    requeues.schedule(("k",), 0.01, again("late"))
    requeues.cancel(("k",))  # a pass that needs nothing (a finished run)
    requeues.schedule(("other",), 10, again("other"))
    await asyncio.sleep(0.05)
    assert ran == ["retry"]
    requeues.cancel_all()
    assert len(requeues) == 0


def test_re_checks_are_spread_per_object_within_the_last_fifth_of_the_interval():
    delays = [resync_delay(60, f"uid-{i}") for i in range(1000)]
    assert all(60 * (1 - RESYNC_SPREAD) <= d <= 60 for d in delays)
    assert resync_delay(60, "uid-1") == resync_delay(60, "uid-1")  # fixed per object
    # Spread evenly: each sixth of the spread window holds about a sixth of the objects.
    window = 60 * RESYNC_SPREAD
    buckets = [
        sum(1 for d in delays if 60 - window + k * window / 6 <= d < 60 - window + (k + 1) * window / 6)
        for k in range(6)
    ]
    assert min(buckets) > 1000 / 6 * 0.7


def test_indices_are_bound_once_from_a_handlers_kwargs():
    indices = Indices()
    assert indices.get(JOBS_INDEX) is None
    jobs: dict[str, list[JobState]] = {"uid-1": [JobState(name="a")]}
    datasets = {("ns", "iris"): [{"metadata": {"name": "iris"}}]}
    indices.bind({"name": "x", JOBS_INDEX: jobs})
    indices.bind({JOBS_INDEX: {}, DATASETS_INDEX: datasets})  # the same live objects every time: kept
    assert indices.get(JOBS_INDEX) is jobs
    assert indices.one(DATASETS_INDEX, ("ns", "iris")) == {"metadata": {"name": "iris"}}
    assert indices.one(DATASETS_INDEX, ("ns", "other")) is None


def test_job_view_reads_the_index_and_remembers_the_versions_passes_saw():
    indices = Indices()
    view = JobView(indices)
    assert view.jobs_of("uid-1") is None  # outside kopf: the pass lists
    indices.bind({JOBS_INDEX: {"uid-1": [JobState(name="a", resource_version="7")]}})
    assert [j.name for j in view.jobs_of("uid-1") or []] == ["a"]
    assert view.jobs_of("uid-2") == []

    view.saw("ns", JobState(name="a", resource_version="7"))
    assert view.already_seen("ns", "a", "7")
    assert not view.already_seen("ns", "a", "8")  # a newer version: its event runs a pass
    assert not view.already_seen("other", "a", "7")
    assert not view.already_seen("ns", "a", None)
    view.saw("ns", JobState(name="b"))  # no version: nothing to compare with later
    assert len(view) == 1
    view.forget("ns", ["a", "b"])
    assert len(view) == 0


def test_status_versions_tell_whether_a_handlers_body_is_current():
    versions = StatusVersions()
    body: dict[str, Any] = {"metadata": {"name": "rf", "namespace": "ns", "resourceVersion": "10"}}
    assert versions.current("TrainingRun", "ns", "rf", body)  # never written by this process
    versions.note("TrainingRun", {"metadata": {"name": "rf", "namespace": "ns", "resourceVersion": "12"}})
    assert not versions.current("TrainingRun", "ns", "rf", body)  # may predate the operator's own write
    assert versions.current("TrainingRun", "ns", "rf", {"metadata": {"resourceVersion": "12"}})
    assert versions.current("Dataset", "ns", "rf", body)
    versions.forget("TrainingRun", "ns", "rf")
    assert versions.current("TrainingRun", "ns", "rf", body)
    assert len(versions) == 0
