"""The primitive interface and the one registry of primitives.

A primitive is declared once (in ``adjit.ops``) with everything that belongs to it. The engine
only ever reaches a primitive through this registry, by name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from .ir import Aval, GraphError, Node, as_node, canonical_dtype, user_origin

REGISTRY: dict = {}


@dataclass
class Primitive:
    """Everything adjit knows about one operation.

    shape_rule(*avals, **params) -> Aval       checks inputs, raises GraphError naming the problem
    impl(*arrays, **params) -> ndarray         the numpy reference implementation
    jvp(primals, tangents, ans, **params)      tangent of ``ans`` (a node) or None for zero;
                                               ``tangents`` holds None for zero tangents
    vjp(ct, primals, ans, **params)            one cotangent node (or None) per input
    kind                                       "elementwise" (fusable scalar code), "reduction"
                                               (fused loop with an accumulator) or "call"
    scalar(*args, **params) -> str             elementwise: code for one element (also valid on
                                               whole numpy arrays unless ``array_code`` is given)
    array_code(*args, **params) -> str         elementwise: whole-array numpy code, if it differs
    emit(target, out, args, arg_nodes, params) "call": lines of code for the target
    allocates                                  "call": the cpu code returns a new array, never a
                                               view of an input (its memory may be reused)
    dims(n, in_dims) -> tuple                  "call": runtime size expression of each output dim
                                               from its inputs' (None where only the result knows)
    to_sympy(*args, **params)                  a sympy expression, where one exists
    differentiable                             False: derivatives are zero (comparisons, masks)
    """

    name: str
    shape_rule: Callable
    impl: Callable
    jvp: Optional[Callable] = None
    vjp: Optional[Callable] = None
    kind: str = "call"
    scalar: Optional[Callable] = None
    array_code: Optional[Callable] = None
    emit: Optional[Callable] = None
    dims: Optional[Callable] = None
    allocates: bool = False
    to_sympy: Optional[Callable] = None
    differentiable: bool = True
    reduction: Optional[dict] = field(default=None)  # {"init": code, "combine": fn(acc, v) -> code}

    def __post_init__(self):
        if self.name in REGISTRY:
            raise ValueError(f"primitive {self.name!r} is declared twice")
        REGISTRY[self.name] = self

    def __repr__(self):
        return f"<primitive {self.name}>"


def get(name: str) -> Primitive:
    try:
        return REGISTRY[name]
    except KeyError:
        raise GraphError(f"unknown primitive {name!r}") from None


def bind(name: str, *inputs, **params) -> Node:
    """Apply primitive ``name`` to ``inputs``: check shapes and dtypes, return the new node.

    Python scalars among the inputs become constants of the dtype of the first node input.
    """
    prim = get(name)
    like = next((i.dtype for i in inputs if isinstance(i, Node)), None)
    nodes = [as_node(i, like) for i in inputs]
    try:
        aval = prim.shape_rule(*[n.aval for n in nodes], **params)
    except GraphError as err:
        raise GraphError(f"{err} (at {user_origin()})") from None
    if not isinstance(aval, Aval):
        raise TypeError(f"shape rule of {name} returned {aval!r}")
    node = Node(name, nodes, params, Aval(tuple(aval.shape), canonical_dtype(aval.dtype)))
    return node


def rebind(node: Node, inputs) -> Node:
    """The same primitive application on new inputs (used to inline and rewrite graphs)."""
    if all(a is b for a, b in zip(node.inputs, inputs)):
        return node
    return bind(node.prim, *inputs, **node.params)
