"""A small synchronous client for a real Kubernetes API server, for the ``cluster`` tier's tests.

Tests at that tier assert what the API server itself answers: status codes, ``Status`` messages and
causes, ``Warning`` headers, the Table API, server-side apply conflicts. A raw HTTP client (httpx)
keeps all of that visible, where a generated client would turn it into exceptions and models.

Credentials come from a kubeconfig read by the ``kubernetes`` package's loader (so every static
form works: token, client certificate, CA file or data, ``:``-separated lists); tokens from exec
plugins are read once and not refreshed.
"""

from __future__ import annotations

import dataclasses
import json
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

JSON = "application/json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


class KubeApiError(Exception):
    """A non-2xx answer from the API server; ``body`` is the decoded ``Status`` (or text)."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {body}")
        self.method = method
        self.path = path
        self.status = status
        self.body = body

    @property
    def message(self) -> str:
        """``Status.message`` (the line ``kubectl`` prints), or the raw body."""
        if isinstance(self.body, Mapping):
            return str(self.body.get("message", self.body))
        return str(self.body)

    @property
    def causes(self) -> list[dict[str, Any]]:
        """``Status.details.causes``: one ``{reason, message, field}`` per invalid field."""
        if isinstance(self.body, Mapping):
            details = self.body.get("details") or {}
            return list(details.get("causes") or [])
        return []


def resource_path(
    api_version: str,
    plural: str,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    """``/apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>[/<subresource>]]`` (``/api/v1`` for core)."""
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    if namespace is not None:
        base += f"/namespaces/{namespace}"
    base += f"/{plural}"
    if name is not None:
        base += f"/{name}"
        if subresource is not None:
            base += f"/{subresource}"
    return base


@dataclasses.dataclass(frozen=True)
class Connection:
    """Where and how to reach an API server, as read from a kubeconfig context."""

    server: str
    ca_file: Path | None
    insecure: bool
    authorization: str | None
    client_cert: tuple[str, str | None] | None
    basic_auth: tuple[str, str] | None


def read_kubeconfig(kubeconfig: str, context: str | None = None) -> Connection:
    """The connection details of ``kubeconfig``'s current (or named) context."""
    from kubernetes import client as kclient
    from kubernetes import config as kconfig

    configuration = kclient.Configuration()
    kconfig.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=kubeconfig, context=context, client_configuration=configuration, persist_config=False
    )
    api_key = configuration.api_key or {}
    authorization = api_key.get("BearerToken") or api_key.get("authorization")
    return Connection(
        server=str(configuration.host).rstrip("/"),
        ca_file=Path(configuration.ssl_ca_cert) if configuration.ssl_ca_cert else None,
        insecure=not configuration.verify_ssl,
        authorization=str(authorization) if authorization else None,
        client_cert=(configuration.cert_file, configuration.key_file or None) if configuration.cert_file else None,
        basic_auth=(configuration.username, configuration.password or "") if configuration.username else None,
    )


def _http_client(connection: Connection, timeout: float) -> httpx.Client:
    tls = ssl.create_default_context(cafile=str(connection.ca_file) if connection.ca_file else None)
    if connection.insecure:
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    if connection.client_cert is not None:
        tls.load_cert_chain(*connection.client_cert)
    headers = {"Accept": JSON, "User-Agent": "modelplane-tests/0"}
    if connection.authorization:
        headers["Authorization"] = connection.authorization
    return httpx.Client(
        base_url=connection.server, verify=tls, timeout=timeout, headers=headers, auth=connection.basic_auth
    )


class KubeClient:
    """Talk to the API server of one kubeconfig context; use as a context manager or call :meth:`close`.

    Every method raises :class:`KubeApiError` for a non-2xx answer. ``last_warnings`` holds the
    ``Warning`` headers of the latest response (deprecations, unknown fields, schema problems).
    """

    def __init__(self, kubeconfig: str, *, context: str | None = None, timeout: float = 30.0) -> None:
        self.kubeconfig = kubeconfig
        self.connection = read_kubeconfig(kubeconfig, context)
        self._http = _http_client(self.connection, timeout)
        self.last_warnings: list[str] = []

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def server(self) -> str:
        """The API server's base URL."""
        return self.connection.server

    # --- raw requests ----------------------------------------------------------------------------------

    def response(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = JSON,
        accept: str = JSON,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request and return the response, whatever its status."""
        headers = {"Accept": accept}
        content: bytes | None = None
        if body is not None:
            headers["Content-Type"] = content_type
            if content_type == APPLY_PATCH and not isinstance(body, str | bytes):
                content = yaml.safe_dump(body, sort_keys=False).encode()
            elif isinstance(body, bytes):
                content = body
            elif isinstance(body, str):
                content = body.encode()
            else:
                content = json.dumps(body).encode()
        response = self._http.request(method, path, content=content, headers=headers, params=params)
        self.last_warnings = response.headers.get_list("Warning")
        return response

    def request(self, method: str, path: str, *, retries_429: int = 40, **kwargs: Any) -> Any:
        """Send one request; the decoded JSON body, or :class:`KubeApiError` for a non-2xx status.

        Like client-go, a 429 (e.g. ``storage is (re)initializing`` right after a CRD is established)
        is retried after its ``Retry-After`` (at most 0.25 s), ``retries_429`` times.
        """
        response = self.response(method, path, **kwargs)
        for _ in range(retries_429):
            if response.status_code != 429:
                break
            time.sleep(min(float(response.headers.get("Retry-After") or 1), 0.25))
            response = self.response(method, path, **kwargs)
        try:
            decoded: Any = response.json()
        except ValueError:
            decoded = response.text
        if response.is_error:
            raise KubeApiError(method, path, response.status_code, decoded)
        return decoded

    # --- verbs -----------------------------------------------------------------------------------------

    def get(self, path: str, **params: str) -> Any:
        return self.request("GET", path, params=params or None)

    def create(self, path: str, obj: Mapping[str, Any], **params: str) -> Any:
        """POST ``obj`` to the collection ``path`` (add ``fieldValidation="Strict"`` like kubectl)."""
        return self.request("POST", path, body=dict(obj), params=params or None)

    def patch(self, path: str, patch: Mapping[str, Any] | Sequence[Mapping[str, Any]], **params: str) -> Any:
        """Merge-patch (a mapping) or JSON-patch (a list of operations)."""
        content_type = MERGE_PATCH if isinstance(patch, Mapping) else JSON_PATCH
        body: Any = dict(patch) if isinstance(patch, Mapping) else [dict(op) for op in patch]
        return self.request("PATCH", path, body=body, content_type=content_type, params=params or None)

    def apply(
        self, path: str, obj: Mapping[str, Any], *, field_manager: str, force: bool = False, dry_run: bool = False
    ) -> Any:
        """Server-side apply ``obj`` to the object ``path`` as ``field_manager`` (strict field validation)."""
        params = {"fieldManager": field_manager, "fieldValidation": "Strict"}
        if force:
            params["force"] = "true"
        if dry_run:
            params["dryRun"] = "All"
        return self.request("PATCH", path, body=dict(obj), content_type=APPLY_PATCH, params=params)

    def delete(self, path: str, **params: str) -> Any:
        return self.request("DELETE", path, params=params or None)

    def table(self, path: str, **params: str) -> dict[str, Any]:
        """GET ``path`` through the Table API: ``columnDefinitions`` and ``rows`` as ``kubectl get`` prints them."""
        table: dict[str, Any] = self.request("GET", path, accept=TABLE, params=params or None)
        return table

    def exists(self, path: str) -> bool:
        try:
            self.get(path)
        except KubeApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def wait_for(
        self,
        path: str,
        predicate: Callable[[Any], bool],
        *,
        timeout: float = 30.0,
        interval: float = 0.1,
        alive: Callable[[], None] | None = None,
    ) -> Any:
        """Poll the object at ``path`` until ``predicate(obj)`` holds; return it. 404 counts as "not yet".

        ``alive`` is called each round; let it raise to give up early (e.g. when an operator died).
        """
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            if alive is not None:
                alive()
            try:
                last = self.get(path)
            except KubeApiError as exc:
                if exc.status != 404:
                    raise
                last = None
            if last is not None and predicate(last):
                return last
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{path} did not match in {timeout}s; last seen: {last!r}")
            time.sleep(interval)

    def iter_table_cells(self, path: str, **params: str) -> Iterator[dict[str, Any]]:
        """Rows of :meth:`table` as ``{column name: cell}`` dicts."""
        table = self.table(path, **params)
        names = [column["name"] for column in table["columnDefinitions"]]
        for row in table.get("rows") or []:
            yield dict(zip(names, row["cells"], strict=True))
