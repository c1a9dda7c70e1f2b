"""Our float32 GEMM (ops/gemm_kernels.py) against BLAS (numba's ``np.dot``: scipy's OpenBLAS), on
one thread, for the products of the workloads: time per product, both measured in this run.

    python -m bench.gemm                 # prints a Markdown table
    python -m bench.gemm --out bench/GEMM.md

*ours, b packed per call* is what ``_k.dot`` runs when ``gemm_kernels.suits`` says so; *ours, b
packed once* is a product inside a scan whose b is a weight packed before the loop. *_k.dot
takes* says which of BLAS and ours a product outside a loop gets for that shape.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads OpenBLAS
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import argparse  # noqa: E402
import platform  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

from adjit.ops import gemm_kernels as G  # noqa: E402

from .timing import per_call  # noqa: E402

SHAPES = [  # (m, k, n, operands given as transposed views: "a", "b" or "", where it comes from)
    (32, 128, 512, "", "W6 LSTM: h U (forward, every step)"),
    (32, 512, 128, "b", "W6 LSTM: dz U^T (reverse, every step)"),
    (128, 32, 512, "a", "W6 LSTM: h^T dz (reverse, every step)"),
    (32, 32, 512, "", "W6 LSTM: x_t W (forward, every step)"),
    (32, 32, 512, "a", "W6 LSTM: x_t^T dz (reverse, every step)"),
    (64, 784, 256, "", "W3 MLP: x W1"),
    (784, 64, 256, "a", "W3 MLP: x^T dz1"),
    (64, 256, 10, "", "W3 MLP: h W2"),
    (1, 64, 64, "", "W6 tiny RNN: h U (batch 1)"),
    (256, 256, 256, "", "square, 256"),
    (1024, 1024, 1024, "", "square, 1024"),
]


@numba.njit(cache=True)
def _blas(a, b, reps):
    for _ in range(reps):
        c = np.dot(a, b)
    return c


@numba.njit(cache=True)
def _ours(a, b, reps):
    for _ in range(reps):
        c = G.gemm(a, b, np.empty((a.shape[0], b.shape[1]), dtype=a.dtype), False)
    return c


@numba.njit(cache=True)
def _ours_packed(a, b, panels, reps):
    for _ in range(reps):
        c = G.gemm_packed(a, panels, b.shape[1], np.empty((a.shape[0], b.shape[1]), dtype=a.dtype), False)
    return c


def measure(m, k, n, transposed="", reps=20) -> dict:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(m, k)).astype(np.float32), rng.normal(size=(k, n)).astype(np.float32)
    a = np.ascontiguousarray(a.T).T if "a" in transposed else a
    b = np.ascontiguousarray(b.T).T if "b" in transposed else b
    panels = G.pack(b)
    want = a.astype(np.float64) @ b
    for got in (_blas(a, b, 1), _ours(a, b, 1), _ours_packed(a, b, panels, 1)):
        assert np.allclose(got, want, rtol=1e-4, atol=1e-4 * np.sqrt(k)), (m, k, n)
    times = {"blas": per_call(lambda: _blas(a, b, reps))["min"] / reps,
             "ours": per_call(lambda: _ours(a, b, reps))["min"] / reps,
             "packed": per_call(lambda: _ours_packed(a, b, panels, reps))["min"] / reps}
    times["taken"] = "ours" if G.suits(a, b) else "BLAS"
    return times


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


def table() -> str:
    lines = [f"Float32 products on one thread, {platform.processor() or platform.machine()}, vector registers of "
             f"{G.VECTOR_BYTES} bytes; min over 7 runs of loops of 20 products (`python -m bench.gemm`). "
             "Ratios are ours over BLAS from the same run (below 1: ours is faster).", "",
             "| m x k x n | where (a transposed view is read in place) | BLAS | ours, b packed per call | ratio | ours, b packed once | ratio | GFLOP/s (ours, packed once) | _k.dot takes |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m, k, n, transposed, where in SHAPES:
        t = measure(m, k, n, transposed, reps=2 if m * k * n > 1 << 26 else 20)
        lines.append(f"| {m} x {k} x {n} | {where} | {_us(t['blas'])} | {_us(t['ours'])} | {t['ours'] / t['blas']:.2f}x "
                     f"| {_us(t['packed'])} | {t['packed'] / t['blas']:.2f}x | {2 * m * k * n / t['packed'] / 1e9:.0f} "
                     f"| {t['taken']} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args()
    text = table()
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write("# Our GEMM against BLAS\n\n" + text)


if __name__ == "__main__":
    main()
