"""The IR checker: is a ``Function`` a well-formed graph?

Transformations and passes must return graphs that the primitives' own shape rules agree with.
The tests run ``check_function`` on every graph a transformation makes, so a rule that builds a
node of the wrong shape or dtype is caught where it is made, not by a wrong number later.

>>> from adjit import engine, ops
>>> x = engine.var("x", (3,))
>>> engine.check_function(engine.grad(engine.Function([x], ops.sum(ops.sin(x)))))
"""
from __future__ import annotations

import numpy as np

from . import primitive
from .ir import DTYPES, Aval, GraphError, Node, TupleAval


def _node_names(f) -> dict:
    """The names the SSA text uses: inputs by name, other nodes ``v0, v1, ...`` in order."""
    names, count = {}, 0
    for i in f.inputs:
        names[i.id] = repr(i.name)
    for n in f.nodes:
        if n.id in names or n.prim in ("var", "const"):
            continue
        names[n.id] = f"v{count}"
        count += 1
    return names


def _valid_param(value) -> bool:
    """Params are part of a node's identity: they must be immutable values."""
    from .function import Function
    # numpy scalars are refused too: inside a tuple they print as ``np.int64(3)``, which breaks
    # the SSA text and generated code that writes params with str().
    if value is None or type(value) in (bool, int, float, str):
        return True
    if isinstance(value, tuple):
        return all(_valid_param(v) for v in value)
    if isinstance(value, np.ndarray):
        return not value.flags.writeable
    return isinstance(value, Function)


def _check_aval(aval) -> str | None:
    if isinstance(aval, TupleAval):
        return next((f"result {k}: {why}" for k, why in enumerate(map(_check_aval, aval)) if why), None)
    if not isinstance(aval, Aval):
        return f"its aval is {aval!r}, not an Aval"
    if not isinstance(aval.shape, tuple) or any(
            d is not None and (not isinstance(d, int) or isinstance(d, bool) or d < 0) for d in aval.shape):
        return f"its shape {aval.shape!r} is not a tuple of sizes (int >= 0 or None)"
    if aval.dtype not in DTYPES:
        return f"its dtype {aval.dtype!r} is not one of {', '.join(DTYPES)}"
    return None


def _plain(aval):
    """An aval as bind makes it (tuples for shapes, dtype names), to compare with a node's."""
    if isinstance(aval, TupleAval):
        return TupleAval(tuple(map(_plain, aval)))
    return Aval(tuple(aval.shape), np.dtype(aval.dtype).name)


def check_function(f, _depth: int = 0) -> None:
    """Raise ``GraphError`` naming the first ill-formed node of ``f``; return None if all is well.

    Checked: inputs are distinct named ``var`` nodes; ``f.nodes`` lists each node once with its
    inputs before it (SSA, topological order) and holds every output; every ``var`` reached is an
    input; constants hold read-only arrays of their aval; every other node names a registered
    primitive, has immutable params, and has exactly the aval its primitive's shape rule gives for
    its inputs' avals and params; a multi-result node is read by ``result`` nodes only. Functions
    held in params (the body of a scan) are checked too.
    """
    from .function import Function
    if not isinstance(f, Function):
        raise TypeError(f"check_function: expected a Function, got {type(f).__name__}")
    names = _node_names(f)

    def fail(n: Node, why: str):
        what = names.get(n.id, f"node #{n.id}")
        raise GraphError(f"check {f.name}: {what} = {n.prim} (made at {n.origin}): {why}")

    input_ids = set()
    for i in f.inputs:
        if not isinstance(i, Node) or i.prim != "var":
            raise GraphError(f"check {f.name}: input {i!r} is not a var node")
        if i.id in input_ids:
            fail(i, "appears twice among the inputs")
        input_ids.add(i.id)
    input_names = [i.name for i in f.inputs]
    if len(set(input_names)) != len(input_names):
        raise GraphError(f"check {f.name}: input names repeat: {input_names}")

    seen = set()
    for n in f.nodes:
        if not isinstance(n, Node):
            raise GraphError(f"check {f.name}: {n!r} in the node list is not a Node")
        if n.id in seen:
            fail(n, "appears twice in the node list (not SSA)")
        for k, i in enumerate(n.inputs):
            if not isinstance(i, Node):
                fail(n, f"input {k} is {i!r}, not a Node")
            if i.id not in seen:
                fail(n, f"input {k} ({names.get(i.id, i.prim)}) is not defined before it "
                        "(nodes out of topological order, or missing from the graph)")
            if i.multiple and n.prim != "result":
                fail(n, f"input {k} ({names[i.id]}) has several results {i.aval}: only a result node may read it")
        why = _check_aval(n.aval)
        if why:
            fail(n, why)
        seen.add(n.id)
        if n.prim == "var":
            if n.inputs or set(n.params) != {"name"} or not isinstance(n.params["name"], str) \
                    or not n.params["name"]:
                fail(n, f"a var needs no inputs and one non-empty string name, has params {dict(n.params)}")
            if n.id not in input_ids:
                fail(n, f"var {n.name!r} is reached but is not among the inputs {input_names}")
            continue
        if n.prim == "const":
            value = n.params.get("value")
            if n.inputs or set(n.params) != {"value"} or not isinstance(value, np.ndarray):
                fail(n, "a const needs no inputs and one ndarray 'value' param")
            if value.flags.writeable:
                fail(n, "its value array is writeable (constants must be read-only)")
            if value.shape != n.shape or value.dtype.name != n.dtype:
                fail(n, f"its value is {value.dtype.name}{list(value.shape)} but its aval says {n.aval}")
            continue
        if n.prim not in primitive.REGISTRY:
            fail(n, f"unknown primitive {n.prim!r}")
        for key, value in n.params.items():
            if not _valid_param(value):
                fail(n, f"param {key}={value!r} is not an immutable value")
            if isinstance(value, Function):
                if _depth > 20:
                    fail(n, "Functions nested too deeply in params")
                try:
                    check_function(value, _depth + 1)
                except GraphError as err:
                    fail(n, f"param {key}: {err}")
        try:
            want = primitive.get(n.prim).shape_rule(*[i.aval for i in n.inputs], **n.params)
        except GraphError as err:
            fail(n, f"its shape rule rejects inputs {', '.join(str(i.aval) for i in n.inputs)}: {err}")
        except (TypeError, ValueError, KeyError, IndexError) as err:
            fail(n, f"invalid params {dict(n.params)}: {type(err).__name__}: {err}")
        want = _plain(want)
        if want != n.aval:
            fail(n, f"its aval is {n.aval} but the shape rule gives {want} "
                    f"for inputs {', '.join(str(i.aval) for i in n.inputs)}")

    for k, o in enumerate(f.outputs):
        if not isinstance(o, Node) or o.id not in seen:
            raise GraphError(f"check {f.name}: output {k} is not in the node list")
