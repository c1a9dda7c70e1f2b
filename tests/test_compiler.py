"""The compiler: passes keep results (NaN and Inf included), codegen is fused and readable,
compiled code is shape-generic and dtype-faithful, and the on-disk cache serves a new process."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import adjit
from adjit import compiler, engine, ops

SPECIAL = np.array([0.0, -0.0, 1.5, -2.0, np.inf, -np.inf, np.nan])

PROGRAMS = {
    "x - x": lambda x: x - x,
    "x * 0": lambda x: x * 0.0,
    "x / x": lambda x: x / x,
    "x * 1 + 0": lambda x: x * 1.0 + 0.0,
    "--x": lambda x: -(-x),
    "x ** 1": lambda x: x ** 1.0,
    "cse": lambda x: ops.tanh(x) * ops.tanh(x) + ops.exp(x - x),
    "folding": lambda x: x * (ops.exp(engine.const(0.0)) + 2.0 ** 3.0),
    "where": lambda x: ops.where(x > 0, ops.log(x), 0.0),
    "reduce": lambda x: ops.sum(x * 2.0) + ops.max(x),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
@pytest.mark.parametrize("target", ["numpy", "cpu"])
def test_passes_and_targets_keep_results_for_special_values(name, target):
    f = engine.trace(PROGRAMS[name], SPECIAL)
    expected = f(SPECIAL)
    for optimize in (False, True):
        got = compiler.jit(f, target, optimize=optimize)(SPECIAL)
        np.testing.assert_array_equal(got, expected)


def test_each_pass_alone_keeps_results():
    x = np.linspace(-2, 2, 9)
    for name, fn in PROGRAMS.items():
        f = engine.trace(fn, x)
        for p in (compiler.cse, compiler.dce, compiler.fold_constants, compiler.simplify):
            g = p(f)
            engine.check_function(g)
            np.testing.assert_array_equal(g(x), f(x), err_msg=f"{p.__name__} on {name}")


def test_cse_merges_and_folding_folds():
    f = engine.trace(PROGRAMS["cse"], np.ones(3))
    assert [n.prim for n in compiler.cse(f).nodes].count("tanh") == 1
    folded = compiler.fold_constants(engine.trace(PROGRAMS["folding"], np.ones(3)))
    assert [n.prim for n in folded.nodes if n.prim != "var"] == ["const", "mul"]


def test_simplify_is_ieee_safe():
    prims = lambda fn: {n.prim for n in compiler.optimize(engine.trace(fn, np.ones(2))).nodes}
    assert prims(PROGRAMS["x * 1 + 0"]) == {"var"}
    assert prims(PROGRAMS["--x"]) == {"var"}
    assert "sub" in prims(PROGRAMS["x - x"])
    assert "mul" in prims(PROGRAMS["x * 0"])
    assert "div" in prims(PROGRAMS["x / x"])


def _cheap(x):
    return ops.sum(ops.tanh(x) * x ** 2 + ops.exp(-x * x))


def test_cheap_gradient_is_one_fused_loop_with_no_temporaries():
    x = np.linspace(-1, 1, 11)
    g = compiler.jit(engine.grad(engine.trace(_cheap, x)), "cpu")
    body = g.source.split("def ", 1)[1]
    assert body.count("for i0 in range") == 1
    assert body.count("np.empty(") == 1  # only the gradient itself is allocated
    t = np.tanh(x)
    np.testing.assert_allclose(g(x), (1 - t * t) * x ** 2 + 2 * x * t - 2 * x * np.exp(-x * x), rtol=1e-12)
    f = compiler.jit(engine.trace(_cheap, x), "cpu")
    assert "np.empty(" not in f.source and f.source.count("for i0") == 1


def test_generated_source_is_readable():
    g = compiler.jit(engine.grad(engine.trace(lambda x1, x2: ops.log(x1) + x1 * x2, 2.0, 5.0)), "cpu")
    assert "def grad_f(x1, x2):" in g.source
    assert "# v0 = div(1.0, x1)  f64[]\n    v0 = (1.0 / x1)" in g.source
    assert os.path.exists(g.path) and open(g.path).read() == g.source


def _mlp_loss(W1, b1, W2, b2, x, y):
    h = ops.tanh(x @ W1 + b1)
    return -ops.mean(ops.sum(ops.log_softmax(h @ W2 + b2) * y, axis=-1))


def _mlp_args(dtype, batch):
    r = np.random.default_rng(0)
    return [r.normal(size=(5, 8)).astype(dtype), np.zeros(8, dtype), r.normal(size=(8, 3)).astype(dtype),
            np.zeros(3, dtype), r.normal(size=(batch, 5)).astype(dtype), np.eye(3, dtype=dtype)[r.integers(0, 3, batch)]]


def _mlp_step(dtype):
    args = _mlp_args(dtype, 4)
    specs = [engine.Spec(a.shape, dtype) for a in args[:4]] + [engine.Spec((None, 5), dtype), engine.Spec((None, 3), dtype)]
    return engine.value_and_grad(engine.trace(_mlp_loss, *specs), wrt=["W1", "b1", "W2", "b2"])


def test_one_compilation_serves_every_batch_size():
    step = _mlp_step("float64")
    c = compiler.jit(step, "cpu")
    for batch in (1, 7, 64):
        args = _mlp_args("float64", batch)
        for got, want in zip(c(*args), step(*args)):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert len(c._fn.signatures) == 1


def test_float32_stays_float32():
    step = _mlp_step("float32")
    c = compiler.jit(step, "cpu")
    assert all(n.dtype in ("float32", "bool") for n in c.function.nodes if n.prim != "const" or n.ndim)
    assert "float64" not in c.source
    outs = c(*_mlp_args("float32", 6))
    assert all(o.dtype == np.float32 for o in outs)
    for got, want in zip(outs, step(*_mlp_args("float32", 6))):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


def test_unknown_target_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown target 'gpu'"):
        compiler.jit(engine.trace(lambda x: x, 1.0), "gpu")


def test_jit_of_callables_and_lazy_transformations():
    f = compiler.jit(lambda x: ops.sin(x) * x)
    np.testing.assert_allclose(f(np.arange(3.0)), np.sin(np.arange(3.0)) * np.arange(3.0))
    g = compiler.jit(adjit.grad(lambda x: ops.sum(ops.sin(x) * x)))
    x = np.arange(3.0)
    np.testing.assert_allclose(g(x), np.cos(x) * x + np.sin(x))


_CACHE_PROGRAM = textwrap.dedent('''
    import json, numpy as np
    from adjit import compiler, engine, ops
    f = engine.grad(engine.trace(lambda x: ops.sum(ops.tanh(x) * x ** 2 + ops.exp(-x * x)), np.ones(4)))
    c = compiler.jit(f, "cpu")
    value = c(np.linspace(0, 1, 4)).tolist()
    print(json.dumps({"hits": c.cache_hits, "misses": c.cache_misses, "value": value, "path": str(c.path)}))
''')


def test_second_process_loads_from_the_cache_without_compiling(tmp_path):
    env = dict(os.environ, ADJIT_CACHE_DIR=str(tmp_path))
    runs = [json.loads(subprocess.run([sys.executable, "-c", _CACHE_PROGRAM], env=env, check=True,
                                      capture_output=True, text=True).stdout.splitlines()[-1]) for _ in range(2)]
    assert runs[0]["misses"] == 1 and runs[0]["hits"] == 0
    assert runs[1]["misses"] == 0 and runs[1]["hits"] == 1
    assert runs[0]["value"] == runs[1]["value"]
    assert runs[0]["path"].startswith(str(tmp_path))


def test_recompilation_is_explained_and_a_changing_size_becomes_dynamic(caplog):
    g = compiler.jit(adjit.grad(lambda x: ops.sum(ops.tanh(x) * x)))
    with caplog.at_level("INFO", logger="adjit"):
        for n in (3, 7, 64, 5):
            x = np.linspace(-1, 1, n)
            np.testing.assert_allclose(g(x), np.tanh(x) + x * (1 - np.tanh(x) ** 2))
        g(np.ones(4, np.float32))
        g(np.ones((2, 2)))
    messages = [r.getMessage() for r in caplog.records]
    tracing = [m for m in messages if m.startswith("tracing")]
    assert len(tracing) == 4  # batch 3; then 7 makes the size dynamic, 64 and 5 reuse it; dtype; rank
    assert "first call" in tracing[0]
    assert "x.shape[0] changed 3 -> 7: it is dynamic from now on" in tracing[1]
    assert "new dtype for x: float32 (was float64)" in tracing[2]
    assert "new rank for x: 2 (was 1)" in tracing[3]
    assert any(m.startswith("grad_f for cpu: ") and " s (adjit_cpu_" in m for m in messages)


def test_a_changed_graph_is_explained(caplog):
    with caplog.at_level("INFO", logger="adjit"):
        compiler.jit(engine.trace(lambda x: x * 2.0, np.ones(3), name="scaled"))
        compiler.jit(engine.trace(lambda x: x * 3.0, np.ones(3), name="scaled"))
    assert any("graph of scaled changed" in r.getMessage() for r in caplog.records)


def test_adjit_log_prints_on_stderr(tmp_path):
    code = "import numpy as np; from adjit import compiler, ops; compiler.jit(lambda x: ops.exp(x))(np.ones(2))"
    env = dict(os.environ, ADJIT_LOG="1", ADJIT_CACHE_DIR=str(tmp_path))
    err = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stderr
    assert "adjit: tracing f (x: float64[2]) for cpu: first call" in err
    assert "adjit: f for cpu: compiled in" in err


def test_non_contiguous_arguments_do_not_recompile():
    c = compiler.jit(engine.trace(lambda x: ops.sum(x * x, axis=0), engine.Spec((None, 3))), "cpu")
    a = np.arange(12.0).reshape(4, 3)
    b = np.arange(24.0).reshape(3, 8)[:, ::2].T  # a strided view
    np.testing.assert_allclose(c(b), np.sum(b * b, axis=0))
    np.testing.assert_allclose(c(a), np.sum(a * a, axis=0))
    assert len(c._fn.signatures) == 1


def _relu_mlp_step(W1, b1, W2, b2, x, y):
    h = ops.relu(x @ W1 + b1)
    loss = -ops.mean(ops.sum(ops.log_softmax(h @ W2 + b2) * y, axis=-1))
    return loss


def test_buffer_reuse_keeps_results_and_shrinks_peak_memory():
    args = _mlp_args("float32", 16)
    f = engine.trace(_relu_mlp_step, *args)
    vg = engine.value_and_grad(f, wrt=["W1", "b1", "W2", "b2"])
    outs = vg(*f.inputs)
    step = engine.Function(f.inputs, [outs[0]] + [p - 0.1 * g for p, g in zip(f.inputs[:4], outs[1:])], name="step")
    c = compiler.jit(step, "cpu")
    assert "# reuses a dead buffer" in c.source
    for got, want in zip(c(*args), step(*args)):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)
    report = c.memory(*args)
    assert report["buffers_reused"] > 0
    assert report["peak_temporary_bytes"] < report["sum_of_intermediates_bytes"] / 4
    assert report["result_bytes"] == sum(a.nbytes for a in args[:4])  # the new parameters (the loss is a scalar)


def test_in_place_reuse_never_overwrites_what_a_loop_still_reads():
    def f(x, w):
        a = ops.tanh(x @ w)                       # a buffer (matmul result) read by two loops
        s = ops.sum(a, axis=0, keepdims=True)     # broadcast read of a reduction
        b = a * 2.0 - s                           # dies-in-place candidate: a
        return ops.sum(b * a, axis=1) + ops.sum(ops.transpose(b) @ a)
    x, w = np.linspace(-1, 1, 12).reshape(4, 3), np.linspace(0, 1, 6).reshape(3, 2)
    fn = engine.trace(f, x, w)
    for g in (fn, engine.grad(engine.trace(lambda x, w: ops.sum(f(x, w)), x, w))):
        got, want = compiler.jit(g, "cpu")(x, w), g(x, w)
        for a, b in zip(got if g.multiple else [got], want if g.multiple else [want]):
            np.testing.assert_allclose(a, b, rtol=1e-12)


def test_parallel_loops_use_prange_only_where_rows_are_independent():
    def f(x):
        rowwise = ops.sum(ops.exp(x) * x, axis=1)           # rows independent
        total = ops.sum(ops.tanh(x))                         # a scalar sum: a prange reduction
        return rowwise * total + ops.max(ops.sin(x), axis=0)[0]  # max over axis 0: serial
    x = np.linspace(-2, 2, 40).reshape(8, 5)
    fn = engine.trace(f, engine.Spec((None, 5)))
    c = compiler.jit(fn, "cpu", parallel=True)
    assert "parallel=True" in c.source
    loops = [line.strip() for line in c.source.splitlines() if line.strip().startswith("for i0 in")]
    assert any("numba.prange" in line for line in loops) and any("in range(" in line for line in loops)
    compiler.set_num_threads(2)
    np.testing.assert_allclose(c(x), fn(x), rtol=1e-12)
    g = engine.grad(engine.trace(lambda x: ops.sum(f(x)), engine.Spec((None, 5))))
    np.testing.assert_allclose(compiler.jit(g, "cpu", parallel=True)(x), g(x), rtol=1e-12)


def test_where_in_a_fused_loop_is_a_select_not_a_branch():
    # relu's gradient: a mask that a branch would mispredict half the time
    f = engine.grad(engine.trace(lambda x: ops.sum(ops.relu(x) * ops.where(x < 1.0, ops.log(x), x)),
                                 engine.Spec((None,))))
    c = compiler.jit(f, "cpu")
    assert "_m.select(" in c.source and " if " not in c.source.split("def ", 1)[1]
    x = np.concatenate([SPECIAL, np.linspace(-3, 3, 25)])
    np.testing.assert_allclose(c(x), f(x), rtol=1e-15)  # the untaken arm (log of a negative: NaN) never leaks


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sums_over_the_innermost_axis_use_partial_sums_and_keep_results(dtype):
    def f(x):
        rows = ops.sum(ops.exp(-x * x), axis=1)              # a sum per row: flushed after each row
        total = ops.sum(ops.tanh(x) * x)                      # a sum to a scalar: added up at the end
        columns = ops.sum(x * x, axis=0)                      # over the outer axis: no partial sums
        return rows * total + ops.sum(columns)
    fn = engine.trace(f, engine.Spec((None, None), dtype))
    c = compiler.jit(fn, "cpu")
    assert "_lanes[i1_l] +=" in c.source and "# the remainder" in c.source
    rtol = 1e-12 if dtype == "float64" else 2e-6
    for shape in [(3, 0), (2, 5), (3, 16), (4, 33), (2, 1000)]:
        x = np.random.default_rng(1).normal(size=shape).astype(dtype)
        got = c(x)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, fn(x), rtol=rtol, atol=1e-6)
    g = engine.grad(engine.trace(lambda x: ops.sum(f(x)), engine.Spec((None, None), dtype)))
    x = np.random.default_rng(2).normal(size=(3, 50)).astype(dtype)
    np.testing.assert_allclose(compiler.jit(g, "cpu")(x), g(x), rtol=rtol * 10, atol=1e-5)


@pytest.mark.parametrize("target", ["numpy", "cpu"])
def test_results_are_arrays_and_rank_0_results_scalars(target):
    def f(x, s, n):
        return x * s, ops.sum(x) * s, ops.sum(x).astype("float32"), n + 1, ops.sum(x) > 0
    fn = engine.trace(f, np.ones(3), 2.0, np.int64(1))
    c = compiler.jit(fn, target)
    for call in range(3):  # the first call compiles; later ones take the generated entry
        got = c(np.arange(3.0), 2.0, 4)
        assert [type(g) for g in got] == [np.ndarray, float, np.float32, int, bool]
        assert got[0].tolist() == [0.0, 2.0, 4.0] and got[1:] == (6.0, 3.0, 5, True)
    assert c(np.arange(3.0).astype(np.float32), np.float64(2.0), np.int32(4))[1] == 6.0  # converted
    nothing = compiler.jit(engine.trace(lambda: ops.exp(engine.const(np.zeros(2)))), target)
    assert nothing().tolist() == [1.0, 1.0] and nothing().tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="expected 0 arguments"):
        nothing(1.0)
