"""The transformations (grad, value_and_grad, vjp, jvp, jacobian, hessian): their conventions, as
the docstrings of ``engine/transforms.py`` state them, checked on a corpus of small programs;
then composition, higher order, structural hashing, printing and immutability."""
from __future__ import annotations

import numpy as np
import pytest

from adjit import engine, ops
from adjit.engine import Function, GraphError, Spec, check_function, var
from corpus import PROGRAMS, SCALAR_PROGRAMS
from support import as_list, assert_close, checked, jit, numeric_grad, snapshot


def traced(p) -> Function:
    f = engine.trace(p.fn, *p.args)
    check_function(f)
    return f


def names(p) -> list:
    return [traced(p).inputs[k].name for k in p.wrt_indices]


# --- the corpus: derivatives against central differences and each other -------------------------------
@pytest.mark.parametrize("p", SCALAR_PROGRAMS, ids=repr)
def test_grad_matches_central_differences(p):
    f = traced(p)
    grads = as_list(checked(engine.grad, f, wrt=p.wrt_indices)(*p.args))
    assert len(grads) == len(p.wrt_indices)
    for k, g in zip(p.wrt_indices, grads):
        assert g.shape == np.shape(p.args[k]) and g.dtype == np.float64
        assert_close(g, numeric_grad(f, p.args, k), "float64", rtol=1e-6, what=f"{p.name}: d/d arg {k}")


@pytest.mark.parametrize("p", SCALAR_PROGRAMS, ids=repr)
def test_value_and_grad_is_value_then_grads(p):
    f = traced(p)
    out = checked(engine.value_and_grad, f, wrt=p.wrt_indices)(*p.args)
    assert isinstance(out, tuple) and len(out) == 1 + len(p.wrt_indices)
    assert_close(out[0], f(*p.args), "float64")
    for a, b in zip(out[1:], as_list(engine.grad(f, wrt=p.wrt_indices)(*p.args))):
        assert_close(a, b, "float64")


@pytest.mark.parametrize("p", PROGRAMS, ids=repr)
def test_jvp_and_vjp_agree(p):
    """<u, J v> == <J^T u, v> summed over every output and every wrt input; outputs come first."""
    f = traced(p)
    rng = np.random.default_rng(7)
    wrt = p.wrt_indices
    vs = [rng.normal(size=np.shape(p.args[k])) for k in wrt]
    us = [rng.normal(size=o.shape) for o in f.outputs]
    jf = checked(engine.jvp, f, wrt=wrt)
    vf = checked(engine.vjp, f, wrt=wrt)
    assert [i.name for i in jf.inputs] == [i.name for i in f.inputs] + [f"{n}_dot" for n in names(p)]
    assert [i.name for i in vf.inputs] == [i.name for i in f.inputs] + [f"out{k}_bar" for k in range(len(f.outputs))]
    n = len(f.outputs)
    jout, vout = as_list(jf(*p.args, *vs)), as_list(vf(*p.args, *us))
    assert len(jout) == 2 * n and len(vout) == n + len(wrt)
    for a, b in zip(jout[:n] + vout[:n], as_list(f(*p.args)) * 2):
        assert_close(a, b, "float64")
    lhs = sum(float(np.sum(u * t)) for u, t in zip(us, jout[n:]))
    rhs = sum(float(np.sum(c * v)) for c, v in zip(vout[n:], vs))
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))


@pytest.mark.parametrize("p", PROGRAMS, ids=repr)
def test_jacobian_modes_agree(p):
    f = traced(p)
    if len(f.outputs) > 1:
        with pytest.raises(GraphError, match="exactly one"):
            engine.jacobian(f)
        f = Function(f.inputs, f.outputs[1], name="second_output")
    wrt = p.wrt_indices
    jacs = {mode: as_list(checked(engine.jacobian, f, wrt=wrt, mode=mode)(*p.args)) for mode in ("fwd", "rev", "auto")}
    out_shape = f.outputs[0].shape
    for k, a, b, c in zip(wrt, jacs["fwd"], jacs["rev"], jacs["auto"]):
        assert a.shape == out_shape + np.shape(p.args[k])
        assert_close(a, b, "float64", what=f"{p.name}: fwd vs rev")
        assert_close(a, c, "float64", what=f"{p.name}: fwd vs auto")
    if f.outputs[0].shape == ():  # the Jacobian of a scalar is its gradient
        for a, g in zip(jacs["rev"], as_list(engine.grad(f, wrt=wrt)(*p.args))):
            assert_close(a, g, "float64")
    # auto picks forward mode when inputs are fewer than outputs, reverse otherwise
    n_in = sum(int(np.prod(np.shape(p.args[k]))) for k in wrt)
    n_out = int(np.prod(out_shape))
    picked = "fwd" if n_in < n_out else "rev"
    assert engine.jacobian(f, wrt=wrt, mode="auto") == engine.jacobian(f, wrt=wrt, mode=picked)


SMALL = [p for p in SCALAR_PROGRAMS if sum(np.size(p.args[k]) for k in p.wrt_indices) <= 12]


@pytest.mark.parametrize("p", SMALL, ids=repr)
def test_hessian_matches_central_differences_of_grad(p):
    f = traced(p)
    wrt = p.wrt_indices
    g = checked(engine.grad, f, wrt=wrt)
    blocks = as_list(checked(engine.hessian, f, wrt=wrt)(*p.args))
    assert len(blocks) == len(wrt) ** 2
    for a, i in enumerate(wrt):
        for b, j in enumerate(wrt):
            block = blocks[a * len(wrt) + b]
            si, sj = np.shape(p.args[i]), np.shape(p.args[j])
            assert block.shape == si + sj
            want = np.zeros(block.shape)
            for idx in np.ndindex(*si):
                want[idx] = numeric_grad(lambda *z: as_list(g(*z))[a][idx], p.args, j)
            assert_close(block, want, "float64", rtol=1e-6, what=f"{p.name}: d2/darg{i} darg{j}")


def test_grad_of_grad_is_the_second_derivative():
    import sympy as sp
    p = next(p for p in PROGRAMS if p.name == "scalar_chain")
    f = traced(p)
    g1 = checked(engine.grad, f)
    g2 = checked(engine.grad, g1)
    g3 = checked(engine.grad, g2)
    s = sp.Symbol("x", real=True)
    expr = sp.sin(sp.cos(s)) * sp.exp(s) / (1 + s * s) + sp.log(1 + s * s) ** sp.Rational(3, 2)
    x = float(p.args[0])
    for order, g in ((1, g1), (2, g2), (3, g3)):
        want = float(sp.diff(expr, s, order).evalf(30, subs={s: x}))
        assert_close(g(x), want, "float64", rtol=1e-11, what=f"derivative {order}")
    # the same through Python callables: grad(grad(fn)) traced per signature
    assert_close(engine.grad(engine.grad(p.fn))(x), g2(x), "float64")
    # and the hessian of a scalar function of a scalar is its second derivative
    assert_close(checked(engine.hessian, f)(x), g2(x), "float64")


# --- conventions: outputs, tuples, wrt ------------------------------------------------------------
def _rational():
    return engine.trace(lambda x, y: (x * x + 3.0 * x * y - 1.0) / (1.0 + x * x + y * y), 0.7, -1.3)


def test_grad_returns_one_array_for_one_input_and_a_tuple_for_several():
    f = _rational()
    both = checked(engine.grad, f)(0.7, -1.3)
    assert isinstance(both, tuple) and len(both) == 2
    one = checked(engine.grad, f, wrt="y")(0.7, -1.3)
    assert isinstance(one, np.ndarray) and one.shape == ()
    assert float(one) == float(both[1])
    x = engine.var("x")
    assert isinstance(engine.grad(Function([x], x * x))(3.0), np.ndarray)


def test_wrt_by_name_and_index_in_the_order_given():
    f = _rational()
    gx, gy = engine.grad(f)(0.7, -1.3)
    for wrt in (["y", "x"], [1, 0], ["y", 0]):
        a, b = checked(engine.grad, f, wrt=wrt)(0.7, -1.3)
        assert (float(a), float(b)) == (float(gy), float(gx)), wrt
    assert float(engine.grad(f, wrt=0)(0.7, -1.3)) == float(gx)
    assert float(engine.grad(f, wrt="x")(0.7, -1.3)) == float(gx)
    assert engine.grad(f, wrt=0) is engine.grad(f, wrt=0)
    v, g = checked(engine.value_and_grad, f, wrt="y")(0.7, -1.3)
    assert float(g) == float(gy) and float(v) == float(f(0.7, -1.3))


def test_jvp_and_vjp_signatures():
    f = _rational()
    jf = checked(engine.jvp, f, wrt="y")
    assert [i.name for i in jf.inputs] == ["x", "y", "y_dot"] and len(jf.outputs) == 2
    value, tangent = jf(0.7, -1.3, 1.0)
    assert_close(tangent, engine.grad(f, wrt="y")(0.7, -1.3), "float64")
    vf = checked(engine.vjp, f, wrt=["x"])
    assert [i.name for i in vf.inputs] == ["x", "y", "out0_bar"]
    value2, ct = vf(0.7, -1.3, 2.0)
    assert float(value2) == float(value)
    assert_close(ct, 2.0 * engine.grad(f, wrt="x")(0.7, -1.3), "float64")


def test_fresh_names_never_clash_with_inputs():
    x, x_dot = var("x", (2,)), var("x_dot", (2,))
    f = Function([x, x_dot], ops.sum(x * x_dot))
    jf = checked(engine.jvp, f)
    assert len({i.name for i in jf.inputs}) == 4
    a = np.array([1.0, 2.0])
    _, t = jf(a, a, np.ones(2), np.zeros(2))
    assert float(t) == 3.0
    o = var("out0_bar")
    vf = checked(engine.vjp, Function([o], o * 2.0))
    assert len({i.name for i in vf.inputs}) == 2 and float(vf(1.0, 1.0)[1]) == 2.0


def test_jacobian_and_hessian_shapes_and_blocks():
    x, w = var("x", (3,)), var("w", (2, 3))
    f = Function([x, w], ops.tanh(w @ x))
    jx, jw = checked(engine.jacobian, f)(np.ones(3), np.ones((2, 3)))
    assert jx.shape == (2, 3) and jw.shape == (2, 2, 3)
    s = Function([x, w], ops.sum(ops.tanh(w @ x)))
    blocks = checked(engine.hessian, s)(np.ones(3) * 0.1, np.ones((2, 3)) * 0.2)
    assert [b.shape for b in blocks] == [(3, 3), (3, 2, 3), (2, 3, 3), (2, 3, 2, 3)]
    assert_close(blocks[1], np.transpose(blocks[2], (2, 0, 1)), "float64")  # d2f/dx dw == (d2f/dw dx)^T
    with pytest.raises(ValueError, match="mode"):
        engine.jacobian(f, mode="sideways")


def test_python_callables_are_traced_once_per_signature():
    calls = []

    def fn(x, y):
        calls.append((x.shape, x.dtype))
        return ops.sum(x * y)

    g = engine.grad(fn)
    assert not isinstance(g, Function) and callable(g)
    a32, b32 = np.ones(3, np.float32), np.full(3, 2.0, np.float32)
    gx, gy = g(a32, b32)
    assert gx.dtype == np.float32 and gy.dtype == np.float32
    g(a32, b32)
    g(np.ones(3), np.ones(3))
    g(np.ones((2, 2)), np.ones((2, 2)))
    assert calls == [((3,), "float32"), ((3,), "float64"), ((2, 2), "float64")]
    f = g.function_for(Spec((3,), "float32"), Spec((3,), "float32"))
    assert isinstance(f, Function) and [i.name for i in f.inputs] == ["x", "y"]
    check_function(f)
    assert f is g.function_for(a32, b32)


def test_functions_called_with_nodes_inline_and_compose():
    """A training step from value_and_grad(loss) inside a new Function: one graph for forward,
    adjoint and update."""
    p = next(p for p in PROGRAMS if p.name == "mlp_loss")
    loss = traced(p)
    vg = checked(engine.value_and_grad, loss, wrt=[0, 1, 2, 3])
    params = [var(i.name, i.shape) for i in loss.inputs]
    value, *grads = vg(*params)
    lr = 0.5
    new = [w - lr * g for w, g in zip(params[:4], grads)]
    step = Function(params, (value, *new), name="train_step")
    check_function(step)
    assert not any(n.prim == "call" for n in step.nodes)  # inlined, not nested
    ws, data = list(p.args[:4]), list(p.args[4:])
    losses = []
    for _ in range(20):
        value, *ws = step(*ws, *data)
        losses.append(float(value))
    assert all(b < a for a, b in zip(losses, losses[1:])) and losses[-1] < 0.7 * losses[0], losses
    # one step by hand agrees
    v0, *g0 = vg(*p.args)
    _, *w1 = step(*p.args)
    for w, g, w_new in zip(p.args[:4], g0, w1):
        assert_close(w_new, w - lr * g, "float64")
    # a composed step can be differentiated again
    meta = Function(params, ops.sum(step(*params)[1]), name="meta")
    checked(engine.grad, meta, wrt="x")


def test_structural_hashing_and_memoization():
    def build(name="x"):
        x = var(name, (3,))
        return Function([x], ops.sum(ops.tanh(x) * 2.0))
    f1, f2 = build(), build()
    assert f1 is not f2 and f1 == f2 and hash(f1) == hash(f2) and f1.key == f2.key
    assert build("z") == f1  # the key is structural: input names do not enter it
    x = var("x", (3,))
    assert Function([x], ops.sum(ops.tanh(x) * 3.0)) != f1   # another constant
    x4 = var("x", (4,))
    assert Function([x4], ops.sum(ops.tanh(x4) * 2.0)) != f1  # another shape
    x32 = var("x", (3,), "float32")
    assert Function([x32], ops.sum(ops.tanh(x32) * 2.0)) != f1  # another dtype
    assert Function([x], ops.sum(ops.sin(x) * 2.0)) != f1  # another primitive
    assert len({f1, f2}) == 1
    g1 = checked(engine.grad, f1)
    assert engine.grad(f1) is g1 and engine.grad(f2) is g1  # memoized on the structure
    assert engine.grad(f1, wrt="x") is not engine.jvp(f1)
    # equal graphs made by different routes hash equal
    y = var("x", (3,))
    assert engine.trace(lambda x: ops.sum(ops.tanh(x) * 2.0), Spec((3,))) == f1
    assert Function([y], ops.sum(ops.tanh(y) * 2.0)).key == f1.key


def test_function_printing_is_one_line_per_node_with_shapes():
    x, w = var("x", (2, 3)), var("w", (3,), "float32")
    f = Function([x, w], ops.sum(ops.tanh(x) * w.astype("float64"), axis=1), name="model")
    text = str(f)
    lines = text.splitlines()
    ops_nodes = [n for n in f.nodes if n.prim not in ("var", "const")]
    assert lines[0] == "model(x:f64[2,3], w:f32[3]) {"
    assert lines[-2].strip().startswith("return ") and lines[-1] == "}"
    body = lines[1:-2]
    assert len(body) == len(ops_nodes)
    for line, n in zip(body, ops_nodes):
        assert f":{n.aval} = {n.prim}" in line, line
    assert "reduce_sum[axes=(1,), keepdims=False]" in text
    assert "f64[2]" in lines[-3]
    assert repr(f).startswith("<Function model:")
    gtext = str(checked(engine.grad, Function([x], ops.sum(ops.tanh(x)))))
    assert gtext.startswith("grad_f(x:f64[2,3]) {")


def test_nodes_are_immutable():
    x = var("x", (2, 3))
    y = ops.sum(x, axis=0)
    for attr, value in (("prim", "add"), ("inputs", ()), ("aval", None), ("params", {}), ("shape", (1,)),
                        ("anything", 1)):
        with pytest.raises(AttributeError):
            setattr(y, attr, value)
    with pytest.raises(TypeError):
        y.params["axes"] = (1,)
    assert y.params["axes"] == (0,) and y.shape == (3,)
    c = engine.const(np.arange(3.0))
    with pytest.raises(ValueError):
        c.params["value"][0] = 5.0
    source = np.arange(3.0)
    c2 = engine.const(source)
    source[0] = 9.0
    assert c2.params["value"][0] == 0.0  # constants copy their data


@pytest.mark.parametrize("p", PROGRAMS, ids=repr)
def test_transformations_never_mutate_their_input(p):
    f = traced(p)
    before = snapshot(f)
    engine.jvp(f, wrt=p.wrt_indices)
    engine.vjp(f, wrt=p.wrt_indices)
    if p.scalar:
        engine.grad(f, wrt=p.wrt_indices)
        engine.value_and_grad(f, wrt=p.wrt_indices)
    assert snapshot(f) == before
    assert_close(as_list(f(*p.args))[0], as_list(traced(p)(*p.args))[0], "float64")


def test_dynamic_batch_dimension():
    x = var("x", (None, 3))
    w = var("w", (3,))
    f = Function([x, w], ops.mean(ops.tanh(x @ w)))
    g = checked(engine.grad, f, wrt="w")
    for n in (1, 4):
        xs = np.linspace(-1, 1, 3 * n).reshape(n, 3)
        ws = np.array([0.3, -0.2, 0.5])
        want = numeric_grad(lambda a: f(xs, a), [ws], 0)
        assert_close(g(xs, ws), want, "float64", rtol=1e-6)


# numba compiles of the reduction- and shape-heavy programs take seconds each; their ops are
# compiled for cpu one by one in test_ops, so the cpu corpus leaves them out.
CPU_CORPUS = ("mlp_loss", "rational", "piecewise", "broadcasting", "scalar_chain", "embedding")


@pytest.mark.parametrize("target", ["numpy", "cpu"])
def test_compiled_value_and_grad_of_the_corpus(target):
    """The scalar programs' value_and_grad inlined into one Function, compiled once."""
    inputs, outputs, args = [], [], []
    for p in SCALAR_PROGRAMS:
        if target == "cpu" and p.name not in CPU_CORPUS:
            continue
        vg = checked(engine.value_and_grad, traced(p), wrt=p.wrt_indices)
        fresh = [var(f"{p.name}_{i.name}", i.shape, i.dtype) for i in vg.inputs]
        inputs += fresh
        outputs += as_list(vg(*fresh))
        args += [np.asarray(a) for a in p.args]
    f = Function(inputs, tuple(outputs), name="corpus")
    check_function(f)
    want = f(*args)
    got = jit()(f, target=target)(*args)
    for a, b in zip(got, want):
        assert_close(a, b, "float64")


def test_memoized_transforms_of_structurally_equal_functions():
    """grad is memoized by structure, so it may hand back a Function built on another, equal
    graph's vars; transformations built on top of it (hessian) must still work."""
    def build():
        x = var("x", (2,))
        return Function([x], ops.sum(ops.sin(x) * x))
    f1, f2 = build(), build()
    g = engine.grad(f1)
    assert engine.grad(f2) is g
    a = np.array([0.3, -0.4])
    h = checked(engine.hessian, f2)(a)
    assert_close(h, np.diag(2 * np.cos(a) - a * np.sin(a)), "float64")
    inner = Function(f2.inputs, ops.sum(engine.grad(f2)(*f2.inputs)))
    assert_close(checked(engine.grad, inner)(a), np.diag(h), "float64")


def test_default_wrt_is_every_float_input_and_integer_inputs_are_data():
    f = engine.trace(lambda table, idx: ops.sum(ops.take(table, idx) ** 2), np.ones((4, 2)), np.array([0, 2, 2]))
    g = engine.grad(f)
    assert len(g.outputs) == 1
    np.testing.assert_allclose(g(np.arange(8.0).reshape(4, 2), np.array([0, 2, 2])),
                               [[0, 2], [0, 0], [16, 20], [0, 0]])
    with pytest.raises(engine.GraphError, match="no float inputs"):
        engine.grad(engine.trace(lambda i: ops.sum(i) * 1.0, np.array([1, 2])))
