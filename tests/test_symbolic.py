"""Functions <-> sympy (engine.symbolic): translation, round trips, derivatives, expression swell."""
import doctest
import importlib
import numpy as np
import pytest
import sympy as sp

from adjit import engine, ops
from adjit.engine import symbolic
from adjit.engine.symbolic import SymbolicError

x1, x2 = sp.symbols("x1 x2", real=True)


def example():
    return engine.trace(lambda x1, x2: ops.log(x1) + x1 * x2 - ops.sin(x2), 2.0, 5.0)


def test_to_sympy_of_the_example_is_its_formula():
    assert symbolic.to_sympy(example()) == sp.log(x1) + x1 * x2 - sp.sin(x2)
    assert symbolic.input_symbols(example()) == [x1, x2]


def test_constants_become_exact_numbers():
    f = engine.trace(lambda x: x ** 2.0 + 0.1 * x, 1.0)
    x = sp.Symbol("x", real=True)
    assert symbolic.to_sympy(f) == x ** 2 + sp.Float(0.1) * x
    assert sp.Rational(sp.Float(0.1)) == sp.Rational(0.1)  # the binary value of 0.1, not 1/10


def test_array_graphs_translate_through_numpy_on_object_arrays():
    W = np.array([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]])
    x = np.array([1.0, 2.0, -1.0])
    f = engine.trace(lambda W, x: ops.tanh(W @ x)[1] + ops.sum(W.T.reshape(6)[2:4])
                     + ops.mean(ops.concatenate([x, x * 2.0])), W, x)
    expr = symbolic.to_sympy(f)
    syms = symbolic.input_symbols(f)
    assert syms[0].shape == (2, 3) and str(syms[0][0, 1]) == "W_0_1" and str(syms[1][2]) == "x_2"
    subs = dict(zip([*syms[0].flat, *syms[1].flat], [*W.flat, *x.flat]))
    assert float(expr.subs(subs)) == pytest.approx(float(f(W, x)), rel=1e-14)


def test_array_outputs_are_object_arrays_and_several_outputs_a_tuple():
    f = engine.trace(lambda v: (v * 2.0, ops.sum(v)), engine.Spec((2,)))
    doubled, total = symbolic.to_sympy(f)
    v0, v1 = sp.symbols("v_0 v_1", real=True)
    assert doubled.shape == (2,) and list(doubled) == [2 * v0, 2 * v1]
    assert total == v0 + v1


def test_primitives_without_a_translation_fail_clearly():
    with pytest.raises(SymbolicError, match="reduce_max"):
        symbolic.to_sympy(engine.trace(lambda v: ops.max(v), engine.Spec((3,))))
    with pytest.raises(SymbolicError, match="dynamic shape"):
        symbolic.to_sympy(engine.trace(lambda v: ops.sum(v), engine.Spec((None,))))
    with pytest.raises(TypeError, match="Function"):
        symbolic.to_sympy(lambda x: x)


def _mixed(x, y):
    return (ops.where(x > y, ops.log(x), ops.relu(y)) + ops.maximum(x, 2.0) + abs(x) + ops.sigmoid(y)
            + ops.log1p(x) + x ** 0.5 + 3.0 / x - ops.tanh(y) * ops.exp(-x) + ops.tan(x) * ops.cos(y)
            + ops.minimum(y, 0.5) - ops.sqrt(y))


@pytest.mark.parametrize("point", [(2.0, 1.0), (0.5, 3.0), (1.5, 1.5)])
def test_round_trip_through_sympy_keeps_values(point):
    f = engine.trace(_mixed, *point)
    expr = symbolic.to_sympy(f)
    back = symbolic.from_sympy(expr, ["x", "y"])
    assert [i.name for i in back.inputs] == ["x", "y"]
    assert float(back(*point)) == pytest.approx(float(f(*point)), rel=1e-14)
    assert symbolic.to_sympy(back) == expr


def test_from_sympy_uses_sub_div_sqrt_and_piecewise():
    x, y = sp.symbols("x y")
    f = symbolic.from_sympy(x - y / (2 * x) + sp.sqrt(y) + sp.pi, [x, y])
    prims = [n.prim for n in f.nodes]
    assert {"sub", "div", "sqrt"} <= set(prims) and "neg" not in prims
    assert float(f(2.0, 9.0)) == pytest.approx(2.0 - 9.0 / 4.0 + 3.0 + np.pi, rel=1e-15)
    pw = symbolic.from_sympy(sp.Piecewise((x, x > 0), (-2 * x, x < -1)), [x])
    assert float(pw(3.0)) == 3.0 and float(pw(-2.0)) == 4.0 and np.isnan(pw(-0.5))
    two = symbolic.from_sympy((x * 2, np.array([x, sp.Integer(1)])), ["x"])
    out = two(3.0)
    assert float(out[0]) == 6.0 and out[1].tolist() == [3.0, 1.0]


def test_from_sympy_refuses_what_it_cannot_build():
    x, z = sp.symbols("x z")
    with pytest.raises(SymbolicError, match="sinh"):
        symbolic.from_sympy(sp.sinh(x), [x])
    with pytest.raises(SymbolicError, match="symbol z is not among the inputs"):
        symbolic.from_sympy(x + z, [x])
    with pytest.raises(SymbolicError, match="not a real number"):
        symbolic.from_sympy(x + sp.I, [x])


@pytest.mark.parametrize("fn, point", [
    (lambda x1, x2: ops.log(x1) + x1 * x2 - ops.sin(x2), (2.0, 5.0)),
    (lambda x, y: ops.tanh(x * y) / (1.0 + x ** 2) + ops.sigmoid(y - x), (0.3, -1.2)),
    (lambda x, y: ops.exp(ops.sin(x) * ops.cos(y)) * ops.sqrt(x + y), (0.7, 1.1)),
])
def test_symbolic_derivative_equals_automatic_derivative(fn, point):
    f = engine.trace(fn, *point)
    subs = dict(zip(symbolic.input_symbols(f), point))
    exact = [float(g.subs(subs)) for g in symbolic.symbolic_grad(f)]
    np.testing.assert_allclose(engine.grad(f)(*point), exact, rtol=1e-13)


def test_symbolic_derivative_of_an_array_input():
    W = np.array([[0.2, -0.1], [0.3, 0.4]])
    f = engine.trace(lambda W, x: ops.sum(ops.sin(W @ x)), W, np.array([1.0, -2.0]))
    gw, gx = symbolic.symbolic_grad(f)
    syms = symbolic.input_symbols(f)
    subs = dict(zip([*syms[0].flat, *syms[1].flat], [*W.flat, 1.0, -2.0]))
    exact_w = np.array([float(g.subs(subs)) for g in gw.flat]).reshape(2, 2)
    np.testing.assert_allclose(engine.grad(f)(W, np.array([1.0, -2.0]))[0], exact_w, rtol=1e-13)
    assert gx.shape == (2,)


def logistic(n):
    """l_{k+1} = 4 l_k (1 - l_k): Baydin et al.'s example of expression swell."""
    def f(x):
        for _ in range(n):
            x = 4.0 * x * (1.0 - x)
        return x
    return engine.trace(f, 0.3)


def test_expression_swell_of_nested_products():
    sizes = [symbolic.expression_size(symbolic.symbolic_grad(logistic(n))) for n in range(1, 6)]
    assert [s.ops for s in sizes] == [2, 21, 82, 264, 768]  # the derivative tree explodes
    assert [s.ops_after_cse for s in sizes] == [2, 12, 27, 45, 67]  # shared parts counted once
    assert [s.subexpressions for s in sizes] == [0, 3, 8, 14, 20]
    # The derivative graph grows linearly: 10 nodes per iteration.
    assert [len(engine.grad(logistic(n)).nodes) for n in range(1, 6)] == [11, 21, 31, 41, 51]


def test_expression_size_of_a_simple_expression():
    x = sp.Symbol("x")
    assert symbolic.expression_size(sp.sin(x) * sp.sin(x) + sp.sin(x)) == (4, 3, 1)
    assert symbolic.expression_size([x + 1, np.array([x * 2])]).ops == 2


def test_symbolic_grad_needs_a_scalar_output():
    with pytest.raises(engine.GraphError, match="scalar"):
        symbolic.symbolic_grad(engine.trace(lambda v: v * 2.0, engine.Spec((2,))))


def test_docstring_examples_run():
    module = importlib.import_module("adjit.engine.symbolic")
    assert doctest.testmod(module).failed == 0
