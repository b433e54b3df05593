"""The run search language, parsed into clauses (pure; SQL is built by the repository).

MLflow's syntax, so its users' queries carry over::

    metrics.accuracy > 0.9 and params.max_depth = '8' and tags.team != 'risk'
    attributes.status IN ('Succeeded', 'Running') and metrics.`val loss` <= 0.25

Entities: ``metrics`` (latest value, numbers), ``params`` and ``tags`` (strings), ``attributes`` (run
fields). Operators: ``= != < <= > >=`` and, for strings, ``LIKE``, ``ILIKE`` and ``IN (...)``. Clauses are
joined with ``and``. Errors name the position and what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from modelplane.api.errors import InvalidRequest

Entity = Literal["metrics", "params", "tags", "attributes"]
ENTITY_ALIASES: dict[str, Entity] = {
    "metric": "metrics",
    "metrics": "metrics",
    "param": "params",
    "params": "params",
    "parameter": "params",
    "tag": "tags",
    "tags": "tags",
    "attribute": "attributes",
    "attributes": "attributes",
    "attr": "attributes",
    "run": "attributes",
}
ATTRIBUTES = {
    "run_id": "string",
    "name": "string",
    "experiment": "string",
    "status": "string",
    "dataset_digest": "string",
    "code_ref": "string",
    "image_digest": "string",
    "start_time": "time",
    "end_time": "time",
}
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
STRING_ONLY = ("LIKE", "ILIKE", "IN")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
      | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.(?:`[^`]+`|[A-Za-z0-9_\-./:]+))?)
      | (?P<op><=|>=|!=|=|<|>|\(|\)|,)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Clause:
    """One comparison: ``entity.key op value``."""

    entity: Entity
    key: str
    op: str
    value: float | str | tuple[str, ...]


@dataclass(frozen=True)
class Order:
    """One ordering term."""

    entity: Entity
    key: str
    descending: bool


def _tokens(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise InvalidRequest(
                f"filter: unexpected character at position {position}: {text[position : position + 20]!r}"
            )
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind), match.start(kind)))
        position = match.end()
    return tokens


def _entity_key(token: str, position: int) -> tuple[Entity, str]:
    if "." not in token:
        raise InvalidRequest(
            f"filter: expected entity.key (e.g. metrics.accuracy) at position {position}, got {token!r}"
        )
    prefix, key = token.split(".", 1)
    entity = ENTITY_ALIASES.get(prefix.lower())
    if entity is None:
        raise InvalidRequest(
            f"filter: unknown entity {prefix!r} at position {position}: use metrics, params, tags or attributes"
        )
    key = key[1:-1] if key.startswith("`") and key.endswith("`") else key
    if entity == "attributes" and key not in ATTRIBUTES:
        raise InvalidRequest(f"filter: unknown attribute {key!r}; known: {', '.join(sorted(ATTRIBUTES))}")
    return entity, key


def _string(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def parse_filter(text: str) -> list[Clause]:
    """The clauses of a filter string; an empty filter has none."""
    tokens = _tokens(text)
    clauses: list[Clause] = []
    index = 0

    def expect(kinds: tuple[str, ...], what: str) -> tuple[str, str, int]:
        nonlocal index
        if index >= len(tokens):
            raise InvalidRequest(f"filter: expected {what} at the end")
        token = tokens[index]
        if token[0] not in kinds:
            raise InvalidRequest(f"filter: expected {what} at position {token[2]}, got {token[1]!r}")
        index += 1
        return token

    while index < len(tokens):
        _, ident, position = expect(("ident",), "entity.key")
        entity, key = _entity_key(ident, position)
        _, op, op_position = expect(("op", "ident"), "an operator")
        op = op.upper()
        if op not in COMPARISONS and op not in STRING_ONLY:
            raise InvalidRequest(f"filter: unknown operator {op!r} at position {op_position}")
        numeric = entity == "metrics"
        if numeric and op in STRING_ONLY:
            raise InvalidRequest(f"filter: {op} does not apply to metrics (numbers) at position {op_position}")
        value: float | str | tuple[str, ...]
        if op == "IN":
            expect(("op",), "(")
            items = [_string(expect(("string",), "a quoted string")[1])]
            while index < len(tokens) and tokens[index][1] == ",":
                index += 1
                items.append(_string(expect(("string",), "a quoted string")[1]))
            if expect(("op",), ")")[1] != ")":
                raise InvalidRequest("filter: expected ) after the IN list")
            value = tuple(items)
        elif numeric:
            value = float(expect(("number",), "a number")[1])
        else:
            value = _string(expect(("string",), "a quoted string")[1])
        clauses.append(Clause(entity, key, op, value))
        if index < len(tokens):
            _, word, word_position = tokens[index]
            if word.lower() != "and":
                raise InvalidRequest(f"filter: expected 'and' at position {word_position}, got {word!r}")
            index += 1
            if index == len(tokens):
                raise InvalidRequest("filter: expected a clause after 'and'")
    return clauses


def parse_order(text: str | None) -> Order | None:
    """The ordering term of ``order_by`` (``entity.key [ASC|DESC]``); None means newest first."""
    if not text or not text.strip():
        return None
    parts = text.strip().rsplit(None, 1)
    direction = "ASC"
    if len(parts) == 2 and parts[1].upper() in ("ASC", "DESC"):
        text, direction = parts[0], parts[1].upper()
    entity, key = _entity_key(text.strip(), 0)
    return Order(entity, key, direction == "DESC")
