"""Helpers shared by the op, transformation and error tests: checked transformations, central
differences, tolerances and the compiler entry point."""
from __future__ import annotations

import numpy as np
import pytest

from adjit import engine
from adjit.engine import Function, check_function

# Values in float32 agree to about this relative error, float64 to this (brief of issue #2).
RTOL = {"float32": 1e-5, "float64": 1e-12}


def checked(transform, f, *args, **kwargs) -> Function:
    """``transform(f, ...)``, with the IR checker run on the input and the result, and a check
    that the transformation neither mutated ``f`` nor let float32 drift to float64."""
    check_function(f)
    before = snapshot(f)
    out = transform(f, *args, **kwargs)
    assert isinstance(out, Function), f"{transform.__name__} returned {type(out).__name__}"
    check_function(out)
    assert snapshot(f) == before, f"{transform.__name__} mutated its input"
    if not any("float64" in dtypes(n) for n in all_nodes(f)):  # a float32 program stays float32
        assert_no_upcast(out)
    return out


def all_nodes(f: Function) -> list:
    """The nodes of ``f`` and of the Functions in their params (scan bodies), recursively."""
    return [m for n in f.nodes for m in [n] + [b for v in n.params.values() if isinstance(v, Function)
                                               for b in all_nodes(v)]]


def dtypes(n) -> set:
    """The dtypes of a node's values (one per result of a multi-result node)."""
    return {a.dtype for a in n.aval} if n.multiple else {n.dtype}


def snapshot(f: Function):
    """Everything about ``f`` a transformation could change (nodes compare by id: ``==`` on
    nodes builds graph nodes)."""
    nodes = tuple((n.id, n.prim, tuple(i.id for i in n.inputs), repr(sorted(n.params.items())), n.aval)
                  for n in f.nodes)
    return (str(f), f.key, nodes, tuple(i.id for i in f.inputs), tuple(o.id for o in f.outputs))


def assert_no_upcast(f: Function) -> None:
    """A graph whose float inputs are all float32 computes in float32 throughout."""
    floats = {i.dtype for i in f.inputs if i.dtype.startswith("float")}
    if floats == {"float32"}:
        wide = [n for n in all_nodes(f) if "float64" in dtypes(n)]
        assert not wide, f"{f.name}: float64 nodes in a float32 graph: {wide[:3]}\n{f}"


def as_list(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def assert_close(got, want, dtype, rtol=None, what=""):
    """Equal shapes, and values within ``rtol`` of the largest magnitude involved."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    rtol = RTOL.get(dtype, 0) if rtol is None else rtol
    if want.dtype == bool or not np.issubdtype(want.dtype, np.inexact):
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    scale = max(1.0, float(np.max(np.abs(want[np.isfinite(want)]), initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=what)


def numeric_grad(scalar_fn, xs, j, eps=1e-6) -> np.ndarray:
    """Central differences of ``scalar_fn(*xs)`` with respect to ``xs[j]`` (float64)."""
    x = np.asarray(xs[j], dtype=np.float64)
    out = np.zeros(x.shape)
    for idx in np.ndindex(*x.shape):
        h = eps * max(1.0, abs(float(x[idx])))
        plus, minus = x.copy(), x.copy()
        plus[idx] += h
        minus[idx] -= h
        args_p, args_m = list(xs), list(xs)
        args_p[j], args_m[j] = plus, minus
        out[idx] = (float(scalar_fn(*args_p)) - float(scalar_fn(*args_m))) / (2 * h)
    return out


def jit():
    """``adjit.compiler.jit``; a test that needs it fails (never skips) while it is missing."""
    from adjit import compiler
    fn = getattr(compiler, "jit", None)
    if fn is None:
        pytest.fail("adjit.compiler.jit is not available (the compiler has not landed)")
    return fn


def random_like(rng, shape, dtype="float64") -> np.ndarray:
    return np.asarray(rng.normal(size=shape), dtype=dtype)


def load_example(name: str):
    """The script ``examples/<name>.py`` as a module (its ``main(argv)`` runs it in this process)."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parent.parent / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"adjit_example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
