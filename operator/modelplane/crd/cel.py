"""CEL evaluation of ``x-kubernetes-validations`` rules, as the API server runs them.

Uses cel-python with the Kubernetes list extension ``sum()`` added. Values are converted to CEL types
by the schema (a ``number`` field holding ``1`` is a double, as on the server), so rules behave alike
locally and on a cluster. Compiled programs are cached per rule text.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError

PRESERVE = "x-kubernetes-preserve-unknown-fields"


class RuleError(Exception):
    """A rule that does not compile or cannot be evaluated on this value."""


def _list_sum(values: celtypes.ListType) -> Any:
    """``list.sum()`` of the Kubernetes CEL list library: the sum of a list of numbers."""
    if not values:
        return celtypes.IntType(0)
    total: Any = values[0]
    for value in values[1:]:
        total = total + value
    return total


FUNCTIONS = {"sum": _list_sum}
_ENVIRONMENT = celpy.Environment()


@lru_cache(maxsize=1024)
def compile_rule(rule: str) -> celpy.Runner:
    """The compiled program of a rule; :class:`RuleError` when it does not compile."""
    try:
        return _ENVIRONMENT.program(_ENVIRONMENT.compile(rule), functions=FUNCTIONS)
    except CELParseError as error:
        raise RuleError(f"rule does not compile: {error}") from error


def to_cel(value: Any, schema: Mapping[str, Any]) -> Any:
    """``value`` as a CEL value, typed by its schema node."""
    kind = schema.get("type")
    if value is None:
        return None
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return celtypes.DoubleType(float(value))
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return celtypes.IntType(value)
    if kind == "object" and isinstance(value, Mapping) and "properties" in schema:
        properties = schema["properties"]
        return celtypes.MapType(
            {celtypes.StringType(k): to_cel(v, properties.get(k, {PRESERVE: True})) for k, v in value.items()}
        )
    if kind == "object" and isinstance(value, Mapping) and isinstance(schema.get("additionalProperties"), Mapping):
        item = schema["additionalProperties"]
        return celtypes.MapType({celtypes.StringType(k): to_cel(v, item) for k, v in value.items()})
    if kind == "array" and isinstance(value, list):
        item = schema.get("items", {PRESERVE: True})
        return celtypes.ListType([to_cel(v, item) for v in value])
    return json_to_cel(value)


def evaluate_rule(rule: str, value: Any, schema: Mapping[str, Any]) -> bool:
    """Whether ``value`` (the rule's ``self``) satisfies ``rule``; :class:`RuleError` when it cannot say."""
    program = compile_rule(rule)
    try:
        result = program.evaluate({"self": to_cel(value, schema)})
    except CELEvalError as error:
        raise RuleError(f"rule could not be evaluated: {error.args[0] if error.args else error}") from error
    if not isinstance(result, celtypes.BoolType):
        raise RuleError(f"rule returned {type(result).__name__}, not a boolean")
    return bool(result)
