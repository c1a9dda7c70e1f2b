"""Our own GEMM for small float32 products, ``c (+)= a @ b``, for the cpu target.

Why: OpenBLAS packs both operands at every call and its blocking is tuned for large products. The
products of a recurrent step are small and repeated (an LSTM step with batch 32 and 128 units:
32 x 128 @ 128 x 512, three such per step and direction): there OpenBLAS reached ~70 GFLOP/s on
one core of the machine in bench/RESULTS_RNN.md, where this kernel reaches ~90 packing b at each
call and ~110 when b was packed once before the loop (``pack`` + ``gemm_packed``; the table is
bench/GEMM.md, ``python -m bench.gemm``).

How: b is copied into panels of ``WIDTH`` columns, each panel k rows of contiguous values (zero
padded on the right). A register block of ``ROWS`` rows of c times one panel is accumulated in
SIMD registers over all of k (``_block``: LLVM IR with explicit vectors, so the accumulators
never touch memory), then stored or added into c. The width of a vector is that of the widest
register (AVX-512: 64 bytes, AVX: 32, else 16), two vectors per row; rows and columns that do
not fill a block are computed in a zero-padded scratch block and copied back. Each element is an
fma chain over k in order, so results agree with BLAS to rounding (tests/test_gemm_kernels.py).

The kernels are compiled once (numba's cache) as C-callable functions and registered with LLVM
under a name (``adjit_gemm_f32``, ``adjit_pack_f32``), as numba does for BLAS: generated code
links a call to them, where calling them as numba functions made every generated module that
multiplies matrices optimize and emit their code again (about 1 s of compile time each).
Float64 is left to BLAS: the same kernel only matched it, and so are the products a threaded BLAS
would split over its threads (ours runs on one).
"""
from __future__ import annotations

import ctypes
import glob
import os

import numba
import numpy as np
import scipy
from llvmlite import binding as llvm
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic
from numba.np.linalg import ensure_blas


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
WIDTH = VECTORS * VECTOR_BYTES // 4   # float32 columns in a panel


@intrinsic
def _block(typingctx, c, c_off, ldc, a, a_off, a_row, a_col, bp, bp_off, k, add):
    """c[ROWS, panel] at offset c_off (row stride ldc, unit column stride) = (or +=) the rows of a
    at offset a_off (strides a_row, a_col) times the packed panel at bp_off; float32 arrays (only
    their data pointers are read), offsets and strides in elements."""
    sig = types.void(c, types.intp, types.intp, a, types.intp, types.intp, types.intp, bp, types.intp,
                     types.intp, types.boolean)

    def codegen(context, builder, signature, args):
        c_, c_off, ldc, a_, a_off, a_row, a_col, bp_, bp_off, k, add = args
        data = [context.make_array(signature.args[i])(context, builder, v).data
                for i, v in ((0, c_), (3, a_), (7, bp_))]
        c_data, a_data, b_data = data
        scalar, item, lanes = ir.FloatType(), 4, VECTOR_BYTES // 4   # vectors aligned to one element
        vec = ir.VectorType(scalar, lanes)
        width = lanes * VECTORS
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec] * 3), f"llvm.fma.v{lanes}f32")
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


# numba caches the compiled entry points only inside adjit: they are compiled when the module is
# imported, and a cache filled then imports the module again by the name it had, which for a
# module exported from adjit (compiler.export) need not be the name the next process gives it
_CACHE = __name__.split(".")[0] == "adjit"


@numba.njit(cache=_CACHE, nogil=True)
def _gemm_flat(a, m, k, a_row, a_col, panels, n, c, ldc, add):
    """``gemm_packed`` on flat views: a's element (i, kk) at i a_row + kk a_col, c's (i, j) at
    i ldc + j."""
    full_rows, full_panels, count = m - m % ROWS, n // WIDTH, (n + WIDTH - 1) // WIDTH
    scratch = np.empty(ROWS * WIDTH, dtype=np.float32)
    for p in range(count):
        for i in range(0, full_rows, ROWS):
            if p < full_panels:
                _block(c, i * ldc + p * WIDTH, ldc, a, i * a_row, a_row, a_col, panels, p * k * WIDTH, k, add)
            else:
                _block(scratch, 0, WIDTH, a, i * a_row, a_row, a_col, panels, p * k * WIDTH, k, False)
                _copy_back(scratch, c, i * ldc + p * WIDTH, ldc, ROWS, n - p * WIDTH, add)
    if full_rows < m:   # the last rows, through a zero-padded copy of a
        rest = np.zeros(ROWS * k, dtype=np.float32)
        for r in range(m - full_rows):
            for kk in range(k):
                rest[r * k + kk] = a[(full_rows + r) * a_row + kk * a_col]
        for p in range(count):
            _block(scratch, 0, WIDTH, rest, 0, k, 1, panels, p * k * WIDTH, k, False)
            _copy_back(scratch, c, full_rows * ldc + p * WIDTH, ldc, m - full_rows, min(WIDTH, n - p * WIDTH), add)


@numba.njit(cache=_CACHE, nogil=True)
def _copy_back(scratch, c, at, ldc, rows, cols, add):
    for r in range(rows):
        for j in range(cols):
            v = scratch[r * WIDTH + j]
            c[at + r * ldc + j] = c[at + r * ldc + j] + v if add else v


@numba.njit(cache=_CACHE, nogil=True)
def _pack_flat(b, k, n, b_row, b_col, out):
    """``pack`` on flat views: b's element (kk, j) at kk b_row + j b_col. The indices are
    unsigned: numba then checks none for being negative, which kept LLVM from vectorizing the
    copies (10x slower; with them, LLVM's own unit-stride version of the loop makes a contiguous
    b as quick to pack as a separate loop for it)."""
    u = np.uint64
    k, n, b_row, b_col, width = u(k), u(n), u(b_row), u(b_col), u(WIDTH)
    for p in range((n + width - u(1)) // width):
        cols, base = min(width, n - p * width), p * k * width
        for kk in range(k):
            for j in range(cols):
                out[base + kk * width + j] = b[kk * b_row + (p * width + j) * b_col]
        for kk in range(k):
            for j in range(cols, width):
                out[base + kk * width + j] = 0


# --- the C-callable entry points, registered with LLVM by name -------------------------------------
_f32p, _i = types.CPointer(types.float32), types.intp


@numba.cfunc(types.void(_f32p, _i, _i, _i, _i, _f32p, _i, _f32p, _i, _i), cache=_CACHE, nogil=True)
def _gemm_entry(a_ptr, m, k, a_row, a_col, panels_ptr, n, c_ptr, ldc, add):
    a = numba.carray(a_ptr, (max((m - 1) * a_row + (k - 1) * a_col + 1, 0),))
    panels = numba.carray(panels_ptr, ((n + WIDTH - 1) // WIDTH * k * WIDTH,))
    c = numba.carray(c_ptr, ((m - 1) * ldc + n,))
    _gemm_flat(a, m, k, a_row, a_col, panels, n, c, ldc, add != 0)


@numba.cfunc(types.void(_f32p, _i, _i, _i, _i, _f32p), cache=_CACHE, nogil=True)
def _pack_entry(b_ptr, k, n, b_row, b_col, out_ptr):
    b = numba.carray(b_ptr, ((k - 1) * b_row + (n - 1) * b_col + 1,))
    out = numba.carray(out_ptr, ((n + WIDTH - 1) // WIDTH * k * WIDTH,))
    _pack_flat(b, k, n, b_row, b_col, out)


def _external(name: str, entry, *args):
    """``entry``'s address registered with LLVM as ``name``, and the function that calls it by
    that name (pointers untyped): code calling it caches on disk, where an address could not."""
    llvm.add_symbol(name, entry.address)
    return types.ExternalFunction(name, types.void(*args))


_gemm_f32 = _external("adjit_gemm_f32", _gemm_entry, types.voidptr, _i, _i, _i, _i, types.voidptr, _i, types.voidptr,
                      _i, _i)
_pack_f32 = _external("adjit_pack_f32", _pack_entry, types.voidptr, _i, _i, _i, _i, types.voidptr)


# How many threads the BLAS of numba's np.dot (scipy's OpenBLAS) runs a product on, asked at each
# product (threadpoolctl may change it). Products it splits over several threads (OpenBLAS splits
# those of >= 2^18 multiply-adds) stay with it: it has more cores than our one-threaded kernel.
# (On this project's shared 2-core VM, two-thread timings of the W6 step with OpenBLAS varied from
# 8.8 to 18.7 ms between runs, so no measured comparison backs this.) Where that BLAS is not
# found, ours is taken as on one thread.
_SPLIT = 1 << 18


def _blas_threads():
    where = os.path.join(os.path.dirname(os.path.dirname(scipy.__file__)), "scipy.libs", "*openblas*")
    for path in glob.glob(where):
        for name in ("scipy_openblas_get_num_threads", "openblas_get_num_threads"):
            function = getattr(ctypes.CDLL(path), name, None)
            if function is not None:
                llvm.add_symbol("adjit_blas_threads", ctypes.cast(function, ctypes.c_void_p).value)
                return types.ExternalFunction("adjit_blas_threads", types.intc())

    def one_thread():
        return 1
    llvm.add_symbol("adjit_blas_threads", numba.cfunc(types.intc())(one_thread).address)
    return types.ExternalFunction("adjit_blas_threads", types.intc())


_blas_thread_count = _blas_threads()


@numba.njit(cache=True, nogil=True)
def _blas_splits(multiply_adds):
    """Whether BLAS would run a product of this many multiply-adds on several threads."""
    return multiply_adds >= _SPLIT and _blas_thread_count() > 1


# --- what the kernels call: argument checks and the calls, kept small ------------------------------
# (generated code that calls these compiles them into its own module: no array copies or
# assignments here, whose code would be optimized again in every such module)
@numba.njit(cache=True, nogil=True)
def pack(b):
    """b (k, n) float32, any non-negative strides, as panels (n / WIDTH rounded up, k, WIDTH),
    zero padded."""
    k, n = b.shape
    if b.strides[0] < 0 or b.strides[1] < 0:
        raise ValueError("gemm_kernels.pack: negative strides")
    out = np.empty(((n + WIDTH - 1) // WIDTH, k, WIDTH), dtype=np.float32)
    if k and n:
        _pack_f32(b.ctypes, k, n, b.strides[0] // 4, b.strides[1] // 4, out.ctypes)
    return out


@numba.njit(cache=True, nogil=True)
def gemm_packed(a, panels, n, c, add):
    """c = a @ b (add: c += a @ b) in place, b given packed (``pack``) with n columns; a (m, k)
    float32, any non-negative strides; c (m, n) C-contiguous. Returns c."""
    m, k = a.shape
    if panels.shape[1] != k or panels.shape[0] != (n + WIDTH - 1) // WIDTH or c.shape[0] != m or c.shape[1] != n:
        raise ValueError("gemm_kernels.gemm: shapes do not align")
    if a.strides[0] < 0 or a.strides[1] < 0:
        raise ValueError("gemm_kernels.gemm: negative strides")
    if m and n:
        _gemm_f32(a.ctypes, m, k, a.strides[0] // 4, a.strides[1] // 4, panels.ctypes, n, c.ctypes,
                  c.strides[0] // 4, 1 if add else 0)
    return c


@numba.njit(cache=True, nogil=True)
def gemm(a, b, c, add):
    """c = a @ b (add: c += a @ b) in place; a (m, k) and b (k, n) float32, any non-negative
    strides; c C-contiguous."""
    return gemm_packed(a, pack(b), b.shape[1], c, add)


@numba.njit(cache=True, nogil=True)
def suits(a, b):
    """Whether ``gemm`` (packing b at this call) beats BLAS for a @ b, as measured on one core
    (AVX-512, ``python -m bench.gemm``): float32; a block of rows and a panel of columns filled;
    b's packing repaid (64 rows of a, or 16 rows and 64 inner) and quick (b's rows contiguous:
    packing a transposed view costs 3-4x more, and BLAS reads one in place); small enough (<= 2^25
    multiply-adds) that BLAS's cache blocking would not do better; not one a threaded BLAS splits."""
    m, k, n = a.shape[0], a.shape[1], b.shape[1]
    return (a.itemsize == 4 and m >= 16 and k >= 8 and (m >= 64 or k >= 64) and n >= WIDTH
            and m * k * n <= 1 << 25 and b.strides[1] == b.itemsize and b.strides[0] >= 0
            and a.strides[0] >= 0 and a.strides[1] >= 0 and not _blas_splits(m * k * n))


@numba.njit(cache=True, nogil=True)
def pack_panels(b, rows):
    """What a scan packs before its loop: b packed (``pack``) for the products of ``rows`` rows
    by it at every step (-1: not known), or no panels (an empty array: ``rows_suit`` then takes
    BLAS) where ours would not be the faster: fewer rows than it needs, products a threaded BLAS
    splits, a view with a negative stride."""
    k, n = b.shape
    if b.strides[0] < 0 or b.strides[1] < 0 or 0 <= rows < 4 * ROWS or _blas_splits(max(rows, 4 * ROWS) * k * n):
        return np.empty((0, k, WIDTH), dtype=np.float32)
    return pack(b)


@numba.njit(cache=True, nogil=True)
def rows_suit(a, panels):
    """Whether a product with a b packed beforehand is faster here than by BLAS: a has at least
    ``ROWS`` * 4 rows (fewer leave most of a register block or of BLAS's call cost idle), and
    non-negative strides."""
    return a.shape[0] >= 4 * ROWS and panels.size > 0 and a.strides[0] >= 0 and a.strides[1] >= 0


# --- the products generated code calls (``_k.dot`` ...): ours where it is faster, else BLAS -----------
@numba.njit(cache=True)
def dot(a, b):
    """``a @ b`` of two matrices: our own GEMM where it is faster (``gemm_kernels.suits``), else
    ``np.dot`` (BLAS). Behind a cached kernel: typing np.dot costs numba ~0.6 s per signature, in
    every generated function that uses it; a call to this costs ~0.1 s once it is cached."""
    if suits(a, b):
        return gemm(a, b, np.empty((a.shape[0], b.shape[1]), dtype=a.dtype), False)
    return np.dot(a, b)


# numba's own entry to BLAS gemm (scipy's cython_blas, as ``np.dot`` uses): an external symbol
# resolved when the code is linked, so a kernel calling it caches on disk (a ctypes pointer would
# be an address baked into the code, which numba refuses to cache).
# numba_xxgemm(kind, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc), pointers untyped
# so that one call serves float32 and float64.
def _numba_gemm():
    ensure_blas()  # registers the symbol
    return types.ExternalFunction("numba_xxgemm", types.intc(
        types.char, types.char, types.char, types.intp, types.intp, types.intp, types.voidptr, types.voidptr,
        types.intp, types.voidptr, types.intp, types.voidptr, types.voidptr, types.intp))


_xxgemm = _numba_gemm()


@numba.njit(cache=True)
def _gemm_operand(x):
    """(x or a C-contiguous copy, transposition flag, leading dimension): a row-major 2-D operand
    as column-major BLAS reads it. C-contiguous rows are BLAS's ``N`` (it sees the transpose,
    which is what the swapped product below wants); a transposed view (F-contiguous) is ``T``."""
    rows, cols, size = x.shape[0], x.shape[1], x.itemsize
    if (cols <= 1 or x.strides[1] == size) and (rows <= 1 or x.strides[0] >= cols * size):
        return x, np.int8(ord("n")), x.strides[0] // size if rows > 1 else max(cols, 1)
    if (rows <= 1 or x.strides[0] == size) and (cols <= 1 or x.strides[1] >= rows * size):
        return x, np.int8(ord("t")), x.strides[1] // size if cols > 1 else max(rows, 1)
    c = np.ascontiguousarray(x)
    return c, np.int8(ord("n")), max(cols, 1)


@numba.njit(cache=True)
def dot_add(a, b, c):
    """``c += a @ b`` in place, by one BLAS gemm with beta = 1 (no product array, no second pass
    over ``c``), and returns ``c``. 2-D float32 or float64 operands of one dtype; ``a`` and ``b``
    C-contiguous or transposed views (others are copied first); ``c`` of the product's shape
    and C-contiguous (else the product is added by a loop)."""
    m, k, n = a.shape[0], a.shape[1], b.shape[1]
    if b.shape[0] != k or c.shape[0] != m or c.shape[1] != n:
        raise ValueError("dot_add: shapes do not align")
    if m == 0 or n == 0 or k == 0:
        return c
    if not ((m <= 1 or c.strides[0] == n * c.itemsize) and (n <= 1 or c.strides[1] == c.itemsize)):
        p = np.dot(np.ascontiguousarray(a), np.ascontiguousarray(b))
        for i in range(m):
            for j in range(n):
                c[i, j] += p[i, j]
        return c
    if suits(a, b):
        return gemm(a, b, c, True)
    a2, ta, lda = _gemm_operand(a)
    b2, tb, ldb = _gemm_operand(b)
    one = np.ones(1, dtype=c.dtype)
    # row-major C = A B is column-major C^T = B^T A^T: gemm(tb, ta, n, m, k, B, ldb, A, lda, C, n)
    kind = np.int8(ord("s") if c.itemsize == 4 else ord("d"))
    r = _xxgemm(kind, tb, ta, n, m, k, one.ctypes, b2.ctypes, ldb, a2.ctypes, lda, one.ctypes, c.ctypes, n)
    if r != 0:
        raise RuntimeError("dot_add: BLAS gemm failed")
    return c


@numba.njit(cache=True)
def dot_packed(a, b, panels):
    """``a @ b`` with b also given packed (``pack_panels``, done once before a loop that
    multiplies by the same weights at every step)."""
    if rows_suit(a, panels):
        return gemm_packed(a, panels, b.shape[1], np.empty((a.shape[0], b.shape[1]), dtype=a.dtype), False)
    return np.dot(a, b)


@numba.njit(cache=True)
def dot_add_packed(a, b, panels, c):
    """``c += a @ b`` in place with b also given packed, as ``dot_packed``; returns c."""
    if rows_suit(a, panels) and c.flags.c_contiguous:
        return gemm_packed(a, panels, b.shape[1], c, True)
    return dot_add(a, b, c)
