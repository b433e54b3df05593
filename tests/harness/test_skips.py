"""The loud-skip helper: a skip locally, a failure under MODELPLANE_REQUIRE_ALL_TIERS=1."""

from __future__ import annotations

import pytest

from harness.skips import REQUIRE_ALL_TIERS_ENV, env_flag, missing_component, require

pytestmark = pytest.mark.unit


def test_missing_component_skips_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_ALL_TIERS_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception) as excinfo:
        missing_component("the flux capacitor")
    assert excinfo.value.msg == "missing component: the flux capacitor"


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_missing_component_fails_when_all_tiers_are_required(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(REQUIRE_ALL_TIERS_ENV, value)
    with pytest.raises(pytest.fail.Exception) as excinfo:
        missing_component("the flux capacitor")
    assert excinfo.value.msg == "required component missing: the flux capacitor"


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_falsy_env_values_still_skip(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(REQUIRE_ALL_TIERS_ENV, value)
    with pytest.raises(pytest.skip.Exception):
        missing_component("x")


def test_require(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_ALL_TIERS_ENV, raising=False)
    require(True, "never reported")
    require("non-empty", "never reported")
    with pytest.raises(pytest.skip.Exception, match="missing component: gone"):
        require(None, "gone")
    monkeypatch.setenv(REQUIRE_ALL_TIERS_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="required component missing: gone"):
        require(0, "gone")


def test_env_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPLANE_SOME_FLAG", " True ")
    assert env_flag("MODELPLANE_SOME_FLAG")
    monkeypatch.setenv("MODELPLANE_SOME_FLAG", "2")
    assert not env_flag("MODELPLANE_SOME_FLAG")
    monkeypatch.delenv("MODELPLANE_SOME_FLAG")
    assert not env_flag("MODELPLANE_SOME_FLAG")


INNER_TESTS = """
import pytest
from harness.skips import missing_component

@pytest.fixture(scope="session")
def unicorn():
    missing_component("no unicorn in this stable")

def test_one(unicorn):
    pass

def test_two(unicorn):
    pass

def test_plain():
    pass
"""


@pytest.fixture
def inner_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]\n')
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_inner=INNER_TESTS)
    return pytester


def test_skips_are_reported_in_the_terminal_summary(
    inner_suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REQUIRE_ALL_TIERS_ENV, raising=False)
    result = inner_suite.runpytest_inprocess("-ra", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "*ModelPlane: tests skipped for missing components*",
            "*2 skipped: no unicorn in this stable",
            "*short test summary info*",
            "SKIPPED [[]1[]] test_inner.py:*: missing component: no unicorn in this stable",
        ]
    )


def test_missing_components_fail_the_run_in_ci(inner_suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_ALL_TIERS_ENV, "1")
    result = inner_suite.runpytest_inprocess("-ra", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(["*required component missing: no unicorn in this stable*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
