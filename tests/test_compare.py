"""engine.compare: four differentiation methods side by side against a 50-digit ground truth."""
import doctest
import importlib
import json
import math

import numpy as np
import pytest

from adjit import engine, ops
from adjit.engine import GraphError

FAST = 1e-3  # seconds of timing per method: enough to measure, quick to test


def example(x1, x2):
    return ops.log(x1) + x1 * x2 - ops.sin(x2)


@pytest.fixture(scope="module")
def result():
    return engine.compare(example, at={"x1": 2.0, "x2": 5.0}, time_budget=FAST)


def test_one_row_per_method_with_its_cost(result):
    assert [r.method for r in result.rows] == ["symbolic (sympy)", "numeric (central)", "forward AD (jvp)",
                                               "reverse AD (vjp)"]
    assert [r.evaluations for r in result.rows] == [1, 4, 2, 1]
    assert all(0 < r.seconds < 1 for r in result.rows)


def test_values_and_gradients(result):
    exact_x2 = 2.0 - math.cos(5.0)
    for r in result.rows:
        assert r.value == pytest.approx(11.652071455223084, rel=1e-15)
        assert r.gradient["x1"] == pytest.approx(5.5, rel=1e-9)
        assert r.gradient["x2"] == pytest.approx(exact_x2, rel=1e-9)
    assert result.exact["y"].startswith("11.65207145522308377831038652761417")
    assert result.exact["x2"].startswith("1.71633781453677373553336082848644")
    assert len(result.exact["y"].replace(".", "")) == 50


def test_errors_separate_ad_from_finite_differences(result):
    for name in ("forward", "reverse"):
        row = result.row(name)
        assert row.abs_error < 2e-16 and row.rel_error < 1e-16  # exact up to one rounding
    numeric = result.row("numeric")
    assert 1e-13 < numeric.abs_error < 1e-8
    assert 1e-13 < numeric.rel_error < 1e-8
    assert result.row("symbolic").abs_error < 2e-16  # the truth rounded to float64
    with pytest.raises(KeyError, match="methods are"):
        result.row("magic")


def test_table_and_json(result):
    text = str(result)
    lines = text.splitlines()
    assert lines[0].startswith("example at x1=2, x2=5")
    assert lines[1].split()[:4] == ["method", "y", "dy/dx1", "dy/dx2"]
    assert len(lines) == 6 and lines[5].split()[3:6] == ["11.65207146", "5.5", "1.716337815"]
    data = json.loads(json.dumps(result.to_dict()))
    assert data["at"] == {"x1": 2.0, "x2": 5.0}
    assert data["methods"][3]["gradient"]["x1"] == 5.5
    assert data["methods"][1]["evaluations"] == 4


def test_array_inputs_take_one_forward_pass_per_element():
    W = np.array([[0.0, 0.1, 0.2], [0.3, 0.4, 0.5]])
    x = np.array([1.0, 2.0, 3.0])
    c = engine.compare(lambda W, x: ops.sum(ops.tanh(W @ x)), at={"W": W, "x": x}, time_budget=FAST)
    assert [r.evaluations for r in c.rows] == [1, 18, 9, 1]
    gw, gx = engine.grad(lambda W, x: ops.sum(ops.tanh(W @ x)))(W, x)
    np.testing.assert_array_equal(c.row("reverse").gradient["W"], gw)
    np.testing.assert_allclose(c.row("symbolic").gradient["x"], gx, rtol=1e-15)
    assert c.row("forward").abs_error < 1e-16
    assert len(c.exact["W"]) == 6
    assert json.loads(json.dumps(c.to_dict()))["methods"][0]["gradient"]["W"][1][2] == pytest.approx(gw[1, 2])
    assert "\n" not in str(c).splitlines()[2]


def test_runner_hook_runs_every_graph():
    seen = []

    def runner(fn):
        seen.append(fn)
        return lambda *args: fn(*args)
    f = engine.trace(example, 2.0, 5.0)
    c = engine.compare(f, at={"x1": 2.0, "x2": 5.0}, runner=runner, time_budget=FAST)
    assert seen == [f, engine.jvp(f), engine.value_and_grad(f)]
    assert c.row("reverse").gradient["x1"] == 5.5


def test_a_convention_shows_up_against_the_truth():
    # relu'(0) is 0 in adjit; sympy says Heaviside(0) = 1/2, and so does the central difference.
    c = engine.compare(lambda x: ops.relu(x), at={"x": 0.0}, time_budget=FAST)
    assert c.row("symbolic").gradient["x"] == 0.5 and c.row("numeric").gradient["x"] == 0.5
    assert c.row("reverse").gradient["x"] == 0.0 and c.row("reverse").abs_error == 0.5


def test_where_the_truth_is_not_finite_errors_are_nan():
    c = engine.compare(lambda x: ops.sqrt(x), at={"x": 0.0}, time_budget=FAST)
    assert math.isnan(c.row("symbolic").gradient["x"])  # sympy: zoo
    assert c.row("reverse").gradient["x"] == math.inf and math.isnan(c.row("reverse").abs_error)
    assert json.dumps(c.to_dict())  # NaN and inf are written as strings, valid JSON


def test_bad_calls_name_the_problem():
    with pytest.raises(GraphError, match=r"lacks \['x2'\]"):
        engine.compare(example, at={"x1": 2.0})
    with pytest.raises(GraphError, match=r"unknown \['z'\]"):
        engine.compare(example, at={"x1": 2.0, "x2": 1.0, "z": 0.0})
    with pytest.raises(GraphError, match="scalar"):
        engine.compare(lambda v: v * 2.0, at={"v": np.ones(2)})
    with pytest.raises(TypeError, match="callable"):
        engine.compare(3, at={})


def test_docstring_examples_run():
    module = importlib.import_module("adjit.engine.comparison")
    assert doctest.testmod(module).failed == 0
