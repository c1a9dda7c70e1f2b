"""``jit``: compile a Function (or a traced callable) for a target and run it."""
from __future__ import annotations

import time

import numba
import numpy as np

from ..engine.function import Function, Spec, _param_names, _spec_of, check_arg, trace
from ..engine.transforms import Lazy
from . import cache, codegen, device, entry, passes
from .entry import PYTHON_SCALAR_TYPES
from .buffers import concrete_avals
from .explain import describe, log, signature_change

TARGETS = ("numpy", "cpu", "cuda")


class Compiled:
    """A compiled Function: call it with arrays. ``.source`` is the generated Python module,
    ``.path`` its file in the cache, ``.function`` the optimized graph it was made from and
    ``.original`` the graph as given.

    Each instance has a class of its own whose ``__call__`` becomes the generated entry
    (``entry.py``) after the first call, which compiles and logs: a call then costs the entry's
    argument tests and numba's dispatch, no bound-method frame."""

    def __init__(self, f: Function, target: str, optimize: bool = True, parallel: bool = False):
        self.__class__ = type("Compiled", (Compiled,), {})
        self.original = f
        self.function = passes.lower(passes.optimize(f), target) if optimize else f
        self.target = target
        self._plan = None
        if target == "numpy":
            self.source, consts = codegen.emit_numpy(self.function)
        else:
            if target == "cuda":
                from .cuda import CudaEmitter  # imports numba.cuda: only for this target
                emitter = CudaEmitter(self.function)
            else:
                emitter = codegen.LoopEmitter(self.function, parallel)
            self.source, consts = emitter.source()
            self._plan = emitter.plan
        self._consts = [np.ascontiguousarray(c) for c in consts]
        if target == "cuda":  # copied once: each call passes the device copies
            self._consts = [device.to_device(c) for c in self._consts]
        name = self.source.split("\ndef ", 1)[1].split("(", 1)[0]
        self._fn, self.path = cache.load(self.source, target, name)
        self.compile_seconds = None
        fn = self.function
        self._specs = [(np.dtype(i.dtype), i.ndim, i.shape, i.dtype in PYTHON_SCALAR_TYPES) for i in fn.inputs]
        self._entry = entry.make(self._fn, [(i.dtype, i.shape) for i in fn.inputs],
                                 [(o.dtype, o.ndim) for o in fn.outputs], self._consts, self._argument,
                                 self._wrong_count, target, fn.multiple,
                                 device.array_type() if target == "cuda" else np.ndarray)

    def _wrong_count(self, given: int):
        f = self.function
        raise TypeError(f"{f.name}: expected {len(f.inputs)} arguments "
                        f"({', '.join(i.name for i in f.inputs)}), got {given}")

    def _argument(self, k: int, a):
        """Argument ``k`` as the generated code takes it: C-contiguous, of the input's dtype,
        rank-0 values as scalars for numba; or a one-line error naming the input."""
        inp = self.function.inputs[k]
        if self.target == "cuda":
            return device.argument(self.function, inp, a)
        dtype, ndim, shape, python_scalar = self._specs[k]
        if type(a) is float and python_scalar and ndim == 0 and dtype == np.float64:
            return a
        if not (type(a) is np.ndarray and a.dtype == dtype and a.ndim == ndim and a.flags.c_contiguous
                and all(d is None or d == s for d, s in zip(shape, a.shape))):
            a = check_arg(self.function, inp, a)
            if not a.flags.c_contiguous:  # one layout: numba never recompiles
                a = np.ascontiguousarray(a)
        if ndim == 0 and self.target == "cpu":  # numba dispatches fastest on Python scalars
            a = a.item() if python_scalar else a[()]
        return a

    def _arguments(self, args) -> list:
        """All arguments as the generated code takes them (the slow path, for the first call)."""
        if len(args) != len(self.function.inputs):
            self._wrong_count(len(args))
        return [self._argument(k, a) for k, a in enumerate(args)]

    def __call__(self, *args):
        """The first call: compile (or load from the cache), log how long it took, and make
        the entry this object's call."""
        self._arguments(args)
        start = time.perf_counter()
        out = self._entry(*args)
        self.compile_seconds = time.perf_counter() - start
        how = "loaded from the on-disk cache" if self.cache_hits else "compiled"
        log.info("%s for %s: %s in %.3f s (%s)", self.function.name, self.target, how,
                 self.compile_seconds, self.path.name)
        type(self).__call__ = staticmethod(self._entry)
        return out

    def memory(self, *args) -> dict:
        """Bytes the cpu (or cuda: device) code allocates for arguments of these shapes: its peak
        of live temporary buffers (after fusion and buffer reuse) against the sum of the sizes of
        all intermediates (what a node-by-node interpreter allocates), plus the results' bytes."""
        if self._plan is None:
            raise ValueError(f"memory: the {self.target!r} target plans no buffers (cpu and cuda do)")
        shapes = [np.shape(a) for a in args]
        return self._plan.memory(concrete_avals(self.function, shapes))

    @property
    def cache_hits(self) -> int:
        """How many times numba loaded this function from its on-disk cache (cpu target)."""
        return sum(getattr(self._fn, "stats", None).cache_hits.values()) if self.target == "cpu" else 0

    @property
    def cache_misses(self) -> int:
        return sum(getattr(self._fn, "stats", None).cache_misses.values()) if self.target == "cpu" else 0


class Jitted:
    """``jit`` of a Python callable (or a lazy transformation of one): traced and compiled at the
    first call for the argument dtypes and ranks. Sizes are static until a call brings a new
    size for a dimension; that dimension is then dynamic (one more compile, then none), as
    with torch.compile's automatic dynamic shapes."""

    def __init__(self, fn, target, optimize, parallel):
        self.fn, self.target, self.optimize, self.parallel = fn, target, optimize, parallel
        self._compiled = {}  # generalized signature -> Compiled
        self._dynamic = set()  # (argument index, dim) that vary between calls

    def _generalize(self, specs) -> tuple:
        return tuple(Spec(tuple(None if (k, d) in self._dynamic else n for d, n in enumerate(s.shape)), s.dtype)
                     for k, s in enumerate(specs))

    def compiled_for(self, *args) -> Compiled:
        on_device = self.target == "cuda"
        specs = self._generalize(tuple(device.spec(a) if on_device and device.is_device_array(a) else _spec_of(a)
                                       for a in args))
        found = self._compiled.get(specs)
        if found is not None:
            return found
        names = _param_names(getattr(self.fn, "fn", self.fn), len(args))
        reason = "first call"
        if self._compiled:
            same_dtypes = [old for old in self._compiled if [s.dtype for s in old] == [s.dtype for s in specs]]
            reason, resized = signature_change(names, (same_dtypes or list(self._compiled))[-1], specs)
            if same_dtypes and [len(s.shape) for s in same_dtypes[-1]] == [len(s.shape) for s in specs]:
                self._dynamic.update(resized)
                specs = self._generalize(specs)
        name = getattr(self.fn, "__name__", "f").replace("<lambda>", "f")
        log.info("tracing %s (%s) for %s: %s", name, describe(names, specs),
                 self.target, reason)
        f = self.fn.function_for(*specs) if isinstance(self.fn, Lazy) else trace(self.fn, *specs)
        self._compiled[specs] = jit(f, self.target, self.optimize, self.parallel)
        return self._compiled[specs]

    def __call__(self, *args):
        return self.compiled_for(*args)(*args)


_MEMO: dict = {}
_LAST_KEY: dict = {}  # (name, target, input avals) -> graph key last compiled, to explain changes


def set_num_threads(n: int) -> None:
    """Threads that ``parallel=True`` code uses (numba's pool; at most ``NUMBA_NUM_THREADS``)."""
    numba.set_num_threads(n)


def jit(f, target: str = "cpu", optimize: bool = True, parallel: bool = False):
    """Compile ``f`` (a Function, or a callable traced at its first call) for ``target``:
    ``"numpy"`` (plain generated numpy), ``"cpu"`` (numba, fused loops) or ``"cuda"`` (numba.cuda
    kernels; device arrays in and out, see ``device.py``). ``optimize=False``
    skips the graph passes; ``parallel=True`` runs the outer loop of each fused nest whose rows
    are independent with ``numba.prange`` (threads: ``set_num_threads``).

    >>> import adjit
    >>> from adjit import compiler, ops
    >>> g = compiler.jit(adjit.grad(lambda x: ops.sum(ops.tanh(x) * x)), target="cpu")
    >>> g(np.ones(3)).round(4).tolist()
    [1.1815, 1.1815, 1.1815]
    """
    if target not in TARGETS:
        raise ValueError(f"jit: unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    if target == "cuda":
        device.require()
    if not isinstance(f, Function):
        if not callable(f):
            raise TypeError(f"jit: expected a Function or a callable, got {type(f).__name__}")
        return Jitted(f, target, optimize, parallel)
    key = (f.key, tuple(i.name for i in f.inputs), f.multiple, target, optimize, parallel)
    if key not in _MEMO:
        signature = (f.name, target, tuple(str(i.aval) for i in f.inputs))
        previous = _LAST_KEY.get(signature)
        if previous is not None and previous != f.key:
            log.info("graph of %s changed (key %s -> %s): generating new code", f.name, previous[:8], f.key[:8])
        _LAST_KEY[signature] = f.key
        _MEMO[key] = Compiled(f, target, optimize, parallel)
    return _MEMO[key]
