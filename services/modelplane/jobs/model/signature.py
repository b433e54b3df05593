"""A model's signature: inferred from its ONNX Runtime session, compared with the declared one.

Where it sits: after :mod:`.check` has opened the session. Datatypes are the Open Inference Protocol v2
names (``FP32``, ``INT64``, ``BYTES``, ...), the names the model server uses; a dimension that is not a
fixed size (symbolic like ``N``, or unknown) is -1. A tensor whose type the protocol cannot carry (a
ZipMap's sequence of maps, say) makes the model unservable: an :class:`InvalidModel`.

The comparison (pure) with ``spec.signature`` is strict where callers depend on it: the declared inputs
must be exactly the model's inputs, each declared output must exist, datatypes must be equal and each
dimension equal, or declared fixed where the model takes any size (the model accepts what the
declaration promises). Every difference is listed in one :class:`SignatureMismatch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from modelplane.apis.v1alpha1.model_version import Signature, TensorDatatype, TensorSpec
from modelplane.jobs.errors import InvalidModel, SignatureMismatch
from modelplane.serving.datatypes import NUMPY_DTYPES, ONNX_DATATYPES

SAMPLE_ROWS = 1


def infer_signature(session: Any) -> Signature:
    """The inputs and outputs of an ONNX Runtime session."""
    return Signature(
        inputs=[_tensor(arg, "input") for arg in session.get_inputs()],
        outputs=[_tensor(arg, "output") for arg in session.get_outputs()],
    )


def _tensor(arg: Any, kind: str) -> TensorSpec:
    datatype = ONNX_DATATYPES.get(arg.type)
    if datatype is None:
        raise InvalidModel(
            f"{kind} {arg.name!r} has type {arg.type}, which the Open Inference Protocol cannot carry "
            "(export scikit-learn classifiers with zipmap disabled)"
        )
    shape = [dim if isinstance(dim, int) and dim >= 0 else -1 for dim in (arg.shape or [])]
    return TensorSpec(name=arg.name, datatype=TensorDatatype(datatype), shape=shape)


def signature_differences(declared: Signature, inferred: Signature) -> list[str]:
    """What differs between the declared and the inferred signature, one phrase per difference."""
    problems: list[str] = []
    model_inputs = {t.name: t for t in inferred.inputs}
    declared_inputs = {t.name for t in declared.inputs}
    for tensor in declared.inputs:
        problems += _compare("input", tensor, model_inputs.get(tensor.name))
    problems += [
        f"input {name!r}: the model requires it, but the declared signature lacks it"
        for name in model_inputs
        if name not in declared_inputs
    ]
    model_outputs = {t.name: t for t in inferred.outputs}
    for tensor in declared.outputs:
        problems += _compare("output", tensor, model_outputs.get(tensor.name))
    return problems


def check_signature(declared: Signature | None, inferred: Signature) -> None:
    """Raise SignatureMismatch when a declared signature differs from the model's."""
    if declared is None:
        return
    problems = signature_differences(declared, inferred)
    if problems:
        raise SignatureMismatch("signature mismatch: " + "; ".join(problems))


def _compare(kind: str, declared: TensorSpec, actual: TensorSpec | None) -> list[str]:
    if actual is None:
        return [f"{kind} {declared.name!r}: declared, but the model has no such {kind}"]
    problems = []
    if declared.datatype != actual.datatype:
        problems.append(
            f"{kind} {declared.name!r}: datatype {declared.datatype.value} declared, the model's is "
            f"{actual.datatype.value}"
        )
    if not _shape_fits(declared.shape, actual.shape):
        problems.append(f"{kind} {declared.name!r}: shape {declared.shape} declared, the model's is {actual.shape}")
    return problems


def _shape_fits(declared: Sequence[int], actual: Sequence[int]) -> bool:
    if len(declared) != len(actual):
        return False
    return all(a in (d, -1) for d, a in zip(declared, actual, strict=True))


def synthesize_inputs(signature: Signature, rows: int = SAMPLE_ROWS) -> dict[str, npt.NDArray[Any]]:
    """Inputs of the signature's types and shapes filled with zeros (empty strings for BYTES); dynamic
    dimensions are ``rows`` for the first and 1 for any other."""
    inputs: dict[str, npt.NDArray[Any]] = {}
    for tensor in signature.inputs:
        shape = tuple(rows if i == 0 and d == -1 else (1 if d == -1 else d) for i, d in enumerate(tensor.shape))
        dtype = NUMPY_DTYPES[tensor.datatype.value]
        inputs[tensor.name] = np.full(shape, "", dtype=object) if dtype == np.object_ else np.zeros(shape, dtype)
    return inputs


def to_wire(signature: Signature) -> dict[str, Any]:
    """The signature as the registry and the result carry it: ``{"inputs": [...], "outputs": [...]}``."""
    return signature.model_dump(mode="json", by_alias=True)
