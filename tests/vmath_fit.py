"""Recompute the polynomial coefficients of ``adjit/ops/vmath.py`` (not a test; about 30 s).

    python -m adjit.tests.vmath_fit          # prints the tables as they appear in vmath.py

Each polynomial is a weighted minimax approximation found by the Remez exchange algorithm in
60-digit arithmetic (mpmath): the weight makes the error *relative to the final function value*
(not to the polynomial) equioscillate. The intervals are the reduced ranges of vmath.py, widened
by a hair for the rounding of the reduction. float64 coefficients are printed as float64;
float32 ones, used in float32 arithmetic, rounded to float32.
"""
from __future__ import annotations

import mpmath as mp
import numpy as np

mp.mp.dps = 60


def remez(g, w, a, b, n, iters=40, grid=3000):
    """Coefficients c[0..n-1] (lowest degree first) minimizing max |w(t) (g(t) - sum c_i t^i)|
    on [a, b], and that maximum."""
    a, b = mp.mpf(a), mp.mpf(b)
    m = n + 1
    ref = [(a + b) / 2 - (b - a) / 2 * mp.cos(mp.pi * k / (m - 1)) for k in range(m)]
    xs = [(a + b) / 2 - (b - a) / 2 * mp.cos(mp.pi * k / (grid - 1)) for k in range(grid)]
    gx, wx = [g(x) for x in xs], [w(x) for x in xs]
    for _ in range(iters):
        # solve p(x_j) + (-1)^j E / w(x_j) = g(x_j) on the reference points
        A = mp.matrix([[x ** i for i in range(n)] + [(-1) ** j / w(x)] for j, x in enumerate(ref)])
        sol = mp.lu_solve(A, mp.matrix([g(x) for x in ref]))
        c, E = [sol[i] for i in range(n)], sol[n]
        err = [wx[k] * (gx[k] - mp.polyval(c[::-1], xs[k])) for k in range(grid)]
        # new reference: the local extrema of the error, one per sign run, n+1 of them
        ext = [k for k in range(grid) if (k == 0 or abs(err[k]) >= abs(err[k - 1]))
               and (k == grid - 1 or abs(err[k]) >= abs(err[k + 1]))]
        alt = []
        for k in ext:
            if alt and mp.sign(err[k]) == mp.sign(err[alt[-1]]):
                alt[-1] = k if abs(err[k]) > abs(err[alt[-1]]) else alt[-1]
            else:
                alt.append(k)
        while len(alt) > m:
            alt.pop(0 if abs(err[alt[0]]) < abs(err[alt[-1]]) else -1)
        emax = max(abs(e) for e in err)
        if len(alt) < m or emax <= abs(E) * (1 + mp.mpf("1e-6")):
            break
        ref = [xs[k] for k in alt]
    return c, emax


def _series_guard(f, at_zero):
    """f(t), or its limit at t = 0."""
    return lambda t: at_zero if abs(t) < mp.mpf("1e-30") else f(t)


def _relative(f_of_t, factor, floor):
    """Weight making the error of ``factor(t) * (g - p)`` relative to the function ``f_of_t``."""
    return lambda t: max(factor(t), mp.mpf(floor)) / abs(f_of_t(t)) if t != 0 else mp.mpf(floor)


def fits():
    """name -> (coefficients highest degree first, dtype, max weighted error)."""
    out = {}
    sq = mp.sqrt
    # exp(r) = 1 + r + r^2 P(r) on |r| <= ln2/2
    L = mp.log(2) / 2 * mp.mpf("1.0001")
    g = _series_guard(lambda r: (mp.exp(r) - 1 - r) / r ** 2, mp.mpf(1) / 2)
    w = lambda r: max(r ** 2, (L / 50) ** 2) / mp.exp(r)  # noqa: E731  (relative to exp(r))
    out["_EXP64"], out["_EXP32"] = (remez(g, w, -L, L, 10), "f64"), (remez(g, w, -L, L, 5), "f32")
    # log(1+f) = 2 atanh(s) = 2s + s v P(v), v = s^2, |s| <= (sqrt2-1)/(sqrt2+1)
    V = ((sq(2) - 1) / (sq(2) + 1) * mp.mpf("1.0001")) ** 2
    g = _series_guard(lambda v: (2 * mp.atanh(sq(v)) / sq(v) - 2) / v, mp.mpf(2) / 3)
    w = _relative(lambda v: 2 * mp.atanh(sq(v)), lambda v: v * sq(v), "1e-12")
    out["_LOG64"], out["_LOG32"] = (remez(g, w, 0, V, 7), "f64"), (remez(g, w, 0, V, 4), "f32")
    # tanh(x) = x + x z P(z), z = x^2, |x| < 0.625
    Z = mp.mpf("0.625") ** 2
    g = _series_guard(lambda z: (mp.tanh(sq(z)) / sq(z) - 1) / z, -mp.mpf(1) / 3)
    w = _relative(lambda z: mp.tanh(sq(z)), lambda z: z * sq(z), "1e-12")
    out["_TANH64"], out["_TANH32"] = (remez(g, w, 0, Z, 12), "f64"), (remez(g, w, 0, Z, 6), "f32")
    # sin(r) = r + r z S(z), cos(r) = 1 - z/2 + z^2 K(z), |r| <= pi/4 (float32 inputs: in float64)
    Z = (mp.pi / 4) ** 2 * mp.mpf("1.001")
    g = _series_guard(lambda z: (mp.sin(sq(z)) - sq(z)) / (z * sq(z)), -mp.mpf(1) / 6)
    w = _relative(lambda z: mp.sin(sq(z)), lambda z: z * sq(z), "1e-15")
    out["_SIN64"], out["_SIN32"] = (remez(g, w, 0, Z, 6), "f64"), (remez(g, w, 0, Z, 4), "f64")
    g = _series_guard(lambda z: (mp.cos(sq(z)) - 1 + z / 2) / z ** 2, mp.mpf(1) / 24)
    w = _relative(lambda z: mp.cos(sq(z)), lambda z: z * z, "1e-20")
    out["_COS64"], out["_COS32"] = (remez(g, w, 0, Z, 6), "f64"), (remez(g, w, 0, Z, 4), "f64")
    return {name: ([float(v) if dt == "f64" else float(np.float32(float(v))) for v in c[::-1]], dt, e)
            for name, ((c, e), dt) in out.items()}


def main():
    for name, (coeffs, dtype, err) in fits().items():
        print(f"# {dtype}, max weighted error 2^{float(mp.log(err, 2)):.1f}")
        print(f"{name} = ({', '.join(repr(v) for v in coeffs)})")


if __name__ == "__main__":
    main()
