"""Checks of the ``cuda`` target that run on numba's CUDA simulator, in a process of their own
(``test_cuda.py`` starts it with ``NUMBA_ENABLE_CUDASIM=1``: the simulator replaces numba.cuda for
the whole process, so it must not run inside the main test process).

``python tests/cuda_checks.py SUITE...`` runs the named suites and prints one JSON object:
check name -> None (passed) or the failure, one line. The simulator runs each CUDA thread as a
Python thread (about 0.2 ms each), so the shapes are tiny.
"""
from __future__ import annotations

import json
import re
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from numba import cuda  # noqa: E402

from adjit import compiler, engine, ops  # noqa: E402
from adjit.compiler import device  # noqa: E402
from adjit.ops import cuda_host  # noqa: E402

CHECKS = {}


def check(suite):
    def register(fn):
        CHECKS.setdefault(suite, []).append(fn)
        return fn
    return register


def _close(got, want, rtol, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * max(1.0, float(np.nanmax(np.abs(want), initial=0))),
                               err_msg=what)


# --- the op table: every row the cpu target compiles, value and VJP ------------------------------
def optable_rows():
    from optable import TABLE
    return [op for op in TABLE if "compile" in op.checks and "cpu" in op.targets]


def _optable_check(op):
    def run():
        from support import assert_close
        from test_ops import _one_function
        g, args, labels = _one_function(op)
        want = g(*args)
        want = list(want) if isinstance(want, tuple) else [want]
        got = compiler.jit(g, "cuda")(*[a.copy() for a in args])
        got = list(got) if isinstance(got, tuple) else [got]
        assert len(got) == len(want)
        for a, b, what in zip(got, want, labels):
            if b.ndim:
                assert isinstance(a, device.array_type()), f"{what}: {type(a).__name__}, not a device array"
            a = np.asarray(a)
            assert a.dtype == b.dtype, f"{what}: dtype {a.dtype}, expected {b.dtype}"
            assert_close(a, b, b.dtype.name if b.dtype.kind == "f" else "float64", what=what)
    run.__name__ = f"optable:{op.name}"
    return run


# --- kernels against naive references -------------------------------------------------------------
def _out_size(size, k, stride, pad, dilation=1):
    return (size + pad[0] + pad[1] - dilation * (k - 1) - 1) // stride + 1


def conv_ref(x, w, strides, padding, dilation):
    n, h, wd, _ = x.shape
    (sh, sw), ((pt, pb), (pl, pr)), (dh, dw) = strides, padding, dilation
    oh, ow = _out_size(h, w.shape[0], sh, (pt, pb), dh), _out_size(wd, w.shape[1], sw, (pl, pr), dw)
    out = np.zeros((n, oh, ow, w.shape[3]), x.dtype)
    for b, i, j, m, p in np.ndindex(n, oh, ow, w.shape[0], w.shape[1]):
        r, c = i * sh + m * dh - pt, j * sw + p * dw - pl
        if 0 <= r < h and 0 <= c < wd:
            out[b, i, j] += x[b, r, c] @ w[m, p]
    return out


def conv_grads_ref(x, w, ct, strides, padding, dilation):
    """(dx, dw) of sum(conv(x, w) * ct), by the definition (scatter each product back)."""
    dx, dw_ = np.zeros_like(x), np.zeros_like(w)
    (sh, sw), ((pt, _), (pl, _)), (dh, dw) = strides, padding, dilation
    for b, i, j, m, p in np.ndindex(ct.shape[0], ct.shape[1], ct.shape[2], w.shape[0], w.shape[1]):
        r, c = i * sh + m * dh - pt, j * sw + p * dw - pl
        if 0 <= r < x.shape[1] and 0 <= c < x.shape[2]:
            dx[b, r, c] += w[m, p] @ ct[b, i, j]
            dw_[m, p] += np.outer(x[b, r, c], ct[b, i, j])
    return dx, dw_


def pool_ref(x, ct, t, pool, strides, padding, how):
    """(out, dx, gathered) of max or average pooling (padded cells skipped; max: the first
    maximum in row-major window order wins, a NaN wins), the adjoint for cotangent ``ct``, and
    (max) ``t`` at each window's maximum."""
    n, h, wd, ch = x.shape
    (ph, pw), (sh, sw), ((pt, pb), (pl, pr)) = pool, strides, padding
    oh, ow = _out_size(h, ph, sh, (pt, pb)), _out_size(wd, pw, sw, (pl, pr))
    out, dx, gathered = np.zeros((n, oh, ow, ch), x.dtype), np.zeros_like(x), np.zeros((n, oh, ow, ch), t.dtype)
    for b, i, j, c in np.ndindex(n, oh, ow, ch):
        cells = [(r, s) for r in range(i * sh - pt, i * sh - pt + ph) for s in range(j * sw - pl, j * sw - pl + pw)
                 if 0 <= r < h and 0 <= s < wd]
        if how == "avg":
            out[b, i, j, c] = sum(x[b, r, s, c] for r, s in cells) / len(cells)
            for r, s in cells:
                dx[b, r, s, c] += ct[b, i, j, c] / len(cells)
            continue
        best = cells[0]
        for r, s in cells[1:]:
            v, bv = x[b, r, s, c], x[(b,) + best + (c,)]
            if not np.isnan(bv) and (v > bv or np.isnan(v)):
                best = (r, s)
        out[b, i, j, c], gathered[b, i, j, c] = x[(b,) + best + (c,)], t[(b,) + best + (c,)]
        dx[(b,) + best + (c,)] += ct[b, i, j, c]
    return out, dx, gathered


CONV_CASES = {  # strides, padding ((top, bottom), (left, right)), dilation
    "plain": ((1, 1), ((0, 0), (0, 0)), (1, 1)),
    "strided_padded_dilated": ((2, 1), ((1, 0), (0, 2)), (1, 2)),
}
POOL_CASES = {  # pool, strides, padding
    "overlapping_padded": ((2, 3), (1, 2), ((1, 1), (0, 1))),
    "disjoint": ((2, 2), (2, 2), ((0, 0), (0, 0))),
}


def _dev(a):
    return cuda.to_device(np.ascontiguousarray(a))


def _conv_check(case, dtype):
    strides, padding, dilation = CONV_CASES[case]

    def run():
        rng = np.random.default_rng(1)
        x = rng.normal(size=(2, 4, 5, 2)).astype(dtype)
        w = rng.normal(size=(3, 2, 2, 2)).astype(dtype)
        out = cuda_host.conv2d(_dev(x), _dev(w), strides, padding, dilation).copy_to_host()
        rtol = 1e-5 if dtype == "float32" else 1e-12
        _close(out, conv_ref(x, w, strides, padding, dilation), rtol, "conv2d")
        ct = rng.normal(size=out.shape).astype(dtype)
        dx, dw = conv_grads_ref(x, w, ct, strides, padding, dilation)
        got = cuda_host.conv2d_input_grad(_dev(ct), _dev(w), x.shape[1:3], strides, padding, dilation)
        _close(got.copy_to_host(), dx, rtol, "conv2d_input_grad")
        got = cuda_host.conv2d_weight_grad(_dev(x), _dev(ct), w.shape[:2], strides, padding, dilation)
        _close(got.copy_to_host(), dw, rtol, "conv2d_weight_grad")
    run.__name__ = f"kernels:conv2d_{case}_{dtype}"
    return run


def _pool_check(case, how):
    pool, strides, padding = POOL_CASES[case]

    def run():
        rng = np.random.default_rng(2)
        x = rng.integers(-2, 3, size=(1, 4, 5, 2)).astype(np.float64)  # ties in most windows
        x[0, 1, 2, 1] = np.nan
        oh, ow = _out_size(4, pool[0], strides[0], padding[0]), _out_size(5, pool[1], strides[1], padding[1])
        ct = np.arange(1.0, 1 + oh * ow * 2).reshape(1, oh, ow, 2)
        t = rng.normal(size=x.shape)
        want, dx, gathered = pool_ref(x, ct, t, pool, strides, padding, how)
        if how == "max":
            got = cuda_host.maxpool2d(_dev(x), pool, strides, padding).copy_to_host()
            grad = cuda_host.maxpool2d_grad(_dev(x), _dev(ct), pool, strides, padding).copy_to_host()
            np.testing.assert_allclose(cuda_host.maxpool2d_gather(_dev(x), _dev(t), pool, strides, padding).copy_to_host(),
                                       gathered, rtol=1e-12, err_msg="maxpool2d_gather")
        else:
            got = cuda_host.avgpool2d(_dev(x), pool, strides, padding).copy_to_host()
            grad = cuda_host.avgpool2d_grad(_dev(ct), x.shape[1:3], pool, strides, padding).copy_to_host()
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=f"{how}pool2d")
        np.testing.assert_allclose(grad, dx, rtol=1e-12, err_msg=f"{how}pool2d_grad")
    run.__name__ = f"kernels:{how}pool2d_{case}"
    return run


for _case, _dtype in zip(CONV_CASES, ("float32", "float64")):  # each block reduction costs seconds
    check("kernels")(_conv_check(_case, _dtype))
for _case in POOL_CASES:
    for _how in ("max", "avg"):
        check("kernels")(_pool_check(_case, _how))


@check("kernels")
def matmul_tiles():
    """Products whose sizes end inside a tile (M = 17 in tiles of 2; K = 3 and 20, several
    steps of partial tiles), and batch dims that broadcast."""
    rng = np.random.default_rng(3)
    for a_shape, b_shape in (((17, 3), (3, 2)), ((5, 20), (20, 3)), ((2, 1, 2, 3), (3, 3, 2))):
        a, b = rng.normal(size=a_shape), rng.normal(size=b_shape)
        _close(cuda_host.matmul(_dev(a), _dev(b)).copy_to_host(), a @ b, 1e-12, f"matmul {a_shape} @ {b_shape}")


@check("kernels")
def reductions_in_chunks():
    """A reduction long enough to be split over several blocks (and combined by a second
    kernel); a NaN in the second chunk still wins the max."""
    x = np.linspace(-1, 1, 1100)
    x[900] = np.nan

    def f(x):
        clean = ops.where(x == x, x, 0.0)
        return ops.max(x), ops.sum(ops.exp(clean)), ops.max(clean)
    assert cuda_host.chunks(1, x.size) > 1
    got = compiler.jit(engine.trace(f, x), "cuda")(x)
    clean = np.nan_to_num(x)
    assert np.isnan(got[0]), f"max: {got[0]}, expected nan"
    _close(got[1], float(np.sum(np.exp(clean))), 1e-12, "sum")
    _close(got[2], 1.0, 0, "max without the nan")


# --- device arrays in and out, errors -----------------------------------------------------------------
@check("entry")
def device_arrays_pass_without_copy():
    x = engine.var("x", (None, 3), "float32")
    identity = compiler.jit(engine.Function([x], x * 1.0), "cuda")  # simplified to x itself
    d = _dev(np.ones((2, 3), np.float32))
    assert identity(d) is d, "a device array of the right dtype and shape was copied"
    h = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = identity(h)
    assert isinstance(out, device.array_type()) and np.array_equal(out.copy_to_host(), h)


@check("entry")
def one_line_errors():
    x = engine.var("x", (None, 3), "float32")
    f = compiler.jit(engine.Function([x], ops.exp(x), name="f"), "cuda")
    cases = [((_dev(np.ones((2, 3))),), TypeError, "f: argument 'x' is a device array of dtype float64, expected float32"),
             ((_dev(np.ones((2, 4), np.float32)),), ValueError, "f: argument 'x' has shape (2, 4), expected ('?', 3)"),
             ((_dev(np.ones((2, 6), np.float32))[:, ::2],), ValueError, "not C-contiguous"),
             ((np.ones((2, 3)), np.ones(3)), TypeError, "f: expected 1 arguments (x), got 2")]
    for args, kind, text in cases:
        try:
            f(*args)
        except kind as err:
            assert text in str(err) and "\n" not in str(err), f"{kind.__name__}: {err}"
        else:
            raise AssertionError(f"no {kind.__name__} for {args!r}")


@check("entry")
def names_that_shadow_generated_names():
    """Inputs named like the generator's own names, modules and builtins used by kernels."""
    names = ["i0", "v0", "v0_i", "np", "math", "cuda", "min", "range", "abs", "_cu", "_t", "_k"]
    xs = [engine.var(n, (2, 3)) for n in names]
    total = xs[0]
    for x in xs[1:]:
        total = total * 0.5 + ops.abs(x)
    f = engine.Function(xs, ops.sum(ops.tanh(total), axis=1), name="range")
    args = [np.linspace(-1, 1, 6).reshape(2, 3) * (k + 1) for k in range(len(xs))]
    _close(compiler.jit(f, "cuda")(*args).copy_to_host(), f(*args), 1e-12, "shadowing names")


@check("entry")
def rank0_results_come_to_the_host():
    x = engine.var("x", (3,), "float32")
    s = engine.var("s", (), "float32")
    f = compiler.jit(engine.Function([x, s], (ops.sum(x) * s, s * 2.0, x * s)), "cuda")
    total, twice, scaled = f(np.ones(3, np.float32), np.float32(1.5))
    assert type(total) is np.float32 and total == 4.5, repr(total)
    assert type(twice) is np.float32 and twice == 3.0, repr(twice)
    assert isinstance(scaled, device.array_type()) and scaled.dtype == np.float32


@check("entry")
def scalar_program():
    """Only rank-0 values: host scalars in, one-thread kernels, host scalars out."""
    g = engine.grad(engine.trace(lambda x1, x2: ops.log(x1) + x1 * x2 - ops.sin(x2), 2.0, 5.0))
    got = compiler.jit(g, "cuda")(2.0, 5.0)
    assert all(type(v) is float for v in got), [type(v) for v in got]
    _close(np.array(got), np.array(g(2.0, 5.0)), 1e-12, "grad")


@check("entry")
def jit_of_a_callable_traces_device_arrays_without_copy():
    f = compiler.jit(lambda x: ops.tanh(x) * 2.0, "cuda")
    d = _dev(np.linspace(-1, 1, 6).reshape(2, 3))
    got = f(d)
    assert isinstance(got, device.array_type())
    _close(got.copy_to_host(), np.tanh(d.copy_to_host()) * 2.0, 1e-12, "tanh")


# --- a training step kept on the device -----------------------------------------------------------------
def _mlp_step():
    """A 4-8-3 MLP: softmax cross-entropy, its gradient and an SGD update in one Function."""
    def loss(w1, b1, w2, b2, x, y):
        h = ops.tanh(x @ w1 + b1)
        return -ops.mean(ops.sum(y * ops.log_softmax(h @ w2 + b2, axis=-1), axis=-1))
    specs = [engine.Spec(s, "float32") for s in ((4, 8), (8,), (8, 3), (3,), (None, 4), (None, 3))]
    vg = engine.value_and_grad(engine.trace(loss, *specs), wrt=[0, 1, 2, 3])
    ins = [engine.var(n, s.shape, "float32") for n, s in zip(("w1", "b1", "w2", "b2", "x", "y"), specs)]
    out = vg(*ins)
    lr = 0.5
    return engine.Function(ins, (out[0],) + tuple(p - lr * g for p, g in zip(ins[:4], out[1:])), name="step")


@check("mlp")
def training_step_stays_on_the_device():
    step = _mlp_step()
    rng = np.random.default_rng(4)
    params = [rng.normal(scale=0.5, size=s.shape).astype(np.float32) for s in step.inputs[:4]]
    x = rng.normal(size=(5, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 5)]
    compiled = compiler.jit(step, "cuda")
    body = compiled.source.split(f"\ndef {compiled.function.name}(", 1)[1]
    loose = [line for line in body.splitlines() if re.search(r"(?<![\w.])\d+\.\d+", line.split("#")[0])]
    assert not loose, f"float literals that are not float32 in float32 code: {loose[:2]}"
    want_params, got_params, dx, dy = params, params, _dev(x), _dev(y)
    for call in range(2):
        want = step(*want_params, x, y)
        got = compiled(*got_params, dx, dy)  # the second call takes the device arrays the first returned
        _close(got[0], want[0], 1e-5, f"loss, call {call}")
        for k, (a, b) in enumerate(zip(got[1:], want[1:])):
            assert isinstance(a, device.array_type()), f"parameter {k}: {type(a).__name__}"
            _close(a.copy_to_host(), b, 1e-5, f"parameter {k}, call {call}")
        want_params, got_params = list(want[1:]), list(got[1:])
    assert want[0] < step(*params, x, y)[0], "two SGD steps did not lower the loss"
    memory = compiled.memory(*params, x, y)
    assert 0 < memory["peak_temporary_bytes"] < memory["sum_of_intermediates_bytes"], memory


# --- an LSTM: the fused cell in a scan, a host loop launching the body's kernels --------------------
@check("lstm")
def lstm_loss_and_gradients():
    """nn.LSTM (3 units) over 4 steps and a linear readout of the last state, float32: the loss
    and the gradient of every parameter equal the reference interpreter's; the forward loop calls
    the fused cell kernel, the reverse loop its backward."""
    from adjit import nn
    layer = nn.LSTM(3, dtype="float32")
    rng = np.random.default_rng(5)
    params = {k: v + rng.normal(scale=0.3, size=v.shape).astype(np.float32) for k, v in layer.init(0, (4, 2)).items()}
    readout = rng.normal(size=(3, 1)).astype(np.float32)
    x, y = rng.normal(size=(2, 4, 2)).astype(np.float32), rng.normal(size=(2, 1)).astype(np.float32)

    def loss(kernel, recurrent, bias, readout, x, y):
        h = layer({"kernel": kernel, "recurrent_kernel": recurrent, "bias": bias}, x)
        return ops.mean((h @ readout - y) ** 2)
    args = [params["kernel"], params["recurrent_kernel"], params["bias"], readout, x, y]
    step = engine.value_and_grad(engine.trace(loss, *args), wrt=[0, 1, 2, 3])
    compiled = compiler.jit(step, "cuda")
    for call in ("_cu.lstm_cell(", "_cu.lstm_cell_grad(", "range("):
        assert call in compiled.source, f"no {call} in the generated code"
    got, want = compiled(*args), step(*args)
    _close(got[0], want[0], 1e-5, "loss")
    for k, (a, b) in enumerate(zip(got[1:], want[1:])):
        assert isinstance(a, device.array_type()), f"gradient {k}: {type(a).__name__}"
        _close(a.copy_to_host(), b, 1e-5, f"gradient {k}")


def main(suites) -> dict:
    warnings.simplefilter("ignore")  # the simulator's numpy scalars warn where a GPU is silent
    from optable import TABLE  # noqa: F401  (the table's rows join the "optable" suite)
    for op in optable_rows():
        check("optable")(_optable_check(op))
    results = {}
    for suite in suites:
        for fn in CHECKS[suite]:
            name = fn.__name__ if ":" in fn.__name__ else f"{suite}:{fn.__name__}"
            start = time.perf_counter()
            try:
                fn()
                results[name] = None
            except Exception as err:  # noqa: BLE001 - reported to the test process
                where = traceback.extract_tb(err.__traceback__)[-1]
                first = (str(err).strip().splitlines() or [""])[0]
                results[name] = f"{type(err).__name__}: {first} (at {Path(where.filename).name}:{where.lineno})"
            print(f"{name}: {time.perf_counter() - start:.2f} s", file=sys.stderr)
    return results


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
