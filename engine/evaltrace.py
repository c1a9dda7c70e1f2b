"""Evaluation traces: a graph shown as the tables of Baydin et al., "Automatic differentiation in
machine learning: a survey" (JMLR 2018), tables 2 and 3.

The forward primal trace names the inputs v_{1-n} .. v_0 and every intermediate v_1, v_2, ...
with its value. The reverse adjoint trace walks the graph backwards accumulating
``vbar_i = vbar_i + vbar_j * dv_j/dv_i``; each local partial is found from the graph itself, by
differentiating the one-node function v_j(v_i, ...) with ``engine.grad`` (its value) and with
sympy (its formula), never from a table of hand-written derivatives.

>>> from adjit import engine, ops
>>> f = engine.trace(lambda x1, x2: ops.log(x1) + x1 * x2 - ops.sin(x2), 2.0, 5.0)
>>> t = evaluation_trace(f, 2.0, 5.0)
>>> t.gradient["x1"]
5.5
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from .function import Function, evaluate
from .ir import GraphError, is_float, var
from .primitive import bind
from .symbolic import SymbolicError, to_sympy
from .transforms import _scalar_output, grad

_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}


@dataclass(frozen=True)
class Primal:
    """One line of the forward trace: ``name = definition = value``."""

    name: str
    definition: str
    value: float


@dataclass(frozen=True)
class Adjoint:
    """One accumulation ``vbar_target (+)= vbar_source * partial``, and vbar_target after it."""

    target: str
    source: str
    partial: str           # the formula of d source / d target, in the v names
    partial_value: float
    value: float
    accumulate: bool       # True when vbar_target already held a contribution


@dataclass
class EvaluationTrace:
    """Forward primal and reverse adjoint traces of a scalar function of scalars."""

    inputs: dict           # input name -> value
    forward: list          # of Primal, the inputs first
    output: str            # the name of the output's line (or a number, for a constant)
    value: float
    reverse: list          # of Adjoint, in the order they run
    gradient: dict         # input name -> dy/dinput
    labels: dict           # input name -> its v name

    def primal_table(self) -> str:
        rows = [(p.name, p.definition, _num(p.value)) for p in self.forward]
        rows.append(("y", self.output, _num(self.value)))
        return "\n".join(["Forward primal trace", *_table(rows)])

    def adjoint_table(self) -> str:
        rows = [("vbar" + self.output[1:], "ybar", "", "1")] if self.output.startswith("v_") else []
        for a in self.reverse:
            rhs = (f"vbar{a.target[1:]} + " if a.accumulate else "") + f"vbar{a.source[1:]} * d{a.source}/d{a.target}"
            partial = a.partial if a.partial == _num(a.partial_value) else f"{a.partial} = {_num(a.partial_value)}"
            rows.append((f"vbar{a.target[1:]}", rhs, f"[d{a.source}/d{a.target} = {partial}]", _num(a.value)))
        return "\n".join(["Reverse adjoint trace", *_table(rows)])

    def __str__(self) -> str:
        result = [f"y = {self.value:.12g}"]
        result += [f"dy/d{n} = vbar{self.labels[n][1:]} = {g:.12g}" for n, g in self.gradient.items()]
        return "\n".join([self.primal_table(), "", self.adjoint_table(), "", *result])

    def to_dict(self) -> dict:
        return {"inputs": self.inputs, "forward": [vars(p) for p in self.forward],
                "output": self.output, "value": self.value, "reverse": [vars(a) for a in self.reverse],
                "gradient": self.gradient}


def _num(v: float) -> str:
    return f"{v:.6g}"


def _table(rows) -> list:
    """Aligned lines ``name = middle cells = value``."""
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    middle = lambda r: "  ".join(c.ljust(w) for c, w in zip(r[1:-1], widths[1:-1]))  # noqa: E731
    return [f"  {r[0].ljust(widths[0])} = {middle(r)} = {r[-1]}" for r in rows]


def _local_partials(node, labels, values):
    """d node / d each distinct non-constant input: (input, formula, value) triples, from the
    one-node function of those inputs."""
    distinct = list({i.id: i for i in node.inputs if i.prim != "const" and is_float(i.dtype)}.values())
    if not distinct:
        return []
    fresh = {i.id: var(labels[i.id], i.shape, i.dtype) for i in distinct}
    local = Function(list(fresh.values()), bind(node.prim, *[fresh.get(i.id, i) for i in node.inputs], **node.params))
    partial_values = grad(local)(*[values[i.id] for i in distinct])
    if len(distinct) == 1:
        partial_values = (partial_values,)
    try:
        expr = to_sympy(local)
        formulas = [str(sp.diff(expr, sp.Symbol(labels[i.id], real=True))) for i in distinct]
    except SymbolicError:
        formulas = [f"d{labels[node.id]}/d{labels[i.id]}" for i in distinct]
    return [(i, s, float(v)) for i, s, v in zip(distinct, formulas, partial_values)]


def _definition(node, ref) -> str:
    args = [ref(i) for i in node.inputs]
    if node.prim in _INFIX:
        return f" {_INFIX[node.prim]} ".join(args)
    if node.prim == "neg":
        return f"-{args[0]}"
    return f"{node.prim}({', '.join(args)})"


def evaluation_trace(f: Function, *args) -> EvaluationTrace:
    """The forward primal and reverse adjoint traces of ``f`` (scalar float inputs, one scalar
    float output) at ``args``."""
    _scalar_output(f, "evaluation_trace")
    for x in f.inputs:
        if x.shape != () or not is_float(x.dtype):
            raise GraphError(f"evaluation_trace: input {x.name!r} is {x.aval}; traces need float scalars")
    steps = [n for n in f.nodes if n.prim not in ("var", "const")]
    n_in = len(f.inputs)
    labels = {x.id: f"v_{k - n_in + 1}" for k, x in enumerate(f.inputs)}
    labels.update({n.id: f"v_{k + 1}" for k, n in enumerate(steps)})
    computed = evaluate(Function(f.inputs, [*f.inputs, *steps]), [np.asarray(a, dtype=x.dtype) for a, x in
                                                                   zip(args, f.inputs)])
    values = {n.id: v for n, v in zip([*f.inputs, *steps], computed)}

    def ref(n):
        return labels[n.id] if n.id in labels else _num(float(n.params["value"]))

    forward = [Primal(labels[x.id], x.name, float(values[x.id])) for x in f.inputs]
    forward += [Primal(labels[n.id], _definition(n, ref), float(values[n.id])) for n in steps]

    out = f.outputs[0]
    bar = {out.id: 1.0} if out.id in labels else {}
    reverse = []
    for n in reversed(steps):
        if n.id not in bar or not is_float(n.dtype):
            continue
        for i, formula, d in _local_partials(n, labels, values):
            accumulate = i.id in bar
            bar[i.id] = bar.get(i.id, 0.0) + bar[n.id] * d
            reverse.append(Adjoint(labels[i.id], labels[n.id], formula, d, bar[i.id], accumulate))
    value = float(values[out.id]) if out.id in values else float(out.params["value"])
    return EvaluationTrace({x.name: float(values[x.id]) for x in f.inputs}, forward, ref(out), value, reverse,
                           {x.name: bar.get(x.id, 0.0) for x in f.inputs}, {x.name: labels[x.id] for x in f.inputs})
