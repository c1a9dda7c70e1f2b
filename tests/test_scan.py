"""ops.scan: values and derivatives against the same loops unrolled by hand in Python and against
central differences, on the reference interpreter and the compiled targets; the IR (printing,
keys, checker, passes inside the body); a real loop whose compile time and source do not depend
on the length; and one-line errors."""
from __future__ import annotations

import functools
import re
import time

import numpy as np
import pytest

from adjit import compiler, engine, ops
from adjit.engine import Function, GraphError, Spec, check_function, var
from adjit.engine.ir import TupleAval
from adjit.engine.primitive import bind
from support import as_list, assert_close, checked, jit, numeric_grad

_rng = np.random.default_rng(5)


def _normal(*shape, scale=1.0):
    return _rng.normal(size=shape) * scale


# --- programs: each with a scan and the same loop unrolled by hand --------------------------------------
def elman(W, U, b, h0, xs):
    """h_t = tanh(W h_{t-1} + U x_t + b), loss on the ys (every h_t) and the final h."""
    hT, hs = ops.scan(lambda h, x: (ops.tanh(W @ h + U @ x + b),) * 2, h0, xs)
    return ops.sum(hs * hs) + ops.sum(hT)


def elman_unrolled(W, U, b, h0, xs):
    h, loss = h0, 0.0
    for t in range(xs.shape[0]):
        h = ops.tanh(W @ h + U @ xs[t] + b)
        loss = loss + ops.sum(h * h)
    return loss + ops.sum(h)


def lstm(W, b, h0, c0, xs):
    """A tuple carry (h, c): an LSTM cell, loss on the ys and on the final cell state."""
    n = h0.shape[0]

    def cell(carry, x):
        h, c = carry
        z = ops.concatenate([h, x]) @ W + b
        i, f, o, g = ops.sigmoid(z[:n]), ops.sigmoid(z[n:2 * n]), ops.sigmoid(z[2 * n:3 * n]), ops.tanh(z[3 * n:])
        c = f * c + i * g
        h = o * ops.tanh(c)
        return (h, c), h
    (h, c), hs = ops.scan(cell, (h0, c0), xs)
    return ops.sum(hs ** 2) + ops.sum(c)


def lstm_unrolled(W, b, h0, c0, xs):
    n, h, c, loss = h0.shape[0], h0, c0, 0.0
    for t in range(xs.shape[0]):
        z = ops.concatenate([h, xs[t]]) @ W + b
        i, f, o, g = ops.sigmoid(z[:n]), ops.sigmoid(z[n:2 * n]), ops.sigmoid(z[2 * n:3 * n]), ops.tanh(z[3 * n:])
        c = f * c + i * g
        h = o * ops.tanh(c)
        loss = loss + ops.sum(h ** 2)
    return loss + ops.sum(c)


def reverse(w, xs):
    """reverse=True: steps run from the last x to the first; ys[t] is still step t's."""
    c, ys = ops.scan(lambda c, x: (ops.sin(c * w + x), c * x), 0.5, xs, reverse=True)
    return ops.sum(ys * ops.cos(ys)) + c


def reverse_unrolled(w, xs):
    c, total = 0.5, 0.0
    for t in reversed(range(xs.shape[0])):
        total = total + c * xs[t] * ops.cos(c * xs[t])
        c = ops.sin(c * w + xs[t])
    return total + c


def no_xs(a, b):
    """xs=None with a length: the body gets x=None."""
    c, ys = ops.scan(lambda c, x: (c * a + b, ops.exp(c)), 0.3, None, length=4)
    return ops.sum(ys) * c


def no_xs_unrolled(a, b):
    c, total = 0.3, 0.0
    for _ in range(4):
        total, c = total + ops.exp(c), c * a + b
    return total * c


def nested(w, xs):
    """A scan over the rows of each x inside a scan over the xs, with a weight of the outermost
    graph captured by the inner body."""
    def row(h, x):
        c, _ = ops.scan(lambda c, r: (ops.tanh(c * w + r), None), h, x)
        return c, c * h
    h, ys = ops.scan(row, ops.zeros_like(w), xs)
    return ops.sum(ys) + ops.sum(h * h)


def nested_unrolled(w, xs):
    h, total = 0.0 * w, 0.0
    for t in range(xs.shape[0]):
        c = h
        for r in range(xs.shape[1]):
            c = ops.tanh(c * w + xs[t, r])
        total, h = total + ops.sum(c * h), c
    return total + ops.sum(h * h)


def truncated(W, h0, xs):
    """stop_gradient on the carry: the gradient of each step stops at the step before."""
    hT, hs = ops.scan(lambda h, x: (ops.tanh(W @ ops.stop_gradient(h) + x),) * 2, h0, xs)
    return ops.sum(hs ** 2)


def truncated_unrolled(W, h0, xs):
    h, loss = h0, 0.0
    for t in range(xs.shape[0]):
        h = ops.tanh(W @ ops.stop_gradient(h) + xs[t])
        loss = loss + ops.sum(h ** 2)
    return loss


# name: (with scan, unrolled, example arguments, central differences are the reference)
PROGRAMS = {
    "elman": (elman, elman_unrolled, (_normal(4, 4, scale=0.4), _normal(4, 3, scale=0.5), _normal(4, scale=0.1),
                                      _normal(4), _normal(5, 3)), True),
    "lstm": (lstm, lstm_unrolled, (_normal(5, 12, scale=0.4), _normal(12, scale=0.1), _normal(3), _normal(3),
                                   _normal(4, 2)), True),
    "reverse": (reverse, reverse_unrolled, (np.float64(0.8), _normal(6)), True),
    "no_xs": (no_xs, no_xs_unrolled, (np.float64(0.9), np.float64(0.2)), True),
    "nested": (nested, nested_unrolled, (_normal(2), _normal(3, 4, 2)), True),
    "truncated": (truncated, truncated_unrolled, (_normal(3, 3, scale=0.5), _normal(3), _normal(4, 3)), False),
}


def traced(name, unrolled=False) -> Function:
    fn, by_hand, args, _ = PROGRAMS[name]
    f = engine.trace(by_hand if unrolled else fn, *args)
    check_function(f)
    return f


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_values_and_gradients_match_the_loop_unrolled_by_hand(name):
    args, exact = PROGRAMS[name][2], PROGRAMS[name][3]
    f, g = traced(name), traced(name, unrolled=True)
    assert sum(n.prim == "scan" for n in f.nodes) == 1 and not any(n.prim == "scan" for n in g.nodes)
    assert_close(f(*args), g(*args), "float64")
    grads = as_list(checked(engine.grad, f)(*args))
    for k, (a, b) in enumerate(zip(grads, as_list(engine.grad(g)(*args)))):
        assert a.shape == np.shape(args[k])
        assert_close(a, b, "float64", what=f"{name}: d/d arg {k}, scan vs unrolled")
        if exact:
            assert_close(a, numeric_grad(f, args, k), "float64", rtol=1e-6, what=f"{name}: d/d arg {k}")


def test_stop_gradient_on_the_carry_cuts_the_gradient_between_steps():
    args = PROGRAMS["truncated"][2]
    _, dh0, _ = engine.grad(traced("truncated"))(*args)
    np.testing.assert_array_equal(dh0, 0.0)
    full = engine.trace(lambda W, h0, xs: ops.sum(ops.scan(lambda h, x: (ops.tanh(W @ h + x),) * 2, h0, xs)[1] ** 2),
                        *args)
    assert np.abs(engine.grad(full)(*args)[1]).max() > 1e-3  # without stop_gradient h0 matters


def test_jvp_agrees_with_vjp_and_the_jacobian_modes_agree():
    for name in ("elman", "lstm", "nested"):
        f, args = traced(name), PROGRAMS[name][2]
        vs = [_normal(*np.shape(a)) for a in args]
        _, tangent = checked(engine.jvp, f)(*args, *vs)
        grads = as_list(engine.grad(f)(*args))
        assert_close(tangent, sum(np.sum(g * v) for g, v in zip(grads, vs)), "float64", what=name)
    W, h0, xs = PROGRAMS["truncated"][2][0], _normal(3), _normal(4, 3)
    hs = engine.trace(lambda W, h0, xs: ops.scan(lambda h, x: (ops.tanh(W @ h + x),) * 2, h0, xs)[1], W, h0, xs)
    fwd, rev = (as_list(checked(engine.jacobian, hs, wrt=[1, 2], mode=m)(W, h0, xs)) for m in ("fwd", "rev"))
    assert fwd[0].shape == (4, 3, 3) and fwd[1].shape == (4, 3, 4, 3)
    for a, b in zip(fwd, rev):
        assert_close(a, b, "float64")


def test_grad_of_grad_and_hessian():
    f, args = traced("elman"), PROGRAMS["elman"][2]
    g = checked(engine.grad, f, wrt="h0")
    v = _normal(4)
    inner = Function(f.inputs, ops.sum(g(*f.inputs) * v), name="v_dot_grad")
    hv = checked(engine.grad, inner, wrt="h0")(*args)
    h = 1e-5
    plus, minus = list(args), list(args)
    plus[3], minus[3] = args[3] + h * v, args[3] - h * v
    assert_close(hv, (g(*plus) - g(*minus)) / (2 * h), "float64", rtol=1e-6)
    hess = checked(engine.hessian, f, wrt="h0")(*args)
    assert_close(hess @ v, hv, "float64")
    assert_close(hess, hess.T, "float64")
    assert_close(engine.grad(engine.grad(traced("no_xs"), wrt="a"))(*PROGRAMS["no_xs"][2]),
                 engine.grad(engine.grad(traced("no_xs", True), wrt="a"))(*PROGRAMS["no_xs"][2]), "float64")


def _cumulative(xs):
    total, sums = ops.scan(lambda c, x: (c + x, c + x), ops.zeros_like(xs[0]), xs)
    product, products = ops.scan(lambda c, x: (c * x, c * x), ops.ones_like(xs[0]), xs)
    return total, sums, product, products


def test_cumulative_sum_and_product_against_numpy():
    xs = _normal(5, 3)
    total, sums, product, products = engine.trace(_cumulative, xs)(xs)
    assert_close(sums, np.cumsum(xs, axis=0), "float64")
    assert_close(products, np.cumprod(xs, axis=0), "float64")
    assert_close(total, xs.sum(axis=0), "float64")
    assert_close(product, xs.prod(axis=0), "float64")


@functools.lru_cache(maxsize=None)
def _compiled_cases() -> dict:
    """name: (Function, arguments, outputs wanted): every program's value and gradients (wanted:
    the loop unrolled by hand), a grad of grad, a JVP, the cumulative sum and product."""
    cases = {}
    for name, (_, _, args, _) in PROGRAMS.items():
        by_hand = as_list(engine.value_and_grad(traced(name, unrolled=True))(*args))
        cases[name] = (engine.value_and_grad(traced(name)), args, by_hand)
    f, args = traced("reverse"), PROGRAMS["reverse"][2]
    gg = engine.grad(Function(f.inputs, ops.sum(engine.grad(f, wrt="w")(*f.inputs) ** 2), name="gg"))
    cases["grad_of_grad"] = (gg, args, as_list(gg(*args)))
    for name in ("lstm", "nested"):
        jf, args = engine.jvp(traced(name)), PROGRAMS[name][2]
        args = args + tuple(_normal(*np.shape(a)) for a in args)
        cases[f"jvp_{name}"] = (jf, args, as_list(jf(*args)))
    xs = _normal(5, 3)
    cases["cumulative"] = (engine.trace(_cumulative, xs), (xs,),
                           [xs.sum(0), np.cumsum(xs, 0), xs.prod(0), np.cumprod(xs, 0)])
    return cases


# numpy compiles all cases as one function. numba's compile time grows faster than the size of a
# function and each case costs it seconds, so cpu compiles a few, alone: matrix products (elman),
# a loop in a loop (nested), reverse loops and loops over cotangents of cotangents (grad_of_grad)
# and a length without xs (no_xs). The loop code of the others is made the same way.
COMPILED = [("numpy", ("elman", "lstm", "reverse", "no_xs", "nested", "truncated", "grad_of_grad", "jvp_lstm",
                       "jvp_nested", "cumulative")),
            ("cpu", ("elman",)), ("cpu", ("nested",)), ("cpu", ("grad_of_grad", "no_xs"))]


@pytest.mark.parametrize("target,names", COMPILED, ids=[f"{t}-{'-'.join(n[:2])}" for t, n in COMPILED])
def test_compiled_targets_match(target, names):
    """The cases inlined into one Function compiled once, against the reference results."""
    cases = _compiled_cases()
    inputs, outputs, args, wanted = [], [], [], []
    for name in names:
        f, f_args, want = cases[name]
        fresh = [var(f"{name}_{i.name}", i.shape, i.dtype) for i in f.inputs]
        inputs += fresh
        outputs += as_list(f(*fresh))
        args += [np.asarray(a) for a in f_args]
        wanted += want
    combined = Function(inputs, tuple(outputs), name="scans")
    check_function(combined)
    compiled = jit()(combined, target=target)
    loops = re.split(r"\n    for v\d+_t in range", compiled.source)[1:]
    assert len(loops) >= 2 * len(names)  # at least a forward and a reverse loop each
    if target == "cpu" and "elman" in names:  # buffers are reused inside a step, never across steps
        assert any("reuses a dead buffer" in loop.split("\n    v")[0] for loop in loops)
    for a, b in zip(compiled(*args), wanted, strict=True):
        assert_close(a, b, "float64", rtol=1e-10)


@pytest.mark.parametrize("target", ["numpy", "cpu"])
def test_dynamic_length_and_batch(target):
    """Sizes read at run time: one compiled function for every length and batch (zero steps
    included); xs of different lengths are refused at run time."""
    w, xs, zs = var("w", (None, 3)), var("xs", (None, None, 3)), var("zs", (None, None, 3))
    c, ys = ops.scan(lambda c, x: (c * w + x[0], x[0] * c + x[1]), w * 0.5, (xs, zs))
    f = Function([w, xs, zs], (c, ys), name="dynamic")
    compiled = jit()(f, target=target)
    for steps, batch in ((4, 2), (1, 3), (0, 2)):
        a = [_normal(batch, 3), _normal(steps, batch, 3), _normal(steps, batch, 3)]
        for got, want in zip(compiled(*a), f(*a)):
            assert got.shape == want.shape and want.shape[-2:] == (batch, 3)
            assert_close(got, want, "float64")
    for run in (compiled, f):
        with pytest.raises(ValueError, match="scan: xs have different leading lengths"):
            run(_normal(2, 3), _normal(4, 2, 3), _normal(3, 2, 3))


def test_a_y_sized_inside_the_loop():
    """A y whose size only a step computes (a slice of a dynamic dim): its stack is allocated at
    the first step."""
    xs = var("xs", (None, None, 3))
    f = Function([xs], ops.scan(lambda c, x: (c + x[0, 0], (c * x)[1:]), 0.0, xs)[1], name="sliced")
    compiled = jit()(f, target="cpu")
    assert "== 0:" in compiled.source
    a = _normal(3, 4, 3)
    assert_close(compiled(a), f(a), "float64")


def test_compile_time_and_source_do_not_grow_with_the_length(monkeypatch, tmp_path):
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path))  # compile, do not load

    def loss(w, h0, xs):
        return ops.sum(ops.scan(lambda h, x: (ops.tanh(h * w + x),) * 2, h0, xs)[1] ** 2)
    seconds, sources, sizes = [], [], []
    for steps in (10, 1000):
        f = engine.value_and_grad(engine.trace(loss, _normal(3), _normal(3), _normal(steps, 3)))
        start = time.perf_counter()
        compiled = jit()(f, target="cpu")
        compiled(_normal(3), _normal(3), _normal(steps, 3))
        seconds.append(time.perf_counter() - start)
        sources.append(compiled.source)
        sizes.append(len(compiled.function.nodes))
    assert sizes[0] == sizes[1] < 40
    # the same code: only the sizes in the comments differ
    assert re.sub(r"\d+", "#", sources[0]) == re.sub(r"\d+", "#", sources[1])
    assert seconds[1] < 2 * seconds[0] + 1.0, seconds  # unrolled, 1000 steps would take minutes


# --- the IR ---------------------------------------------------------------------------------------------
def test_printing_nests_the_body():
    text = str(traced("elman"))
    scan_line = next(line for line in text.splitlines() if "= scan[" in line)
    assert "num_carry=1, num_consts=3, reverse=False] h0 W U b xs" in scan_line
    assert "(f64[4], f64[5,4])" in scan_line
    assert "    body = body(h:f64[4], W:f64[4,4], U:f64[4,3], b:f64[4], x:f64[3]) {" in text
    assert "      v8:f64[4] = tanh v7" in text and "      return v8, v8" in text
    assert "= result[index=1] v0" in text


def test_keys_are_structural_through_the_body():
    def build(fn, name="x"):
        x = var(name, (4,))
        return Function([x], ops.scan(lambda c, a: (fn(c * a), c), 1.0, x)[1])
    assert build(ops.tanh) == build(ops.tanh) and build(ops.tanh).key == build(ops.tanh, "z").key
    assert build(ops.tanh) != build(ops.sin)
    x = var("x", (4,))
    three = Function([x], [build(ops.tanh)(x), build(ops.tanh)(x), build(ops.sin)(x)])
    assert sum(n.prim == "scan" for n in three.nodes) == 3
    assert sum(n.prim == "scan" for n in compiler.cse(three).nodes) == 2  # equal bodies: one loop


def test_checker_checks_the_body():
    x = var("x", (3,))
    bad_body = Function([x], engine.Node("add", (x, x), {}, engine.Aval((4,), "float64")))
    node = engine.Node("scan", (x,), dict(body=bad_body, num_carry=1, num_consts=0, length=2, reverse=False),
                       TupleAval((x.aval,)))
    y = bind("result", node, index=0)
    with pytest.raises(GraphError, match=r"param body: check f: v0 = add .* the shape rule gives f64\[3\]"):
        check_function(Function([x], y))
    good = ops.scan(lambda c, _: (c * 2.0, None), x, None, length=2)[0].inputs[0]
    check_function(Function([x], bind("result", good, index=0)))
    with pytest.raises(GraphError, match=r"input 0 \(v0\) has several results \(f64\[3\]\): only a result"):
        check_function(Function([x], engine.Node("neg", (good,), {}, x.aval)))
    with pytest.raises(GraphError, match="has several results"):
        Function([x], good)


def test_passes_optimize_inside_the_body_and_merge_the_forward_loops():
    xs, w = var("xs", (5, 3)), var("w", (3,))

    def body(c, x):
        return ops.tanh(c * w * 1.0 + x) + ops.tanh(c * w * 1.0 + x), (c * (2.0 + 1.0), c + 0.0)
    c, (ys, unused) = ops.scan(body, ops.zeros_like(w), xs)
    f = Function([w, xs], ops.sum(ys) + ops.sum(c), name="f")
    opt = compiler.optimize(f)
    check_function(opt)
    (scan,) = [n for n in opt.nodes if n.prim == "scan"]
    prims = [n.prim for n in scan.params["body"].nodes if n.prim not in ("var", "const")]
    assert prims.count("tanh") == 1 and "add" in prims and len(scan.params["body"].outputs) == 2  # no unused y
    assert len(scan.aval) == 2
    a = [_normal(3), _normal(5, 3)]
    assert_close(opt(*a), f(*a), "float64")
    # value_and_grad: the forward loop that saves residuals and the original become one loop;
    # gradients for w only: no loop work for the cotangent of xs
    vg = compiler.optimize(engine.value_and_grad(f, wrt="w"))
    scans = [n for n in vg.nodes if n.prim == "scan"]
    assert len(scans) == 2 and [s.params["reverse"] for s in scans] == [False, True]
    assert len(scans[1].aval) == 2  # the carries: the cotangent of c and the accumulator of w
    for got, want in zip(vg(*a), engine.value_and_grad(f, wrt="w")(*a), strict=True):
        assert_close(got, want, "float64")


# --- errors: one line, naming scan, the shapes and the line of the call ------------------------------------
def _error(build, *pieces):
    """``build()`` raises a one-line GraphError naming scan, the ``pieces`` and the line of ``build``."""
    with pytest.raises(GraphError) as info:
        build()
    message = str(info.value)
    assert message.startswith("scan: ") and "\n" not in message, message
    for piece in (*pieces, f"(at test_scan.py:{build.__code__.co_firstlineno})"):
        assert piece in message, message


def test_errors():
    c, xs, x4 = var("c", (3,)), var("xs", (4, 2)), var("x4", (5, 2))
    _error(lambda: ops.scan(lambda c, x: (ops.concatenate([c, x]), x), c, xs), "carry out f64[5]", "carry in f64[3]")
    _error(lambda: ops.scan(lambda c, x: (c.astype("float32"), x), c, xs), "carry out f32[3]", "carry in f64[3]")
    _error(lambda: ops.scan(lambda hc, x: (hc[0], x), (c, c), xs), "carry out f64[3] ", "carry in (f64[3], f64[3])")
    _error(lambda: ops.scan(lambda c, x: (c, x), c, (xs, x4)), "different leading lengths: f64[4,2] and f64[5,2]")
    _error(lambda: ops.scan(lambda c, x: (c, x), c, xs, length=3), "length=3 disagrees", "f64[4,2]")
    _error(lambda: ops.scan(lambda c, x: (c, x), c, None), "xs is None, so length must be given")
    _error(lambda: ops.scan(lambda c, x: (c, x), c, var("s")), "a scalar f64[]")
    _error(lambda: ops.scan(lambda c, x: c, c, xs), "must return a pair (carry, y), got Node")
    h = var("h", (3,))
    body = Function([h, var("x", (3,))], (h, h), name="step")
    _error(lambda: ops.scan(body, c, xs), "the body step takes 'x' as f64[3], but it gets f64[2]")


def test_a_function_body():
    h, x = var("h", (3,)), var("x", (3,))
    body = Function([h, x], (ops.tanh(h + x), h * x), name="step")
    xs = var("xs", (4, 3))
    c, ys = ops.scan(body, ops.zeros_like(xs[0]), xs)
    f = Function([xs], (c, ys))
    a = _normal(4, 3)
    c_want, ys_want = np.zeros(3), []
    for t in range(4):
        ys_want.append(c_want * a[t])
        c_want = np.tanh(c_want + a[t])
    for got, want in zip(f(a), (c_want, np.stack(ys_want))):
        assert_close(got, want, "float64")
    assert engine.trace(lambda xs: ops.scan(body, ops.zeros_like(xs[0]), xs)[1], Spec((4, 3))).key == \
        Function([xs], ys).key
