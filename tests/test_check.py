"""The IR checker itself: it passes good graphs and names the node of each kind of bad one (a
checker that cannot fail would make every test that relies on it vacuous)."""
from __future__ import annotations

import numpy as np
import pytest

from adjit import engine, ops
from adjit.engine import Aval, Function, GraphError, Node, check_function, var
from corpus import PROGRAMS


@pytest.mark.parametrize("p", PROGRAMS, ids=repr)
def test_good_graphs_pass(p):
    f = engine.trace(p.fn, *p.args)
    assert check_function(f) is None
    check_function(engine.jvp(f, wrt=p.wrt_indices))
    check_function(engine.vjp(f, wrt=p.wrt_indices))


def _bad(node_factory, match):
    x, y = var("x", (3,)), var("y", (3,))
    bad = node_factory(x, y)
    f = Function([x, y], (bad, ops.sum(x)), name="broken")
    with pytest.raises(GraphError, match=match) as info:
        check_function(f)
    message = str(info.value)
    assert "broken" in message and "\n" not in message
    return message


def test_wrong_shape_is_named():
    msg = _bad(lambda x, y: Node("add", [x, y], {}, Aval((4,), "float64")), "shape rule gives f64\\[3\\]")
    assert "v0 = add" in msg and "f64[4]" in msg and "test_check.py" in msg


def test_wrong_dtype_is_named():
    _bad(lambda x, y: Node("greater", [x, y], {}, Aval((3,), "float64")), "bool\\[3\\]")


def test_inputs_the_shape_rule_rejects():
    x, y = var("x", (3,)), var("y", (2,))
    f = Function([x, y], Node("add", [x, y], {}, Aval((3,), "float64")))
    with pytest.raises(GraphError, match="rejects inputs f64\\[3\\], f64\\[2\\]"):
        check_function(f)


def test_invalid_params():
    _bad(lambda x, y: Node("reduce_sum", [x], {"axes": [0], "keepdims": True}, Aval((1,), "float64")),
         "not an immutable value")
    _bad(lambda x, y: Node("reduce_sum", [x], {"axes": (np.int64(0),), "keepdims": True}, Aval((1,), "float64")),
         "not an immutable value")
    _bad(lambda x, y: Node("reduce_sum", [x], {"keepdims": True}, Aval((), "float64")), "invalid params")
    _bad(lambda x, y: Node("reshape", [x], {"shape": (2, 2)}, Aval((2, 2), "float64")), "cannot reshape")


def test_unknown_primitive_and_bad_avals():
    _bad(lambda x, y: Node("frobnicate", [x], {}, Aval((3,), "float64")), "unknown primitive")
    _bad(lambda x, y: Node("neg", [x], {}, Aval((3,), "float16")), "dtype 'float16'")
    _bad(lambda x, y: Node("neg", [x], {}, Aval((np.int64(3),), "float64")), "not a tuple of sizes")


def test_bad_constants():
    value = np.ones(3)
    _bad(lambda x, y: x + Node("const", [], {"value": value}, Aval((3,), "float64")), "writeable")
    value2 = np.ones(3)
    value2.setflags(write=False)
    _bad(lambda x, y: x + Node("const", [], {"value": value2}, Aval((3,), "float32")), "aval says f32")


def test_order_and_reachability():
    x = var("x", (3,))
    f = Function([x], ops.sin(ops.exp(x)))
    f.nodes = list(reversed(f.nodes))  # tamper: users before their inputs
    with pytest.raises(GraphError, match="not defined before it"):
        check_function(f)
    f = Function([x], ops.sin(ops.exp(x)))
    f.nodes = f.nodes + [f.nodes[-1]]
    with pytest.raises(GraphError, match="twice"):
        check_function(f)
    f = Function([x], ops.sin(x))
    f.inputs = ()
    with pytest.raises(GraphError, match="var 'x' is reached but is not among the inputs"):
        check_function(f)
    f = Function([x], ops.sin(x))
    f.outputs = (ops.cos(x),)
    with pytest.raises(GraphError, match="output 0 is not in the node list"):
        check_function(f)


def test_not_a_function():
    with pytest.raises(TypeError, match="Function"):
        check_function(var("x"))
