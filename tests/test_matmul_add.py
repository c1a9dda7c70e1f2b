"""The cpu lowering of ``add(c, matmul(a, b))`` to ``matmul_add``: one GEMM accumulating into c's
buffer when nothing reads c afterwards, into a copy of c otherwise. Each program is built to
tempt an in-place write that would be wrong (an input, a constant, a result, a value read later, a
view, a loop carry that is also a y or another carry): the compiled results must equal the
reference interpreter's and no argument may change."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from adjit import compiler, engine, ops
from adjit.compiler import passes

_rng = np.random.default_rng(11)


def _normal(*shape):
    return _rng.normal(size=shape)


def _compiled(fn, *args):
    """The cpu compile of ``fn`` traced at ``args``, checked against the reference interpreter,
    the arguments checked unchanged; its source."""
    f = engine.trace(fn, *args)
    c = compiler.jit(f, "cpu")
    before = [np.copy(a) for a in args]
    for _ in range(2):  # twice: a buffer written in place by the first call would show
        got, want = c(*args), f(*args)
        got, want = (list(got), list(want)) if f.multiple else ([got], [want])
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)
    return c.source


def _prims(f) -> list:
    return [n.prim for n in passes.lower(compiler.optimize(f), "cpu").nodes]


def test_the_lowering_fuses_only_an_exact_single_use_product():
    a, b, c = _normal(3, 2), _normal(2, 4), _normal(3, 4)
    fused = lambda fn, *xs: "matmul_add" in _prims(engine.trace(fn, *xs))
    assert fused(lambda c, a, b: c + a @ b, c, a, b)
    assert fused(lambda c, a, b: a @ b + c, c, a, b)
    assert not fused(lambda c, a, b: c[0] + a @ b, c, a, b)  # c broadcasts
    assert not fused(lambda c, a, b: (c + a @ b, a @ b), c, a, b)  # the product is read again
    stacked = _normal(2, 3, 2)
    assert not fused(lambda c, a, b: c + a @ b, _normal(2, 3, 4), stacked, b)  # a batched product
    # the numpy and cuda targets keep the product and the add
    assert "matmul_add" not in [n.prim for n in passes.lower(engine.trace(lambda c, a, b: c + a @ b, c, a, b), "numpy").nodes]


def test_matmul_add_writes_in_place_only_into_a_dead_buffer_it_owns():
    a, b, x, sq = _normal(3, 2), _normal(2, 4), _normal(3, 4), _normal(4, 4)
    # c an input: copied
    src = _compiled(lambda c, a, b: ops.tanh(c + a @ b), x, a, b)
    assert "_k.dot_add(a, b, c.copy())" in src
    # c computed and dead: in place
    src = _compiled(lambda x, a, b: ops.tanh(x * 2.0 + a @ b), x, a, b)
    assert "accumulates in place" in src
    # c a result, c read afterwards, c a constant, c a view of a live buffer, c read twice by the gemm
    src = _compiled(lambda x, a, b: (x * 2.0 + a @ b, x * 2.0), x, a, b)
    assert "accumulates in place" not in src
    src = _compiled(lambda x, a, b: (lambda c: ops.tanh(c + a @ b) * c)(x * 2.0), x, a, b)
    assert "accumulates in place" not in src
    src = _compiled(lambda a, b: ops.tanh(engine.const(np.arange(12.0).reshape(3, 4)) + a @ b), a, b)
    assert "accumulates in place" not in src
    src = _compiled(lambda s, b: (lambda w: (ops.transpose(w) + w @ b, w))(s * 2.0), sq, sq)
    assert "accumulates in place" not in src
    src = _compiled(lambda s: (lambda w: ops.tanh(w + w @ w))(s * 2.0), sq)
    assert "accumulates in place" not in src
    # a view of c read afterwards keeps c's buffer alive
    src = _compiled(lambda s, b: (lambda w: ops.sum(w + s @ b) + ops.sum(ops.transpose(w) @ b))(s * 2.0), sq, sq)
    assert "accumulates in place" not in src


def _accumulate(w, xs):
    """sum_t x_t^T x_t w, through a scan with the accumulator as its carry."""
    acc, _ = ops.scan(lambda acc, x: (acc + ops.transpose(x) @ (x @ w), None), w * 0.0, xs)
    return acc


def test_a_scan_accumulates_into_its_own_copy_of_the_carry():
    w, xs, init = _normal(3, 3), _normal(5, 2, 3), _normal(3, 3)
    src = _compiled(_accumulate, w, xs)
    assert "accumulates in place" in src and "owned by the loop" in src
    # the init is an argument of the function: the loop works on a copy of it
    src = _compiled(lambda init, xs: ops.scan(lambda a, x: (a + ops.transpose(x) @ x, None), init, xs)[0], init, xs)
    assert "accumulates in place" in src


@pytest.mark.parametrize("case", ["carry_is_y", "new_carry_is_y", "carries_swap", "carry_copied_to_another",
                                  "carry_becomes_a_const", "carry_viewed_by_another", "nested"])
def test_scan_carries_are_never_overwritten_while_something_reads_them(case):
    w, xs, init = _normal(3, 3), _normal(4, 2, 3), _normal(3, 3)

    def body(c, x):
        p = ops.transpose(x) @ x
        if case == "carry_is_y":
            return c + p, c
        if case == "new_carry_is_y":
            new = c + p
            return new, new
        if case == "carries_swap":
            return (c[1] + p, c[0] + p @ w), c[0] * 1.5
        if case == "carry_copied_to_another":
            return (c[0] + p, c[0]), c[1] * 2.0
        if case == "carry_becomes_a_const":
            return (w, c[1] + p @ c[0]), None
        if case == "carry_viewed_by_another":
            return (c[0] + p, ops.transpose(c[0])), c[1] + 0.0
        inner, _ = ops.scan(lambda a, y: (a + ops.transpose(y) @ y, None), c, xs)  # nested
        return inner + p, c

    two = case in ("carries_swap", "carry_copied_to_another", "carry_becomes_a_const", "carry_viewed_by_another")

    def f(init, w, xs):
        carry, ys = ops.scan(body, (init, init * 2.0) if two else init, xs)
        out = list(carry) if two else [carry]
        return (*out, ys) if ys is not None else tuple(out)
    _compiled(f, init, w, xs)


def test_lstm_gradients_accumulate_in_place():
    from adjit import nn
    layer = nn.LSTM(4)
    params = layer.init(0, (None, 5, 3))
    x = _normal(2, 5, 3)

    def loss(kernel, recurrent_kernel, bias, x):
        return ops.mean(layer({"kernel": kernel, "recurrent_kernel": recurrent_kernel, "bias": bias}, x) ** 2)
    f = engine.trace(loss, params["kernel"], params["recurrent_kernel"], params["bias"], x)
    g = engine.value_and_grad(f, wrt=[0, 1, 2])
    c = compiler.jit(g, "cpu")
    assert c.source.count("accumulates in place") >= 3  # x_t W + h U forward; dW and dU backward
    args = [params["kernel"], params["recurrent_kernel"], params["bias"], x]
    for got, want in zip(c(*args), g(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


_CACHE_PROGRAM = textwrap.dedent('''
    import json, numpy as np
    from adjit import compiler, engine, ops
    f = engine.trace(lambda w, xs: ops.scan(lambda a, x: (a + ops.transpose(x) @ (x @ w), None), w, xs)[0],
                     np.ones((3, 3), np.float32), np.ones((4, 2, 3), np.float32))
    c = compiler.jit(f, "cpu")
    value = c(np.eye(3, dtype=np.float32), np.ones((4, 2, 3), np.float32)).tolist()
    print(json.dumps({"hits": c.cache_hits, "misses": c.cache_misses, "value": value,
                      "in_place": "dot_add" in c.source}))
''')


def test_a_second_process_loads_in_place_gemm_code_from_the_cache(tmp_path):
    env = dict(os.environ, ADJIT_CACHE_DIR=str(tmp_path))
    runs = [json.loads(subprocess.run([sys.executable, "-c", _CACHE_PROGRAM], env=env, check=True,
                                      capture_output=True, text=True).stdout.splitlines()[-1]) for _ in range(2)]
    assert runs[0]["in_place"] and runs[0]["misses"] == 1 and runs[0]["hits"] == 0
    assert runs[1]["misses"] == 0 and runs[1]["hits"] == 1
    assert runs[0]["value"] == runs[1]["value"] == (np.eye(3) + 4 * 2 * np.ones((3, 3))).tolist()
