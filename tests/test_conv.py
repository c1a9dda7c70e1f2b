"""Convolution and pooling: known answers, the tie and padding conventions, the kernels against
their numpy references, transposition identities, second derivatives, error messages, a CNN
training step compiled for cpu, and a standalone export. The op table (``optable.py``) runs the
generic checks (reference, targets, VJP, JVP, grad2) on every conv and pooling primitive."""
from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

import adjit
from adjit import Spec, compiler, engine, ops
from adjit.engine import Function, GraphError, var
from adjit.ops import conv_kernels as K
import naive_conv as naive
from support import as_list, assert_close, checked, numeric_grad
from test_export import load, run_isolated


def _compiled(f, *args, targets=("numpy", "cpu")):
    """``f(*args)`` by the reference interpreter, and each target's result checked against it."""
    want = as_list(f(*args))
    for target in targets:
        got = as_list(compiler.jit(f, target)(*args))
        for a, b in zip(got, want):
            assert np.asarray(a).dtype == b.dtype, target
            assert_close(a, b, b.dtype.name, what=f"{f.name} ({target})")
    return want


# --- known answers ------------------------------------------------------------------------------
KNOWN = [  # (input size, padding, stride, output size)
    (4, "valid", 1, 2), (5, "valid", 2, 2), (5, 1, 2, 3), (5, 1, 1, 5), (5, 2, 1, 7)]


def test_output_sizes_and_values_of_the_classic_cases():
    rng = np.random.default_rng(0)
    xs, outs, args = [], [], []
    for k, (size, padding, stride, out) in enumerate(KNOWN):
        x, w = var(f"x{k}", (2, size, size, 1)), var(f"w{k}", (3, 3, 1, 2))
        y = ops.conv2d(x, w, stride=stride, padding=padding)
        assert y.shape == (2, out, out, 2)
        xs += [x, w]
        outs.append(y)
        args += [rng.normal(size=x.shape), rng.normal(size=w.shape)]
    f = Function(xs, tuple(outs), name="classic")
    got = _compiled(f, *args)
    for k, (size, padding, stride, out) in enumerate(KNOWN):
        assert_close(got[k], naive.conv2d(args[2 * k], args[2 * k + 1], stride, padding), "float64")


def test_a_difference_kernel_is_each_pixel_minus_its_left_neighbour():
    x = var("x", (2, 5, 6, 1))
    f = Function([x], ops.conv2d(x, np.array([-1.0, 1.0]).reshape(1, 2, 1, 1)), name="edges")
    image = np.random.default_rng(1).normal(size=(2, 5, 6, 1))
    for target in ("numpy", "cpu"):
        np.testing.assert_array_equal(compiler.jit(f, target)(image), image[:, :, 1:] - image[:, :, :-1])
    np.testing.assert_array_equal(f(image), image[:, :, 1:] - image[:, :, :-1])


def test_same_padding_puts_the_odd_cell_at_the_bottom_right():
    x = var("x", (1, 4, 4, 1))
    y = ops.conv2d(x, np.ones((2, 2, 1, 1)), padding="same")
    assert y.params["padding"] == ((0, 1), (0, 1)) and y.shape == (1, 4, 4, 1)
    y = ops.conv2d(x, np.ones((3, 3, 1, 1)), stride=2, padding="same")  # total 1 for a 4 with stride 2
    assert y.params["padding"] == ((0, 1), (0, 1)) and y.shape == (1, 2, 2, 1)
    y = ops.conv2d(var("x", (1, 7, 7, 1)), np.ones((3, 3, 1, 1)), dilation=2, padding="same")  # spans 5
    assert y.params["padding"] == ((2, 2), (2, 2)) and y.shape == (1, 7, 7, 1)


# --- conventions --------------------------------------------------------------------------------
def test_maxpool_ties_go_to_the_first_maximum_and_a_nan_wins():
    nan = np.nan
    x = np.array([[1, 3, 0, 0], [3, 2, 0, 0], [5, 5, nan, 7], [5, 1, 7, nan]]).reshape(1, 4, 4, 1)
    y = np.zeros((1, 3, 3, 1))
    y[0, 1, 1, 0] = 9.0  # the maximum of all four overlapping windows
    a, b = var("a", x.shape), var("b", y.shape)
    weights = np.arange(1.0, 5.0).reshape(1, 2, 2, 1)
    f = Function([a, b], ops.sum(ops.maxpool2d(a, 2) * weights) + ops.sum(ops.maxpool2d(b, 2, 1) * weights),
                 name="ties")
    value = f(x, y)
    assert np.isnan(value)  # a window with a NaN pools to NaN
    ga, gb = _compiled(checked(engine.grad, f), x, y)
    want = np.zeros((4, 4))
    want[0, 1], want[0, 2], want[2, 0], want[2, 2] = 1, 2, 3, 4  # row-major first winners; the NaN
    np.testing.assert_array_equal(ga[0, :, :, 0], want)
    assert gb[0, 1, 1, 0] == weights.sum() and gb.sum() == weights.sum()  # overlapping windows add up
    _, tangent = checked(engine.jvp, Function([a], ops.maxpool2d(a, 2)))(x, np.arange(16.0).reshape(x.shape))
    np.testing.assert_array_equal(tangent[0, :, :, 0], [[1, 2], [8, 10]])  # the same winners


def test_avgpool_does_not_count_padded_cells():
    x = var("x", (1, 3, 3, 1))
    f = Function([x], ops.avgpool2d(x, 2, padding="same"), name="avg")
    image = np.arange(9.0).reshape(1, 3, 3, 1)
    (out,) = _compiled(f, image)
    np.testing.assert_array_equal(out[0, :, :, 0], [[2.0, 3.5], [6.5, 8.0]])
    (g,) = _compiled(checked(engine.grad, Function([x], ops.sum(f(x)))), image)
    np.testing.assert_array_equal(g[0, :, :, 0], [[0.25, 0.25, 0.5], [0.25, 0.25, 0.5], [0.5, 0.5, 1.0]])


def test_global_avgpool_is_the_mean_of_each_map():
    x = np.random.default_rng(2).normal(size=(2, 3, 4, 5)).astype(np.float32)
    f = engine.trace(ops.global_avgpool, x)
    got = f(x)
    assert got.shape == (2, 5) and got.dtype == np.float32
    assert_close(got, x.mean(axis=(1, 2)), "float32")


# --- kernels ------------------------------------------------------------------------------------
def _configs(rng, count):
    """Random convolution and pooling settings, both dtypes, with padding below the window."""
    for k in range(count):
        kh, kw = (int(v) for v in rng.integers(1, 4, 2))
        strides, dilation = tuple(int(v) for v in rng.integers(1, 3, 2)), tuple(int(v) for v in rng.integers(1, 3, 2))
        padding = tuple(tuple(int(v) for v in rng.integers(0, 3, 2)) for _ in range(2))
        n, c, co = (int(v) for v in rng.integers(1, 4, 3))
        dtype = ("float32", "float64")[k % 2]
        x = rng.normal(size=(n, int(rng.integers(6, 10)), int(rng.integers(6, 10)), c)).astype(dtype)
        yield x, rng.normal(size=(kh, kw, c, co)).astype(dtype), strides, padding, dilation
    # several im2col chunks (a GEMM per chunk), with padding and stride 1
    yield rng.normal(size=(3, 20, 20, 4)), rng.normal(size=(3, 3, 4, 5)), (1, 1), ((1, 1), (1, 1)), (1, 1)


def test_conv_kernels_match_the_numpy_references_and_transpose_each_other():
    rng = np.random.default_rng(3)
    for x, w, strides, padding, dilation in _configs(rng, 12):
        tol = 1e-5 if x.dtype == np.float32 else 1e-12
        ints = dict(sh=strides[0], sw=strides[1], pt=padding[0][0], pl=padding[1][0], dh=dilation[0], dw=dilation[1])
        out = K.conv2d_fwd(x, w, pb=padding[0][1], pr=padding[1][1], **ints)
        assert out.dtype == x.dtype
        assert_close(out, K.conv2d_np(x, w, strides, padding, dilation), x.dtype.name)
        assert_close(out, naive.conv2d_p(x, w, strides, padding, dilation), x.dtype.name)
        ct = rng.normal(size=out.shape).astype(x.dtype)
        dx = K.conv2d_bwd_input(ct, w, h=x.shape[1], wd=x.shape[2], **ints)
        dw = K.conv2d_bwd_weight(x, ct, kh=w.shape[0], kw=w.shape[1], **ints)
        assert dx.dtype == x.dtype and dw.dtype == x.dtype
        assert_close(dx, K.conv2d_input_grad_np(ct, w, x.shape[1:3], strides, padding, dilation), x.dtype.name)
        assert_close(dw, K.conv2d_weight_grad_np(x, ct, w.shape[:2], strides, padding, dilation), x.dtype.name)
        inner = float(np.sum(out * ct, dtype=np.float64))  # <conv(x, w), ct> = <x, dx> = <w, dw>
        for a, b in ((x, dx), (w, dw)):
            assert abs(inner - float(np.sum(a * b, dtype=np.float64))) <= 10 * tol * np.sum(np.abs(out * ct))


def test_pool_kernels_match_the_numpy_references_and_transpose_each_other():
    rng = np.random.default_rng(4)
    for x, w, strides, _, _ in _configs(rng, 12):
        pool = w.shape[:2]
        padding = tuple((int(rng.integers(0, k)), int(rng.integers(0, k))) for k in pool)
        x = np.round(x * 2).astype(np.float64)  # ties
        x.flat[rng.integers(0, x.size, 2)] = np.nan
        ints = dict(ph=pool[0], pw=pool[1], sh=strides[0], sw=strides[1], pt=padding[0][0], pl=padding[1][0])
        out = K.maxpool2d_fwd(x, pb=padding[0][1], pr=padding[1][1], **ints)
        np.testing.assert_array_equal(out, naive.maxpool2d(x, pool, strides, padding))
        np.testing.assert_array_equal(out, K.maxpool2d_np(x, pool, strides, padding))
        ct, t = rng.normal(size=out.shape), rng.normal(size=x.shape)
        gathered = K.maxpool2d_gather(x, t, pb=padding[0][1], pr=padding[1][1], **ints)
        routed = K.maxpool2d_bwd(x, ct, **ints)
        np.testing.assert_array_equal(gathered, K.maxpool2d_gather_np(x, t, pool, strides, padding))
        assert_close(routed, K.maxpool2d_grad_np(x, ct, pool, strides, padding), "float64")
        assert_close(np.sum(routed * t), np.sum(ct * gathered), "float64")
        xf = np.nan_to_num(x)
        mean = K.avgpool2d_fwd(xf, pb=padding[0][1], pr=padding[1][1], **ints)
        assert_close(mean, naive.avgpool2d(xf, pool, strides, padding), "float64")
        back = K.avgpool2d_bwd(ct, h=x.shape[1], wd=x.shape[2], **ints)
        assert_close(back, K.avgpool2d_grad_np(ct, x.shape[1:3], pool, strides, padding), "float64")
        assert_close(np.sum(mean * ct), np.sum(xf * back), "float64")


def test_conv_kernel_paths_chosen_by_shape_match_the_references():
    """The wide unfolding (stride 1, few input channels) and im2col, each on cases it takes."""
    rng = np.random.default_rng(5)
    cases = [  # (x, w, strides, padding, dilation, wide)
        ((4, 9, 8, 1), (3, 2, 1, 5), (1, 1), ((1, 2), (0, 1)), (2, 1), True),
        ((3, 7, 7, 3), (2, 3, 3, 2), (1, 1), ((0, 0), (2, 2)), (1, 2), True),
        ((40, 6, 6, 1), (1, 1, 1, 3), (1, 1), ((0, 0), (0, 0)), (1, 1), True),  # several chunks of images
        ((2, 8, 8, K.WIDE_CHANNELS + 1), (3, 3, K.WIDE_CHANNELS + 1, 2), (1, 1), ((1, 1), (1, 1)), (1, 1), False),
        ((2, 9, 9, 1), (3, 3, 1, 2), (2, 1), ((1, 1), (0, 0)), (1, 1), False),
        ((2, 9, 9, 1), (7, 7, 1, 2), (1, 1), ((0, 0), (0, 0)), (1, 1), False),  # 9 columns for 3 outputs
    ]
    for xs, ws, strides, padding, dilation, wide in cases:
        for dtype in ("float32", "float64"):
            x, w = rng.normal(size=xs).astype(dtype), rng.normal(size=ws).astype(dtype)
            ints = dict(sh=strides[0], sw=strides[1], pt=padding[0][0], pl=padding[1][0],
                        dh=dilation[0], dw=dilation[1])
            out = K.conv2d_fwd(x, w, pb=padding[0][1], pr=padding[1][1], **ints)
            assert K._is_wide(xs[3], *strides, out.shape[2], xs[2] + sum(padding[1])) == wide
            assert out.dtype == x.dtype
            assert_close(out, K.conv2d_np(x, w, strides, padding, dilation), dtype)
            ct = rng.normal(size=out.shape).astype(dtype)
            dw = K.conv2d_bwd_weight(x, ct, kh=ws[0], kw=ws[1], **ints)
            assert dw.dtype == x.dtype
            assert_close(dw, K.conv2d_weight_grad_np(x, ct, ws[:2], strides, padding, dilation), dtype)


def test_pool_2x2_tiles_and_the_general_loops_agree_with_the_references():
    rng = np.random.default_rng(6)
    cases = [  # (x shape, pool, strides, padding, 2x2 tiles)
        ((2, 8, 6, 3), (2, 2), (2, 2), ((0, 0), (0, 0)), True),
        ((2, 7, 9, 6), (2, 2), (2, 2), ((0, 0), (0, 0)), True),   # an odd last row and column: left out
        ((2, 7, 9, 6), (2, 2), (2, 2), ((0, 1), (0, 1)), False),  # ... or padded: a window of one row
        ((2, 8, 8, 2), (2, 2), (1, 1), ((0, 0), (0, 0)), False),  # overlapping
        ((2, 9, 9, 2), (3, 3), (3, 3), ((0, 0), (0, 0)), False),
    ]
    for shape, pool, strides, padding, tiles in cases:
        x = np.round(rng.normal(size=shape) * 2)  # ties
        x.flat[rng.integers(0, x.size, 4)] = np.nan
        ints = dict(ph=pool[0], pw=pool[1], sh=strides[0], sw=strides[1], pt=padding[0][0], pl=padding[1][0])
        out = K.maxpool2d_fwd(x, pb=padding[0][1], pr=padding[1][1], **ints)
        assert K._tiles_2x2(*pool, *strides, padding[0][0], padding[1][0], *shape[1:3], *out.shape[1:3]) == tiles
        np.testing.assert_array_equal(out, K.maxpool2d_np(x, pool, strides, padding))
        ct = rng.normal(size=out.shape)
        routed = K.maxpool2d_bwd(x, ct, **ints)
        assert_close(routed, K.maxpool2d_grad_np(x, ct, pool, strides, padding), "float64")  # overlaps add up


# --- second derivatives -------------------------------------------------------------------------
def test_hessian_vector_product_of_a_conv_net():
    """Forward over reverse through conv2d, its gradient primitives and their own rules."""
    rng = np.random.default_rng(5)
    x, w = rng.normal(size=(2, 5, 5, 2)), rng.normal(size=(3, 3, 2, 3)) * 0.5

    def f(x, w):
        return ops.sum(ops.tanh(ops.conv2d(x, w, stride=2, padding="same")) ** 2)
    F = engine.trace(f, x, w)
    g = checked(engine.grad, F)
    hvp = checked(engine.jvp, g)
    vx, vw = rng.normal(size=x.shape), rng.normal(size=w.shape)
    _, _, tx, tw = hvp(x, w, vx, vw)
    h = 1e-5
    plus, minus = g(x + h * vx, w + h * vw), g(x - h * vx, w - h * vw)
    assert_close(tx, (plus[0] - minus[0]) / (2 * h), "float64", rtol=1e-6)
    assert_close(tw, (plus[1] - minus[1]) / (2 * h), "float64", rtol=1e-6)
    def v_dot_grad(x, w):
        gx, gw = g(x, w)
        return ops.sum(gx * vx) + ops.sum(gw * vw)
    hx, hw = checked(engine.grad, engine.trace(v_dot_grad, x, w))(x, w)  # reverse over reverse: H v again
    assert_close(hx, tx, "float64", rtol=1e-9)
    assert_close(hw, tw, "float64", rtol=1e-9)


# --- a CNN training step --------------------------------------------------------------------------
def cnn_loss(K1, c1, K2, c2, W, b, x, y):
    h = ops.maxpool2d(ops.relu(ops.conv2d(x, K1, padding="same") + c1), 2)
    h = ops.maxpool2d(ops.relu(ops.conv2d(h, K2) + c2), 2)
    logits = ops.reshape(h, (-1, 2 * 2 * 6)) @ W + b
    return -ops.mean(ops.sum(ops.log_softmax(logits) * y, axis=-1))


def _cnn_params(rng, dtype):
    shapes = [(3, 3, 1, 4), (4,), (3, 3, 4, 6), (6,), (24, 3), (3,)]
    return [(rng.normal(size=s) * 0.4).astype(dtype) for s in shapes]


def test_cnn_training_step_compiled_for_cpu_matches_the_reference_in_float32():
    rng = np.random.default_rng(6)
    params = _cnn_params(rng, np.float32)
    specs = [Spec(p.shape, "float32") for p in params] + [Spec((None, 12, 12, 1), "float32"), Spec((None, 3), "float32")]
    step = checked(engine.value_and_grad, engine.trace(cnn_loss, *specs), wrt=list(range(6)))
    fast = compiler.jit(step, "cpu")
    for n in (5, 3):  # one compilation serves every batch size
        x = rng.normal(size=(n, 12, 12, 1)).astype(np.float32)
        y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)]
        want, got = step(*params, x, y), fast(*params, x, y)
        for a, b in zip(got, want):
            assert np.asarray(a).dtype == np.float32 and np.asarray(b).dtype == np.float32
            assert_close(a, b, "float32", rtol=1e-5)
    assert fast.cache_misses + fast.cache_hits == 1
    # and the float64 gradient of the same step against central differences, for the first kernel
    p64, x = [p.astype(np.float64) for p in params], rng.normal(size=(2, 12, 12, 1))
    y = np.eye(3)[[0, 2]]
    f64 = engine.trace(cnn_loss, *p64, x, y)
    g = checked(engine.grad, f64, wrt=[0])(*p64, x, y)
    assert_close(g, numeric_grad(lambda *a: f64(*a), p64 + [x, y], 0), "float64", rtol=1e-6)


# --- errors -------------------------------------------------------------------------------------
def _message(build) -> str:
    with pytest.raises(GraphError) as info:
        build()
    message = str(info.value)
    assert "\n" not in message and "(at test_conv.py:" in message, message
    return message


def test_errors_name_the_op_the_shapes_and_the_argument():
    x, x2 = var("x", (1, 4, 4, 1)), var("x2", (1, 4, 4, 2))
    w, w32 = np.ones((3, 3, 1, 1)), var("w32", (3, 3, 1, 1), "float32")
    cases = [
        (lambda: ops.conv2d(x, np.ones((5, 5, 1, 1))), ["conv2d", "(1, 4, 4, 1)", "(5, 5, 1, 1)", "padded input 4x4"]),
        (lambda: ops.conv2d(x, np.ones((2, 2, 1, 1)), dilation=4), ["spans 5x5", "dilation (4, 4)"]),
        (lambda: ops.conv2d(x, w, stride=0), ["conv2d", "(1, 4, 4, 1)", "(3, 3, 1, 1)", "stride", "0"]),
        (lambda: ops.conv2d(x, w, dilation=(1, -1)), ["dilation", "(1, -1)"]),
        (lambda: ops.conv2d(x2, w), ["conv2d", "(1, 4, 4, 2)", "(3, 3, 1, 1)", "2 input channels", "expects 1"]),
        (lambda: ops.conv2d(var("v", (4, 4, 1)), w), ["conv2d", "x (4, 4, 1)", "rank 4"]),
        (lambda: ops.conv2d(x, w32), ["conv2d", "dtypes float64 and float32"]),
        (lambda: ops.conv2d(var("i", (1, 4, 4, 1), "int64"), np.ones((3, 3, 1, 1), np.int64)), ["float inputs"]),
        (lambda: ops.conv2d(x, w, padding="full"), ["conv2d", "padding", "'full'"]),
        (lambda: ops.conv2d(x, w, padding=((1, 2), (3,))), ["padding", "((1, 2), (3,))"]),
        (lambda: ops.conv2d(var("d", (None, None, 4, 1)), w), ["x (?, ?, 4, 1)", "height and width of x", "static"]),
        (lambda: ops.maxpool2d(x, 2, padding=2), ["maxpool2d", "x (1, 4, 4, 1)", "padding ((2, 2), (2, 2))",
                                                  "no cell of x"]),
        (lambda: ops.avgpool2d(x, 5), ["avgpool2d", "pool (5, 5)", "padded input 4x4"]),
        (lambda: ops.maxpool2d(x, (2, 0)), ["maxpool2d", "pool", "(2, 0)"]),
        (lambda: ops.global_avgpool(var("v", (4, 4, 1))), ["global_avgpool", "(4, 4, 1)", "rank 4"]),
    ]
    for build, parts in cases:
        message = _message(build)
        for part in parts:
            assert part in message, (part, message)


def test_gradient_primitives_check_their_shapes():
    from adjit.engine.primitive import bind
    conv = dict(strides=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1))
    ct, w = var("ct", (1, 3, 3, 2)), var("w", (2, 2, 1, 2))
    message = _message(lambda: bind("conv2d_input_grad", ct, w, input_hw=(5, 5), **conv))
    assert "conv2d_input_grad: ct (1, 3, 3, 2) and w (2, 2, 1, 2)" in message and "(N, 4, 4, 2)" in message
    message = _message(lambda: bind("conv2d_weight_grad", var("x", (1, 5, 5, 1)), ct, kernel_hw=(2, 2), **conv))
    assert "conv2d_weight_grad: x (1, 5, 5, 1) and ct (1, 3, 3, 2)" in message and "(N, 4, 4, Cout)" in message
    pool = dict(pool=(2, 2), strides=(2, 2), padding=((0, 0), (0, 0)))
    message = _message(lambda: bind("maxpool2d_grad", var("x", (1, 4, 4, 2)), ct, **pool))
    assert "maxpool2d_grad: x (1, 4, 4, 2) and ct (1, 3, 3, 2): ct must be f64[1,2,2,2]" in message


# --- export and docs ------------------------------------------------------------------------------
def conv_pool_loss(w, x):
    return ops.sum(ops.maxpool2d(ops.relu(ops.conv2d(x, w, stride=(1, 2), padding="same")), 2, 1) ** 2)


def test_exported_conv_gradient_runs_without_adjit(tmp_path):
    rng = np.random.default_rng(7)
    fn = adjit.value_and_grad(conv_pool_loss, wrt=0)
    example = [Spec((3, 3, 2, 3)), Spec((None, 6, 6, 2))]
    calls = [[rng.normal(size=(3, 3, 2, 3)), rng.normal(size=(n, 6, 6, 2))] for n in (2, 1)]
    runs = {}
    for target, kernels, block in (("cpu", ("conv2d_fwd", "conv2d_bwd_weight", "_im2col", "maxpool2d_bwd"), ("adjit",)),
                                   ("numpy", ("conv2d_np", "conv2d_weight_grad_np", "maxpool2d_grad_np"),
                                    ("adjit", "numba"))):
        path = compiler.export(fn, tmp_path / f"conv_{target}.py", *example, target=target)
        text = path.read_text()
        assert all(f"\ndef {k}(" in text for k in kernels) and ("numba" in text) == (target == "cpu")
        runs[target] = run_isolated(tmp_path, [(path, load(path).__all__[0], calls)], block, target)
    for target, results in runs.items():  # the processes ran meanwhile
        jitted = compiler.jit(fn, target)
        (got,), _ = results()
        for g_call, args in zip(got, calls):
            for g, w in zip(g_call, jitted(*args)):
                np.testing.assert_allclose(g, w, rtol=1e-12)


def test_docstring_examples_run():
    assert doctest.testmod(importlib.import_module("adjit.ops.conv")).failed == 0
