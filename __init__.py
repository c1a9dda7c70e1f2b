"""adjit: automatic differentiation by graph transformation, compiled with numba.

>>> import adjit
>>> f = adjit.grad(lambda x: adjit.ops.sin(x) * x)
>>> round(float(f(1.0)), 6)
1.381773
"""
from . import engine, ops  # noqa: F401  (ops declares the primitives the engine reaches by name)
from .engine import (Function, GraphError, Spec, const, grad, hessian, jacobian, jvp, trace,
                     value_and_grad, var, vjp)

__version__ = "0.1.0"
__all__ = ["engine", "ops", "Function", "GraphError", "Spec", "const", "grad", "hessian", "jacobian",
           "jvp", "trace", "value_and_grad", "var", "vjp"]
