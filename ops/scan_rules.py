"""The derivative rules of ``scan`` (declared in ``control.py``) and its rewrites for the passes.

JVP: a scan of the body's JVP. Its carries are (carry, carry_dot), its consts (k, k_dot) and its
xs (x, x_dot) for the operands with a tangent; a carry whose tangent starts at zero joins once a
step can make it nonzero (a fixpoint over the body's JVP).

VJP: a reverse scan of the body's VJP. What the forward pass saves is decided by splitting the
body's VJP graph in two (partial evaluation, as JAX does): nodes that depend on a cotangent run in
the reverse loop; the values of the forward computation they read (residuals) are
  - recomputed nowhere and saved per step, when they vary along the loop: the forward scan emits
    them as extra ys (the carries a step starts from, tanh outputs, masks...), except slices of the
    xs, which the reverse loop reads from the xs themselves, and transposes and reshapes of
    per-step values (views), which the reverse loop makes from the value it saves;
  - computed once outside the loop, when they depend on the consts only (``W.T``);
  - left as they are, when constant.
So memory is O(length x residuals) and no step of the forward is run twice. The forward scan that
emits the residuals has the same operands and carries as the original: the CSE pass merges the two
into one loop (``scan_merge``), and DCE drops what nobody reads (``scan_prune``). The reverse
loop's carries are the carries' cotangents and one accumulator per const that has a cotangent;
its ys are the cotangents of the xs.
"""
from __future__ import annotations

import re

from ..engine.autodiff import jvp_nodes, vjp_nodes
from ..engine.function import Function, inline, toposort
from ..engine.ir import var
from ..engine.primitive import bind, rebind


VIEWS = ("transpose", "reshape", "expand_dims", "squeeze")  # free on cpu, a copy kernel on cuda


def results(node) -> tuple:
    """One ``result`` node per result of a multi-result node."""
    return tuple(bind("result", node, index=k) for k in range(len(node.aval)))


def fresh(base: str, taken: set) -> str:
    """A name like ``base`` that is not in ``taken`` (added to it)."""
    name = re.sub(r"\W", "_", base) or "v"
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def _var_like(node, base: str, taken: set):
    return var(fresh(base, taken), node.shape, node.dtype)


def _scan(operands, body, num_carry, num_consts, length, reverse) -> tuple:
    return results(bind("scan", *operands, body=body, num_carry=num_carry, num_consts=num_consts,
                        length=length, reverse=reverse))


def _or_zeros(t, like):
    return t if t is not None else bind("zeros_like", like)


# --- forward mode ---------------------------------------------------------------------------------
def scan_jvp(primals, tangents, ans, body, num_carry, num_consts, length, reverse):
    nc, nk = num_carry, num_consts
    taken = {i.name for i in body.inputs}
    dots = [_var_like(i, i.name + "_dot", taken) for i in body.inputs]
    live = [t is not None for t in tangents]
    while True:  # a carry's tangent is nonzero if any step can make it so: grow to a fixpoint
        touts = jvp_nodes(body.outputs, {i.id: d for i, d, z in zip(body.inputs, dots, live) if z})
        grown = [z or (k < nc and touts[k] is not None) for k, z in enumerate(live)]
        if grown == live:
            break
        live = grown
    inputs, operands = [], []
    for part in (range(nc), range(nc, nc + nk), range(nc + nk, len(primals))):
        inputs += [body.inputs[k] for k in part] + [dots[k] for k in part if live[k]]
        operands += [primals[k] for k in part] + [_or_zeros(tangents[k], primals[k]) for k in part if live[k]]
    carries = [k for k in range(nc) if live[k]]
    ys = [j for j in range(len(body.outputs) - nc) if touts[nc + j] is not None]
    outputs = [*body.outputs[:nc], *(_or_zeros(touts[k], dots[k]) for k in carries),
               *body.outputs[nc:], *(touts[nc + j] for j in ys)]
    outs = _scan(operands, Function(inputs, outputs, name=f"jvp_{body.name}"), nc + len(carries),
                 nk + sum(live[nc:nc + nk]), length, reverse)
    tangent = [None] * len(ans.aval)
    for idx, k in enumerate(carries):
        tangent[k] = outs[nc + idx]
    for idx, j in enumerate(ys):  # after the carries, their tangents and the ys
        tangent[nc + j] = outs[len(carries) + len(body.outputs) + idx]
    return tuple(tangent)


# --- reverse mode ---------------------------------------------------------------------------------
def scan_vjp(cts, primals, ans, body, num_carry, num_consts, length, reverse):
    nc, nk = num_carry, num_consts
    nx, ny = len(primals) - nc - nk, len(body.outputs) - nc
    taken = {i.name for i in body.inputs}
    bars = [_var_like(i, i.name + "_bar", taken) for i in body.inputs[:nc]]
    bars += [_var_like(o, f"y{j}_bar", taken) for j, o in enumerate(body.outputs[nc:])]
    live = [ct is not None for ct in cts]
    while True:  # a carry's cotangent is nonzero if any step can make it so: grow to a fixpoint
        seeds = [k for k, z in enumerate(live) if z]
        grads = vjp_nodes([body.outputs[k] for k in seeds], [bars[k] for k in seeds], body.inputs)
        grown = [z or (k < nc and grads[k] is not None) for k, z in enumerate(live)]
        if grown == live:
            break
        live = grown
    if all(g is None for g in grads):
        return [None] * len(primals)

    # split the VJP graph: the cotangent side runs in the reverse loop, reading residuals
    order = toposort([g for g in grads if g is not None])
    ct_side = {bars[k].id for k in seeds}
    varying = {i.id for i in body.inputs[:nc] + body.inputs[nc + nk:]}
    for n in order:
        if any(i.id in ct_side for i in n.inputs):
            ct_side.add(n.id)
        if any(i.id in varying for i in n.inputs):
            varying.add(n.id)
    # a transpose or reshape of a per-step value (the x_t.T and h.T of a matmul's VJP) is a
    # view: the reverse loop makes it from its input, which the forward loop saves in its own
    # layout (or which is read from the xs) instead of writing the view's elements in its order
    ct_side |= {n.id for n in order if n.prim in VIEWS and n.id in varying}
    residuals = []  # the forward values the cotangent side reads, each once
    for r in [i for n in order if n.id in ct_side for i in n.inputs] + [g for g in grads if g is not None]:
        if r.id not in ct_side and r.prim != "const" and all(r is not q for q in residuals):
            residuals.append(r)
    r_vars = [r if r.prim == "var" else _var_like(r, f"r{k}", taken) for k, r in enumerate(residuals)]
    env = {r.id: v for r, v in zip(residuals, r_vars)}
    for n in order:
        if n.id in ct_side and n.id not in env:
            env[n.id] = rebind(n, [env.get(i.id, i) for i in n.inputs])

    def moved(g):
        return env.get(g.id, g)

    carries = [j for j in range(nc) if live[j]]
    accs = [k for k in range(nk) if grads[nc + k] is not None]
    acc_vars = [_var_like(body.inputs[nc + k], body.inputs[nc + k].name + "_bar", taken) for k in accs]
    x_cts = [j for j in range(nx) if grads[nc + nk + j] is not None]
    outputs = [moved(grads[j]) if grads[j] is not None else bind("zeros_like", bars[j]) for j in carries]
    outputs += [bind("add", a, moved(grads[nc + k])) for a, k in zip(acc_vars, accs)]
    outputs += [moved(grads[nc + nk + j]) for j in x_cts]

    invariant = [k for k, r in enumerate(residuals) if r.id not in varying]
    per_step = [k for k, r in enumerate(residuals) if r.id in varying]
    hoisted = inline(Function(body.inputs[nc:nc + nk], [residuals[k] for k in invariant]), primals[nc:nc + nk])
    x_of = {i.id: primals[nc + nk + k] for k, i in enumerate(body.inputs[nc + nk:])}
    saved = [residuals[k] for k in per_step if residuals[k].id not in x_of]
    if saved:  # the forward loop again, emitting the residuals too (CSE merges it with the original)
        stacks = _scan(primals, Function(body.inputs, [*body.outputs, *saved], name=body.name), nc, nk,
                       length, reverse)[nc + ny:]
        x_of.update((r.id, s) for r, s in zip(saved, stacks))
    y_live = [nc + j for j in range(ny) if live[nc + j]]
    inputs = [*(bars[j] for j in carries), *acc_vars, *(r_vars[k] for k in invariant),
              *(r_vars[k] for k in per_step), *(bars[k] for k in y_live)]
    operands = [*(_or_zeros(cts[j], primals[j]) for j in carries),
                *(bind("zeros_like", primals[nc + k]) for k in accs), *hoisted,
                *(x_of[residuals[k].id] for k in per_step), *(cts[k] for k in y_live)]
    if not per_step and not y_live and length is None:  # the number of steps is read from an xs
        inputs.append(body.inputs[nc + nk])
        operands.append(primals[nc + nk])
    outs = _scan(operands, Function(inputs, outputs, name=f"vjp_{body.name}"), len(carries) + len(accs),
                 len(invariant), length, not reverse)
    ct = [None] * len(primals)
    for idx, k in enumerate(carries + [nc + k for k in accs] + [nc + nk + j for j in x_cts]):
        ct[k] = outs[idx]
    return ct


# --- rewrites for the passes ----------------------------------------------------------------------
def scan_prune(n, used):
    """DCE: drop the ys nobody reads (and repeats of one y), the carries whose final value nobody
    reads and that no kept output needs, and the consts and xs the rest does not read."""
    p = n.params
    body, nc, nk = p["body"], p["num_carry"], p["num_consts"]
    nx, ny = len(n.inputs) - nc - nk, len(body.outputs) - nc
    ys, same, first = [], {}, {}
    for j in range(ny):
        if nc + j in used:
            same[j] = first.setdefault(body.outputs[nc + j].id, j)
            if same[j] == j:
                ys.append(j)

    def reached(outs) -> set:
        return {m.id for m in toposort(outs)}

    carries = list(range(nc))
    while True:
        drop = next((j for j in carries if j not in used and body.inputs[j].id not in reached(
            [body.outputs[c] for c in carries if c != j] + [body.outputs[nc + y] for y in ys])), None)
        if drop is None:
            break
        carries.remove(drop)
    kept_outputs = [body.outputs[c] for c in carries] + [body.outputs[nc + y] for y in ys]
    reach = reached(kept_outputs)
    consts = [k for k in range(nc, nc + nk) if body.inputs[k].id in reach]
    xs = [k for k in range(nc + nk, nc + nk + nx) if body.inputs[k].id in reach]
    if not xs and p["length"] is None:  # the number of steps is read from an xs
        xs = [nc + nk]
    if (len(carries), len(ys), len(consts), len(xs)) == (nc, ny, nk, nx):
        return None
    kept = carries + consts + xs
    node = bind("scan", *[n.inputs[k] for k in kept], body=Function([body.inputs[k] for k in kept], kept_outputs,
                                                                    name=body.name),
                num_carry=len(carries), num_consts=len(consts), length=p["length"], reverse=p["reverse"])
    index = {j: carries.index(j) for j in carries if j in used}
    index.update({nc + j: len(carries) + ys.index(r) for j, r in same.items()})
    return node, index


def scan_merge(a, b):
    """CSE: two scans of the same operands whose bodies compute the same carries are one loop
    with the ys of both (the forward loop of a VJP, emitting residuals, and the original)."""
    pa, pb = a.params, b.params
    if any(pa[k] != pb[k] for k in ("num_carry", "num_consts", "length", "reverse")):
        return None
    body, nc = pa["body"], pa["num_carry"]
    b_outputs = inline(pb["body"], body.inputs)
    if Function(body.inputs, body.outputs[:nc]).key != Function(body.inputs, b_outputs[:nc]).key:
        return None
    merged = Function(body.inputs, [*body.outputs, *b_outputs[nc:]], name=body.name)
    node = bind("scan", *a.inputs, **{**pa, "body": merged})
    na = len(body.outputs)
    return node, {k: k for k in range(na)}, {k: k if k < nc else na + k - nc for k in range(len(b_outputs))}
