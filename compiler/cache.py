"""The on-disk cache of generated modules.

Each generated module is a real ``.py`` file named by a hash of its source, the target and the
versions of adjit, numba and numpy and of the kernel modules' source. Being a real, imported file
is what lets numba's ``cache=True`` work (it does not for ``exec``-made functions), so a second
process loads the machine code instead of compiling again.
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import sys
import tempfile
from pathlib import Path

import numba
import numpy as np


def cache_dir() -> Path:
    """``$ADJIT_CACHE_DIR``, else the user cache dir (``$XDG_CACHE_HOME/adjit`` or ``~/.cache/adjit``)."""
    env = os.environ.get("ADJIT_CACHE_DIR")
    if env:
        path = Path(env)
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "adjit"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _versions() -> str:
    from .. import __version__
    from ..ops import conv_kernels, gemm_kernels, kernels, lstm_kernels, vmath
    sources = "".join(inspect.getsource(m) for m in (kernels, conv_kernels, gemm_kernels, lstm_kernels, vmath))
    kernel_hash = hashlib.sha256(sources.encode()).hexdigest()[:16]
    return f"adjit={__version__} numba={numba.__version__} numpy={np.__version__} kernels={kernel_hash}"


def module_key(source: str, target: str) -> str:
    return hashlib.sha256(f"{target}\n{_versions()}\n{source}".encode()).hexdigest()[:24]


def load(source: str, target: str, function_name: str):
    """Write (once) and import the module for ``source``; return (function, path)."""
    key = module_key(source, target)
    name = f"adjit_{target}_{key}"
    path = cache_dir() / f"{name}.py"
    if not path.exists():  # never rewrite: numba's cache is keyed by the file's timestamp
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(source)
        os.replace(tmp, path)
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return getattr(module, function_name), path
