"""The ``adjit`` command line: the expression parser, the evaluation traces, and bad input."""
import doctest
import importlib
import json
import math
import subprocess
import sys

import pytest

from adjit import engine
from adjit.cli import main, parse_at
from adjit.engine.evaltrace import evaluation_trace
from adjit.expression import ExpressionError, function_of, tokenize

EXAMPLE = "log(x1) + x1*x2 - sin(x2)"
Y = math.log(2.0) + 10.0 - math.sin(5.0)
DY_DX2 = 2.0 - math.cos(5.0)


def run(*argv):
    return subprocess.run([sys.executable, "-m", "adjit", *argv], capture_output=True, text=True, timeout=60)


# --- the parser ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("-x**2", -9.0),                   # ** binds tighter than unary minus
    ("2**-x", 2.0 ** -3.0),
    ("x**2**0.5", 3.0 ** (2.0 ** 0.5)),  # ** groups to the right
    ("x - 1 - 1", 1.0),                # - groups to the left
    ("12 / x / 2", 2.0),
    ("2*-x + +x", -3.0),
    ("(x + 1) * 1e-3", 0.004),
    ("max(x, 4) - min(x, .5)", 3.5),
    ("sigmoid(0*x) + relu(-x) + abs(-x) + sqrt(x*3) + log1p(x-3)", 6.5),
    ("tanh(x) + tan(x) + cos(x) + exp(x)",
     math.tanh(3.0) + math.tan(3.0) + math.cos(3.0) + math.exp(3.0)),
])
def test_parser_follows_python_precedence(text, expected):
    assert float(function_of(text, ["x"])(3.0)) == pytest.approx(expected, rel=1e-15)


def test_tokens_carry_columns():
    tokens = tokenize("log(x1) + 2.5e-3")
    assert [(t.kind, t.text, t.column) for t in tokens] == [
        ("name", "log", 1), ("op", "(", 4), ("name", "x1", 5), ("op", ")", 7), ("op", "+", 9),
        ("number", "2.5e-3", 11), ("end", "", 17)]


@pytest.mark.parametrize("text, column, words", [
    ("x); import os", 3, "unexpected character ';'"),
    ("2x", 2, "unexpected name 'x'"),
    ("foo(x)", 1, "unknown function 'foo'"),
    ("x + y", 5, "missing value for variable 'y'"),
    ("exp + x", 1, "'exp' is a function"),
    ("sin(x", 6, "expected ')'"),
    ("x *", 4, "unexpected end of expression"),
    ("max(x)", 1, "max takes 2 arguments, got 1"),
    ("1.5.2 * x", 4, "unexpected number '.2'"),
    ("3 + 4", 1, "uses no variable"),
    ("__import__('os')", 12, "unexpected character"),
])
def test_parser_errors_name_the_column(text, column, words):
    with pytest.raises(ExpressionError) as err:
        function_of(text, ["x"])
    assert err.value.column == column and words in str(err.value)


def test_parse_at():
    assert parse_at(["x1=2,x2=5", "y = -1.5e2"]) == {"x1": 2.0, "x2": 5.0, "y": -150.0}


# --- the evaluation traces ------------------------------------------------------------------------
def test_evaluation_trace_of_the_example():
    t = evaluation_trace(function_of(EXAMPLE, ["x1", "x2"]), 2.0, 5.0)
    assert [(p.name, p.definition) for p in t.forward] == [
        ("v_-1", "x1"), ("v_0", "x2"), ("v_1", "log(v_-1)"), ("v_2", "v_-1 * v_0"), ("v_3", "v_1 + v_2"),
        ("v_4", "sin(v_0)"), ("v_5", "v_3 - v_4")]
    assert t.forward[2].value == pytest.approx(math.log(2.0)) and t.value == pytest.approx(Y, rel=1e-15)
    last = t.reverse[-1]
    assert (last.target, last.source, last.partial, last.partial_value, last.accumulate) == (
        "v_-1", "v_1", "1/v_-1", 0.5, True)
    assert [a.partial for a in t.reverse if a.source == "v_4"] == ["cos(v_0)"]
    assert len(t.reverse) == 8
    assert t.gradient == {"x1": 5.5, "x2": pytest.approx(DY_DX2, rel=1e-15)}


@pytest.mark.parametrize("text, point", [
    ("x*x*x + max(x, y) - relu(-y) + x**y / sqrt(y) + 2", (2.0, 3.0)),
    ("sigmoid(x*y) * tanh(x - y) / (1 + abs(y))", (-0.4, 1.3)),
])
def test_adjoint_trace_accumulates_the_gradient(text, point):
    f = function_of(text, ["x", "y"])
    t = evaluation_trace(f, *point)
    g = engine.grad(f)(*point)
    assert [t.gradient["x"], t.gradient["y"]] == pytest.approx([float(v) for v in g], rel=1e-14)
    assert t.value == pytest.approx(float(f(*point)), rel=1e-15)


# --- the command ----------------------------------------------------------------------------------
def test_trace_prints_both_tables():
    out = run("trace", EXAMPLE, "--at", "x1=2,x2=5")
    assert out.returncode == 0 and out.stderr == ""
    lines = out.stdout.splitlines()
    assert lines[0] == "Forward primal trace"
    assert lines[1].split() == ["v_-1", "=", "x1", "=", "2"]
    assert lines[3].split() == ["v_1", "=", "log(v_-1)", "=", "0.693147"]
    assert lines[8].split() == ["y", "=", "v_5", "=", "11.6521"]
    assert lines[10] == "Reverse adjoint trace"
    assert lines[11].split() == ["vbar_5", "=", "ybar", "=", "1"]
    assert lines[19].split() == ["vbar_-1", "=", "vbar_-1", "+", "vbar_1", "*", "dv_1/dv_-1",
                                 "[dv_1/dv_-1", "=", "1/v_-1", "=", "0.5]", "=", "5.5"]
    assert lines[-3:] == ["y = 11.6520714552", "dy/dx1 = vbar_-1 = 5.5", "dy/dx2 = vbar_0 = 1.71633781454"]


def test_trace_json(capsys):
    assert main(["trace", EXAMPLE, "--at", "x1=2", "--at", "x2=5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["expression"] == EXAMPLE and data["inputs"] == {"x1": 2.0, "x2": 5.0}
    assert data["value"] == pytest.approx(Y, rel=1e-15) and data["output"] == "v_5"
    assert data["gradient"] == {"x1": 5.5, "x2": pytest.approx(DY_DX2, rel=1e-15)}
    assert data["forward"][4] == {"name": "v_3", "definition": "v_1 + v_2", "value": pytest.approx(10.693147)}
    assert data["reverse"][-1]["value"] == 5.5


def test_compare_table_and_json(capsys):
    assert main(["compare", EXAMPLE, "--at", "x1=2,x2=5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines[2:]] == ["symbolic (sympy)", "numeric (central)",
                                                          "forward AD (jvp)", "reverse AD (vjp)"]
    assert main(["compare", EXAMPLE, "--at", "x1=2,x2=5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["exact"]["y"].startswith("11.6520714552230837783")
    reverse = data["methods"][3]
    assert reverse["gradient"] == {"x1": 5.5, "x2": pytest.approx(DY_DX2, rel=1e-15)}
    assert reverse["abs_error"] < 1e-15 and data["methods"][1]["abs_error"] > 1e-13


def test_demo_runs_the_trace_and_the_comparison():
    out = run("demo", "basics")
    assert out.returncode == 0 and out.stderr == ""
    assert "Forward primal trace" in out.stdout and "Reverse adjoint trace" in out.stdout
    assert "dy/dx1 = vbar_-1 = 5.5" in out.stdout and "reverse AD (vjp)" in out.stdout
    assert "2. Expression swell" in out.stdout and "3. Compiled gradient" in out.stdout


def test_demo_json(capsys):
    assert main(["demo", "basics", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["trace"]["gradient"]["x1"] == 5.5 and len(data["compare"]["methods"]) == 4
    swell = data["swell"]
    assert [r["symbolic_ops"] for r in swell] == [2, 21, 82, 264, 768]
    assert [r["ad_graph_nodes"] for r in swell] == [11, 21, 31, 41, 51]
    fast = data["compiled"]
    assert fast["max_abs_error_vs_hand_gradient"] < 1e-12
    assert "@numba.njit" in fast["source"] and fast["source"].count("for i0 in range") == 1


def test_demo_trains_the_mlp_to_its_stated_accuracy(capsys):
    assert main(["demo", "mlp", "--json"]) == 0
    (mlp,) = json.loads(capsys.readouterr().out)["training"]
    assert mlp["test_accuracy"] >= 0.95 and mlp["final_loss"] < 0.1
    assert mlp["compile_seconds"] > 0 and mlp["steps_per_second"] > 0


def test_demo_trains_the_cnn_to_its_stated_accuracy(capsys):
    assert main(["demo", "cnn", "--json"]) == 0
    (cnn,) = json.loads(capsys.readouterr().out)["training"]
    assert cnn["test_accuracy"] >= 0.97


def test_demo_lstm_beats_repeating_the_last_value():
    from adjit import train_demo
    r = train_demo.lstm_sine(epochs=3, verbose=False)
    assert r["test_mse"] < 0.5 * r["test_mse_of_repeating_the_last_value"]


def test_demo_names_an_unknown_part(capsys):
    assert main(["demo", "bogus"]) == 2
    assert "unknown part 'bogus'" in capsys.readouterr().err


BAD = [
    (["trace", "x); import os", "--at", "x=1"], "column 3: unexpected character ';'"),
    (["trace", "foo(x)", "--at", "x=1"], "column 1: unknown function 'foo'"),
    (["trace", "x + y", "--at", "x=1"], "column 5: missing value for variable 'y'"),
    (["compare", "x + y"], "column 1: missing value for variable 'x'"),
    (["trace", "(x + 1", "--at", "x=1"], "column 7: expected ')', found end of expression"),
    (["trace", "x", "--at", "x=abc"], "the value of 'x' is not a number: 'abc'"),
    (["trace", "x", "--at", "x=nan"], "is not a number"),
    (["trace", "x", "--at", "x); import os=1"], "'x); import os' is not a variable name"),
    (["trace", "x", "--at", "x=1,x=2"], "'x' is given twice"),
    (["trace", "x", "--at", "x"], "'x' is not NAME=VALUE"),
    (["trace"], "required: EXPR"),
    (["trace", "x", "--at", "x=1", "--bogus"], "unrecognized arguments: --bogus"),
    (["launch"], "invalid choice: 'launch'"),
    ([], "required: COMMAND"),
]


@pytest.mark.parametrize("argv, words", BAD)
def test_bad_input_is_one_line_and_exit_code_2(argv, words, capsys):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("adjit: error: ") and words in err


@pytest.mark.parametrize("argv", [BAD[0][0], BAD[7][0], ["compare", "exp(", "--at", "x=1", "--json"]])
def test_bad_input_from_the_shell_has_no_traceback(argv):
    out = run(*argv)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


@pytest.mark.parametrize("name", ["adjit.cli", "adjit.expression", "adjit.engine.evaltrace"])
def test_docstring_examples_run(name):
    assert doctest.testmod(importlib.import_module(name)).failed == 0
