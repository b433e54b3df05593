"""The lineage graph through the HTTP API, on SQLite and a real PostgreSQL."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import pytest

pytestmark = pytest.mark.db


def new_digest() -> str:
    return "sha256:" + hashlib.sha256(uuid.uuid4().bytes).hexdigest()


async def post(api, url, body, expected=(200, 201)):
    response = await api.post(url, json=body)
    assert response.status_code in expected, response.text
    return response.json()


async def lineage(api, namespace, node, **params):
    response = await api.get(f"/api/v1/namespaces/{namespace}/lineage", params={"node": node, **params})
    assert response.status_code == 200, response.text
    return response.json()


def edges(graph):
    return {(e["source"], e["target"], e["relation"]) for e in graph["edges"]}


def ids(graph):
    return {n["id"] for n in graph["nodes"]}


@dataclass
class Chain:
    raw: str
    dataset: str
    sweep: str
    run: str
    model: str
    deployment: str


async def build_chain(api, namespace) -> Chain:
    """raw dataset → dataset → (sweep →) trial run → model version → deployment."""
    ns = f"/api/v1/namespaces/{namespace}"
    raw = await post(api, f"{ns}/datasets/raw/versions", {"digest": new_digest()})
    dataset = await post(api, f"{ns}/datasets/iris/versions", {"digest": new_digest(), "parents": [raw["digest"]]})
    sweep = await post(api, f"{ns}/runs", {"experiment": "iris", "name": "sweep"})
    trial = await post(
        api,
        f"{ns}/runs",
        {
            "experiment": "iris",
            "name": "trial-3",
            "parent_run_id": sweep["run_id"],
            "dataset_digest": dataset["digest"],
        },
    )
    version = await post(
        api,
        f"{ns}/models/iris-clf/versions",
        {
            "artifact_uri": "s3://m/iris.onnx",
            "sha256": hashlib.sha256(b"iris").hexdigest(),
            "size_bytes": 7,
            "run_id": trial["run_id"],
            "dataset_digest": dataset["digest"],
        },
    )
    traffic = await post(
        api, f"{ns}/services/iris-svc/traffic", {"traffic": [{"model": "iris-clf", "version": 1, "percent": 100}]}
    )
    return Chain(
        raw=f"dataset:{raw['digest']}",
        dataset=f"dataset:{dataset['digest']}",
        sweep=f"run:{sweep['run_id']}",
        run=f"run:{trial['run_id']}",
        model=f"model:iris-clf:{version['version']}",
        deployment=f"deployment:{traffic['traffic'][0]['id']}",
    )


def full_edges(chain: Chain) -> set[tuple[str, str, str]]:
    return {
        (chain.raw, chain.dataset, "derived_from"),
        (chain.dataset, chain.run, "trained_on"),
        (chain.sweep, chain.run, "trial_of"),
        (chain.run, chain.model, "produced_by"),
        (chain.dataset, chain.model, "trained_on"),
        (chain.model, chain.deployment, "serves"),
    }


async def test_full_chain_from_each_end(api, namespace):
    chain = await build_chain(api, namespace)
    from_deployment = await lineage(api, namespace, chain.deployment)
    assert from_deployment["root"] == chain.deployment
    assert from_deployment["truncated"] is False
    assert ids(from_deployment) == {chain.raw, chain.dataset, chain.sweep, chain.run, chain.model, chain.deployment}
    assert edges(from_deployment) == full_edges(chain)
    from_raw = await lineage(api, namespace, chain.raw)
    assert ids(from_raw) == {chain.raw, chain.dataset, chain.run, chain.model, chain.deployment}
    assert edges(from_raw) == full_edges(chain) - {(chain.sweep, chain.run, "trial_of")}
    from_dataset = await lineage(api, namespace, chain.dataset)
    assert ids(from_dataset) == ids(from_raw)
    from_model = await lineage(api, namespace, chain.model)
    assert edges(from_model) == full_edges(chain)
    from_sweep = await lineage(api, namespace, chain.sweep)
    assert ids(from_sweep) == {chain.sweep, chain.run, chain.model, chain.deployment}


async def test_nodes_carry_labels_and_attributes(api, namespace):
    chain = await build_chain(api, namespace)
    nodes = {n["id"]: n for n in (await lineage(api, namespace, chain.deployment))["nodes"]}
    dataset = nodes[chain.dataset]
    assert dataset["type"] == "dataset"
    assert dataset["label"] == "iris v1"
    assert dataset["attributes"]["registered"] is True
    assert dataset["attributes"]["versions"] == [{"name": "iris", "version": 1}]
    assert nodes[chain.run]["label"] == "trial-3"
    assert nodes[chain.run]["attributes"]["status"] == "Running"
    assert nodes[chain.model]["label"] == "iris-clf v1"
    assert nodes[chain.model]["attributes"]["format"] == "Onnx"
    deployment = nodes[chain.deployment]
    assert deployment["label"] == "iris-svc (100%)"
    assert deployment["attributes"]["active"] is True
    assert deployment["attributes"]["model"] == "iris-clf"


async def test_directions(api, namespace):
    chain = await build_chain(api, namespace)
    upstream = await lineage(api, namespace, chain.run, direction="upstream")
    assert ids(upstream) == {chain.raw, chain.dataset, chain.sweep, chain.run}
    downstream = await lineage(api, namespace, chain.run, direction="downstream")
    assert ids(downstream) == {chain.run, chain.model, chain.deployment}
    assert edges(downstream) == {(chain.run, chain.model, "produced_by"), (chain.model, chain.deployment, "serves")}
    assert ids(await lineage(api, namespace, chain.deployment, direction="downstream")) == {chain.deployment}


async def test_deployment_history_and_siblings(api, namespace):
    chain = await build_chain(api, namespace)
    ns = f"/api/v1/namespaces/{namespace}"
    dataset_digest = chain.dataset.removeprefix("dataset:")
    other = await post(api, f"{ns}/runs", {"experiment": "iris", "name": "other", "dataset_digest": dataset_digest})
    await post(api, f"{ns}/models/iris-clf/versions", {"artifact_uri": "s3://m/2", "sha256": "b" * 64, "size_bytes": 1})
    split = [{"model": "iris-clf", "version": 1, "percent": 50}, {"model": "iris-clf", "version": 2, "percent": 50}]
    traffic = await post(api, f"{ns}/services/iris-svc/traffic", {"traffic": split})
    half = next(f"deployment:{d['id']}" for d in traffic["traffic"] if d["version"] == 1)
    from_model = await lineage(api, namespace, chain.model)
    assert {n["id"] for n in from_model["nodes"] if n["type"] == "deployment"} == {chain.deployment, half}
    ended = next(n for n in from_model["nodes"] if n["id"] == chain.deployment)
    assert ended["attributes"]["active"] is False
    assert f"run:{other['run_id']}" not in ids(from_model)
    assert "model:iris-clf:2" not in ids(from_model)
    from_dataset = await lineage(api, namespace, chain.dataset)
    assert f"run:{other['run_id']}" in ids(from_dataset)


async def test_truncated_at_max_nodes(api, namespace):
    chain = await build_chain(api, namespace)
    graph = await lineage(api, namespace, chain.dataset, max_nodes=3)
    assert graph["truncated"] is True
    assert len(graph["nodes"]) == 3
    assert chain.dataset in ids(graph)
    assert all(s in ids(graph) and t in ids(graph) for s, t, _ in edges(graph))
    ns = f"/api/v1/namespaces/{namespace}"
    for i in range(5):
        await post(api, f"{ns}/runs", {"experiment": "wide", "name": f"r{i}", "dataset_digest": chain.dataset[8:]})
    wide = await lineage(api, namespace, chain.dataset, direction="downstream", max_nodes=4)
    assert wide["truncated"] is True
    assert len(wide["nodes"]) == 4
    assert (await lineage(api, namespace, chain.dataset, direction="downstream"))["truncated"] is False


async def test_unregistered_digest_named_by_a_run(api, namespace):
    digest = new_digest()
    run = await post(api, f"/api/v1/namespaces/{namespace}/runs", {"experiment": "e", "dataset_digest": digest})
    graph = await lineage(api, namespace, f"run:{run['run_id']}")
    dataset = next(n for n in graph["nodes"] if n["type"] == "dataset")
    assert dataset["id"] == f"dataset:{digest}"
    assert dataset["attributes"]["registered"] is False
    assert dataset["label"] == digest[:19]
    assert ids(await lineage(api, namespace, f"dataset:{digest}")) == {f"dataset:{digest}", f"run:{run['run_id']}"}


async def test_namespaces_do_not_mix(api, namespace):
    chain = await build_chain(api, namespace)
    digest = chain.dataset.removeprefix("dataset:")
    other_ns = f"{namespace}-b"
    foreign = await post(api, f"/api/v1/namespaces/{other_ns}/runs", {"experiment": "e", "dataset_digest": digest})
    assert f"run:{foreign['run_id']}" not in ids(await lineage(api, namespace, chain.dataset))
    other = await lineage(api, other_ns, chain.dataset)
    assert ids(other) == {chain.dataset, f"run:{foreign['run_id']}"}
    response = await api.get(f"/api/v1/namespaces/{other_ns}/lineage", params={"node": chain.model})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "node",
    ["dataset:md5:abc", "run:xyz", "model:iris-clf", "model:Iris:1", "deployment:-1", "table:x", "", "dataset:"],
)
async def test_malformed_nodes_are_400(api, namespace, node):
    response = await api.get(f"/api/v1/namespaces/{namespace}/lineage", params={"node": node})
    assert response.status_code in (400, 422)
    if node:
        assert response.status_code == 400
        assert response.json()["detail"].startswith("node must be dataset:sha256:<64 hex>")


@pytest.mark.parametrize(
    "node",
    [
        "dataset:sha256:" + "0" * 64,
        "run:" + "0" * 32,
        "model:iris-clf:1",
        "model:iris-clf:99999999999",
        "deployment:1",
        "deployment:99999999999999999999",
    ],
)
async def test_unknown_nodes_are_404(api, namespace, node):
    response = await api.get(f"/api/v1/namespaces/{namespace}/lineage", params={"node": node})
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "NotFound"


async def test_lineage_needs_a_viewer(api, namespace, client_as, anonymous_client):
    chain = await build_chain(api, namespace)
    viewer = await client_as("vera", {namespace: "viewer"})
    outsider = await client_as("otto", {"elsewhere": "viewer"})
    url = f"/api/v1/namespaces/{namespace}/lineage"
    assert (await viewer.get(url, params={"node": chain.model})).status_code == 200
    assert (await outsider.get(url, params={"node": chain.model})).status_code == 403
    assert (await anonymous_client.get(url, params={"node": chain.model})).status_code == 401
