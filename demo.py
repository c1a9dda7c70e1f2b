"""``adjit demo``: the worked example of Baydin et al.'s survey, traced and compared.

f(x1, x2) = log(x1) + x1*x2 - sin(x2) at (2, 5): the forward primal trace, the reverse adjoint
trace, and the four ways to get its gradient side by side.
"""
from __future__ import annotations

import json

from .engine import compare
from .engine.evaltrace import evaluation_trace
from .expression import function_of

EXAMPLE = "log(x1) + x1*x2 - sin(x2)"
AT = {"x1": 2.0, "x2": 5.0}


def demo(args) -> int:
    """Print the demo (as JSON when ``args.json``); the exit code."""
    f = function_of(EXAMPLE, list(AT))
    trace = evaluation_trace(f, *AT.values())
    methods = compare(f, AT)
    if getattr(args, "json", False):
        print(json.dumps({"expression": EXAMPLE, "trace": trace.to_dict(), "compare": methods.to_dict()}, indent=2))
        return 0
    point = ", ".join(f"{k}={v:g}" for k, v in AT.items())
    print(f"y = {EXAMPLE}  at {point}\n")
    print(trace, end="\n\n")
    print(methods)
    return 0
