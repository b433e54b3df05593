"""Kubernetes for tests: kmock (kopf's mock API server) with kopf running in-process, or a real cluster.

(The real-cluster tier lives in :mod:`harness.cluster`, :mod:`harness.envtest` and
:mod:`harness.operator_process`; this module keeps the kmock side and :func:`probe_cluster`.)

:class:`KmockCluster` serves a stateful :class:`kmock.KubernetesEmulator` over HTTP on 127.0.0.1 from
a background thread with its own event loop, so both sync and async tests can talk to it, and
:meth:`KmockCluster.run_operator` runs a kopf operator file against it with :class:`kopf.testing.KopfRunner`.

kmock is a mock, not an API server; the harness papers over what matters to kopf:

* kmock never sets ``metadata.uid``/``resourceVersion``/``creationTimestamp``/``generation``:
  :class:`ModelPlaneKubeEmulator` fills them in on every create and bumps ``resourceVersion``
  (and ``generation`` on spec changes) on every patch. kopf keys its per-object memory by uid.
* kmock's discovery only knows declared resources: the five ModelPlane kinds are declared with
  their kinds, verbs and the ``status`` subresource (POSTing a CRD does NOT register a resource).
* Listing namespaces (``GET /api/v1/namespaces``) crashes kmock's URL parser (HTTP 500): kopf runs
  with ``--all-namespaces`` (or explicit ``--namespace`` names) and ``settings.scanning.disabled``.
* PUT is a merge like PATCH (no full replacement), there is no optimistic concurrency (the
  ``resourceVersion`` of a request is ignored), no admission, no defaulting, no validation.
* kopf authenticates through a login handler that the harness adds to a fresh registry, so
  ``KUBECONFIG`` and ``~/.kube/config`` never leak in. A :attr:`KmockCluster.kubeconfig` file
  is written for other clients (``kubernetes``, ``kubectl``).
* kopf's handler registry is process-global state: every run gets a fresh registry and the
  operator *file* is re-executed. Handlers registered by modules that the file merely imports
  are registered only once per process (module caching), so keep the handlers in the file itself
  or in modules that register into ``kopf.get_default_registry()`` when the file calls them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import datetime
import itertools
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiohttp.test_utils
import aiohttp.web
import attrs
import httpx
import kmock
import kopf
import yaml
from kmock._internal import enums as kmock_enums
from kopf.testing import KopfRunner

from harness.kubeapi import KubeApiError
from harness.ports import LOOPBACK

T = TypeVar("T")

GROUP = "modelplane.io"
VERSION = "v1alpha1"
KUBECONFIG_ENV = "KUBECONFIG"
TEST_KUBECONFIG_ENV = "MODELPLANE_TEST_KUBECONFIG"
ALL_VERBS = frozenset({"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"})


@dataclasses.dataclass(frozen=True)
class ResourceRef:
    """A Kubernetes resource (group/version/plural) with the discovery details kmock serves."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    singular: str = ""
    shortnames: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    subresources: frozenset[str] = frozenset({"status"})

    @property
    def api_version(self) -> str:
        """``apiVersion`` of the objects, e.g. ``modelplane.io/v1alpha1`` or ``v1``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """The kmock resource key: ``group/version/plural``."""
        return f"{self.group}/{self.version}/{self.plural}"

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        """The API path of the collection, or of one object (and its subresource)."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace is not None:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{name}"
            if subresource is not None:
                base += f"/{subresource}"
        return base

    def kmock_resource(self) -> kmock.resource:
        return kmock.resource(self.group, self.version, self.plural)

    def kmock_info(self) -> kmock.ResourceInfo:
        return kmock.ResourceInfo(
            namespaced=self.namespaced,
            kind=self.kind,
            singular=self.singular or self.kind.lower(),
            verbs=set(ALL_VERBS),
            shortnames=set(self.shortnames),
            categories=set(self.categories),
            subresources=set(self.subresources),
        )

    def kopf_resource(self) -> kopf.Resource:
        return kopf.Resource(
            group=self.group,
            version=self.version,
            plural=self.plural,
            kind=self.kind,
            singular=self.singular or self.kind.lower(),
            shortcuts=self.shortnames,
            categories=self.categories,
            subresources=self.subresources,
            namespaced=self.namespaced,
            verbs=ALL_VERBS,
        )


def _modelplane(plural: str, kind: str, *shortnames: str) -> ResourceRef:
    return ResourceRef(
        GROUP,
        VERSION,
        plural,
        kind,
        namespaced=True,
        singular=kind.lower(),
        shortnames=frozenset(shortnames),
        categories=frozenset({"modelplane"}),
    )


DATASETS = _modelplane("datasets", "Dataset", "ds")
TRAINING_RUNS = _modelplane("trainingruns", "TrainingRun", "tr")
MODEL_VERSIONS = _modelplane("modelversions", "ModelVersion", "mv")
INFERENCE_SERVICES = _modelplane("inferenceservices", "InferenceService", "isvc")
ROLLOUTS = _modelplane("rollouts", "Rollout", "ro")
MODELPLANE_RESOURCES: tuple[ResourceRef, ...] = (DATASETS, TRAINING_RUNS, MODEL_VERSIONS, INFERENCE_SERVICES, ROLLOUTS)

# Core resources an operator typically touches (kopf posts events; ModelPlane owns deployments etc.).
EVENTS = ResourceRef("", "v1", "events", "Event", subresources=frozenset())
CONFIGMAPS = ResourceRef("", "v1", "configmaps", "ConfigMap", subresources=frozenset())
SECRETS = ResourceRef("", "v1", "secrets", "Secret", subresources=frozenset())
SERVICES = ResourceRef("", "v1", "services", "Service")
PODS = ResourceRef("", "v1", "pods", "Pod")
JOBS = ResourceRef("batch", "v1", "jobs", "Job")
DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", "Deployment", subresources=frozenset({"status", "scale"}))
# kopf waits for these two to be *discoverable* even when it never lists/watches them (scanning disabled).
NAMESPACES = ResourceRef("", "v1", "namespaces", "Namespace", namespaced=False)
CRDS = ResourceRef(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    "CustomResourceDefinition",
    namespaced=False,
    shortnames=frozenset({"crd", "crds"}),
)
CORE_RESOURCES: tuple[ResourceRef, ...] = (
    NAMESPACES,
    CRDS,
    EVENTS,
    CONFIGMAPS,
    SECRETS,
    SERVICES,
    PODS,
    JOBS,
    DEPLOYMENTS,
)


@attrs.define(kw_only=True)
class ModelPlaneKubeEmulator(kmock.KubernetesEmulator):
    """kmock's emulator plus the metadata a real API server maintains (uid, resourceVersion, …).

    kmock routes a request by its identity among the recorded requests, so the additions are
    made in place: the recorded requests (``emulator.requests``) show them too.
    """

    _rv_counter: Iterator[int] = attrs.field(factory=lambda: itertools.count(1), init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # The kubernetes client asks for /version/ (with a slash); probes ask for the health endpoints.
        self.fallback["get /version/"] << self._serve_server_version
        for health in ("/readyz", "/livez", "/healthz"):
            self.fallback[f"get {health}"] << b"ok"

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if request.resource is not None and request.action == kmock_enums.action.CREATE:
            self._complete_creation(request)
        elif request.resource is not None and request.action == kmock_enums.action.UPDATE and request.name:
            self._complete_update(request)
        return await super()._handle(request)

    def _complete_creation(self, request: kmock.Request) -> None:
        data = request.data
        if not isinstance(data, dict):
            return
        meta = data.setdefault("metadata", {})
        if not isinstance(meta, dict):
            return
        if request.namespace is not None:
            meta.setdefault("namespace", request.namespace)
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _now())
        meta.setdefault("generation", 1)
        meta["resourceVersion"] = str(next(self._rv_counter))

    def _complete_update(self, request: kmock.Request) -> None:
        assert request.resource is not None
        assert request.name is not None
        rv = str(next(self._rv_counter))
        key: kmock.ObjectKey = (request.resource, request.namespace, request.name)
        current = self.objects[key].raw if key in self.objects and not self.objects[key].deleted else None
        generation = int(((current or {}).get("metadata") or {}).get("generation") or 1)
        data = request.data
        spec_changed: bool
        if isinstance(data, dict):
            meta = data.get("metadata")
            if meta is None:
                meta = data["metadata"] = {}
            if not isinstance(meta, dict):
                return
            meta["resourceVersion"] = rv
            spec_changed = "spec" in data
            if spec_changed and current is not None and request.subresource is None:
                meta["generation"] = generation + 1
        elif isinstance(data, list):  # JSON patch
            spec_changed = any(isinstance(op, dict) and str(op.get("path", "")).startswith("/spec") for op in data)
            data.append({"op": "add", "path": "/metadata/resourceVersion", "value": rv})
            if spec_changed and current is not None and request.subresource is None:
                data.append({"op": "add", "path": "/metadata/generation", "value": generation + 1})


class _QuickShutdownTestServer(aiohttp.test_utils.RawTestServer):
    """aiohttp's raw test server, but it waits only briefly for in-flight handlers on shutdown.

    Watch streams never finish on their own; with aiohttp's default (60 s) an unclosed watch
    (a client that was not stopped) would hold the shutdown for a minute.
    """

    async def _make_runner(self, debug: bool = True, **kwargs: Any) -> aiohttp.web.ServerRunner:
        runner = await super()._make_runner(debug=debug, **kwargs)
        runner._shutdown_timeout = 0.5
        return runner


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_kubeconfig(path: Path, server: str, *, namespace: str = "default", name: str = "kmock") -> Path:
    """Write a minimal kubeconfig for an insecure HTTP API server with a dummy bearer token."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server}}],
        "users": [{"name": name, "user": {"token": "kmock-token"}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}],
        "current-context": name,
        "preferences": {},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


class KmockCluster:
    """A kmock Kubernetes emulator served on 127.0.0.1 from a background thread.

    Use it as a context manager (or :meth:`start`/:meth:`stop`). Tests talk to it through the
    sync helpers (:meth:`create`, :meth:`get`, :meth:`patch`, :meth:`delete`, :meth:`list`,
    :meth:`wait_for`), any Kubernetes client configured with :attr:`kubeconfig`, and can inspect
    the recorded requests (:meth:`requests`) and :attr:`emulator` directly.
    """

    def __init__(
        self,
        workdir: Path,
        resources: Iterable[ResourceRef] = MODELPLANE_RESOURCES + CORE_RESOURCES,
        *,
        namespace: str = "default",
        startup_timeout: float = 10.0,
    ) -> None:
        self.workdir = workdir
        self.resources: tuple[ResourceRef, ...] = tuple(resources)
        self.namespace = namespace
        self.startup_timeout = startup_timeout
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._emulator: ModelPlaneKubeEmulator | None = None
        self._port: int | None = None
        self._http: httpx.Client | None = None
        self._kubeconfig: Path | None = None

    # --- lifecycle -----------------------------------------------------------------------------------

    def __enter__(self) -> KmockCluster:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the kmock cluster is already started")
        self._thread = threading.Thread(target=self._thread_main, name="kmock-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(self.startup_timeout):
            raise TimeoutError(f"kmock did not start in {self.startup_timeout}s")
        if self._startup_error is not None:
            self._thread.join()
            raise RuntimeError("kmock failed to start") from self._startup_error
        self._http = httpx.Client(base_url=self.url, timeout=10.0, headers={"Accept": "application/json"})
        self._kubeconfig = write_kubeconfig(self.workdir / "kmock.kubeconfig", self.url, namespace=self.namespace)

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop may be closed already
                loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout=30)
        if thread.is_alive():
            raise RuntimeError("the kmock server thread did not stop in 30s")
        self._thread = None

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # report into the starting thread instead of an unhandled-thread warning
            if not self._ready.is_set():
                self._startup_error = exc
                self._ready.set()
            else:
                logging.getLogger(__name__).exception("kmock server thread crashed")

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        emulator = ModelPlaneKubeEmulator()
        for ref in self.resources:
            emulator.resources[ref.kmock_resource()] = ref.kmock_info()
        async with emulator, kmock.Server(emulator, host=LOOPBACK, server_cls=_QuickShutdownTestServer) as server:
            self._emulator = emulator
            self._port = server.port
            self._ready.set()
            await self._stopping.wait()

    # --- properties ----------------------------------------------------------------------------------

    @property
    def emulator(self) -> ModelPlaneKubeEmulator:
        """The live emulator (objects, requests). It runs in another thread: read, don't mutate."""
        if self._emulator is None:
            raise RuntimeError("the kmock cluster is not started")
        return self._emulator

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the kmock cluster is not started")
        return self._port

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def url(self) -> str:
        """The API server URL, e.g. ``http://127.0.0.1:40123``."""
        return f"http://{self.host}:{self.port}"

    @property
    def kubeconfig(self) -> Path:
        """A kubeconfig file pointing at this server (context ``kmock``, namespace ``default``)."""
        if self._kubeconfig is None:
            raise RuntimeError("the kmock cluster is not started")
        return self._kubeconfig

    def call_in_loop(self, factory: Callable[[], Coroutine[Any, Any, T]], timeout: float = 10.0) -> T:
        """Run a coroutine in kmock's event loop (e.g. to mutate the emulator safely) and return its result."""
        if self._loop is None:
            raise RuntimeError("the kmock cluster is not started")
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(factory(), self._loop)
        return future.result(timeout)

    # --- requests made to the server -----------------------------------------------------------------

    def requests(self) -> list[kmock.Request]:
        """A snapshot of all requests served so far (in arrival order)."""
        return list(self.emulator._requests)

    def watched(self, resource: str | ResourceRef) -> bool:
        """Whether some client has opened a watch stream on ``resource``."""
        ref = self.resolve(resource)
        target = ref.kmock_resource()
        return any(r.action == kmock_enums.action.WATCH and r.resource == target for r in self.requests())

    def unexpected_errors(self) -> list[Exception]:
        """Server-side exceptions other than the deliberate Kubernetes errors (404, 409, …).

        kmock turns any exception into an HTTP 500 answer; a non-empty list means the emulator
        itself crashed on some request (e.g. listing namespaces).
        """
        if self._emulator is None or not self._emulator._errors:
            return []
        return [exc for exc in self._emulator._errors[-1] if not isinstance(exc, kmock.KubernetesError)]

    # --- a tiny synchronous API client ---------------------------------------------------------------

    def resolve(self, resource: str | ResourceRef) -> ResourceRef:
        """Look a resource up by plural, kind, short name, or ``group/version/plural``."""
        if isinstance(resource, ResourceRef):
            return resource
        for ref in self.resources:
            if resource in {ref.plural, ref.kind, ref.key, f"{ref.api_version}/{ref.plural}", *ref.shortnames}:
                return ref
        raise KeyError(f"unknown resource {resource!r}; declared: {[ref.key for ref in self.resources]}")

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        if self._http is None:
            raise RuntimeError("the kmock cluster is not started")
        response = self._http.request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.is_error:
            raise KubeApiError(method, path, response.status_code, body)
        return body

    def create(self, resource: str | ResourceRef, body: Mapping[str, Any], namespace: str | None = None) -> Any:
        """POST an object; ``apiVersion``, ``kind`` and ``metadata.namespace`` are filled in if missing."""
        ref = self.resolve(resource)
        obj = dict(body)
        obj.setdefault("apiVersion", ref.api_version)
        obj.setdefault("kind", ref.kind)
        meta = dict(obj.get("metadata") or {})
        if ref.namespaced:
            meta.setdefault("namespace", namespace or self.namespace)
        obj["metadata"] = meta
        return self._request("POST", ref.path(meta.get("namespace")), json=obj)

    def get(self, resource: str | ResourceRef, name: str, namespace: str | None = None) -> Any:
        ref = self.resolve(resource)
        return self._request("GET", ref.path(namespace or self.namespace, name))

    def list(self, resource: str | ResourceRef, namespace: str | None = None) -> list[Any]:
        """List objects of one namespace, or of all namespaces with ``namespace=None``."""
        ref = self.resolve(resource)
        items: list[Any] = self._request("GET", ref.path(namespace)).get("items", [])
        return items

    def patch(
        self,
        resource: str | ResourceRef,
        name: str,
        patch: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        namespace: str | None = None,
        *,
        subresource: str | None = None,
    ) -> Any:
        """Merge-patch (a dict) or JSON-patch (a list of operations) an object."""
        ref = self.resolve(resource)
        content_type = "application/merge-patch+json" if isinstance(patch, Mapping) else "application/json-patch+json"
        return self._request(
            "PATCH",
            ref.path(namespace or self.namespace, name, subresource),
            json=patch,
            headers={"Content-Type": content_type},
        )

    def delete(self, resource: str | ResourceRef, name: str, namespace: str | None = None) -> Any:
        ref = self.resolve(resource)
        return self._request("DELETE", ref.path(namespace or self.namespace, name))

    def wait_for(
        self,
        resource: str | ResourceRef,
        name: str,
        predicate: Callable[[Any], bool],
        namespace: str | None = None,
        *,
        timeout: float = 10.0,
        interval: float = 0.05,
    ) -> Any:
        """Poll an object until ``predicate(obj)`` holds; return it. 404s count as "not yet"."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                last = self.get(resource, name, namespace)
            except KubeApiError as exc:
                if exc.status != 404:
                    raise
                last = None
            if last is not None and predicate(last):
                return last
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{resource} {name!r} did not match in {timeout}s; last seen: {last!r}")
            time.sleep(interval)

    # --- running kopf against the emulator -----------------------------------------------------------

    @contextlib.contextmanager
    def run_operator(
        self,
        path: str | os.PathLike[str],
        *,
        namespaces: Sequence[str] | None = None,
        settings: kopf.OperatorSettings | None = None,
        extra_args: Sequence[str] = (),
        verbose: bool = False,
        wait_watching: Iterable[str | ResourceRef] | None = None,
        startup_timeout: float = 15.0,
        stop_timeout: float = 30.0,
    ) -> Iterator[KopfRunner]:
        """Run the kopf operator *file* ``path`` in-process (a thread) against this emulator.

        The operator runs standalone (no peering), cluster-wide unless ``namespaces`` are given,
        without namespace/CRD scanning, and logs in to the emulator through a harness login handler.
        Entering waits until the operator watches every declared resource its handlers select
        (or the resources in ``wait_watching``). On exit the operator is stopped and kopf's
        exceptions are re-raised; ``runner.output`` then holds its log.

        ``settings`` (default: fresh ``kopf.OperatorSettings()``) are adjusted in place: scanning
        disabled, short watch reconnect backoff.
        """
        registry = kopf.OperatorRegistry()  # fresh: the file is re-executed and registers into it
        url = self.url
        namespace = self.namespace

        @kopf.on.login(registry=registry)
        def _harness_login_to_kmock(**_: Any) -> kopf.ConnectionInfo:
            return kopf.ConnectionInfo(
                server=url, scheme="Bearer", token="kmock-token", default_namespace=namespace, priority=10**6
            )

        if settings is None:
            settings = kopf.OperatorSettings()
        settings.scanning.disabled = True
        settings.networking.request_timeout = 30
        settings.watching.reconnect_backoff = 0.1

        args = ["run", "--standalone"]
        if namespaces:
            for ns in namespaces:
                args += ["--namespace", ns]
        else:
            args.append("--all-namespaces")
        if verbose:
            args.append("--verbose")
        args += [*extra_args, os.fspath(path)]

        with _preserved_process_state():
            runner = KopfRunner(args, registry=registry, settings=settings, timeout=stop_timeout)
            try:
                with runner:
                    self._wait_operator_ready(runner, registry, wait_watching, startup_timeout)
                    yield runner
            except _OperatorStartupError as exc:  # the runner has stopped by now: its output is complete
                raise RuntimeError(f"{exc}\n--- operator output ---\n{_runner_output(runner)}") from None

    def _kopf_connected(self) -> bool:
        return any(r.headers.get("User-Agent", "").startswith("kopf/") for r in self.requests())

    def _wait_operator_ready(
        self,
        runner: KopfRunner,
        registry: kopf.OperatorRegistry,
        wait_watching: Iterable[str | ResourceRef] | None,
        timeout: float,
    ) -> None:
        deadline = time.monotonic() + timeout
        expected: list[ResourceRef] | None = None
        if wait_watching is not None:
            expected = [self.resolve(r) for r in wait_watching]
        while True:
            if runner.future.done():
                raise _OperatorStartupError("the operator exited during startup")
            # kopf talks to the API only after executing the operator file: the registry is complete then.
            if expected is None and self._kopf_connected() and _registry_loaded(registry):
                expected = _served_resources(registry, self.resources)
            if expected is not None:
                if expected and all(self.watched(ref) for ref in expected):
                    return
                if not expected and any(r.action == kmock_enums.action.WATCH for r in self.requests()):
                    return
            if time.monotonic() >= deadline:
                raise _OperatorStartupError(
                    f"the operator did not start watching {[r.key for r in expected or []]} in {timeout}s"
                )
            time.sleep(0.02)


class _OperatorStartupError(Exception):
    pass


def _runner_output(runner: KopfRunner) -> str:
    if not runner.future.done():
        return "(the operator is still running)"
    if runner.future.exception() is not None:
        return f"(no output: {runner.future.exception()!r})"
    result = runner.future.result()
    return f"{result.output}\nexception: {result.exception!r}"


def _registry_loaded(registry: kopf.OperatorRegistry) -> bool:
    """Whether the operator file has registered anything besides the harness' login handler."""
    resource_handlers = (
        len(registry._indexing.get_all_handlers())
        + len(registry._watching.get_all_handlers())
        + len(registry._spawning.get_all_handlers())
        + len(registry._changing.get_all_handlers())
    )
    return resource_handlers > 0 or len(registry._activities.get_all_handlers()) > 1


def _served_resources(registry: kopf.OperatorRegistry, resources: Iterable[ResourceRef]) -> list[ResourceRef]:
    """The declared resources that the operator's resource handlers select."""
    selectors: set[Any] = set()
    for sub in (registry._indexing, registry._watching, registry._spawning, registry._changing):
        selectors |= set(sub.get_all_selectors())
    return [ref for ref in resources if any(selector.check(ref.kopf_resource()) for selector in selectors)]


@contextlib.contextmanager
def _preserved_process_state() -> Iterator[None]:
    """Undo the process-wide side effects of ``kopf run``.

    kopf replaces the root logger's level and handlers (its handler keeps writing into the
    CliRunner's buffer, which is closed afterwards), silences the ``asyncio`` logger, makes the
    run's registry the default one, inserts the operator's directory into ``sys.path`` and
    leaves the operator module in ``sys.modules``.
    """
    root = logging.getLogger()
    aio = logging.getLogger("asyncio")
    root_state = (root.level, list(root.handlers))
    aio_state = (aio.level, list(aio.handlers), aio.propagate)
    sys_path = list(sys.path)
    modules_before = set(sys.modules)
    previous_registry = kopf.get_default_registry()
    try:
        yield
    finally:
        root.setLevel(root_state[0])
        root.handlers[:] = root_state[1]
        aio.setLevel(aio_state[0])
        aio.handlers[:] = aio_state[1]
        aio.propagate = aio_state[2]
        sys.path[:] = sys_path
        for name in set(sys.modules) - modules_before:
            if name.startswith("__kopf_script_"):
                del sys.modules[name]
        kopf.set_default_registry(previous_registry)


# --- a real cluster ----------------------------------------------------------------------------------------


def configured_kubeconfig() -> str | None:
    """``MODELPLANE_TEST_KUBECONFIG`` or ``KUBECONFIG`` (may be a ``:``-separated list), if set.

    None also when ``MODELPLANE_TEST_KUBECONFIG=envtest`` asks for the harness' own API server
    (see :mod:`harness.envtest`).
    """
    from harness.cluster import external_kubeconfig

    return external_kubeconfig()


def probe_cluster(kubeconfig: str, timeout: float = 5.0) -> str:
    """Ask the API server of ``kubeconfig``'s current context for its version; return gitVersion.

    Raises on any failure (unreadable config, unreachable server, auth errors).
    """
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    with api_client:
        info = client.VersionApi(api_client).get_code(_request_timeout=timeout)
        return str(info.git_version)
