"""Elementary functions that LLVM vectorizes, for the fused loops of the ``cpu`` target.

A numba loop that calls ``np.exp`` per element calls scalar libm and does not vectorize (numba's
llvmlite has no SVML). Here ``exp log log1p tanh sigmoid sin cos tan`` are branch-free njit
functions of one float32 or float64 scalar: argument reduction with integer bit manipulation, a
polynomial, selects for the special values. They are ``forceinline`` (LLVM ``alwaysinline``), so a
loop that calls them sees straight-line code and LLVM turns it into packed SIMD code. Generated
modules import this one as ``_m`` and call ``_m.exp(v)``; Python can call them too. ``select`` is
``where``'s element, for the same reason: without a branch.

The methods are the classic ones (the code and the constants are ours):

- exp: Cody-Waite reduction ``x = k ln2 + r``, |r| <= ln2/2, ln2 split in a short ``hi`` (``k*hi``
  exact) and a ``lo`` part, the rounding error of ``r`` carried along; ``e^r = 1 + r + r^2 P(r)``;
  ``2^k`` built from exponent bits in two halves, so overflow and subnormal results round once.
- log, log1p: ``x = 2^e z``, z in [sqrt(1/2), sqrt(2)), from the bits; with ``f = z - 1`` and
  ``s = f/(2+f)``, ``log(1+f) = 2 atanh(s) = f - s (f - s^2 P(s^2))``, so that the rounding of
  ``s`` only enters a small term. log1p adds the rounding error of ``1 + x`` to first order.
- tanh: an odd polynomial below 0.625; above, ``1 - 2/(e^{2|x|} + 1)`` with the rounding of the
  denominator and of the division compensated (Fast2Sum, fma remainder). sigmoid: the same
  compensated ``1/(1 + e^-|x|)``, and ``e^x/(1 + e^x)`` below 0 (exact down to the subnormals,
  where numpy's ``1/(1 + exp(-x))`` overflows to 0).
- sin, cos, tan: ``|x| 2/pi mod 4`` by a Payne-Hanek reduction with exact fma products against
  chunks of 2/pi chosen by the exponent of x, so every finite argument is reduced exactly (no
  range limit, no libm fallback); float32 arguments are reduced and evaluated in float64. Then
  minimax polynomials for sin and cos on [-pi/4, pi/4]; tan divides them, compensated.

Polynomial coefficients are weighted (relative-error) minimax fits by the Remez exchange algorithm
in 60-digit arithmetic (mpmath): ``python -m adjit.tests.vmath_fit`` prints the tables below.

Accuracy, in ulps of the correctly rounded result (tests/test_vmath.py checks <= 1 ulp over the
whole range, special values included): float32, over a third of all float32 values: exp 0.78,
log 0.94, log1p 0.95, tanh 0.73, sigmoid 0.78, sin cos tan 0.50; float64, over 1e7 log-uniform
arguments each: exp 0.77, log 0.82, log1p 0.87, tanh 0.68, sigmoid 0.78, sin 0.77, cos 0.76,
tan 0.90. Values, infinities, NaN and signed zeros agree with numpy (numpy's own float32
functions are off by up to 2-3 ulp, so the two may differ by 3 ulp there).
"""
from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

# forceinline: LLVM's alwaysinline, so that the loop that calls a function sees all of its code
_njit = numba.njit(cache=True, nogil=True, error_model="numpy", forceinline=True)


# --- LLVM building blocks --------------------------------------------------------------------------
@intrinsic
def _bits(typingctx, x):
    """The bits of a float as a signed integer of the same width."""
    ity = types.int64 if x.bitwidth == 64 else types.int32

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(x.bitwidth))
    return ity(x), codegen


@intrinsic
def _from_bits(typingctx, i, like):
    """The float of the type of ``like`` whose bits are the low bits of the integer ``i``."""
    def codegen(context, builder, sig, args):
        v, width = args[0], like.bitwidth
        if v.type.width > width:
            v = builder.trunc(v, ir.IntType(width))
        elif v.type.width < width:
            v = builder.sext(v, ir.IntType(width))
        return builder.bitcast(v, context.get_value_type(like))
    return like(i, like), codegen


def _int_op(op):
    """An integer operation at the width of its first argument (numba widens int32 to int64,
    which halves the SIMD lanes of float32 code); the second is converted to that width."""
    @intrinsic
    def impl(typingctx, a, b):
        def codegen(context, builder, sig, args):
            x, y = args
            if y.type.width != x.type.width:
                y = (builder.trunc if y.type.width > x.type.width else builder.sext)(y, x.type)
            return getattr(builder, op)(x, y)
        return a(a, b), codegen
    return impl


_iadd, _isub, _shl, _ashr = (_int_op(op) for op in ("add", "sub", "shl", "ashr"))


@intrinsic
def _to_float(typingctx, i, like):
    """The integer ``i`` converted to the float type of ``like`` (numba would make int*f32 f64)."""
    def codegen(context, builder, sig, args):
        return builder.sitofp(args[0], context.get_value_type(like))
    return like(i, like), codegen


@intrinsic
def _as(typingctx, v, like):
    """The float ``v`` rounded (or widened) to the float type of ``like``."""
    def codegen(context, builder, sig, args):
        t = context.get_value_type(like)
        if v.bitwidth > like.bitwidth:
            return builder.fptrunc(args[0], t)
        return builder.fpext(args[0], t) if v.bitwidth < like.bitwidth else args[0]
    return like(v, like), codegen


@intrinsic
def _fma(typingctx, a, b, c):
    """``a*b + c`` rounded once: ``llvm.fma``, one instruction where the CPU has FMA (elsewhere a
    correct but slow libm call); the exact products of the trig reduction rely on it."""
    def codegen(context, builder, sig, args):
        t = args[0].type
        fn = builder.module.declare_intrinsic("llvm.fma", [t], ir.FunctionType(t, [t, t, t]))
        return builder.call(fn, args)
    return a(a, b, c), codegen


# --- constants per dtype ---------------------------------------------------------------------------
_Consts = namedtuple("_Consts", [
    "zero", "half", "one", "two", "inf", "nan",
    "mant", "bias", "min_normal", "scale_up",        # format: mantissa bits, exponent bias, ...
    "log2e", "shift", "ln2_hi", "ln2_lo",           # k = rint(x log2e) by adding shift = 1.5 2^mant;
                                                    # ln2_hi: ln2 to 42 (16) bits, k*ln2_hi is exact
    "exp_lo", "exp_hi", "exp_poly",                 # exp clamps; exp(r) = 1 + r + r^2 P(r)
    "sqrt_half_bits", "log_poly",                   # log: reduction point; R(w) = w P(w)
    "log1p_tiny",                                   # log1p(x) = x below
    "tanh_small", "tanh_big", "tanh_poly",          # tanh: polynomial below small, 1 above big
    "tiny",                                         # tanh(x) = sin(x) = tan(x) = x below
])

# Remez fits (tests/vmath_fit.py); highest degree first
_EXP64 = (2.5000059632807066e-08, 2.7630248442108974e-07, 2.7557586379864445e-06,
          2.4801493098732055e-05, 0.00019841269506572212, 0.0013888888943630274,
          0.008333333333494465, 0.041666666666530155, 0.16666666666666413, 0.5000000000000011)
_EXP32 = (0.001381459878757596, 0.008368716575205326, 0.04166838899254799, 0.1666652113199234,
          0.4999999403953552)
_LOG64 = (0.1481067735925013, 0.15313149469623605, 0.18183572084062619, 0.22222199081404334,
          0.2857142872936539, 0.3999999999951953, 0.666666666666671)
_LOG32 = (0.23617561161518097, 0.2853604555130005, 0.4000034034252167, 0.6666666865348816)
_TANH64 = (6.025702838177005e-06, -3.0167461925360647e-05, 9.155997169395694e-05,
           -0.00023702668365980847, 0.0005894631202879659, -0.0014557302908210226,
           0.003592114993515996, -0.008863234453077936, 0.02186948848077648, -0.053968253966647305,
           0.13333333333331154, -0.33333333333333326)
_TANH32 = (0.0021303086541593075, -0.008168870583176613, 0.021700244396924973,
           -0.053947459906339645, 0.13333220779895782, -0.3333333134651184)

_F64 = _Consts(
    0.0, 0.5, 1.0, 2.0, np.inf, np.nan,
    52, 1023, 2.2250738585072014e-308, 2.0 ** 52,
    1.4426950408889634, 1.5 * 2.0 ** 52, 0.6931471805598903, 5.497923018708371e-14,
    -750.0, 710.0, _EXP64,
    0x3fe6a09e667f3bcd, _LOG64,
    2.0 ** -54,
    0.625, 19.5, _TANH64,
    2.0 ** -27)


def _f32(values):
    return tuple(np.float32(v) for v in values)


_F32 = _Consts(
    *_f32((0.0, 0.5, 1.0, 2.0, np.inf, np.nan)),
    23, 127, np.float32(1.1754944e-38), np.float32(2.0 ** 23),
    *_f32((1.4426950408889634, 1.5 * 2.0 ** 23, 0.693145751953125, 1.428606765330187e-06)),
    np.float32(-110.0), np.float32(89.0), _f32(_EXP32),
    0x3f3504f3, _f32(_LOG32),
    np.float32(2.0 ** -25),
    np.float32(0.625), np.float32(9.25), _f32(_TANH32),
    np.float32(2.0 ** -13))


def _consts(x):
    """The constants for the dtype of ``x`` (resolved at compile time, in njit code only)."""


@overload(_consts)
def _consts_ov(x):
    c = _F32 if x == types.float32 else _F64
    return lambda x: c


# --- shared pieces ---------------------------------------------------------------------------------
@intrinsic
def _horner(typingctx, t, coeffs):
    """The polynomial with ``coeffs`` (highest degree first) at ``t``: a chain of fmas (no loop)."""
    if any(c != t for c in coeffs):
        return None

    def codegen(context, builder, sig, args):
        tv, cv = args
        fn = builder.module.declare_intrinsic("llvm.fma", [tv.type], ir.FunctionType(tv.type, [tv.type] * 3))
        p = builder.extract_value(cv, 0)
        for i in range(1, len(coeffs)):
            p = builder.call(fn, [p, tv, builder.extract_value(cv, i)])
        return p
    return t(t, coeffs), codegen


@_njit
def _exp_reduce(x, C):
    """``x = k ln2 + r`` for x in the clamp range: (r, s, k) with e^(x - k ln2) - 1 = r + s."""
    t = _fma(x, C.log2e, C.shift)          # rint(x log2e) in the low mantissa bits
    kf = t - C.shift
    r1 = x - kf * C.ln2_hi                    # exact: kf*ln2_hi has few bits, and Sterbenz
    r = _fma(-kf, C.ln2_lo, r1)
    dr = _fma(-kf, C.ln2_lo, r1 - r)          # the rounding error of r, to first order
    return r, _fma(r * r, _horner(r, C.exp_poly), dr), _isub(_bits(t), _bits(C.shift))


@_njit
def _pow2(k, like, C):
    """``2^k`` for k in the normal exponent range."""
    return _from_bits(_shl(_iadd(k, C.bias), C.mant), like)


@_njit
def _log_kernel(x, eoff, c, C):
    """log(x 2^-eoff) + c for a finite normal x > 0, with ``c`` (log1p's first-order correction)
    added before the last rounding."""
    ix = _bits(x)
    e = _ashr(_isub(ix, C.sqrt_half_bits), C.mant)   # x = 2^e z, z in [sqrt(1/2), sqrt(2))
    z = _from_bits(_isub(ix, _shl(e, C.mant)), x)
    e = _isub(e, eoff)
    f = z - C.one
    s = f / (C.two + f)
    w = s * s
    ef = _to_float(e, x)
    # log(1+f) = f - s (f - w P(w)); then e ln2 with ln2 = hi + lo (e*hi exact)
    return ef * C.ln2_hi + (f - (s * (f - w * _horner(w, C.log_poly)) - (ef * C.ln2_lo + c)))


# --- the functions ---------------------------------------------------------------------------------
@_njit
def exp(x):
    """e**x, within 1 ulp (float32 and float64)."""
    C = _consts(x)
    xc = x if x > C.exp_lo else C.exp_lo
    xc = xc if xc < C.exp_hi else C.exp_hi
    r, s, k = _exp_reduce(xc, C)
    h = C.one + r
    p = h + (((C.one - h) + r) + s)             # 1 + r + s, rounded once (Fast2Sum)
    k1 = _ashr(k, 1)                             # 2^k in two factors: no overflow before rounding
    y = p * _pow2(k1, x, C) * _pow2(_isub(k, k1), x, C)
    return x if x != x else y


@_njit
def log(x):
    """Natural logarithm, within 1 ulp; log(0) = -inf, log(x < 0) = nan."""
    C = _consts(x)
    sub = x < C.min_normal
    y = _log_kernel(x * C.scale_up if sub else x, C.mant if sub else 0, C.zero, C)
    y = x if x == C.inf else y
    y = -C.inf if x == C.zero else y
    return C.nan if (x < C.zero) or (x != x) else y


@_njit
def log1p(x):
    """log(1 + x), within 1 ulp (also for tiny x); log1p(-1) = -inf."""
    C = _consts(x)
    u = x + C.one
    c = (x - (u - C.one)) / u                   # log(1+x) = log(u) + c to first order
    y = _log_kernel(u, 0, c, C)
    y = x if abs(x) < C.log1p_tiny else y       # also -0 and subnormals
    y = x if x == C.inf else y
    y = -C.inf if x == -C.one else y
    return C.nan if (x < -C.one) or (x != x) else y


@_njit
def tanh(x):
    """Hyperbolic tangent, within 1 ulp."""
    C = _consts(x)
    a = abs(x)
    z = x * x
    small = _fma(x * z, _horner(z, C.tanh_poly), x)
    # 1 - 2/(E + 1), E = e^{2a} = 2^k (1 + pm); den = (2^k + 1) + 2^k pm with its rounding error
    b = a if a > C.tanh_small else C.tanh_small
    b = b if b < C.tanh_big else C.tanh_big
    r, s, k = _exp_reduce(b + b, C)
    pm = r + s
    p2 = _pow2(k, x, C)
    A = p2 + C.one                              # exact while it matters (k <= mant)
    B = p2 * pm
    den = A + B
    de = (A - den) + B                          # Fast2Sum: den + de == A + B
    q = C.two / den
    rho = _fma(-q, den, C.two)                  # 2 - q den, exactly
    corr = (rho - q * de) * (q * C.half)        # 2/(den + de) = q + corr
    th = C.one - q
    tl = (C.one - th) - q                       # Fast2Sum: th + tl == 1 - q
    big = th + (tl - corr)
    big = big if x > C.zero else -big
    y = small if a < C.tanh_small else big
    y = x if a < C.tiny else y                  # also -0
    return x if x != x else y


@_njit
def sigmoid(x):
    """1 / (1 + e**-x), within 1 ulp (also where e**-x overflows: e**x for very negative x)."""
    C = _consts(x)
    a = abs(x)
    a = a if a < -C.exp_lo else -C.exp_lo
    r, s, k = _exp_reduce(-a, C)                # E = e^-|x| = 2^k (1 + r + s), k <= 0
    k1 = _ashr(k, 1)
    k2 = _isub(k, k1)
    p2 = _pow2(k1, x, C) * _pow2(k2, x, C)     # 2^k, down to the subnormals
    E1 = _fma(p2, r, p2)
    E1l = _fma(p2, r, p2 - E1) + p2 * s         # E1 + E1l == 2^k (1 + r + s)
    E = E1 + E1l
    eE = (E1 - E) + E1l                         # Fast2Sum: E + eE == E1 + E1l
    den = C.one + E
    de = ((C.one - den) + E) + eE               # den + de == 1 + E
    q = C.one / den
    ql = (_fma(-q, den, C.one) - q * de) * q    # 1/(1 + E) = q + ql
    # x < 0: E/(1 + E) = 2^k (1 + r + s)(q + ql), scaled in two halves (subnormal results)
    h = _fma(r, q, q)
    hl = _fma(r, q, q - h) + _fma(s, q, _fma(r, ql, ql))  # h + hl == (1 + r + s)(q + ql)
    neg = (h + hl) * _pow2(k1, x, C) * _pow2(k2, x, C)
    y = q + ql if x >= C.zero else neg
    return x if x != x else y


# --- sin, cos, tan ---------------------------------------------------------------------------------
# 2/pi = 0.b1 b2 b3 ... in binary: the first 1280 bits (checked against mpmath by the tests).
_TWO_OVER_PI = int(
    "a2f9836e4e441529fc2757d1f534ddc0db6295993c439041fe5163abdebbc561b7246e3a424dd2e006492eea09d1921c"
    "fe1deb1cb129a73ee88235f52ebb4484e99c7026b45f7e413991d639835339f49c845f8bbdf9283b1ff897ffde05980fe"
    "f2f118b5a0a6d1f6d367ecf27cb09b74f463f669e5fea2d7527bac7ebe5f17b3d0739f78a5292ea6bfb5fb11f8d5d0856"
    "033046fc7b6babf0cfbc209af4361d", 16)
_TWO_OVER_PI_BITS = 1280


def _chunk(first, count, scale=0):
    """Bits ``first .. first+count-1`` of 2/pi (bit i weighs 2^-i), times 2^scale, as a float."""
    last = first + count - 1
    value = (_TWO_OVER_PI >> (_TWO_OVER_PI_BITS - last)) & ((1 << count) - 1)
    return float(value) * 2.0 ** (scale - last)


def _trig_tables():
    """Per exponent range of the argument, 2/pi without its leading bits (those that only add
    multiples of 4 to x*2/pi), split in chunks whose products with x are exact in fma arithmetic.

    float64: x = m 2^(e-1075), m < 2^53; bits i <= e-1077 are dropped. A row serves 8 exponents
    and holds 4 chunks of 53 bits, scaled by 2^(8 row) so that none is subnormal (x is scaled
    down by the same power). float32 (reduced in float64): a 29-bit chunk (a 24-bit x times it is
    exact in a double) and two of 53 bits; the first row keeps all of 2/pi and is exact enough up
    to |x| < 2^70, four more rows cover 16 binades each.
    """
    t64 = np.empty((122, 4))
    for row in range(122):
        first = 1 + 8 * row
        t64[row] = [_chunk(first + 53 * j, 53, 8 * row) for j in range(4)]
    # float32: row 0 serves |x| < 2^70; row j > 0 serves biased exponents e >= 197 + 16 (j-1),
    # from which bits i <= e-152 can go (selected by compares, not loaded: gathers are slow)
    firsts = [1] + [197 + 16 * j - 151 for j in range(4)]
    t32 = tuple(tuple(_chunk(f + off, n) for off, n in ((0, 29), (29, 53), (82, 53))) for f in firsts)
    return t64, t32


_T64, _T32 = _trig_tables()
_PIO2_HI = 1.5707963267948966          # pi/2 = hi + lo to 107 bits
_PIO2_LO = 6.123233995736766e-17
_SIN64 = (1.589457978152985e-10, -2.5050732379646726e-08, 2.755731363850439e-06,
          -0.00019841269830108826, 0.008333333333323624, -0.1666666666666664)
_COS64 = (-1.1367900041939653e-11, 2.087589636756931e-09, -2.7557315730261363e-07,
          2.480158729460575e-05, -0.0013888888888882816, 0.04166666666666665)
_SIN32 = (2.71731133193722e-06, -0.0001983925755223464, 0.008333329317115522, -0.1666666664413041)
_COS32 = (-2.72368490905725e-07, 2.4799908328873977e-05, -0.001388888553747608, 0.04166666664785987)


@_njit
def _rmod4(v):
    """v minus the nearest multiple of 4 (exact)."""
    return v - 4.0 * np.rint(v * 0.25)


@_njit
def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@_njit
def _reduce64(a):
    """a >= 0 finite: (n, r, rl) with a = n pi/2 + r + rl, |r| <= pi/4 (n mod 4 is what counts)."""
    e = (_bits(a) >> 52) & 0x7FF
    row = (e - 1077 if e > 1077 else 0) >> 3
    a = a * _from_bits((1023 - 8 * row) << 52, a)   # exact; the chunks carry 2^(8 row)
    c0, c1, c2, c3 = _T64[row, 0], _T64[row, 1], _T64[row, 2], _T64[row, 3]
    h0 = a * c0
    l0 = _fma(a, c0, -h0)
    h1 = a * c1
    l1 = _fma(a, c1, -h1)
    h2 = a * c2
    l2 = _fma(a, c2, -h2)
    # a (2/pi) = h0 + l0 + h1 + l1 + h2 + l2 + a c3; the first three carry the multiples of 4
    s, e0 = _two_sum(_rmod4(h0), _rmod4(l0))
    s, e1 = _two_sum(_rmod4(s), _rmod4(h1))
    n = np.rint(s)
    s = s - n                                # |s| <= 1/2, exact
    u, ul = _two_sum(l1, h2)                 # the middle terms, summed exactly
    u, t = _two_sum(u, e0)
    ul = ul + t
    u, t = _two_sum(u, e1)
    ul = ul + t + (l2 + a * c3)
    f, fl = _two_sum(s, u)
    fl = fl + ul
    # (f + fl) pi/2 as a double-double
    r = f * _PIO2_HI
    rl = _fma(f, _PIO2_HI, -r) + _fma(f, _PIO2_LO, fl * _PIO2_HI)
    hi = r + rl
    return n, hi, (r - hi) + rl


@_njit
def _reduce32(a):
    """The float32 argument (as a float64 a >= 0): (n, r) with a = n pi/2 + r to float64 precision."""
    t = _T32[0]                              # the row, by compares and selects: no memory gather
    t = _T32[1] if a >= 2.0 ** 70 else t
    t = _T32[2] if a >= 2.0 ** 86 else t
    t = _T32[3] if a >= 2.0 ** 102 else t
    t = _T32[4] if a >= 2.0 ** 118 else t
    h0 = a * t[0]                            # exact: 24 bits times 29 bits
    h1 = a * t[1]
    l1 = _fma(a, t[1], -h1)
    s, e1 = _two_sum(_rmod4(h0), _rmod4(h1))
    n = np.rint(s)
    return n, ((s - n) + (e1 + (l1 + a * t[2]))) * _PIO2_HI


@_njit
def _sincos64(r, rl):
    """sin and cos of r + rl (|r| <= pi/4, rl tiny), each as a rounded value and its error."""
    z = r * r
    ts = _fma(r * z, _horner(z, _SIN64), _fma(-0.5 * z, rl, rl))
    sn = r + ts
    hz = 0.5 * z
    w = 1.0 - hz
    tc = ((1.0 - w) - hz) + _fma(z * z, _horner(z, _COS64), _fma(-r, rl, -0.5 * _fma(r, r, -z)))
    cs = w + tc
    return sn, (r - sn) + ts, cs, (w - cs) + tc


@_njit
def _sincos32(r):
    z = r * r
    return _fma(r * z, _horner(z, _SIN32), r), 0.0, _fma(z * z, _horner(z, _COS32), 1.0 - 0.5 * z), 0.0


def _sincos(x):
    """(n, sin r, its error, cos r, its error) in float64 with |x| = n pi/2 + r, for finite x
    (resolved per dtype)."""


@overload(_sincos, jit_options={"forceinline": True})
def _sincos_ov(x):
    if x == types.float32:
        def impl(x):
            n, r = _reduce32(np.float64(x))
            return (n,) + _sincos32(r)
    else:
        def impl(x):
            n, r, rl = _reduce64(x)
            return (n,) + _sincos64(r, rl)
    return impl


@_njit
def _trig(x, which):
    """which: 0 sin, 1 cos, 2 tan; the quadrant n picks sin or cos of r and a sign."""
    C = _consts(x)
    a = abs(x)
    n, sn, snl, cs, csl = _sincos(a if a < C.inf else C.zero)  # (keeps the table row in range)
    q = np.int64(n) & 3
    if which == 0:
        y = sn if (q & 1) == 0 else cs
        y = -y if (q & 2) != 0 else y
    elif which == 1:
        y = cs if (q & 1) == 0 else sn
        y = -y if ((q + 1) & 2) != 0 else y
    else:                                              # (num + numl) / (den + denl)
        odd = (q & 1) != 0
        num, numl = (-cs, -csl) if odd else (sn, snl)
        den, denl = (sn, snl) if odd else (cs, csl)
        y = num / den
        y = y + (_fma(-y, den, num) + (numl - y * denl)) / den
    y = _as(y, x)
    if which != 1:
        y = -y if x < C.zero else y
        y = x if a < C.tiny else y                # also -0 and subnormals
    return y if a < C.inf else x - x                   # nan for inf and nan


@_njit
def sin(x):
    """Sine, within 1 ulp for every finite argument (exact Payne-Hanek reduction)."""
    return _trig(x, 0)


@_njit
def cos(x):
    """Cosine, within 1 ulp for every finite argument."""
    return _trig(x, 1)


@_njit
def tan(x):
    """Tangent, within 1 ulp for every finite argument."""
    return _trig(x, 2)


@_njit
def select(c, a, b):
    """``a if c else b`` with both arms evaluated (they are the arguments): ``where`` in a fused
    loop. The conditional expression reads its arms only when taken, so LLVM must branch (it
    cannot prove an array read safe to run speculatively), and on a mask such as relu's the branch
    mispredicts half the time: the loop costs five times as much and does not vectorize."""
    return a if c else b
