"""Where the API server is and how to authenticate to it.

Credentials are resolved by the ``kubernetes`` package's loaders, so every form its users know works:
the pod's service account (in-cluster, with the projected token re-read as it rotates), or a kubeconfig
(``KUBECONFIG``, ``:``-separated lists, tokens, client certificates, CA files or data, exec plugins).
The same sources, in the same order, as kopf's own login, so the operator's two clients (kopf's watch
streams and ours) act as one identity. Only the HTTP is ours (:mod:`modelplane.kube.client`).
"""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KUBECONFIG_ENV = "KUBECONFIG"
IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"


@dataclass
class Connection:
    """An API server and the credentials for it.

    ``authorization()`` returns the current ``Authorization`` header value; for in-cluster and exec
    credentials the ``kubernetes`` configuration refreshes the token when it expires.
    """

    server: str
    tls: ssl.SSLContext | None
    basic_auth: tuple[str, str] | None = None
    _configuration: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def authorization(self) -> str | None:
        configuration = self._configuration
        if configuration is None:
            return None
        with self._lock:  # the refresh hook rewrites the configuration's api_key in place
            value = configuration.get_api_key_with_prefix("BearerToken")
            value = value or configuration.get_api_key_with_prefix("authorization")
        if not value:
            return None
        text = str(value)
        return text if " " in text else f"Bearer {text}"


def _tls_context(configuration: Any) -> ssl.SSLContext | None:
    if not str(configuration.host).startswith("https"):
        return None
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert or None)
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file or None)
    return context


def connection_from_configuration(configuration: Any) -> Connection:
    """A connection from a loaded ``kubernetes.client.Configuration``."""
    basic = (configuration.username, configuration.password or "") if configuration.username else None
    return Connection(
        server=str(configuration.host).rstrip("/"),
        tls=_tls_context(configuration),
        basic_auth=basic,
        _configuration=configuration,
    )


def load_connection(kubeconfig: str | None = None, *, environ: Mapping[str, str] | None = None) -> Connection:
    """Resolve the connection: ``kubeconfig``, else ``KUBECONFIG``, else in-cluster, else ``~/.kube/config``."""
    from kubernetes import client as kclient
    from kubernetes import config as kconfig

    env = os.environ if environ is None else environ
    configuration = kclient.Configuration()
    path = kubeconfig or env.get(KUBECONFIG_ENV) or None
    if path is None and env.get(IN_CLUSTER_ENV):
        kconfig.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        kconfig.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=path, client_configuration=configuration, persist_config=False
        )
    return connection_from_configuration(configuration)
