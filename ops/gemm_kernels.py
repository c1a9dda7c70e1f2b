"""Our own GEMM for small products, ``c (+)= a @ b`` in float32 or float64, for the cpu target.

Why: OpenBLAS packs both operands at every call and its blocking is tuned for large products. The
products of a recurrent step are small and repeated (an LSTM step with batch 32 and 128 units:
32 x 128 @ 128 x 512, three such per step and direction): there OpenBLAS reached ~70 GFLOP/s on
one core of the machine in bench/RESULTS_RNN.md, where this kernel reaches ~90 packing b at each
call and ~115 when b was packed once before the loop (``pack`` + ``gemm_packed``).

How: b is copied into panels of ``PANEL`` columns, each panel k rows of contiguous values (zero
padded on the right). A register block of ``ROWS`` rows of c times one panel is accumulated in
SIMD registers over all of k (``_block``: LLVM IR with explicit vectors, so the accumulators
never touch memory), then stored or added into c. The width of a vector is the host's widest
register (AVX-512: 64 bytes, AVX: 32, else 16), two vectors per row; rows and columns that do
not fill a block are computed in a zero-padded scratch block and copied back. Each element is an
fma chain over k in order, so results agree with BLAS to rounding (tests/test_gemm_kernels.py).
"""
from __future__ import annotations

import numba
import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic


def _vector_bytes() -> int:
    """The widest vector register of the CPU numba compiles for (numba's CPU settings, else the
    host's)."""
    if numba.config.CPU_FEATURES is not None:
        features = {f[1:]: f[0] == "+" for f in numba.config.CPU_FEATURES.split(",") if f}
    elif numba.config.CPU_NAME is not None:  # a named CPU (e.g. "generic", for portable caches)
        features = {}
    else:
        features = llvm.get_host_cpu_features()
    return 64 if features.get("avx512f") else 32 if features.get("avx") else 16


VECTOR_BYTES = _vector_bytes()
ROWS, VECTORS = 4, 2   # a block: 4 rows x 2 vectors of c, 8 accumulators (16 registers suffice)


PANEL_BYTES = VECTORS * VECTOR_BYTES   # a panel's row: PANEL_BYTES // itemsize columns


@intrinsic
def _block(typingctx, c, c_off, ldc, a, a_off, a_row, a_col, bp, bp_off, k, add):
    """c[ROWS, panel] at offset c_off (row stride ldc, unit column stride) = (or +=) the rows of a
    at offset a_off (strides a_row, a_col) times the packed panel at bp_off; offsets and strides
    in elements, the arrays' dtypes equal."""
    sig = types.void(c, types.intp, types.intp, a, types.intp, types.intp, types.intp, bp, types.intp,
                     types.intp, types.boolean)

    def codegen(context, builder, signature, args):
        c_, c_off, ldc, a_, a_off, a_row, a_col, bp_, bp_off, k, add = args
        data = [context.make_array(signature.args[i])(context, builder, v).data
                for i, v in ((0, c_), (3, a_), (7, bp_))]
        c_data, a_data, b_data = data
        scalar = context.get_value_type(signature.args[0].dtype)
        item = signature.args[0].dtype.bitwidth // 8   # vectors are aligned to one element only
        lanes = VECTOR_BYTES // item
        vec = ir.VectorType(scalar, lanes)
        width = lanes * VECTORS
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec] * 3),
                                             f"llvm.fma.v{lanes}{'f32' if scalar == ir.FloatType() else 'f64'}")
        ity = k.type

        def const(v):
            return ir.Constant(ity, v)

        def vector_at(base, offset):
            return builder.bitcast(builder.gep(base, [offset]), vec.as_pointer())

        zero, undef = ir.Constant(vec, None), ir.Constant(vec, ir.Undefined)
        splat = ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes)
        entry = builder.block
        loop, done = builder.append_basic_block("gemm.loop"), builder.append_basic_block("gemm.done")
        builder.cbranch(builder.icmp_signed(">", k, const(0)), loop, done)

        builder.position_at_end(loop)   # for kk in range(k): acc[r][v] += a[r, kk] * panel[kk, v]
        kk = builder.phi(ity)
        acc = [[builder.phi(vec) for _ in range(VECTORS)] for _ in range(ROWS)]
        b_row = builder.add(bp_off, builder.mul(kk, const(width)))
        b_vecs = [builder.load(vector_at(b_data, builder.add(b_row, const(v * lanes))), align=item)
                  for v in range(VECTORS)]
        new = []
        a_k = builder.add(a_off, builder.mul(kk, a_col))
        for r in range(ROWS):
            value = builder.load(builder.gep(a_data, [builder.add(a_k, builder.mul(const(r), a_row))]))
            broadcast = builder.shuffle_vector(builder.insert_element(undef, value, ir.Constant(ir.IntType(32), 0)),
                                               undef, splat)
            new.append([builder.call(fma, [broadcast, b_vecs[v], acc[r][v]]) for v in range(VECTORS)])
        k_next = builder.add(kk, const(1))
        kk.add_incoming(const(0), entry)
        kk.add_incoming(k_next, loop)
        for r in range(ROWS):
            for v in range(VECTORS):
                acc[r][v].add_incoming(zero, entry)
                acc[r][v].add_incoming(new[r][v], loop)
        builder.cbranch(builder.icmp_signed("<", k_next, k), loop, done)

        builder.position_at_end(done)   # c block = (or +=) the accumulators
        final = [[builder.phi(vec) for _ in range(VECTORS)] for _ in range(ROWS)]
        for r in range(ROWS):
            for v in range(VECTORS):
                final[r][v].add_incoming(zero, entry)
                final[r][v].add_incoming(new[r][v], loop)
                target = vector_at(c_data, builder.add(c_off, builder.add(builder.mul(const(r), ldc),
                                                                          const(v * lanes))))
                old = builder.load(target, align=item)
                builder.store(builder.select(add, builder.fadd(old, final[r][v]), final[r][v]), target, align=item)
        return context.get_dummy_value()
    return sig, codegen


@intrinsic
def _panel_width(typingctx, x):
    """Columns of a panel for x's dtype, as a compile-time constant (``x.itemsize`` is read at run
    time in numba, which made ``pack``'s loops 3x slower)."""
    width = PANEL_BYTES // (x.dtype.bitwidth // 8)
    return types.intp(x), lambda context, builder, sig, args: ir.Constant(ir.IntType(64), width)


@numba.njit(cache=True, nogil=True)
def pack(b):
    """b (k, n), any strides, as panels (n / PANEL rounded up, k, PANEL), zero padded."""
    k, n = b.shape
    width = _panel_width(b)
    out = np.empty(((n + width - 1) // width, k, width), dtype=b.dtype)
    by_columns = k > 1 and b.strides[0] == b.itemsize   # a transposed view: read along its columns
    for p in range(out.shape[0]):
        cols = min(width, n - p * width)
        if by_columns:
            for j in range(cols):
                for kk in range(k):
                    out[p, kk, j] = b[kk, p * width + j]
        else:
            for kk in range(k):
                for j in range(cols):
                    out[p, kk, j] = b[kk, p * width + j]
        for kk in range(k):
            for j in range(cols, width):
                out[p, kk, j] = 0
    return out


@numba.njit(cache=True, nogil=True)
def gemm_packed(a, panels, n, c, add):
    """c = a @ b (add: c += a @ b) in place, b given packed (``pack``) with n columns; a (m, k)
    any strides, c (m, n) C-contiguous. Returns c."""
    m, k = a.shape
    width = panels.shape[2]
    item = a.itemsize
    a_row, a_col, ldc = a.strides[0] // item, a.strides[1] // item, c.strides[0] // item
    full_rows, full_panels = m - m % ROWS, n // width
    scratch = np.empty((ROWS, width), dtype=c.dtype)
    for p in range(panels.shape[0]):
        for i in range(0, full_rows, ROWS):
            if p < full_panels:
                _block(c, i * ldc + p * width, ldc, a, i * a_row, a_row, a_col, panels, p * k * width, k, add)
            else:
                _block(scratch, 0, width, a, i * a_row, a_row, a_col, panels, p * k * width, k, False)
                _copy_back(scratch, c, i, ROWS, p * width, n - p * width, add)
    if full_rows < m:   # the last rows, through a zero-padded copy of a
        rest = np.zeros((ROWS, k), dtype=a.dtype)
        rest[:m - full_rows] = a[full_rows:]
        for p in range(panels.shape[0]):
            _block(scratch, 0, width, rest, 0, k, 1, panels, p * k * width, k, False)
            _copy_back(scratch, c, full_rows, m - full_rows, p * width, min(width, n - p * width), add)
    return c


@numba.njit(cache=True, nogil=True, inline="always")
def _copy_back(scratch, c, row, rows, col, cols, add):
    for r in range(rows):
        for j in range(cols):
            c[row + r, col + j] = c[row + r, col + j] + scratch[r, j] if add else scratch[r, j]


@numba.njit(cache=True, nogil=True)
def gemm(a, b, c, add):
    """c = a @ b (add: c += a @ b) in place; a (m, k) and b (k, n) any strides, c C-contiguous."""
    return gemm_packed(a, pack(b), b.shape[1], c, add)


@numba.njit(cache=True, nogil=True)
def suits(a, b):
    """Whether ``gemm`` (packing b at this call) beats BLAS for a @ b, as measured on one core
    (AVX-512): float32; a block of rows and a panel of columns filled; b's packing repaid (64
    rows of a, or 16 rows and 64 inner); and small enough (<= 2^25 multiply-adds) that BLAS's
    threads and cache blocking would not do better. A float64 kernel only matched BLAS."""
    m, k, n = a.shape[0], a.shape[1], b.shape[1]
    return (a.itemsize == 4 and m >= 16 and k >= 8 and (m >= 64 or k >= 64) and n >= _panel_width(b)
            and m * k * n <= 1 << 25)


@numba.njit(cache=True, nogil=True)
def rows_suit(a, panels):
    """Whether a product with a b packed beforehand is faster here than by BLAS: a has at least
    ``ROWS`` * 4 rows (fewer leave most of a register block or of BLAS's call cost idle)."""
    return a.shape[0] >= 4 * ROWS and panels.size > 0
