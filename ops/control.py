"""Control flow: ``scan``, a loop that is one higher-order primitive, and ``result``, which reads
one result of a multi-result node.

A scan node ``scan[body, num_carry, num_consts, length, reverse](*init, *consts, *xs)`` has the
body ``Function`` as a param and one result per carry (its final value) and per y (stacked along
a new leading axis). The body's inputs are the carries, the consts (values of the enclosing graph
that the body reads: weights, captured by closure conversion) and one slice of each xs; its
outputs the new carries, then the ys. The derivative rules are in ``scan_rules.py``.
"""
from __future__ import annotations

import numpy as np

from ..engine.function import Function, _param_names, evaluate, toposort
from ..engine.ir import Aval, GraphError, Node, TupleAval, as_node, var
from ..engine.primitive import Primitive, bind, get, rebind
from .api import _error
from .linalg import packable_product
from .rules import np_dtype
from . import scan_rules
from .scan_rules import fresh, results


# --- result: one result of a multi-result node -------------------------------------------------
def _result_rule(t, index):
    if not isinstance(t, TupleAval):
        raise GraphError(f"result: its input {t} has one value, not several")
    if not 0 <= index < len(t):
        raise GraphError(f"result: index {index} is out of range for {len(t)} results")
    return t[index]


def _result_vjp(ct, primals, ans, index):
    return [tuple(ct if k == index else None for k in range(len(primals[0].aval)))]


# A multi-result primitive's code makes fresh arrays (a scan copies its final carries), so a
# result owns its memory: ``allocates``.
Primitive("result", _result_rule, lambda t, index: t[index], jvp=lambda p, t, ans, index: t[0][index],
          vjp=_result_vjp, allocates=True, emit=lambda target, n, out, t: [f"{out} = {t}[{n.params['index']}]"])


# --- the scan primitive ---------------------------------------------------------------------------
def compatible(a: Aval, b: Aval) -> bool:
    """Same dtype and rank, and equal sizes where both are known."""
    return a.dtype == b.dtype and a.ndim == b.ndim and all(
        x is None or y is None or x == y for x, y in zip(a.shape, b.shape))


def _scan_rule(*avals, body, num_carry, num_consts, length, reverse):
    nc, nk = num_carry, num_consts
    if len(avals) != len(body.inputs) or len(body.outputs) < nc:
        raise GraphError(f"scan: the body {body.name} takes {len(body.inputs)} inputs and gives "
                         f"{len(body.outputs)} outputs, for {len(avals)} operands of which {nc} carries")
    if length is None and len(avals) == nc + nk:
        raise GraphError("scan: no xs and no length")
    for k, (a, inp) in enumerate(zip(avals, body.inputs)):
        if k >= nc + nk:
            if a.ndim == 0 or (length is not None and a.shape[0] not in (None, length)):
                raise GraphError(f"scan: xs operand {a} has no leading axis of length {length}")
            a = Aval(a.shape[1:], a.dtype)
        if not compatible(a, inp.aval):
            raise GraphError(f"scan: operand {k} is {a} but the body's input {inp.name!r} is {inp.aval}")
    for k in range(nc):
        if not compatible(body.outputs[k].aval, avals[k]):
            raise GraphError(f"scan: the body's carry out {body.outputs[k].aval} does not match "
                             f"the carry in {avals[k]}")
    if length is None:
        length = next((a.shape[0] for a in avals[nc + nk:] if a.shape[0] is not None), None)
    step = [*avals[:nc + nk], *(Aval(a.shape[1:], a.dtype) for a in avals[nc + nk:])]
    ys = [Aval((length,) + y.shape, y.dtype) for y in output_avals(body, step)[nc:]]
    return TupleAval(tuple(avals[:nc]) + tuple(ys))


def output_avals(f: Function, avals) -> list:
    """The avals of ``f``'s outputs for inputs of these (concrete) avals, by the shape rules."""
    env = {i.id: a for i, a in zip(f.inputs, avals)}
    for n in f.nodes:
        if n.id not in env:
            env[n.id] = n.aval if n.prim == "const" else get(n.prim).shape_rule(
                *[env[i.id] for i in n.inputs], **n.params)
    return [env[o.id] for o in f.outputs]


def _scan_impl(*arrays, body, num_carry, num_consts, length, reverse):
    """The reference: the body evaluated once per step, ys written into preallocated stacks."""
    nc, nk = num_carry, num_consts
    carry, consts, xs = list(arrays[:nc]), list(arrays[nc:nc + nk]), arrays[nc + nk:]
    n = xs[0].shape[0] if xs else length
    if any(x.shape[0] != n for x in xs):
        raise ValueError(f"scan: xs have different leading lengths {[x.shape[0] for x in xs]}")
    step = [Aval(np.shape(a), np.asarray(a).dtype.name) for a in arrays[:nc + nk]]
    step += [Aval(x.shape[1:], x.dtype.name) for x in xs]
    ys = [np.empty((n,) + a.shape, a.dtype) for a in output_avals(body, step)[nc:]]  # exact even for n = 0
    for t in (range(n - 1, -1, -1) if reverse else range(n)):
        outs = evaluate(body, [*carry, *consts, *(x[t] for x in xs)])
        carry = outs[:nc]
        for stack, y in zip(ys, outs[nc:]):
            stack[t] = y
    return (*carry, *ys)


def _typed(node: Node) -> str:
    return "{}" if node.ndim else np_dtype(node.dtype) + "({})"


def _store(target: str, stack: str, t: str, y: str, ndim: int) -> list:
    """``stack[t] = y``; compiled, element by element (numba takes seconds to compile the first
    array assignment of a process); on ``cuda``, by a copy kernel."""
    if target == "cuda":
        return [f"_cu.store({stack}, {t}, {y})"]
    if target == "numpy" or ndim == 0:
        return [f"{stack}[{t}] = {y}"]
    index = [f"i{k}" for k in range(ndim)]
    loops = [" " * 4 * k + f"for {i} in range({y}.shape[{k}]):" for k, i in enumerate(index)]
    return loops + [" " * 4 * ndim + f"{stack}[{t}, {', '.join(index)}] = {y}[{', '.join(index)}]"]


def _shape_dims(ref: str, node: Node) -> tuple:
    return tuple(str(d) if d is not None else f"{ref}.shape[{k}]" for k, d in enumerate(node.shape))


def _empty(target: str, shape: str, dtype: str) -> str:
    return f"cuda.device_array({shape}, dtype={dtype})" if target == "cuda" else f"np.empty({shape}, dtype={dtype})"


def _packable(body: Function, nc: int, nk: int) -> list:
    """The body's loop-invariant inputs (its consts) that multiply from the right in a float32
    matrix product: weights, packed once before the loop for our GEMM (``gemm_kernels``)."""
    consts = {body.inputs[j].id: j for j in range(nc, nc + nk)}
    return sorted({consts[m.inputs[-1].id] for m in body.nodes if packable_product(m) and m.inputs[-1].id in consts})


def _scan_emit(target, n, out, *args, nested):
    """A real loop: carries are local variables, each step reads the xs at index ``t`` and writes
    the ys into stacks allocated before the loop; the body's code comes from the compiler
    (``nested.inline``) with names prefixed by this node's, so the generated source does not
    depend on the length. Final carries are copied: results never alias an operand (a carry the
    body updates in place is copied once, before the loop, instead). On ``cuda``
    the loop runs on the host and launches the body's kernels; every value it passes is a device
    array (rank 0: shape (1,), so the slice of a rank-1 xs is ``x[t:t + 1]``)."""
    p = n.params
    body, nc, nk = p["body"], p["num_carry"], p["num_consts"]
    init, consts, xs = args[:nc], args[nc:nc + nk], args[nc + nk:]
    x_nodes = n.inputs[nc + nk:]
    count, t = f"{out}_n", f"{out}_t"
    carries = [f"{out}_c{j}" for j in range(nc)]
    slices = [f"{out}_x{j}" for j in range(len(xs))]
    lines = [f"{count} = {xs[0]}.shape[0]" if xs else f"{count} = {p['length']}"]
    for x, node in zip(xs[1:], x_nodes[1:]):
        if node.shape[0] is None or x_nodes[0].shape[0] is None:
            lines += [f"if {x}.shape[0] != {count}:", '    raise ValueError("scan: xs have different leading lengths")']
    # a rank-0 carry is a numpy scalar of its dtype (on cuda a device array, which needs no cast)
    typed = ["{}" if target == "cuda" else _typed(i) for i in n.inputs[:nc]]
    dims = [_shape_dims(a, i) for a, i in zip(args[:nc + nk], n.inputs)]
    dims += [_shape_dims(x, i)[1:] for x, i in zip(xs, x_nodes)]
    packed = {j: f"{out}_b{j}" for j in _packable(body, nc, nk)} if target == "cpu" else {}
    code, outs, out_dims, owned, rows = nested.inline(body, carries + list(consts) + slices, dims, f"{out}_", nc, packed)
    for j, e in packed.items():  # rows -1: not known before the loop (pack anyway)
        fewest = "-1" if not rows[j] else rows[j][0] if len(rows[j]) == 1 else f"min({', '.join(rows[j])})"
        lines.append(f"{e} = _k.pack_panels({args[j]}, {fewest})  # for the GEMM at every step")
    # a carry the body may overwrite (an accumulator updated in place) starts as a copy of its init
    lines += [f"{c} = {a}.copy()  # carry, owned by the loop" if j in owned else f"{c} = {cast.format(a)}  # carry"
              for j, (c, a, cast) in enumerate(zip(carries, init, typed))]
    if target == "cpu":  # C-contiguous slices (a time-major view of x is not): BLAS and SIMD need them
        contiguous = [f"{out}_xs{j}" for j in range(len(xs))]
        lines += [f"{c} = np.ascontiguousarray({x})" for c, x, node in zip(contiguous, xs, x_nodes) if node.ndim > 1]
        xs = [c if node.ndim > 1 else x for c, x, node in zip(contiguous, xs, x_nodes)]
    steps = [f"{s} = {x}[{t}:{t} + 1]" if target == "cuda" and node.ndim == 1 else f"{s} = {x}[{t}]"
             for s, x, node in zip(slices, xs, x_nodes)] + code
    ys = []
    for j, (y, node, d) in enumerate(zip(outs[nc:], body.outputs[nc:], out_dims[nc:])):
        stack, dtype = f"{out}_y{j}", np_dtype(node.dtype)
        if d is not None:
            shape = f"({', '.join((count, *d))}{',' * (not d)})"
            lines.append(f"{stack} = {_empty(target, shape, dtype)}")
        else:  # a size known only inside the loop: allocate at the first step
            lines.append(f"{stack} = {_empty(target, str((0,) * (node.ndim + 1)), dtype)}")
            steps += [f"if {t} == {f'{count} - 1' if p['reverse'] else 0}:",
                      f"    {stack} = {_empty(target, f'({count},) + {y}.shape', dtype)}"]
        steps += _store(target, stack, t, y, node.ndim)
        ys.append(stack)
    if nc:
        steps.append(f"{', '.join(carries)} = {', '.join(cast.format(o) for o, cast in zip(outs, typed))}")
    header = f"for {t} in range({count} - 1, -1, -1):" if p["reverse"] else f"for {t} in range({count}):"
    # final carries are copied (results never alias an operand), except those the loop owns
    finals = [f"_cu.copy({c})" if target == "cuda" else f"{c}.copy()" if i.ndim and j not in owned else c
              for j, (c, i) in enumerate(zip(carries, n.inputs))]
    items = finals + ys
    return lines + [header] + ["    " + s for s in steps] + [f"{out} = ({', '.join(items)}{',' * (len(items) == 1)})"]


Primitive("scan", _scan_rule, _scan_impl, jvp=scan_rules.scan_jvp, vjp=scan_rules.scan_vjp, emit=_scan_emit,
          prune=scan_rules.scan_prune, merge=scan_rules.scan_merge)


# --- the front end --------------------------------------------------------------------------------
def _flatten(tree) -> tuple:
    """(leaves, structure): nodes and numbers are leaves, tuples and lists nest, None is empty.
    A structure is None, "*" (a leaf) or a tuple of structures."""
    if tree is None:
        return [], None
    if isinstance(tree, (tuple, list)):
        leaves, parts = [], []
        for item in tree:
            sub, part = _flatten(item)
            leaves += sub
            parts.append(part)
        return leaves, tuple(parts)
    return [tree], "*"


def _unflatten(structure, leaves):
    it = iter(leaves)

    def build(s):
        return None if s is None else next(it) if s == "*" else tuple(build(p) for p in s)
    return build(structure)


def _describe(structure, avals) -> str:
    """A structure with the avals of its leaves, as in the error messages: ``(f64[3], f64[3])``."""
    it = iter(avals)

    def show(s):
        if s is None or s == "*":
            return str(next(it)) if s else "None"
        return "(" + ", ".join(map(show, s)) + ("," if len(s) == 1 else "") + ")"
    return show(structure)


def _scan_length(xs, length):
    """The static number of steps, or None when it is known only from the xs at run time."""
    for x in xs:
        if x.ndim == 0:
            raise _error(f"scan: xs must have a leading axis to scan over, got a scalar {x.aval}")
    known = [x for x in xs if x.shape[0] is not None]
    for x in known[1:]:
        if x.shape[0] != known[0].shape[0]:
            raise _error(f"scan: xs have different leading lengths: {known[0].aval} and {x.aval}")
    if length is not None:
        if not isinstance(length, (int, np.integer)) or isinstance(length, bool) or length < 0:
            raise _error(f"scan: length must be an int >= 0, got {length!r}")
        if known and known[0].shape[0] != length:
            raise _error(f"scan: length={length} disagrees with the leading length of xs {known[0].aval}")
        return int(length)
    if not xs:
        raise _error("scan: xs is None, so length must be given")
    return known[0].shape[0] if known else None


def _close_over(inputs, outputs, taken):
    """Closure conversion: the body's nodes rebuilt so that each node of the enclosing graph it
    reads (a weight, or anything computed outside from no body input: loop-invariant work stays
    outside the loop) becomes a new input. Returns (outer nodes, their vars, outputs)."""
    local = {i.id for i in inputs}
    order = toposort(outputs)
    for n in order:
        if any(i.id in local for i in n.inputs):
            local.add(n.id)
    env, captured = {i.id: i for i in inputs}, {}

    def read(n):
        if n.id in env or n.prim == "const":
            return env.get(n.id, n)
        if n.id not in captured:
            captured[n.id] = (n, var(fresh(n.name or f"w{len(captured)}", taken), n.shape, n.dtype))
        return captured[n.id][1]

    for n in order:
        if n.id in local and n.id not in env:
            env[n.id] = rebind(n, [read(i) for i in n.inputs])
    outs = [read(o) for o in outputs]
    return [n for n, _ in captured.values()], [v for _, v in captured.values()], outs


def _check_carry(structure, carry_avals, out_structure, out_avals):
    if out_structure != structure or not all(map(compatible, out_avals, carry_avals)):
        raise _error(f"scan: the body's carry out {_describe(out_structure, out_avals)} does not match "
                     f"the carry in {_describe(structure, carry_avals)}")


def _traced_body(fn, structure, carry_avals, x_structure, slice_avals):
    """(body Function, captured outer nodes, ys structure) for a Python callable."""
    c_name, x_name = _param_names(fn, 2)
    taken = set()
    carry = [var(fresh(c_name + (str(k) if len(carry_avals) > 1 else ""), taken), a.shape, a.dtype)
             for k, a in enumerate(carry_avals)]
    xs = [var(fresh(x_name + (str(k) if len(slice_avals) > 1 else ""), taken), a.shape, a.dtype)
          for k, a in enumerate(slice_avals)]
    out = fn(_unflatten(structure, carry), _unflatten(x_structure, xs))
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise _error(f"scan: the body must return a pair (carry, y), got {type(out).__name__}"
                     + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else ""))
    leaves, out_structure = _flatten(out[0])
    if out_structure == structure:  # a Python number as a new carry takes the carry's dtype
        leaves = [as_node(c, a.dtype) for c, a in zip(leaves, carry_avals)]
    leaves = [as_node(c) for c in leaves]
    _check_carry(structure, carry_avals, out_structure, [c.aval for c in leaves])
    y_leaves, y_structure = _flatten(out[1])
    consts, k_vars, outs = _close_over(carry + xs, leaves + [as_node(y) for y in y_leaves], taken)
    name = getattr(fn, "__name__", "body").replace("<lambda>", "body")
    return Function([*carry, *k_vars, *xs], outs, name=name), consts, y_structure


def _given_body(f: Function, structure, carry_avals, slice_avals):
    """(body, no captured nodes, ys structure) for a Function: inputs are the carry's leaves then
    the x's, outputs the new carry's leaves then the ys."""
    nc, nx = len(carry_avals), len(slice_avals)
    if len(f.inputs) != nc + nx or len(f.outputs) < nc:
        raise _error(f"scan: the body {f.name} takes {len(f.inputs)} inputs and gives {len(f.outputs)} "
                     f"outputs; the carry has {nc} parts and x {nx}")
    for inp, a in zip(f.inputs, carry_avals + slice_avals):
        if not compatible(a, inp.aval):
            raise _error(f"scan: the body {f.name} takes {inp.name!r} as {inp.aval}, but it gets {a}")
    _check_carry(structure, carry_avals, structure, [o.aval for o in f.outputs[:nc]])
    ny = len(f.outputs) - nc
    return f, [], (None if ny == 0 else "*" if ny == 1 else ("*",) * ny)


def scan(body, init, xs=None, length=None, reverse=False):
    """Loop ``body`` over the leading axis of ``xs``, as ``jax.lax.scan``: ``body(carry, x)``
    returns ``(new_carry, y)``; the result is ``(final_carry, ys)``, the ys stacked along a new
    leading axis. Carry, x and y may each be a node or a (nested) tuple of nodes; ``xs=None`` with
    ``length`` gives the body ``x=None``. ``reverse=True`` runs from the last step to the first
    (``ys[t]`` is still the y of step ``t``). ``body`` is a ``Function`` (inputs: the carry's then
    the x's leaves; outputs: the new carry's leaves, then the ys) or a Python callable, traced once;
    nodes of the enclosing graph it uses (weights) become inputs of the loop, and gradients flow
    to them. Compiled, it is one loop whose size does not depend on the length.

    >>> import numpy as np
    >>> from adjit import engine, ops
    >>> f = engine.trace(lambda xs: ops.scan(lambda c, x: (c + x, c * x), 0.0, xs), np.arange(4.0))
    >>> [a.tolist() for a in f(np.arange(4.0))]
    [6.0, [0.0, 0.0, 2.0, 9.0]]
    """
    init_leaves, structure = _flatten(init)
    init_leaves = [as_node(c) for c in init_leaves]
    x_leaves, x_structure = _flatten(xs)
    x_leaves = [as_node(x) for x in x_leaves]
    length = _scan_length(x_leaves, length)
    carry_avals = [c.aval for c in init_leaves]
    slice_avals = [Aval(x.shape[1:], x.dtype) for x in x_leaves]
    if isinstance(body, Function):
        f, consts, y_structure = _given_body(body, structure, carry_avals, slice_avals)
    elif callable(body):
        f, consts, y_structure = _traced_body(body, structure, carry_avals, x_structure, slice_avals)
    else:
        raise TypeError(f"scan: the body must be a Function or a callable, got {type(body).__name__}")
    node = bind("scan", *init_leaves, *consts, *x_leaves, body=f, num_carry=len(init_leaves),
                num_consts=len(consts), length=length, reverse=bool(reverse))
    outs = results(node)
    return _unflatten(structure, outs[:len(init_leaves)]), _unflatten(y_structure, outs[len(init_leaves):])
