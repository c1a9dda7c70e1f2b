"""Every bad input gives one clear error line: what is wrong, with which op and shapes, and where
in the user's code; hostile variable names never reach generated source."""
from __future__ import annotations

import ast
import keyword
import re
import sys

import numpy as np
import pytest

from adjit import engine, ops
from adjit.engine import Function, GraphError, check_function, var
from support import as_list, assert_close, jit

THIS = "test_errors.py"


def raises(exc, build):
    """The error ``build()`` raises: of type ``exc``, one line. Call it with ``build`` written on
    the same line, so that the error must name this test file at that line."""
    line = sys._getframe(1).f_lineno
    with pytest.raises(exc) as info:
        build()
    message = str(info.value)
    assert "\n" not in message, f"a multi-line error: {message!r}"
    return message, f"{THIS}:{line}"


def _x():
    return var("x", (2, 3)), var("y", (4,)), var("m", (3, 5))


# --- shapes and dtypes when a node is built ---------------------------------------------------------
SHAPE_ERRORS = {
    # name: (build, op named, shapes named)
    "add": (lambda x, y, m: ops.add(x, y), "add", ("(2, 3)", "(4,)")),
    "operator +": (lambda x, y, m: x + y, "add", ("(2, 3)", "(4,)")),
    "operator *": (lambda x, y, m: y * x, "mul", ("(4,)", "(2, 3)")),
    "maximum": (lambda x, y, m: ops.maximum(x, y), "maximum", ("(2, 3)", "(4,)")),
    "where": (lambda x, y, m: ops.where(x > 0, x, y), "where", ("(2, 3)", "(4,)")),
    "matmul": (lambda x, y, m: ops.matmul(m, x), "matmul", ("(3, 5)", "(2, 3)")),
    "operator @": (lambda x, y, m: x @ x, "matmul", ("(2, 3)",)),
    "matmul vector": (lambda x, y, m: y @ m, "matmul", ("(4,)", "(3, 5)")),
    "matmul vector right": (lambda x, y, m: x @ y, "matmul", ("(2, 3)", "(4,)")),
    "concatenate": (lambda x, y, m: ops.concatenate([x, m]), "concatenate", ("[2,3]", "[3,5]")),
    "stack": (lambda x, y, m: ops.stack([x, m]), "concatenate", ("[1,2,3]", "[1,3,5]")),
    "reshape": (lambda x, y, m: ops.reshape(x, (4, 2)), "reshape", ("(2, 3)", "(4, 2)")),
    "broadcast_to": (lambda x, y, m: ops.broadcast_to(x, (3, 3)), "broadcast_to", ("(2, 3)", "(3, 3)")),
    "squeeze": (lambda x, y, m: ops.squeeze(x, 0), "squeeze", ("[2,3]",)),
    "transpose": (lambda x, y, m: ops.transpose(x, (0, 0)), "transpose", ("[2,3]",)),
    "sum axis": (lambda x, y, m: ops.sum(x, axis=2), "sum", ("rank 2",)),
    "max repeated axis": (lambda x, y, m: ops.max(x, axis=(0, 0)), "max", ("(0, 0)",)),
    "softmax axis": (lambda x, y, m: ops.softmax(x, axis=3), "softmax", ("rank 2",)),
    "index out of range": (lambda x, y, m: x[5], "getitem", ("5", "size 2")),
    "too many indices": (lambda x, y, m: x[0, 0, 0], "getitem", ("rank 2",)),
    "take float indices": (lambda x, y, m: ops.take(x, x), "take", ("float64",)),
    "where condition": (lambda x, y, m: ops.where(x, x, x), "where", ("bool",)),
    "matmul scalar": (lambda x, y, m: ops.matmul(var("s"), x), "matmul", ("f64[]", "f64[2,3]")),
    "concatenate nothing": (lambda x, y, m: ops.concatenate([]), "concatenate", ("at least one",)),
}


@pytest.mark.parametrize("name", sorted(SHAPE_ERRORS))
def test_shape_errors_name_the_op_the_shapes_and_the_users_line(name):
    build, op, shapes = SHAPE_ERRORS[name]
    x, y, m = _x()
    message, here = raises(GraphError, lambda: build(x, y, m))
    assert message.startswith(op + ":") or f" {op}:" in message, message
    for s in shapes:
        assert s in message, f"{s!r} not in {message!r}"
    assert THIS in message, message
    assert issubclass(GraphError, ValueError)


def test_the_error_names_the_exact_line():
    x, y, _ = _x()
    message, here = raises(GraphError, lambda: ops.tanh(x) + ops.sin(y))
    assert f"(at {here})" in message, (message, here)


@pytest.mark.parametrize("dtype", ["float16", "complex128", "uint8", "object", "str", "int8"])
def test_unsupported_dtypes(dtype):
    message, _ = raises(TypeError, lambda: var("x", (3,), dtype))
    assert "unsupported dtype" in message and "float32" in message
    if dtype in ("float16", "complex128"):
        message, _ = raises(TypeError, lambda: engine.const(np.ones(2, dtype)))
        assert "unsupported dtype" in message
        x = var("x", (2,))
        message, _ = raises(TypeError, lambda: x + np.ones(2, dtype))
        assert "unsupported dtype" in message


def test_bad_var_names_and_shapes():
    raises(GraphError, lambda: var("", (2,)))
    raises(GraphError, lambda: var(3, (2,)))
    message, _ = raises(GraphError, lambda: var("x", (2, -1)))
    assert "x" in message and "-1" in message
    raises(GraphError, lambda: var("x", (2.5,)))


# --- transformations --------------------------------------------------------------------------------
TRANSFORMS = [engine.grad, engine.value_and_grad, engine.jvp, engine.vjp, engine.jacobian, engine.hessian]


def _f():
    x, y, i = var("x", (3,)), var("y"), var("i", (3,), "int64")
    return Function([x, y, i], ops.sum(x * y * i), name="model")


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_wrt_must_name_an_input(transform):
    f = _f()
    message, _ = raises(GraphError, lambda: transform(f, wrt="z"))
    assert "'z'" in message and "model" in message and "['x', 'y', 'i']" in message
    message, _ = raises(GraphError, lambda: transform(f, wrt=5))
    assert "5" in message
    raises(GraphError, lambda: transform(f, wrt=["x", "nope"]))


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_integer_inputs_cannot_be_differentiated(transform):
    f = _f()
    message, _ = raises(GraphError, lambda: transform(f, wrt="i"))
    assert "'i'" in message and "int64" in message and "float" in message
    # by default every float input: the integer input is data
    assert transform(f).key == transform(f, wrt=["x", "y"]).key


def test_grad_needs_one_scalar_float_output():
    x = var("x", (3,))
    for f, shown in ((Function([x], ops.sin(x)), "f64[3]"), (Function([x], (ops.sum(x), ops.sum(x))), "2 outputs"),
                     (Function([x], ops.sum(x) > 0), "bool")):
        for transform in (engine.grad, engine.value_and_grad, engine.hessian):
            message, _ = raises(GraphError, lambda: transform(f))
            assert shown in message and "scalar" in message, message
    message, _ = raises(GraphError, lambda: engine.grad(lambda x: x * 2.0)(np.ones(3)))
    assert "f64[3]" in message and "scalar" in message
    message, _ = raises(GraphError, lambda: engine.vjp(Function([x], x > 0)))
    assert "bool" in message
    message, _ = raises(GraphError, lambda: engine.jacobian(Function([x], x > 0)))
    assert "bool" in message


def test_transforming_something_that_is_not_a_function():
    message, _ = raises(TypeError, lambda: engine.grad(3.0))
    assert "callable" in message and "float" in message


def test_dynamic_shapes_cannot_be_unrolled():
    x = var("x", (None,))
    message, _ = raises(GraphError, lambda: engine.jacobian(Function([x], ops.sin(x))))
    assert "static" in message and "f64[?]" in message


# --- building and calling Functions -----------------------------------------------------------------
def test_output_depends_on_a_var_that_is_not_an_input():
    x, hidden = var("x"), var("hidden")
    message, here = raises(GraphError, lambda: Function([x], x * hidden, name="leaky"))
    assert "'hidden'" in message and "leaky" in message and "['x']" in message and THIS in message
    raises(GraphError, lambda: engine.trace(lambda x: x * hidden, 1.0))


def test_malformed_function_declarations():
    x = var("x")
    message, _ = raises(GraphError, lambda: Function([x, var("x")], x))
    assert "'x'" in message and "unique" in message
    raises(GraphError, lambda: Function([x * 2.0], x))
    raises(GraphError, lambda: Function([x], 3.0))


@pytest.mark.parametrize("how", ["reference", "numpy", "cpu"])
def test_calling_with_wrong_arity_shape_or_dtype(how):
    x, i = var("x", (2, 3)), var("i", (3,), "int32")
    f = Function([x, i], ops.sum(x * i.astype("float64")), name="model")
    call = f if how == "reference" else jit()(f, target=how)
    good = (np.ones((2, 3)), np.arange(3, dtype=np.int32))
    assert float(call(*good)) == 6.0
    message, _ = raises(TypeError, lambda: call(np.ones((2, 3))))
    assert "model" in message and "2 arguments" in message and "got 1" in message
    raises(TypeError, lambda: call(*good, 1.0))
    message, _ = raises(ValueError, lambda: call(np.ones((3, 2)), good[1]))
    assert "'x'" in message and "(3, 2)" in message and "(2, 3)" in message
    message, _ = raises(ValueError, lambda: call(np.ones(6), good[1]))
    assert "'x'" in message and "(6,)" in message
    message, _ = raises(TypeError, lambda: call(good[0], np.array([0.5, 1.0, 2.0])))
    assert "'i'" in message and "float64" in message and "int32" in message
    message, _ = raises(TypeError, lambda: call(np.ones((2, 3), np.complex128), good[1]))
    assert "'x'" in message and "complex128" in message
    raises(TypeError, lambda: call(np.full((2, 3), "a"), good[1]))


def test_calling_with_nodes_of_the_wrong_shape():
    x = var("x", (2, 3))
    f = Function([x], ops.sum(x), name="model")
    message, _ = raises(GraphError, lambda: f(var("z", (3,))))
    assert "'x'" in message and "(3,)" in message and "(2, 3)" in message


def test_a_node_has_no_truth_value():
    x = var("x")

    def branchy(x):
        if x > 0:
            return x
        return -x

    message, _ = raises(GraphError, lambda: bool(x > 0))
    assert "ops.where" in message and "greater" in message and THIS in message
    raises(GraphError, lambda: engine.trace(branchy, 1.0))
    raises(GraphError, lambda: x and x)
    raises(GraphError, lambda: not x)
    raises(GraphError, lambda: x in [var("y")])
    message, _ = raises(TypeError, lambda: len(x))
    assert "len()" in message


# --- hostile names ------------------------------------------------------------------------------------
HOSTILE = ["x); import os; os.system('x')", "class", "__import__('os').system('echo pwned')", "i0", "v0",
           "np", "numba", "_k", "return", "lambda x: x", "x\ny", "1st", "über", "x y", "None", "in0", "v0_i",
           "a" * 200]


def _hostile_function():
    xs = [var(name, (3,)) for name in HOSTILE]
    out = sum((ops.tanh(x) * (k + 1.0) for k, x in enumerate(xs[1:])), ops.sin(xs[0]))
    return Function(xs, ops.sum(out * xs[3]), name="evil'); import os; os.system('rm -rf /tmp/x')")


def test_hostile_names_in_graphs_and_transforms():
    f = _hostile_function()
    check_function(f)
    args = [np.linspace(-1, 1, 3) * (k + 1) / len(HOSTILE) for k in range(len(HOSTILE))]
    value = f(*args)
    g = engine.grad(f, wrt=HOSTILE[:3])
    check_function(g)
    assert len(g(*args)) == 3
    jf = engine.jvp(f, wrt=["class"])
    assert [i.name for i in jf.inputs][-1] == "class_dot"
    text = str(f)
    assert "'x); import os; os.system(\\'x\\')'" in text or '"x); import os; os.system(\'x\')"' in text
    assert np.isfinite(value)


def _occurs(name: str, source: str) -> bool:
    """``name`` in ``source`` as a whole word (``arg_class`` does not contain the word class)."""
    return re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", source) is not None


@pytest.mark.parametrize("target", ["numpy", "cpu"])
def test_hostile_names_never_reach_generated_source(target):
    f = _hostile_function()
    g = engine.value_and_grad(f, wrt=HOSTILE[:4])
    args = [np.linspace(-1, 1, 3) * (k + 1) / len(HOSTILE) for k in range(len(HOSTILE))]
    compiled = jit()(g, target=target)
    source = compiled.source
    compile(source, "<generated>", "exec")  # it is valid Python
    identifiers = {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)} | \
        {n.arg for n in ast.walk(ast.parse(source)) if isinstance(n, ast.arg)}
    for name in HOSTILE:
        if re.fullmatch(r"\w+", name) and not keyword.iskeyword(name):
            continue  # a plain identifier may be kept when it is safe and unique
        assert name not in identifiers
        if not re.fullmatch(r"\w+", name):
            assert not _occurs(name, source), f"raw name {name!r} in the generated source"
    for fragment in ("import os", "os.system(", "__import__(", "rm -rf", "echo pwned", "\nx\ny", "x y"):
        assert fragment not in source
    assert "def " in source
    for a, b in zip(as_list(compiled(*args)), as_list(g(*args))):
        assert_close(a, b, "float64")


@pytest.mark.parametrize("target", ["numpy", "cpu"])
def test_names_that_shadow_generated_names(target):
    """Inputs named like the code generator's own names (loop indices, temporaries, modules)."""
    names = ["i0", "i1", "v0", "v0_i", "np", "numba", "_k", "out", "arg_class", "class"]
    xs = [var(n, (2, 3)) for n in names[:-3]] + [var(n, (3,)) for n in names[-3:]]
    body = ops.sum(xs[0] * ops.exp(xs[1]) + xs[2] * xs[3], axis=0) + xs[4] - xs[5] * xs[6] + xs[7] * xs[8] * xs[9]
    f = Function(xs, ops.sum(ops.tanh(body)), name="shadow")
    g = engine.value_and_grad(f)
    args = [np.linspace(-1, 1, int(np.prod(x.shape))).reshape(x.shape) * (0.1 + 0.05 * k) for k, x in enumerate(xs)]
    compiled = jit()(g, target=target)
    for a, b in zip(as_list(compiled(*args)), as_list(g(*args))):
        assert_close(a, b, "float64")
