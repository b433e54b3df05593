"""Unit tests of how the harness finds components and reports misconfiguration (no servers started)."""

from __future__ import annotations

from pathlib import Path

import pytest

import harness.postgres as harness_postgres
from harness.kube import probe_cluster, write_kubeconfig
from harness.ports import free_port
from harness.postgres import PG_BINDIR_ENV, ComponentMissingError, HarnessConfigError, find_pg_bindir
from harness.s3 import MINIO_BIN_ENV, REQUIRE_MINIO_ENV, TESTBIN_DIR_ENV, S3ConfigError, find_minio, s3_server
from harness.skips import missing_component

pytestmark = pytest.mark.unit


def test_pg_bindir_discovery(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(PG_BINDIR_ENV, raising=False)
    try:
        found = find_pg_bindir()
    except ComponentMissingError:
        missing_component("PostgreSQL server binaries (initdb, postgres)")
    assert (found / "initdb").is_file()
    monkeypatch.setenv(PG_BINDIR_ENV, str(found))
    assert find_pg_bindir() == found
    monkeypatch.setenv(PG_BINDIR_ENV, str(tmp_path))
    with pytest.raises(HarnessConfigError, match=PG_BINDIR_ENV):
        find_pg_bindir()


def test_missing_pg_binaries_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PG_BINDIR_ENV, raising=False)
    monkeypatch.setattr(harness_postgres, "_has_server_binaries", lambda bindir: False)
    with pytest.raises(ComponentMissingError, match="PostgreSQL server binaries"):
        find_pg_bindir()


def test_minio_binary_from_the_testbin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MINIO_BIN_ENV, raising=False)
    monkeypatch.setenv(TESTBIN_DIR_ENV, str(tmp_path))
    assert find_minio() is None
    (tmp_path / "current").mkdir()
    (tmp_path / "current" / "minio").write_text("#!/bin/sh\n")
    (tmp_path / "current" / "minio").chmod(0o755)
    assert find_minio() == tmp_path / "current" / "minio"


def test_minio_misconfiguration_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MINIO_BIN_ENV, str(tmp_path / "nope"))
    with pytest.raises(S3ConfigError, match="not an executable file"), s3_server():
        pass
    monkeypatch.delenv(MINIO_BIN_ENV)
    monkeypatch.setenv(TESTBIN_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(REQUIRE_MINIO_ENV, "1")
    with pytest.raises(S3ConfigError, match="no minio binary"), s3_server():
        pass


def test_probe_cluster_fails_for_a_dead_api_server(tmp_path: Path) -> None:
    config = write_kubeconfig(tmp_path / "dead.kubeconfig", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(Exception, match=r"Connection refused|Max retries"):
        probe_cluster(str(config), timeout=2)
