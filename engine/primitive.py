"""The primitive interface and the one registry of primitives.

A primitive is declared once (in ``adjit.ops``) with everything that belongs to it. The engine
only ever reaches a primitive through this registry, by name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from .ir import Aval, GraphError, Node, TupleAval, as_node, canonical_dtype, user_origin

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
    target_scalar                              elementwise: {target: fn} replacing ``scalar`` where
                                               a target needs other code (cuda: no numpy ufuncs)
    emit(target, n, out, *args)                "call": lines of code for the target; a primitive whose
                                               params hold Functions (scan) also gets ``nested=``, the
                                               compiler's service that emits a Function's code inline
    allocates                                  "call": the cpu code returns a new array, never a
                                               view of an input (its memory may be reused)
    in_place                                   "call": index of an input whose buffer the cpu code
                                               may take for the result, when nothing reads it later
                                               and the compiler owns it (emit gets in_place=True)
    dims(n, in_dims) -> tuple                  "call": runtime size expression of each output dim
                                               from its inputs' (None where only the result knows)
    to_sympy(*args, **params)                  a sympy expression, where one exists
    differentiable                             False: derivatives are zero (comparisons, masks)

    A multi-result primitive's shape rule returns a ``TupleAval``; its impl a tuple of arrays, its
    JVP a tuple of tangents, and its VJP receives a tuple of cotangents (None for zeros). Two
    optional hooks let the graph passes optimize such a node:
    prune(n, used) -> (node, {index: index})   DCE: a node without the work for the results of ``n``
                                               not in ``used`` (where the used ones moved), or None
    merge(a, b) -> (node, {index: index}, {index: index})
                                               CSE: one node computing the results of ``a`` and ``b``
                                               (two nodes with the same inputs), or None
    """

    name: str
    shape_rule: Callable
    impl: Callable
    jvp: Optional[Callable] = None
    vjp: Optional[Callable] = None
    kind: str = "call"
    scalar: Optional[Callable] = None
    array_code: Optional[Callable] = None
    target_scalar: dict = field(default_factory=dict)
    emit: Optional[Callable] = None
    dims: Optional[Callable] = None
    allocates: bool = False
    in_place: Optional[int] = None
    to_sympy: Optional[Callable] = None
    differentiable: bool = True
    reduction: Optional[dict] = field(default=None)  # {"init": code, "combine": fn(acc, v) -> code}
    prune: Optional[Callable] = None
    merge: Optional[Callable] = None

    def __post_init__(self):
        if self.name in REGISTRY:
            raise ValueError(f"primitive {self.name!r} is declared twice")
        REGISTRY[self.name] = self

    def __repr__(self):
        return f"<primitive {self.name}>"

    def scalar_for(self, target: str) -> Callable:
        """The code rule for one element on ``target``."""
        return self.target_scalar.get(target, self.scalar)


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
    like = next((i.dtype for i in inputs if isinstance(i, Node) and not i.multiple), None)
    nodes = [as_node(i, like) for i in inputs]
    try:
        aval = prim.shape_rule(*[n.aval for n in nodes], **params)
    except GraphError as err:
        raise GraphError(f"{err} (at {user_origin()})") from None
    return Node(name, nodes, params, _normalized(aval, name))


def _normalized(aval, name: str):
    if isinstance(aval, TupleAval):
        return TupleAval(tuple(_normalized(a, name) for a in aval))
    if not isinstance(aval, Aval):
        raise TypeError(f"shape rule of {name} returned {aval!r}")
    return Aval(tuple(aval.shape), canonical_dtype(aval.dtype))


def rebind(node: Node, inputs) -> Node:
    """The same primitive application on new inputs (used to inline and rewrite graphs)."""
    if all(a is b for a, b in zip(node.inputs, inputs)):
        return node
    return bind(node.prim, *inputs, **node.params)
