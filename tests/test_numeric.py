"""Finite differences (engine.numeric): accuracy, step rules, shapes and errors."""
import doctest
import importlib
import numpy as np
import pytest

from adjit import engine, ops
from adjit.engine import GraphError, numeric


@pytest.mark.parametrize("x", [-2.0, 0.0, 0.3, 7.5])
def test_central_and_forward_match_the_derivative_of_sin(x):
    assert abs(numeric.grad(np.sin, x) - np.cos(x)) < 1e-9
    assert abs(numeric.grad(np.sin, x, method="forward") - np.cos(x)) < 1e-6 * max(1.0, abs(x))


def test_central_error_is_second_order_and_forward_first_order():
    x, exact = 1.0, np.exp(1.0)
    central = [abs(numeric.grad(np.exp, x, h=h) - exact) for h in (1e-2, 5e-3)]
    forward = [abs(numeric.grad(np.exp, x, h=h, method="forward") - exact) for h in (1e-2, 5e-3)]
    assert 3.8 < central[0] / central[1] < 4.2
    assert 1.9 < forward[0] / forward[1] < 2.1


def test_default_steps_scale_with_the_input_and_the_dtype():
    eps64, eps32 = np.finfo(np.float64).eps, np.finfo(np.float32).eps
    assert numeric.step(np.array(0.5)) == pytest.approx(np.cbrt(eps64))
    assert numeric.step(np.array(-100.0)) == pytest.approx(100 * np.cbrt(eps64))
    assert numeric.step(np.array(3.0), "forward") == pytest.approx(3 * np.sqrt(eps64))
    assert numeric.step(np.array(1.0, np.float32)) == pytest.approx(np.cbrt(eps32))


def test_grad_of_an_adjit_callable_and_of_a_function_agree_with_reverse_mode():
    def fn(x1, x2):
        return ops.log(x1) + x1 * x2 - ops.sin(x2)
    g = numeric.grad(fn, 2.0, 5.0)
    assert isinstance(g, tuple) and len(g) == 2
    np.testing.assert_allclose(g, [1 / 2.0 + 5.0, 2.0 - np.cos(5.0)], rtol=1e-9)
    f = engine.trace(fn, 2.0, 5.0)
    np.testing.assert_allclose(numeric.grad(f, 2.0, 5.0), engine.grad(f)(2.0, 5.0), rtol=1e-9)


def test_jacobian_of_an_array_function_has_the_shape_of_engine_jacobian():
    W = np.array([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]])
    x = np.array([1.0, 2.0, -1.0])
    f = engine.trace(lambda W, x: ops.tanh(W @ x), W, x)
    jw, jx = numeric.jacobian(f, W, x)
    ew, ex = engine.jacobian(f)(W, x)
    assert jw.shape == (2, 2, 3) and jx.shape == (2, 3)
    np.testing.assert_allclose(jw, ew, atol=1e-9)
    np.testing.assert_allclose(jx, ex, atol=1e-9)


def test_integer_inputs_are_held_fixed_and_float32_works():
    assert numeric.grad(lambda x, n: x ** n, 2.0, 3) == pytest.approx(12.0, rel=1e-8)
    g = numeric.grad(lambda v: np.sum(v * v), np.array([1.0, -2.0], np.float32))
    np.testing.assert_allclose(g, [2.0, -4.0], rtol=1e-3)


def test_errors_name_the_problem():
    with pytest.raises(GraphError, match="scalar"):
        numeric.grad(lambda v: v * 2, np.ones(3))
    with pytest.raises(ValueError, match="method"):
        numeric.grad(np.sin, 1.0, method="backward")
    with pytest.raises(GraphError, match="no float input"):
        numeric.grad(lambda n: n * 2, 3)
    x = engine.var("x")
    with pytest.raises(GraphError, match="2 outputs"):
        numeric.grad(engine.Function([x], [x, x]), 1.0)
    with pytest.raises(TypeError, match="callable"):
        numeric.grad(3.0, 1.0)


def test_docstring_examples_run():
    module = importlib.import_module("adjit.engine.numeric")
    assert doctest.testmod(module).failed == 0
