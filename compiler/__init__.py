"""The compiler: graph passes, code generation, JIT and the on-disk cache."""
from .cache import cache_dir
from .jit import Compiled, jit
from .passes import cse, dce, fold_constants, optimize, simplify

__all__ = ["Compiled", "cache_dir", "cse", "dce", "fold_constants", "jit", "optimize", "simplify"]
