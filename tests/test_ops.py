"""Generic op tests, each parametrized over the op table (``optable.py``), then the conventions at
points where a derivative does not exist."""
from __future__ import annotations

import functools

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from adjit import engine, ops
from adjit.engine import Function, check_function, var
from adjit.engine.primitive import REGISTRY
from optable import CHECKS, FLOATS, TABLE, make_inputs, rng_for
from support import RTOL, as_list, assert_close, checked, jit, numeric_grad, random_like


# --- building the function of one sample -----------------------------------------------------------
@functools.lru_cache(maxsize=None)
def function_for(name: str, k: int, dtype: str):
    """(Function, wrt indices) for sample ``k`` of row ``name`` in ``dtype``."""
    op = _BY_NAME[name]
    sample = op.samples[k]
    inputs = []
    for j, a in enumerate(sample.args):
        if isinstance(a, tuple):
            inputs.append(var(f"x{j}", a, dtype))
        else:
            inputs.append(var(f"i{j}", a.shape, a.dtype))
    f = Function(inputs, op.build(*inputs, **sample.kwargs), name=op.name)
    check_function(f)
    return f, tuple(op.float_args(sample))


_BY_NAME = {op.name: op for op in TABLE}


def cases(check, dtypes=FLOATS, per_sample=True):
    """pytest params (op, k, dtype) for the rows where ``check`` applies, with their xfails."""
    assert check in CHECKS
    out = []
    for op in TABLE:
        if check not in op.checks:
            continue
        for dtype in dtypes:
            if dtype not in op.dtypes:
                continue
            marks = [pytest.mark.xfail(reason=op.xfail[check], strict=True)] if check in op.xfail else []
            ks = range(len(op.samples)) if per_sample else [None]
            for k in ks:
                tag = op.name if k is None else f"{op.name}-{k}"
                out.append(pytest.param(op, k, dtype, id=f"{tag}-{dtype}", marks=marks))
    return out


def differentiable(op) -> bool:
    return "vjp" in op.checks


# --- (a) reference interpreter against numpy ---------------------------------------------------------
@pytest.mark.parametrize("op,k,dtype", cases("ref"))
def test_reference_matches_numpy(op, k, dtype):
    f, _ = function_for(op.name, k, dtype)
    xs = make_inputs(op, k, dtype)
    got = f(*xs)
    want = op.ref(*xs, **op.samples[k].kwargs)
    what = f"{op.name}{op.samples[k]!r} {dtype}"
    assert isinstance(got, np.ndarray), what
    assert got.dtype.name == (op.out_dtype or dtype), f"{what}: dtype {got.dtype} (float32 must stay float32)"
    assert f.outputs[0].shape == got.shape, f"{what}: the shape rule says {f.outputs[0].shape}, numpy gave {got.shape}"
    assert_close(got, want, dtype, what=what)


# --- (b) compiled targets against the reference interpreter --------------------------------------------
def _compile_cases():
    out = []
    for op in TABLE:
        if "compile" not in op.checks:
            continue
        for target in op.targets:
            reason = op.xfail.get(f"compile:{target}") or op.xfail.get("compile")
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            out.append(pytest.param(op, target, id=f"{op.name}-{target}", marks=marks))
    return out


def _compiled_case(op, k, dtype):
    """The function a compile test runs for sample ``k``: the VJP (value and derivative in one
    function) for a differentiable row, else the value; and its arguments."""
    f, wrt = function_for(op.name, k, dtype)
    xs = make_inputs(op, k, dtype)
    if not differentiable(op):
        return f, xs
    ct = random_like(rng_for(op.name, k, "ct"), f.outputs[0].shape, dtype)
    return checked(engine.vjp, f, wrt=list(wrt)), xs + [ct]


def _one_function(op):
    """All of a row's cpu cases (``compile_samples`` x both dtypes) inlined into one Function, so
    that the row costs one numba compile; and a label for each output."""
    inputs, outputs, args, labels = [], [], [], []
    for dtype in op.dtypes:
        for k in sorted({k % len(op.samples) for k in op.compile_samples}):
            g, xs = _compiled_case(op, k, dtype)
            tag = f"s{k}_{dtype[-2:]}"
            fresh = [var(f"{i.name}_{tag}", i.shape, i.dtype) for i in g.inputs]
            outs = as_list(g(*fresh))
            inputs += fresh
            outputs += outs
            args += xs
            labels += [f"{op.name}{op.samples[k]!r} {dtype} output {j}" for j in range(len(outs))]
    return Function(inputs, tuple(outputs), name=op.name), args, labels


@pytest.mark.parametrize("op,target", _compile_cases())
def test_compiled_matches_reference(op, target):
    """Value and VJP, both dtypes. numpy compiles every sample; cpu (numba) compiles the row's
    ``compile_samples`` of both dtypes as one function, to keep compile time modest."""
    compile_ = jit()
    if target == "numpy":
        cases_ = [(_compiled_case(op, k, d), [f"{op.name}{op.samples[k]!r} {d} output {j}" for j in range(8)])
                  for d in op.dtypes for k in range(len(op.samples))]
    else:
        g, args, labels = _one_function(op)
        check_function(g)
        cases_ = [((g, args), labels)]
    for (g, xs), labels in cases_:
        want = as_list(g(*xs))
        compiled = compile_(g, target=target)
        assert isinstance(compiled.source, str) and compiled.source
        got = as_list(compiled(*[x.copy() for x in xs]))
        assert len(got) == len(want)
        for a, b, what in zip(got, want, labels):
            what = f"{what} ({target})"
            a = np.asarray(a)
            assert a.dtype == b.dtype, f"{what}: dtype {a.dtype}, expected {b.dtype}"
            assert_close(a, b, b.dtype.name if b.dtype.kind == "f" else "float64", what=what)


# --- (c) VJP against central differences (float64) --------------------------------------------------
@pytest.mark.parametrize("op,k,dtype", cases("vjp", dtypes=("float64",)))
def test_vjp_matches_central_differences(op, k, dtype):
    f, wrt = function_for(op.name, k, dtype)
    xs = make_inputs(op, k, dtype)
    u = random_like(rng_for(op.name, k, "u"), f.outputs[0].shape)
    out, *grads = checked(engine.vjp, f, wrt=list(wrt))(*xs, u)
    assert len(grads) == len(wrt)
    for j, g in zip(wrt, grads):
        what = f"{op.name}{op.samples[k]!r}: d/d x{j}"
        assert g.dtype == np.float64 and g.shape == xs[j].shape, what
        if op.zero_grad:
            np.testing.assert_array_equal(g, 0.0, err_msg=what)
            continue
        want = numeric_grad(lambda *a: np.sum(u * f(*a)), xs, j)
        assert_close(g, want, dtype, rtol=1e-6, what=what)


# --- (d) JVP against VJP: <u, J v> == <J^T u, v> --------------------------------------------------
@pytest.mark.parametrize("op,k,dtype", cases("jvp"))
def test_jvp_vjp_dot_product(op, k, dtype):
    f, wrt = function_for(op.name, k, dtype)
    xs = make_inputs(op, k, dtype)
    rng = rng_for(op.name, k, "dot")
    u = random_like(rng, f.outputs[0].shape, dtype)
    vs = [random_like(rng, xs[j].shape, dtype) for j in wrt]
    value, tangent = checked(engine.jvp, f, wrt=list(wrt))(*xs, *vs)
    _, *cts = checked(engine.vjp, f, wrt=list(wrt))(*xs, u)
    for arr in (value, tangent, *cts):
        assert arr.dtype.name == dtype, f"{op.name}: a derivative of dtype {arr.dtype} in a {dtype} test"
    assert tangent.shape == value.shape and all(c.shape == xs[j].shape for c, j in zip(cts, wrt))
    assert_close(value, f(*xs), dtype)
    lhs = float(np.sum(u.astype(np.float64) * tangent))
    rhs = sum(float(np.sum(c.astype(np.float64) * v)) for c, v in zip(cts, vs))
    scale = float(np.sum(np.abs(u * tangent))) + sum(float(np.sum(np.abs(c * v))) for c, v in zip(cts, vs))
    # a floor for Jacobians that vanish (softmax of large logits): their products are rounding noise
    scale = max(scale, 1e-3 * float(np.linalg.norm(u)) * sum(float(np.linalg.norm(v)) for v in vs))
    tol = 1e-5 if dtype == "float32" else 1e-12
    assert abs(lhs - rhs) <= tol * max(scale, 1e-30), f"{op.name}: <u, Jv> = {lhs}, <J^T u, v> = {rhs}"
    if op.zero_grad:
        np.testing.assert_array_equal(tangent, 0.0)


@pytest.mark.parametrize("op,k,dtype", cases("jvp", dtypes=("float64",), per_sample=False))
def test_jacobian_fwd_equals_rev(op, k, dtype):
    """The unrolled Jacobian in both modes, on the row's first sample with one float input."""
    k = 0
    f, wrt = function_for(op.name, k, dtype)
    xs = make_inputs(op, k, dtype)
    fwd = as_list(checked(engine.jacobian, f, wrt=list(wrt), mode="fwd")(*xs))
    rev = as_list(checked(engine.jacobian, f, wrt=list(wrt), mode="rev")(*xs))
    for j, a, b in zip(wrt, fwd, rev):
        assert a.shape == f.outputs[0].shape + xs[j].shape
        assert_close(a, b, dtype)


# --- (e) sympy cross-check of elementwise primitives ------------------------------------------------
def _scalar_function(op, dtype="float64"):
    """The row's op on scalar arguments: (Function, its output primitive, sympy symbols, expr)."""
    n = len(op.samples[0].args)
    xs = [var(f"x{j}", (), dtype) for j in range(n)]
    out = op.build(*xs)
    f = Function(xs, out, name=op.name)
    prim = REGISTRY[out.prim]
    assert prim.kind == "elementwise" and prim.to_sympy is not None, f"{op.name}: no sympy form"
    assert [i.id for i in out.inputs] == [x.id for x in xs], f"{op.name}: the output is not the primitive of the inputs"
    syms = sp.symbols(f"a0:{n}", real=True)
    return f, syms, prim.to_sympy(out, *syms)


def _points(op, count=3):
    rng = rng_for(op.name, "sympy")
    n = len(op.samples[0].args)
    return [[float(op.domain(j)(rng, ())) for j in range(n)] for _ in range(count)]


def _sym_value(expr, syms, point) -> float:
    return float(expr.evalf(30, subs=dict(zip(syms, point))))


@pytest.mark.parametrize("op,k,dtype", cases("sympy", dtypes=("float64",), per_sample=False))
def test_sympy_derivative(op, k, dtype):
    f, syms, expr = _scalar_function(op)
    grad = checked(engine.grad, f)
    for point in _points(op):
        assert_close(f(*point), _sym_value(expr, syms, point), dtype, what=f"{op.name} value at {point}")
        got = as_list(grad(*point))
        for j, s in enumerate(syms):
            want = _sym_value(sp.diff(expr, s), syms, point)
            assert_close(got[j], want, dtype, what=f"{op.name}: d/d{s} at {point}")


# --- (f) second derivatives -----------------------------------------------------------------------
def _weighted_sum(op, k, dtype="float64"):
    """s(x) = sum(w * op(x)) for a fixed random w: a scalar whose Hessian involves op''."""
    f, wrt = function_for(op.name, k, dtype)
    w = random_like(rng_for(op.name, k, "w"), f.outputs[0].shape)
    s = Function(f.inputs, ops.sum(f(*f.inputs) * w), name=f"s_{op.name}")
    return s, wrt


@pytest.mark.parametrize("op,k,dtype", cases("grad2", dtypes=("float64",)))
def test_grad_of_grad_matches_central_differences(op, k, dtype):
    """grad of <v, grad s> (grad called inline in a new Function) == directional central
    differences of grad s."""
    s, wrt = _weighted_sum(op, k)
    xs = make_inputs(op, k, dtype)
    g = checked(engine.grad, s, wrt=list(wrt))
    rng = rng_for(op.name, k, "v")
    vs = [random_like(rng, xs[j].shape) for j in wrt]
    gs = as_list(g(*s.inputs))
    inner = Function(s.inputs, sum(ops.sum(gi * v) for gi, v in zip(gs, vs)), name="v_dot_grad")
    hv = as_list(checked(engine.grad, inner, wrt=list(wrt))(*xs))
    h = 1e-5
    plus, minus = list(xs), list(xs)
    for j, v in zip(wrt, vs):
        plus[j], minus[j] = xs[j] + h * v, xs[j] - h * v
    want = [(a - b) / (2 * h) for a, b in zip(as_list(g(*plus)), as_list(g(*minus)))]
    for j, a, b in zip(wrt, hv, want):
        assert_close(a, b, dtype, rtol=1e-6, what=f"{op.name}{op.samples[k]!r}: H v, block x{j}")


@pytest.mark.parametrize("op,k,dtype", cases("grad2", dtypes=("float64",), per_sample=False))
def test_hessian_matches_central_differences(op, k, dtype):
    k = 0
    s, wrt = _weighted_sum(op, k)
    xs = make_inputs(op, k, dtype)
    g = checked(engine.grad, s, wrt=list(wrt))
    blocks = as_list(checked(engine.hessian, s, wrt=list(wrt))(*xs))
    assert len(blocks) == len(wrt) ** 2
    for a, i in enumerate(wrt):
        for b, j in enumerate(wrt):
            block = blocks[a * len(wrt) + b]
            assert block.shape == xs[i].shape + xs[j].shape
            want = np.zeros(block.shape)
            for idx in np.ndindex(*xs[i].shape):
                want[idx] = numeric_grad(lambda *z: as_list(g(*z))[a][idx], xs, j)
            assert_close(block, want, dtype, rtol=1e-6, what=f"{op.name}: d2/dx{i}dx{j}")
            mirror = np.moveaxis(blocks[b * len(wrt) + a], range(xs[j].ndim),
                                 range(xs[i].ndim, xs[i].ndim + xs[j].ndim))
            assert_close(block, mirror, dtype, what=f"{op.name}: the Hessian is symmetric")


@pytest.mark.parametrize("op,k,dtype", [p for p in cases("sympy", dtypes=("float64",), per_sample=False)
                                        if "grad2" in p.values[0].checks])
def test_hessian_matches_sympy(op, k, dtype):
    f, syms, expr = _scalar_function(op)
    hess = checked(engine.hessian, f)
    gg = None
    if len(syms) == 1:
        gg = checked(engine.grad, checked(engine.grad, f))
    for point in _points(op):
        blocks = as_list(hess(*point))
        for a, si in enumerate(syms):
            for b, sj in enumerate(syms):
                want = _sym_value(sp.diff(expr, si, sj), syms, point)
                assert_close(blocks[a * len(syms) + b], want, dtype, rtol=1e-10,
                             what=f"{op.name}: d2/d{si}d{sj} at {point}")
        if gg is not None:
            assert_close(gg(*point), _sym_value(sp.diff(expr, syms[0], 2), syms, point), dtype, rtol=1e-10,
                         what=f"{op.name}: grad(grad) at {point}")


# --- the table covers the registry ----------------------------------------------------------------
def _graphs_of_table():
    for op in TABLE:
        for k in range(len(op.samples)):
            for dtype in op.dtypes:
                f, wrt = function_for(op.name, k, dtype)
                yield f
                if differentiable(op):
                    yield engine.vjp(f, wrt=list(wrt))
                    yield engine.jvp(f, wrt=list(wrt))


def test_every_primitive_is_exercised_by_the_table():
    seen = {n.prim for f in _graphs_of_table() for n in f.nodes}
    missing = sorted(set(REGISTRY) - seen)
    assert not missing, f"primitives no op-table row reaches (add a row to tests/optable.py): {missing}"


def test_every_primitive_declares_its_rules():
    for name, prim in REGISTRY.items():
        assert prim.kind in ("elementwise", "reduction", "call"), name
        if prim.differentiable:
            assert prim.jvp is not None and prim.vjp is not None, f"{name}: differentiable without both rules"
        if prim.kind == "elementwise":
            assert prim.scalar is not None, f"{name}: elementwise without a scalar code rule"
            assert prim.to_sympy is not None, f"{name}: elementwise without a sympy translation"
        else:
            assert prim.emit is not None, f"{name}: a {prim.kind} primitive without an emit rule"


def test_every_smooth_elementwise_primitive_is_checked_against_sympy():
    exempt = {"where", "broadcast_like", "convert"}  # a bool condition; structural ops (no formula)
    checked_prims = set()
    for op in TABLE:
        if "sympy" in op.checks:
            checked_prims.add(_scalar_function(op)[0].outputs[0].prim)
    want = {n for n, p in REGISTRY.items() if p.kind == "elementwise" and p.differentiable} - exempt
    assert not want - checked_prims, f"no sympy row for {sorted(want - checked_prims)}"


# --- hypothesis: random broadcasting shapes ---------------------------------------------------------
BROADCAST_OPS = ["add", "sub", "mul", "div", "maximum", "minimum", "pow"]


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(BROADCAST_OPS),
       shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=3),
       seed=st.integers(0, 2 ** 16))
def test_broadcasting_binary_ops(name, shapes, seed):
    (sx, sy), out_shape = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2, size=sx)
    y = rng.uniform(0.5, 2, size=sy) * np.where(rng.random(sy) < 0.5, 1.0, -1.0) if name != "pow" \
        else rng.uniform(-1.5, 1.5, size=sy)
    a, b = var("a", sx), var("b", sy)
    f = Function([a, b], getattr(ops, name)(a, b))
    check_function(f)
    assert f.outputs[0].shape == out_shape
    want = getattr(np, {"add": "add", "sub": "subtract", "mul": "multiply", "div": "divide"}.get(name, name))(x, y)
    assert_close(f(x, y), want, "float64")
    u = rng.normal(size=out_shape)
    vx, vy = rng.normal(size=sx), rng.normal(size=sy)
    _, cx, cy = checked(engine.vjp, f)(x, y, u)
    _, t = checked(engine.jvp, f)(x, y, vx, vy)
    assert cx.shape == sx and cy.shape == sy and t.shape == out_shape
    lhs, rhs = float(np.sum(u * t)), float(np.sum(cx * vx) + np.sum(cy * vy))
    assert abs(lhs - rhs) <= 1e-12 * (np.sum(np.abs(u * t)) + 1e-30)


@settings(max_examples=30, deadline=None)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), data=st.data())
def test_random_reductions(shape, data):
    axes = tuple(sorted(data.draw(st.sets(st.integers(0, len(shape) - 1), min_size=1))))
    keepdims = data.draw(st.booleans())
    name = data.draw(st.sampled_from(["sum", "mean", "max", "logsumexp"]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    size = int(np.prod(shape))
    x = (rng.permutation(size) * 0.3 + rng.uniform(-0.05, 0.05, size)).reshape(shape)
    a = var("a", shape)
    f = Function([a], getattr(ops, name)(a, axes, keepdims=keepdims))
    check_function(f)
    ref = scipy_logsumexp if name == "logsumexp" else getattr(np, name)
    assert_close(f(x), ref(x, axis=axes, keepdims=keepdims), "float64")
    u = rng.normal(size=f.outputs[0].shape)
    _, g = checked(engine.vjp, f)(x, u)
    assert_close(g, numeric_grad(lambda z: np.sum(u * f(z)), [x], 0), "float64", rtol=1e-6)


def scipy_logsumexp(x, axis, keepdims):
    import scipy.special
    return scipy.special.logsumexp(x, axis=axis, keepdims=keepdims)


# --- conventions where the derivative does not exist -------------------------------------------------
def _grad1(fn, x, dtype="float64"):
    f = engine.trace(fn, np.asarray(x, dtype=dtype))
    return checked(engine.grad, f)(np.asarray(x, dtype=dtype))


@pytest.mark.parametrize("dtype", FLOATS)
def test_relu_and_abs_have_zero_derivative_at_zero(dtype):
    x = np.array([-1.0, 0.0, 2.0], dtype=dtype)
    for fn, want in ((ops.relu, [0.0, 0.0, 1.0]), (ops.abs, [-1.0, 0.0, 1.0])):
        g = _grad1(lambda x: ops.sum(fn(x)), x, dtype)
        assert g.dtype.name == dtype
        np.testing.assert_array_equal(g, want)
        _, t = checked(engine.jvp, engine.trace(fn, x))(x, np.ones_like(x))
        np.testing.assert_array_equal(t, want)


def test_max_sends_the_derivative_to_the_first_winner():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    np.testing.assert_array_equal(_grad1(lambda x: ops.max(x), x), [[0, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(_grad1(lambda x: ops.sum(ops.max(x, axis=1)), x), [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(_grad1(lambda x: ops.sum(ops.max(x, axis=0, keepdims=True)), x),
                                  [[0, 1, 1], [1, 0, 0]])
    f = engine.trace(lambda x: ops.max(x, axis=1), x)
    _, t = checked(engine.jvp, f)(x, np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(t, [1.0, 3.0])


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_and_minimum_ties_go_to_the_first_argument(name):
    x, y = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 5.0])
    f = engine.trace(lambda x, y: ops.sum(getattr(ops, name)(x, y)), x, y)
    gx, gy = checked(engine.grad, f)(x, y)
    first = [1.0, 1.0, 0.0] if name == "maximum" else [1.0, 0.0, 1.0]
    np.testing.assert_array_equal(gx, first)
    np.testing.assert_array_equal(gy, 1.0 - np.array(first))
    # broadcast: a tie between a scalar and every element
    f = engine.trace(lambda x, y: ops.sum(getattr(ops, name)(x, y)), 2.0, np.array([2.0, 2.0]))
    gx, gy = checked(engine.grad, f)(2.0, np.array([2.0, 2.0]))
    assert float(gx) == 2.0
    np.testing.assert_array_equal(gy, [0.0, 0.0])


WHERE_CHAINS = {
    "log": lambda x: ops.where(x > 0, ops.log(x), 0.0),
    "sqrt_log": lambda x: ops.where(x > 0, ops.sqrt(x) * ops.log(x), 0.0),
    "else_branch": lambda x: ops.where(x <= 0, 0.0, ops.log(x) / x),
    "nested": lambda x: ops.where(x > 0, ops.exp(ops.where(x > 0, ops.log(x), 0.0)), x * 0.0),
    "pow": lambda x: ops.where(x > 0, x ** 0.5, 0.0),
}


@pytest.mark.parametrize("name", sorted(WHERE_CHAINS))
@pytest.mark.parametrize("dtype", FLOATS)
def test_where_gradient_is_zero_not_nan_in_the_unselected_branch(name, dtype):
    fn = WHERE_CHAINS[name]
    x = np.array([-1.0, 0.0, 2.0], dtype=dtype)
    f = engine.trace(lambda x: ops.sum(fn(x)), x)
    g = checked(engine.grad, f)(x)
    assert g.dtype.name == dtype and np.all(np.isfinite(g)), g
    assert g[0] == 0 and g[1] == 0, g
    f64 = engine.trace(lambda x: ops.sum(fn(x)), x.astype(np.float64))
    want = numeric_grad(lambda z: np.sum(f64(z)), [x.astype(np.float64)], 0)[2]
    assert abs(g[2] - want) < max(RTOL[dtype] * 10, 1e-7) * max(1, abs(want))
    gg = checked(engine.grad, engine.trace(lambda x: ops.sum(engine.grad(f)(x)), x))(x)
    assert np.all(np.isfinite(gg)) and gg[0] == 0 and gg[1] == 0, gg
    h = checked(engine.hessian, f)(x)
    assert np.all(np.isfinite(h)) and not h[:2].any() and not h[:, :2].any(), h
    assert abs(h[2, 2] - gg[2]) <= 1e-5 * max(1, abs(gg[2]))
    _, t = checked(engine.jvp, engine.trace(fn, x))(x, np.ones_like(x))
    assert np.all(np.isfinite(t)) and t[0] == 0 and t[1] == 0, t


@pytest.mark.parametrize("target", ["numpy", "cpu"])
def test_where_gradient_compiled(target):
    x = np.array([-1.0, 0.0, 2.0])
    f = engine.trace(lambda x: ops.sum(WHERE_CHAINS["sqrt_log"](x)), x)
    g = checked(engine.grad, f)
    gg = checked(engine.grad, engine.trace(lambda x: ops.sum(g(x)), x))
    for fn in (g, gg):
        got = jit()(fn, target=target)(x)
        assert np.all(np.isfinite(got)), got
        assert_close(got, fn(x), "float64")


def test_pow_derivatives_at_zero_base():
    gx = _grad1(lambda x: ops.sum(x ** 2.0), np.array([0.0, 3.0]))
    np.testing.assert_array_equal(gx, [0.0, 6.0])
    f = engine.trace(lambda x, y: x ** y, 0.0, 2.0)
    gx, gy = checked(engine.grad, f)(0.0, 2.0)
    assert float(gx) == 0.0 and float(gy) == 0.0


def test_stop_gradient_blocks_the_derivative():
    assert float(_grad1(lambda x: x * ops.stop_gradient(x), 3.0)) == 3.0
    assert float(_grad1(lambda x: ops.stop_gradient(x * x) + x, 3.0)) == 1.0


def test_logsumexp_and_softmax_with_infinite_entries():
    x = np.array([-np.inf, 0.0, 1.0])
    f = engine.trace(lambda x: ops.logsumexp(x), x)
    assert_close(f(x), np.log(np.exp(0.0) + np.exp(1.0)), "float64")
    g = checked(engine.grad, f)(x)
    assert np.all(np.isfinite(g)) and g[0] == 0.0
    assert_close(g, [0.0, 1 / (1 + np.e), np.e / (1 + np.e)], "float64")
    s = engine.trace(lambda x: ops.softmax(x), x)(x)
    assert_close(s, [0.0, 1 / (1 + np.e), np.e / (1 + np.e)], "float64")
    allneg = np.full(3, -np.inf)
    assert f(allneg) == -np.inf
