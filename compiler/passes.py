"""Graph passes, each a pure ``Function -> Function``: CSE, constant folding, algebraic
simplification and DCE. None of them changes a result, for NaN and Inf inputs too: they never
rewrite ``x - x -> 0``, ``x * 0 -> 0`` or ``x / x -> 1``. Each also rewrites the Functions held
in params (a scan's body), so the code inside a loop is optimized like the rest.
"""
from __future__ import annotations

import numpy as np

from ..engine.function import Function, format_param
from ..engine.ir import Node, const
from ..engine.primitive import bind, get, rebind

FOLD_LIMIT = 4096  # constants with more elements than this are left as computations


def _with_bodies(n: Node, p) -> Node:
    """``n`` with each Function among its params (a scan's body) rewritten by the pass ``p``."""
    bodies = {k: p(v) for k, v in n.params.items() if isinstance(v, Function)}
    return bind(n.prim, *n.inputs, **{**n.params, **bodies}) if bodies else n


def _moved(node: Node, index: dict) -> dict:
    """Where the results of a multi-result node went: {old index: result of ``node``}; old
    results that land on the same new one share its node."""
    results = {j: bind("result", node, index=j) for j in set(index.values())}
    return {k: results[j] for k, j in index.items()}


def _rewrite(f: Function, visit, recurse=None) -> Function:
    """Rebuild ``f`` node by node, replacing each rebuilt node by ``visit(new, old)``; Functions
    among params are rewritten by the pass ``recurse``. For a multi-result node ``visit`` may
    return {old index: result node}: the node's results moved there."""
    env, moved = {i.id: i for i in f.inputs}, {}
    for n in f.nodes:
        if n.id in env:
            continue
        if n.inputs and n.inputs[0].id in moved:  # a result of a node whose results moved: visited too,
            env[n.id] = visit(moved[n.inputs[0].id][n.params["index"]], n)  # so CSE shares equal ones
            continue
        new = n if not n.inputs else rebind(n, [env[i.id] for i in n.inputs])
        out = visit(new if recurse is None else _with_bodies(new, recurse), n)
        if isinstance(out, dict):
            moved[n.id] = out
        else:
            env[n.id] = out
    outs = [env[o.id] for o in f.outputs]
    return Function(f.inputs, outs if f.multiple else outs[0], name=f.name)


def dce(f: Function) -> Function:
    """Dead code elimination: a Function holds only what its outputs need, so rebuilding is DCE;
    then a multi-result node drops the work of results nobody reads (its ``prune`` hook)."""
    f = Function(f.inputs, f.outputs if f.multiple else f.outputs[0], name=f.name)
    used = {}
    for n in f.nodes:
        if n.inputs and n.inputs[0].multiple:
            used.setdefault(n.inputs[0].id, set()).add(n.params["index"])

    def visit(new, old):
        pruned = get(new.prim).prune(new, used[old.id]) if new.multiple and get(new.prim).prune else None
        return new if pruned is None else _moved(*pruned)
    return _rewrite(f, visit, dce)


def cse(f: Function) -> Function:
    """Common subexpression elimination by hash-consing (primitive, inputs, params); multi-result
    nodes with the same inputs become one where their ``merge`` hook says how (two scans over the
    same sequence with the same carries: one loop)."""
    table, groups, moved = {}, {}, {}

    def key(n: Node):
        if n.prim == "const":
            v = n.params["value"]
            return ("const", n.dtype, v.shape, v.tobytes())
        params = tuple(sorted((k, format_param(v) if not isinstance(v, (tuple, int, str, bool)) else v)
                              for k, v in n.params.items()))
        return (n.prim, tuple(i.id for i in n.inputs), params)

    for n in f.nodes:
        if n.multiple and get(n.prim).merge:
            groups.setdefault((n.prim, tuple(i.id for i in n.inputs)), []).append(n)

    def visit(new, old):
        group = groups.get((old.prim, tuple(i.id for i in old.inputs))) if old.multiple else None
        if group and old is group[0] and len(group) > 1:
            moved.update(_merge(new, group))
        return moved.get(old.id) or table.setdefault(key(new), new)
    return _rewrite(f, visit, cse)


def _merge(first: Node, group) -> dict:
    """{id of a node of ``group``: its moved results} for the nodes that merge into one with the
    first (``first`` is the first rebuilt; the others share its inputs)."""
    node, index = first, {group[0].id: {k: k for k in range(len(first.aval))}}
    for other in group[1:]:
        merged = get(node.prim).merge(node, _with_bodies(rebind(other, first.inputs), cse))
        if merged is not None:
            node, to_node, to_other = merged
            index = {m: {k: to_node[j] for k, j in ix.items()} for m, ix in index.items()}
            index[other.id] = to_other
    if len(index) == 1:
        return {}
    node = _with_bodies(node, cse)  # the bodies side by side share their common work
    return {m: _moved(node, ix) for m, ix in index.items()}


def fold_constants(f: Function) -> Function:
    """Evaluate nodes whose inputs are all constants (when the result is small)."""
    def visit(n: Node, old):
        if not n.inputs or not all(i.prim == "const" for i in n.inputs) or n.prim == "stop_gradient" \
                or n.multiple:
            return n
        if any(d is None for d in n.shape) or int(np.prod(n.shape, dtype=np.int64)) > FOLD_LIMIT:
            return n
        with np.errstate(all="ignore"):
            value = get(n.prim).impl(*[i.params["value"] for i in n.inputs], **n.params)
        return const(np.asarray(value, dtype=n.dtype), n.dtype)
    return _rewrite(f, visit, fold_constants)


def _is_scalar_const(n: Node, value) -> bool:
    return n.prim == "const" and n.params["value"].size == 1 and n.params["value"].reshape(()) == value


def _same(a: Node, b: Node) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


def _unbroadcast_inputs(n: Node) -> Node:
    """An elementwise node broadcasts its inputs itself: drop explicit broadcasts and size-1
    constant shapes among its inputs when that leaves its result's shape unchanged."""
    if not n.inputs or get(n.prim).kind != "elementwise" or n.prim == "broadcast_like":
        return n
    ins = list(n.inputs)
    for k, i in enumerate(ins):
        plain = i
        if i.prim == "broadcast_like":
            plain = i.inputs[0]
        elif i.prim == "const" and i.ndim > 0 and i.params["value"].size == 1:
            plain = const(i.params["value"].reshape(()), i.dtype)
        if plain is not i:
            trial = rebind(n, ins[:k] + [plain] + ins[k + 1:])
            if _same(trial, n):
                ins[k] = plain
    return rebind(n, ins)


def _skip_expand(n: Node) -> Node:
    """``broadcast_like(expand_dims(y), like)`` is ``broadcast_like(y, like)`` for a scalar ``y``."""
    y, like = n.inputs[0].inputs[0], n.inputs[1]
    if y.ndim:
        return n
    trial = rebind(n, [y, like])
    return trial if _same(trial, n) else n


def simplify(f: Function) -> Function:
    """IEEE-safe algebraic identities: x*1, 1*x, x/1, x+0, 0+x, x-0, x**1, --x, and no-op shape ops."""
    def visit(n: Node, old):
        n = _unbroadcast_inputs(n)
        ins = n.inputs
        candidate = None
        if n.prim == "mul":
            candidate = ins[0] if _is_scalar_const(ins[1], 1) else ins[1] if _is_scalar_const(ins[0], 1) else None
        elif n.prim == "add":
            candidate = ins[0] if _is_scalar_const(ins[1], 0) else ins[1] if _is_scalar_const(ins[0], 0) else None
        elif n.prim in ("sub", "div", "pow"):
            unit = 0 if n.prim == "sub" else 1
            candidate = ins[0] if _is_scalar_const(ins[1], unit) else None
        elif n.prim == "neg" and ins[0].prim == "neg":
            candidate = ins[0].inputs[0]
        elif n.prim in ("broadcast_like", "broadcast_to", "reshape", "convert", "stop_gradient"):
            candidate = ins[0]
            if n.prim == "broadcast_like" and ins[0].prim == "expand_dims" and not _same(ins[0], n):
                candidate = _skip_expand(n)
        elif n.prim == "transpose" and n.params["perm"] == tuple(range(n.ndim)):
            candidate = ins[0]
        elif n.prim in ("reduce_sum", "reduce_max") and not n.params["axes"]:
            candidate = ins[0]
        return candidate if candidate is not None and _same(candidate, n) else n
    return _rewrite(f, visit, simplify)


PIPELINE = (fold_constants, simplify, cse, dce)


def fuse_matmul_add(f: Function) -> Function:
    """``add(c, matmul(a, b))`` (either order) becomes ``matmul_add(c, a, b)``: one GEMM
    accumulating into (a copy of, or when dead the buffer of) ``c``. Only for matrices, when the
    product has no other user and ``c`` has exactly the product's shape and dtype (no
    broadcasting). The gradient of a weight summed over a loop's steps is such an add."""
    uses = {}
    for n in f.nodes:
        for i in n.inputs:
            uses[i.id] = uses.get(i.id, 0) + 1
    for o in f.outputs:
        uses[o.id] = uses.get(o.id, 0) + 1

    def visit(new, old):
        if new.prim != "add":
            return new
        for k in (1, 0):
            product, c = new.inputs[k], new.inputs[1 - k]
            if product.prim == "matmul" and uses.get(old.inputs[k].id) == 1 and product.ndim == 2 \
                    and all(i.ndim == 2 for i in product.inputs) and _same(c, product):
                return bind("matmul_add", c, *product.inputs)
        return new
    return _rewrite(f, visit, fuse_matmul_add)


LOWERING = {"cpu": (fuse_matmul_add,)}  # rewrites for one target, after the pipeline


def lower(f: Function, target: str) -> Function:
    """``f`` rewritten by ``target``'s lowering passes."""
    for p in LOWERING.get(target, ()):
        f = p(f)
    return f


MAX_ROUNDS = 4


def optimize(f: Function) -> Function:
    """The standard pipeline, run until the graph stops changing (one pass's result feeds
    another's opportunities: two loops merged late make their users equal), at most
    ``MAX_ROUNDS`` times."""
    for _ in range(MAX_ROUNDS):
        before = f.key
        for p in PIPELINE:
            f = p(f)
        if f.key == before:
            break
    return f
