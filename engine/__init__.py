"""The IR and everything that transforms it.

>>> from adjit import engine, ops
>>> x = engine.var("x")
>>> f = engine.Function([x], ops.sin(x) * x)
>>> g = engine.grad(f)
"""
from .check import check_function
from .function import Function, Spec, evaluate, toposort, trace
from .ir import Aval, GraphError, Node, const, var
from .transforms import grad, hessian, jacobian, jvp, value_and_grad, vjp
from . import numeric, symbolic  # differentiation methods side by side (with compare)
from .comparison import compare

__all__ = ["Aval", "Function", "GraphError", "Node", "Spec", "check_function", "const", "evaluate", "grad", "hessian",
           "jacobian", "jvp", "toposort", "trace", "value_and_grad", "var", "vjp",
           "compare", "numeric", "symbolic"]
