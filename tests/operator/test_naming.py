from __future__ import annotations

import re

import pytest

from modelplane.operator.naming import CHILD_NAME_MAX, child_name, label_value, run_id, short_hash

DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def test_child_names_are_deterministic_dns_labels():
    assert child_name("iris", "ingest", "abcd1234") == "iris-ingest-abcd1234"
    assert child_name("iris.v2", "0") == "iris-v2-0"
    assert child_name("2024-data", "ingest") == "mp-2024-data-ingest"
    long = "a" * 200
    name = child_name(long, "ingest", "abcd1234")
    assert len(name) <= CHILD_NAME_MAX
    assert name.endswith("-ingest-abcd1234")
    assert name == child_name(long, "ingest", "abcd1234")
    assert name != child_name("a" * 199 + "b", "ingest", "abcd1234")
    for candidate in (name, child_name("x" * 60, "3"), child_name("My.Data", "t")):
        assert DNS_1035.match(candidate), candidate


def test_a_suffix_too_long_is_an_error():
    with pytest.raises(ValueError, match="no room"):
        child_name("x", "y" * 60)


def test_label_values_fit_and_stay_unique():
    assert label_value("iris") == "iris"
    long = "d" * 100
    value = label_value(long)
    assert len(value) <= 63
    assert value != label_value("d" * 99 + "e")
    assert re.match(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", value)


def test_run_ids_are_32_hex_and_depend_on_uid_generation_and_trial():
    a = run_id("uid-1", 1, 0)
    assert re.fullmatch(r"[0-9a-f]{32}", a)
    assert a == short_hash("uid-1", 1, 0, length=32)
    assert (
        len({a, run_id("uid-1", 2, 0), run_id("uid-1", 1, 1), run_id("uid-2", 1, 0), run_id("uid-1", 1, "sweep")}) == 5
    )
