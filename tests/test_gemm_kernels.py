"""Our GEMM (ops/gemm_kernels.py) against a float64 product: every shape class a register block
and a panel meet (full blocks, leftover rows, leftover columns, k = 0 and 1), operands in any
layout, store and accumulate; the kernels that choose between it and BLAS; a scan's weights
packed once before its loop; and the kernel compiled for narrower vector registers (AVX2, SSE)
than this machine's."""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from numba.core.errors import NumbaPerformanceWarning

from adjit import compiler, engine, ops
from adjit.ops import gemm_kernels as G
from adjit.ops import kernels as K

_rng = np.random.default_rng(5)
_SHAPES = list(itertools.product([1, 3, 4, 5, 9], [0, 1, 7, 33], [1, 5, 16, 31, 32, 33, 70]))


def _tolerance(k):
    return 8e-6 * max(k, 1) ** 0.5


def _layouts(x):
    """x C-contiguous, Fortran-ordered, and as a strided view."""
    wide = np.zeros((x.shape[0], 2 * x.shape[1]), x.dtype)
    wide[:, ::2] = x
    return [x, np.asfortranarray(x), wide[:, ::2]]


def test_gemm_equals_the_float64_product_for_every_block_shape():
    dtype = np.float32
    for m, k, n in _SHAPES:
        a, b = _rng.normal(size=(m, k)).astype(dtype), _rng.normal(size=(k, n)).astype(dtype)
        want = a.astype(np.float64) @ b.astype(np.float64)
        tol = _tolerance(k)
        for a_, b_ in zip(_layouts(a), _layouts(b)[::-1]):
            c = np.full((m, n), np.nan, dtype)  # stored, not added: the NaNs must go
            np.testing.assert_allclose(G.gemm(a_, b_, c, False), want, rtol=tol, atol=tol, err_msg=str((m, k, n)))
            c = np.ones((m, n), dtype)
            np.testing.assert_allclose(G.gemm(a_, b_, c, True), want + 1, rtol=tol, atol=tol, err_msg=str((m, k, n)))


def test_a_scan_packs_no_panels_for_products_of_few_rows():
    b = np.ones((8, 64), np.float32)
    assert G.pack_panels(b, 15).size == 0 and G.pack_panels(b, 16).size == G.pack_panels(b, -1).size > 0


def test_pack_lays_panels_out_zero_padded_whatever_b_s_layout():
    b = _rng.normal(size=(5, 70)).astype(np.float32)
    width = G.WIDTH
    panels = G.pack(b)
    assert panels.shape == (-(-70 // width), 5, width)
    for p in range(panels.shape[0]):
        cols = b[:, p * width:(p + 1) * width]
        np.testing.assert_array_equal(panels[p, :, :cols.shape[1]], cols)
        assert not panels[p, :, cols.shape[1]:].any()
    for view in _layouts(b)[1:] + [np.ascontiguousarray(b.T).T]:
        np.testing.assert_array_equal(G.pack(view), panels)


def test_negative_strides_go_to_blas_and_empty_operands_work():
    a = _rng.normal(size=(18, 40)).astype(np.float32)
    b = _rng.normal(size=(40, 64)).astype(np.float32)
    flipped = np.ascontiguousarray(a[::-1])[::-1]  # a view with a negative row stride
    assert not G.suits(flipped, b) and not G.suits(a, np.ascontiguousarray(b[::-1])[::-1])
    assert G.pack_panels(np.ascontiguousarray(b[::-1])[::-1], -1).size == 0
    with warnings.catch_warnings():  # numba's note on np.dot for a strided view, when it compiles
        warnings.simplefilter("ignore", NumbaPerformanceWarning)
        np.testing.assert_allclose(K.dot_packed(flipped, b, G.pack(b)), a @ b, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="negative strides"):
        G.gemm(flipped, b, np.empty((18, 64), np.float32), False)
    assert G.gemm(a[:, :0], b[:0], np.full((18, 64), np.nan, np.float32), False).max() == 0  # k = 0: zeros
    np.testing.assert_array_equal(G.gemm(a[:, :0], b[:0], np.ones((18, 64), np.float32), True), 1)
    assert G.gemm(a[:0], b, np.empty((0, 64), np.float32), False).shape == (0, 64)


def test_special_values_propagate_as_in_a_blas_product():
    a, b = np.ones((16, 64), np.float32), np.ones((64, 32), np.float32)
    a[3, 5], b[7, 9] = np.inf, np.nan
    got, want = G.gemm(a, b, np.empty((16, 32), np.float32), False), a @ b
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[~np.isnan(got)], want[~np.isnan(want)])


_CHOICES = textwrap.dedent("""
    import json
    import numpy as np
    from adjit.ops import gemm_kernels as G
    f32 = lambda *s: np.zeros(s, np.float32)
    a, b = np.ones((32, 128), np.float32), np.full((128, 512), 0.5, np.float32)
    print(json.dumps({
        "lstm h U": G.suits(f32(32, 128), f32(128, 512)),
        "lstm h^T dz": G.suits(f32(128, 32), f32(32, 512)),
        "small": G.suits(f32(16, 64, ), f32(64, 128)),                 # 2^17 multiply-adds
        "x_t W": G.suits(f32(32, 32), f32(32, 512)),                   # packing b would not pay
        "few rows": G.suits(f32(8, 128), f32(128, 512)),               # BLAS
        "few columns": G.suits(f32(32, 128), f32(128, 10)),            # less than a panel
        "large": G.suits(f32(1024, 1024), f32(1024, 1024)),            # BLAS's cache blocking
        "b transposed": G.suits(f32(32, 512), f32(128, 512).T),        # BLAS reads it in place
        "float64": G.suits(np.zeros((32, 128)), np.zeros((128, 512))),
        "packed U, 32 rows": G.pack_panels(f32(128, 512), 32).size > 0,
        "packed U, rows unknown": G.pack_panels(f32(128, 512), -1).size > 0,
        "packed small, 16 rows": G.pack_panels(f32(64, 128), 16).size > 0,
        "gemm itself": bool(np.allclose(G.gemm(a, b, f32(32, 512), False), a @ b, rtol=1e-4, atol=1e-3)),
    }))
""")


@pytest.mark.parametrize("threads", [1, 2])
def test_which_products_take_our_kernel(threads):
    """With BLAS on one thread, by shape; with BLAS on two, products BLAS splits over its
    threads (>= 2^18 multiply-adds) go back to it, while ``gemm`` itself stays ours. In a new
    process: OpenBLAS reads its thread count from the environment when it loads."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
    done = subprocess.run([sys.executable, "-c", _CHOICES], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    taken = json.loads(done.stdout.strip().splitlines()[-1])
    split = threads > 1
    assert taken == {"lstm h U": not split, "lstm h^T dz": not split, "small": True, "x_t W": False,
                     "few rows": False, "few columns": False, "large": False, "b transposed": False,
                     "float64": False, "packed U, 32 rows": not split, "packed U, rows unknown": not split,
                     "packed small, 16 rows": True, "gemm itself": True}


@pytest.mark.parametrize("m", [2, 40])  # BLAS below a few register blocks of rows, ours above
def test_the_kernels_that_choose_agree_with_numpy(m):
    a = _rng.normal(size=(m, 96)).astype(np.float32)
    b = _rng.normal(size=(96, 80)).astype(np.float32)
    c = _rng.normal(size=(m, 80)).astype(np.float32)
    want, tol = a.astype(np.float64) @ b, _tolerance(96)
    panels = K.pack_panels(b, -1)
    np.testing.assert_allclose(K.dot(a, b), want, rtol=tol, atol=tol)
    np.testing.assert_allclose(K.dot_packed(a, b, panels), want, rtol=tol, atol=tol)
    np.testing.assert_allclose(K.dot_add(a, b, c.copy()), c + want, rtol=tol, atol=tol)
    np.testing.assert_allclose(K.dot_add_packed(a, b, panels, c.copy()), c + want, rtol=tol, atol=tol)
    strided = np.zeros((m, 160), np.float32)[:, ::2]  # not C-contiguous: the fallback adds by a loop
    np.testing.assert_allclose(K.dot_add_packed(a, b, panels, strided), want, rtol=tol, atol=tol)


def _lstm_like(W, U, xs):
    def body(h, x):
        h = ops.tanh(x @ W + h @ U)
        return h, h
    h, ys = ops.scan(body, ops.zeros_like(xs[0] @ W), xs)
    return ops.sum(ys * ys) + ops.sum(h)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_scan_packs_its_float32_weights_once_before_the_loop(dtype):
    W = (_rng.normal(size=(24, 64)) * 0.2).astype(dtype)
    U = (_rng.normal(size=(64, 64)) * 0.1).astype(dtype)
    xs = _rng.normal(size=(6, 20, 24)).astype(dtype)
    f = engine.value_and_grad(engine.trace(_lstm_like, W, U, engine.Spec((6, None, 24), dtype)), wrt=[0, 1])
    c = compiler.jit(f, "cpu")
    packs = [line.strip() for line in c.source.splitlines() if "_k.pack_panels(" in line]
    # forward: W and U; reverse: U^T (h's cotangent); the other products multiply by dz, which
    # changes at every step. Each with the rows of its products, read from the batch before the loop
    assert len(packs) == (3 if dtype == "float32" else 0), c.source
    assert all(", -1)" not in line for line in packs), packs
    for batch in (20, 3):  # 3 rows: no panels, BLAS at every step
        x = xs[:, :batch]
        got, want = c(W, U, x), f(W, U, x)
        tol = 2e-4 if dtype == "float32" else 1e-10
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def test_a_weight_also_in_a_batched_product_is_packed_for_the_matrix_one_only():
    U = (_rng.normal(size=(64, 64)) * 0.1).astype(np.float32)
    xs = _rng.normal(size=(4, 20, 3, 64)).astype(np.float32)

    def fn(U, xs):
        def body(h, x):  # x (N, 3, 64): a stack of matrices times U, and h (N, 64) times U
            h = ops.tanh(h @ U + ops.sum(x @ U, axis=1))
            return h, None
        h, _ = ops.scan(body, ops.zeros_like(xs[0, :, 0]), xs)
        return ops.sum(h * h)
    f = engine.value_and_grad(engine.trace(fn, U, xs), wrt=[0])
    c = compiler.jit(f, "cpu")
    assert c.source.count("_k.dot_packed(") + c.source.count("_k.dot_add_packed(") >= 1, c.source
    for g, w in zip(c(U, xs), f(U, xs)):
        np.testing.assert_allclose(g, w, rtol=2e-4, atol=2e-4)


_NARROW = textwrap.dedent("""
    import sys
    import llvmlite.binding as llvm
    host = llvm.get_host_cpu_features
    def narrower():
        features = host()
        features["avx512f"] = False
        if int(sys.argv[1]) == 16:
            features["avx"] = False
        return features
    llvm.get_host_cpu_features = narrower
    import numpy as np
    from adjit.ops import gemm_kernels as G
    assert G.VECTOR_BYTES == int(sys.argv[1]), G.VECTOR_BYTES
    rng = np.random.default_rng(0)
    for m, k, n in [(4, 7, 16), (9, 33, 70), (5, 1, 3), (40, 64, 33)]:
        a, b = rng.normal(size=(m, k)).astype(np.float32), rng.normal(size=(k, n)).astype(np.float32)
        got = G.gemm(a, b, np.empty((m, n), np.float32), False)
        np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)
    print("ok")
""")


@pytest.mark.parametrize("vector_bytes", [32, 16])
def test_the_kernel_is_right_for_narrower_vector_registers(vector_bytes, tmp_path):
    """A machine without AVX-512 (32-byte vectors) or without AVX (16): the same code, LLVM
    splitting each vector; run in a new process with its own numba cache (the width is fixed at
    import, and numba's cache would serve this machine's build)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", _NARROW, str(vector_bytes)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
