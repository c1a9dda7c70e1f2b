"""The compiler: graph passes, code generation, JIT, export and the on-disk cache."""
from .cache import cache_dir
from .export import export
from .jit import Compiled, jit, set_num_threads
from .passes import cse, dce, fold_constants, optimize, simplify

__all__ = ["Compiled", "cache_dir", "cse", "dce", "export", "fold_constants", "jit", "optimize", "set_num_threads", "simplify"]
