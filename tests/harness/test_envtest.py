"""The envtest harness: etcd + kube-apiserver from ``make test-bin``, started and always torn down."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import httpx
import pytest

from harness import envtest
from harness.cluster import FORCE_ENVTEST, KUBECONFIG_ENV, TEST_KUBECONFIG_ENV, external_kubeconfig
from harness.envtest import BinariesMissingError, EnvtestBinaries, HarnessConfigError, find_binaries
from harness.kubeapi import KubeApiError, KubeClient
from harness.s3 import TESTBIN_DIR_ENV
from harness.skips import REQUIRE_ALL_TIERS_ENV, missing_component


@pytest.mark.unit
def test_missing_binaries_say_how_to_build_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TESTBIN_DIR_ENV, str(tmp_path))
    with pytest.raises(BinariesMissingError, match=r"etcd and kube-apiserver not found in .*: run `make test-bin`"):
        find_binaries()
    monkeypatch.setenv(TESTBIN_DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(HarnessConfigError, match="is not a directory"):
        find_binaries()


@pytest.mark.unit
def test_binaries_are_found_in_the_current_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    current = tmp_path / "current"
    current.mkdir()
    for name in ("etcd", "kube-apiserver"):
        (current / name).write_text("#!/bin/sh\n")
        (current / name).chmod(0o755)
    monkeypatch.setenv(TESTBIN_DIR_ENV, str(tmp_path))
    assert find_binaries() == EnvtestBinaries(etcd=current / "etcd", kube_apiserver=current / "kube-apiserver")


@pytest.mark.unit
def test_which_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TEST_KUBECONFIG_ENV, raising=False)
    monkeypatch.delenv(KUBECONFIG_ENV, raising=False)
    assert external_kubeconfig() is None
    monkeypatch.setenv(KUBECONFIG_ENV, "/etc/k")
    assert external_kubeconfig() == "/etc/k"
    monkeypatch.setenv(TEST_KUBECONFIG_ENV, "/etc/test-k")
    assert external_kubeconfig() == "/etc/test-k"
    monkeypatch.setenv(TEST_KUBECONFIG_ENV, FORCE_ENVTEST)
    assert external_kubeconfig() is None


INNER_TESTS = """
def test_needs_a_cluster(kubeconfig):
    pass
"""


@pytest.fixture
def inner_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.Pytester:
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]\n')
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_inner=INNER_TESTS)
    empty = tmp_path / "empty-testbin"
    empty.mkdir()
    monkeypatch.setenv(TESTBIN_DIR_ENV, str(empty))
    monkeypatch.setenv(TEST_KUBECONFIG_ENV, FORCE_ENVTEST)
    return pytester


@pytest.mark.unit
def test_missing_binaries_skip_loudly(inner_suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_ALL_TIERS_ENV, raising=False)
    result = inner_suite.runpytest_inprocess("-ra", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*missing component: no Kubernetes API server: *run `make test-bin`*"])


@pytest.mark.unit
def test_missing_binaries_fail_in_ci(inner_suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_ALL_TIERS_ENV, "1")
    result = inner_suite.runpytest_inprocess("-ra", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*required component missing: no Kubernetes API server*make test-bin*"])


@pytest.fixture
def binaries() -> EnvtestBinaries:
    try:
        return find_binaries()
    except BinariesMissingError as exc:
        missing_component(str(exc))


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie would still answer; the harness waits for its children, so there must be none.
    return False


@pytest.mark.cluster
def test_envtest_serves_tls_with_token_auth_and_rbac_and_cleans_up_after_a_failure(binaries: EnvtestBinaries) -> None:
    with pytest.raises(RuntimeError, match="the test failed"), envtest.envtest(binaries) as env:  # noqa: PT012
        workdir = env.workdir
        assert env.server.startswith("https://127.0.0.1:")
        with KubeClient(str(env.kubeconfig)) as admin:  # verifies the serving cert with the kubeconfig's CA
            assert admin.get("/readyz", verbose="true")
            review = admin.create(
                "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
            )
            assert review["status"]["userInfo"]["username"] == envtest.ADMIN_USER
            assert "system:masters" in review["status"]["userInfo"]["groups"]
        # Without the token: anonymous, and RBAC denies it.
        anonymous = httpx.get(f"{env.server}/api/v1/namespaces", verify=False, timeout=5)
        assert anonymous.status_code == 403
        assert 'User "system:anonymous" cannot list resource "namespaces"' in anonymous.json()["message"]
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{env.server}/readyz", timeout=5)  # self-signed: the system CAs do not trust it
        pids = _server_pids(env)
        assert len(pids) == 2  # etcd and kube-apiserver
        raise RuntimeError("the test failed")
    assert pids
    assert all(_gone(pid) for pid in pids)
    assert not workdir.exists()


def _server_pids(env: envtest.Envtest) -> list[int]:
    """PIDs of the processes whose command line mentions the envtest workdir (etcd, kube-apiserver)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(env.workdir) in cmdline:
            pids.append(int(proc.name))
    return pids


@pytest.mark.cluster
def test_a_server_that_fails_to_start_is_reported_with_its_log(tmp_path: Path) -> None:
    broken = tmp_path / "etcd"
    broken.write_text("#!/bin/sh\necho 'etcd: cannot start: simulated failure' >&2\nexit 3\n")
    broken.chmod(0o755)
    fake = EnvtestBinaries(etcd=broken, kube_apiserver=broken)
    temp = Path(tempfile.gettempdir())
    before = set(temp.glob("modelplane-envtest-*"))
    with pytest.raises(RuntimeError, match=r"(?s)etcd exited with code 3.*simulated failure"), envtest.envtest(fake):
        pass
    assert set(temp.glob("modelplane-envtest-*")) <= before


@pytest.mark.cluster
def test_kube_client_reports_the_servers_status(kube_client: KubeClient) -> None:
    with pytest.raises(KubeApiError) as caught:
        kube_client.get("/api/v1/namespaces/does-not-exist")
    assert caught.value.status == 404
    assert caught.value.message == 'namespaces "does-not-exist" not found'
