"""Names and literals in generated source. No user string reaches the source as written: names
are reduced to ``[A-Za-z0-9_]`` and made unique, numbers are written from numpy values."""
from __future__ import annotations

import builtins
import keyword
import math
import re

import numpy as np

# modules the generated code uses, and Python's builtins (``range``, ``min``, ``abs``...): a
# function or input of one of these names would shadow it in the generated module
RESERVED = {"np", "numba", "_k", "math", "cuda"} | set(dir(builtins))


def sanitize(name: str, taken: set, fallback: str = "arg") -> str:
    """A safe, unique Python identifier derived from ``name`` (added to ``taken``)."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", name)[:40].strip("_") or fallback
    if base[0].isdigit() or keyword.iskeyword(base) or base in RESERVED or re.fullmatch(r"[vi]\d+(_\w*)?", base):
        base = f"{fallback}_{base}"
    candidate, k = base, 1
    while candidate in taken or keyword.iskeyword(candidate):
        candidate = f"{base}_{k}"
        k += 1
    taken.add(candidate)
    return candidate


def dtype_code(dtype: str) -> str:
    return "np.bool_" if dtype == "bool" else f"np.{dtype}"


# dtypes whose Python literal numba and numpy already type right: no constructor call needed
PLAIN_LITERAL_DTYPES = ("float64", "int64", "bool")


def literal(value, dtype: str) -> str:
    """Source for a scalar constant of ``dtype``: a plain literal for float64, int64 and bool,
    else a typed constructor (``np.float32(2.0)``) so float32 code stays float32."""
    v = np.asarray(value).reshape(())
    if dtype == "bool":
        return "True" if bool(v) else "False"
    if dtype.startswith("int"):
        text = str(int(v))
    else:
        x = float(v)
        shortest = str(np.float32(x)) if dtype == "float32" else repr(x)  # round-trips in its dtype
        text = "np.nan" if math.isnan(x) else ("np.inf" if x > 0 else "-np.inf") if math.isinf(x) else shortest
    return text if dtype in PLAIN_LITERAL_DTYPES else f"{dtype_code(dtype)}({text})"


def literal_name(text: str, dtype: str) -> str:
    """A readable variable name for a typed literal: ``np.float32(-2.5)`` -> ``f32_neg_2_5``."""
    inner = text[text.index("(") + 1:-1].replace("np.", "").replace("-", "neg_").replace(".", "_")
    return f"{dtype[0]}{dtype[-2:]}_{re.sub(r'[^A-Za-z0-9_]', '_', inner)}"
