"""``jit``: compile a Function (or a traced callable) for a target and run it."""
from __future__ import annotations

import time

import numpy as np

from ..engine.function import Function, check_arg, trace
from ..engine.transforms import Lazy
from . import cache, codegen, passes

TARGETS = ("numpy", "cpu")
_PYTHON_SCALARS = ("float64", "int64", "bool")  # dtypes numba types a Python scalar as


class Compiled:
    """A compiled Function: call it with arrays. ``.source`` is the generated Python module,
    ``.path`` its file in the cache, ``.function`` the optimized graph it was made from and
    ``.original`` the graph as given."""

    def __init__(self, f: Function, target: str, optimize: bool = True):
        self.original = f
        self.function = passes.optimize(f) if optimize else f
        self.target = target
        if target == "numpy":
            self.source, consts = codegen.emit_numpy(self.function)
        else:
            self.source, consts = codegen.LoopEmitter(self.function).source()
        self._consts = [np.ascontiguousarray(c) for c in consts]
        name = self.source.split("\ndef ", 1)[1].split("(", 1)[0]
        self._fn, self.path = cache.load(self.source, target, name)
        self.compile_seconds = None
        self._out_dtypes = [np.dtype(o.dtype) for o in self.function.outputs]
        self._specs = [(np.dtype(i.dtype), i.ndim, i.shape, i.dtype in _PYTHON_SCALARS)
                       for i in self.function.inputs]

    def _arguments(self, args) -> list:
        """Arguments as the generated code takes them. The common case (arrays of the right
        dtype and rank, Python floats for float64 scalars) costs no conversion."""
        f = self.function
        if len(args) != len(f.inputs):
            raise TypeError(f"{f.name}: expected {len(f.inputs)} arguments "
                            f"({', '.join(i.name for i in f.inputs)}), got {len(args)}")
        out = []
        for a, inp, (dtype, ndim, shape, python_scalar) in zip(args, f.inputs, self._specs):
            if not (type(a) is np.ndarray and a.dtype == dtype and a.ndim == ndim
                    and all(d is None or d == s for d, s in zip(shape, a.shape))):
                if type(a) is float and python_scalar and ndim == 0 and dtype == np.float64:
                    out.append(a)
                    continue
                a = check_arg(f, inp, a)
            if ndim == 0 and self.target == "cpu":  # numba dispatches fastest on Python scalars
                a = a.item() if python_scalar else a[()]
            out.append(a)
        return out

    def __call__(self, *args):
        arrays = self._arguments(args)
        if self.compile_seconds is None:
            start = time.perf_counter()
            out = self._run(arrays)
            self.compile_seconds = time.perf_counter() - start
        else:
            out = self._run(arrays)
        if not self.function.multiple:
            return out if type(out) is np.ndarray else np.asarray(out, dtype=self._out_dtypes[0])
        return tuple(o if type(o) is np.ndarray else np.asarray(o, dtype=d) for o, d in zip(out, self._out_dtypes))

    def _run(self, arrays):
        if self.target == "cpu":
            return self._fn(*arrays, *self._consts)
        with np.errstate(all="ignore"):
            return self._fn(*arrays, *self._consts)

    @property
    def cache_hits(self) -> int:
        """How many times numba loaded this function from its on-disk cache (cpu target)."""
        return sum(getattr(self._fn, "stats", None).cache_hits.values()) if self.target == "cpu" else 0

    @property
    def cache_misses(self) -> int:
        return sum(getattr(self._fn, "stats", None).cache_misses.values()) if self.target == "cpu" else 0


class Jitted:
    """``jit`` of a Python callable (or a lazy transformation of one): traced and compiled per
    argument signature (shapes and dtypes) at the first call."""

    def __init__(self, fn, target, optimize):
        self.fn, self.target, self.optimize = fn, target, optimize
        self._compiled = {}

    def compiled_for(self, *args) -> Compiled:
        if isinstance(self.fn, Lazy):
            f = self.fn.function_for(*args)
        else:
            f = trace(self.fn, *args)
        if f.key not in self._compiled:
            self._compiled[f.key] = jit(f, self.target, self.optimize)
        return self._compiled[f.key]

    def __call__(self, *args):
        return self.compiled_for(*args)(*args)


_MEMO: dict = {}


def jit(f, target: str = "cpu", optimize: bool = True):
    """Compile ``f`` (a Function, or a callable traced at its first call) for ``target``:
    ``"numpy"`` (plain generated numpy) or ``"cpu"`` (numba, fused loops).

    >>> import adjit
    >>> from adjit import compiler, ops
    >>> g = compiler.jit(adjit.grad(lambda x: ops.sum(ops.tanh(x) * x)), target="cpu")
    >>> g(np.ones(3)).round(4).tolist()
    [1.1815, 1.1815, 1.1815]
    """
    if target not in TARGETS:
        raise ValueError(f"jit: unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    if not isinstance(f, Function):
        if not callable(f):
            raise TypeError(f"jit: expected a Function or a callable, got {type(f).__name__}")
        return Jitted(f, target, optimize)
    key = (f.key, tuple(i.name for i in f.inputs), f.multiple, target, optimize)
    if key not in _MEMO:
        _MEMO[key] = Compiled(f, target, optimize)
    return _MEMO[key]
