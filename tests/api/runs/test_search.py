"""Run search: MLflow filter syntax, ordering, keyset pages, and the info projection."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.db


@pytest.fixture
async def runs(api, namespace):
    """Twelve runs: depth 2..13, accuracy rising with depth, half of them tagged and two still running."""
    created = []
    for i in range(12):
        body = {
            "experiment": "grid" if i < 10 else "other",
            "name": f"trial-{i}",
            "params": [{"key": "depth", "value": str(i + 2)}],
            "tags": [{"key": "team", "value": "a" if i % 2 else "b"}],
        }
        run = (await api.post(f"/api/v1/namespaces/{namespace}/runs", json=body)).json()
        metrics = [] if i == 11 else [{"key": "accuracy", "value": 0.5 + i / 100, "step": 0, "timestamp": 1}]
        await api.post(f"/api/v1/runs/{run['run_id']}/log-batch", json={"metrics": metrics})
        if i < 10:
            await api.patch(f"/api/v1/runs/{run['run_id']}", json={"status": "Succeeded"})
        created.append(run)
    return created


async def search(api, namespace, **body):
    response = await api.post(f"/api/v1/namespaces/{namespace}/runs/search", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def names(api, namespace, **body):
    return [r["name"] for r in (await search(api, namespace, **body))["items"]]


async def test_filters_on_metrics_params_tags_and_attributes(api, namespace, runs):
    assert await names(api, namespace, filter="metrics.accuracy >= 0.58", order_by="metrics.accuracy DESC") == [
        "trial-10",
        "trial-9",
        "trial-8",
    ]
    assert await names(api, namespace, filter="params.depth = '5'") == ["trial-3"]
    assert set(await names(api, namespace, filter="tags.team = 'a' and metrics.accuracy < 0.54")) == {
        "trial-1",
        "trial-3",
    }
    assert set(await names(api, namespace, filter="attributes.status = 'Running'")) == {"trial-10", "trial-11"}
    assert set(await names(api, namespace, filter="attributes.status IN ('Running') and params.depth LIKE '1%'")) == {
        "trial-10",
        "trial-11",
    }
    assert len(await names(api, namespace, experiment="grid", page_size=50)) == 10


async def test_default_order_is_newest_first_and_pages_are_complete(api, namespace, runs):
    seen = []
    token = None
    while True:
        page = await search(api, namespace, page_size=5, page_token=token)
        seen.extend(r["name"] for r in page["items"])
        token = page["next_page_token"]
        if token is None:
            break
    assert seen == [f"trial-{i}" for i in reversed(range(12))]


async def test_ordering_by_a_metric_pages_through_runs_without_it_last(api, namespace, runs):
    seen = []
    token = None
    while True:
        page = await search(api, namespace, order_by="metrics.accuracy ASC", page_size=4, page_token=token)
        seen.extend(r["name"] for r in page["items"])
        token = page["next_page_token"]
        if token is None:
            break
    assert seen == [f"trial-{i}" for i in range(11)] + ["trial-11"]


async def test_info_projection_returns_run_fields_only(api, namespace, runs):
    page = await search(api, namespace, view="info", page_size=1)
    [item] = page["items"]
    assert "params" not in item
    assert "metrics" not in item
    full = (await search(api, namespace, page_size=1))["items"][0]
    assert full["params"] == {"depth": "13"}


@pytest.mark.parametrize(
    ("filter_", "message"),
    [
        ("metrics.accuracy > high", "expected a number"),
        ("foo.bar = 'x'", "unknown entity 'foo'"),
        ("params.depth = 3", "expected a quoted string"),
        ("attributes.colour = 'red'", "unknown attribute 'colour'"),
        ("metrics.accuracy > 0.5 or metrics.accuracy < 0.1", "expected 'and'"),
    ],
)
async def test_bad_filters_are_400_with_the_reason(api, namespace, filter_, message):
    response = await api.post(f"/api/v1/namespaces/{namespace}/runs/search", json={"filter": filter_})
    assert response.status_code == 400
    assert message in response.json()["detail"]


async def test_forged_page_token_is_400(api, namespace):
    response = await api.post(f"/api/v1/namespaces/{namespace}/runs/search", json={"page_token": "not-a-token"})
    assert response.status_code == 400


async def test_ordering_by_a_param_or_a_tag_puts_runs_without_it_last(api, namespace, runs):
    await api.post(f"/api/v1/runs/{runs[0]['run_id']}/log-batch", json={"tags": [{"key": "rank", "value": "b"}]})
    await api.post(f"/api/v1/runs/{runs[1]['run_id']}/log-batch", json={"tags": [{"key": "rank", "value": "a"}]})
    by_tag = await names(api, namespace, order_by="tags.rank ASC", page_size=3)
    assert by_tag == ["trial-1", "trial-0", "trial-11"]  # then the untagged, newest first
    seen, token = [], None
    while True:  # depth is text: '10' < '11' < ... < '2' < ... < '9'
        page = await search(api, namespace, order_by="params.depth DESC", page_size=5, page_token=token)
        seen.extend(r["params"]["depth"] for r in page["items"])
        token = page["next_page_token"]
        if token is None:
            break
    assert seen == sorted((str(i + 2) for i in range(12)), reverse=True)


async def test_a_page_holds_what_reading_each_run_gives(api, namespace, runs):
    """The search builds its page from rows (one statement for params, tags and metrics of the whole page):
    each item equals the run read on its own, parent included."""
    child = await api.post(
        f"/api/v1/namespaces/{namespace}/runs",
        json={"experiment": "grid", "parent_run_id": runs[0]["run_id"], "tags": [{"key": "team", "value": "a"}]},
    )
    assert child.status_code == 201, child.text
    page = await search(api, namespace, page_size=100)
    assert len(page["items"]) == 13
    for item in page["items"]:
        assert item == (await api.get(f"/api/v1/runs/{item['run_id']}")).json()
    assert page["items"][0]["parent_run_id"] == runs[0]["run_id"]
    info = (await search(api, namespace, view="info", page_size=1))["items"][0]
    assert info == {k: v for k, v in page["items"][0].items() if k not in ("params", "tags", "metrics")}


async def test_a_metric_no_run_logged_matches_nothing_and_orders_nothing(api, namespace, runs):
    assert await names(api, namespace, filter="metrics.never > 0") == []
    assert len(await names(api, namespace, order_by="metrics.never DESC", page_size=50)) == 12
