"""The IR and everything that transforms it.

>>> from adjit import engine, ops
>>> x = engine.var("x")
>>> f = engine.Function([x], ops.sin(x) * x)
>>> g = engine.grad(f)
"""
from .function import Function, Spec, evaluate, toposort, trace
from .ir import Aval, GraphError, Node, const, var
from .transforms import grad, hessian, jacobian, jvp, value_and_grad, vjp

__all__ = ["Aval", "Function", "GraphError", "Node", "Spec", "const", "evaluate", "grad", "hessian",
           "jacobian", "jvp", "toposort", "trace", "value_and_grad", "var", "vjp"]
