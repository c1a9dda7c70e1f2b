"""The call path of a compiled function: a small Python function generated for its signature.

A generic wrapper (a loop over the arguments, ``zip``, ``np.asarray`` of each result) costs
microseconds per call, ten times what numba's dispatch of a scalar function costs. The entry
checks each argument with straight-line tests written for its input (type, dtype, rank, fixed
sizes) and hands it on untouched when they pass; anything else goes to the slow path, which
converts it or raises the one-line error. Results come back as numba returns them: arrays, and
rank-0 results as Python scalars (float64, int64, bool) or numpy scalars of other dtypes. On the
cuda target the arrays are device arrays (a host array goes the slow path: copied to the device).

Only generated names (``a0``, ``k0``, ...) appear in the entry's source: nothing a user typed.
"""
from __future__ import annotations

import numpy as np

# rank-0 dtypes numba receives and returns as Python scalars
PYTHON_SCALAR_TYPES = {"float64": float, "int64": int, "bool": bool}

_MISSING = object()


def make(fn, inputs, outputs, consts, convert, wrong_count, target: str, multiple: bool,
         array_type: type = np.ndarray):
    """The entry for ``fn`` (the generated function). ``inputs``: (dtype, shape) per argument;
    ``outputs``: (dtype, rank) per result; ``convert(k, value)`` is the slow path of argument
    ``k``; ``wrong_count(n)`` raises for a call with ``n`` arguments; ``array_type``: the arrays
    ``fn`` takes as they are (numba's device arrays for cuda)."""
    names = {"fn": fn, "convert": convert, "wrong_count": wrong_count, "Array": array_type,
             "MISSING": _MISSING}
    scalars = target in ("cpu", "cuda")  # rank-0 arguments are passed as scalars
    contiguous = "{}.is_c_contiguous()" if target == "cuda" else "{}.flags.c_contiguous"
    params = [f"a{k}" for k in range(len(inputs))]
    lines = [f"def entry({''.join(p + '=MISSING, ' for p in params)}*extra):"]
    if params:
        lines.append(f"    if extra or {params[-1]} is MISSING:")
    else:
        lines.append("    if extra:")
    given = f"sum(a is not MISSING for a in ({''.join(p + ', ' for p in params)})) + " if params else ""
    lines.append(f"        wrong_count({given}len(extra))")
    for k, (dtype, shape) in enumerate(inputs):
        a = params[k]
        if not shape and scalars and dtype in PYTHON_SCALAR_TYPES:
            names[f"t{k}"] = PYTHON_SCALAR_TYPES[dtype]
            test = f"type({a}) is t{k}"
        elif not shape and scalars:
            names[f"t{k}"] = np.dtype(dtype).type
            test = f"type({a}) is t{k}"
        else:
            names[f"d{k}"] = np.dtype(dtype)
            tests = [f"type({a}) is Array", f"{a}.dtype is d{k}", f"{a}.ndim == {len(shape)}",
                     contiguous.format(a)]
            tests += [f"{a}.shape[{p}] == {d}" for p, d in enumerate(shape) if d is not None]
            if not shape and dtype == "float64":  # the numpy target takes Python floats as they are
                tests = [f"type({a}) is float or ({' and '.join(tests)})"]
            test = " and ".join(tests)
        lines.append(f"    if not ({test}):")
        lines.append(f"        {a} = convert({k}, {a})")
    for k, c in enumerate(consts):
        names[f"k{k}"] = c
    call = f"fn({', '.join(params + [f'k{k}' for k in range(len(consts))])})"
    results = []
    for k, (dtype, rank) in enumerate(outputs):
        r = f"r[{k}]" if multiple else "r"
        if rank == 0 and not (target == "cpu" and dtype in PYTHON_SCALAR_TYPES):
            names[f"s{k}"] = PYTHON_SCALAR_TYPES.get(dtype, np.dtype(dtype).type)
            r = f"s{k}({r})"
        elif rank and target == "numpy":  # numpy may hand back another dtype or a scalar
            names[f"d_out{k}"] = np.dtype(dtype)
            r = f"np.asarray({r}, dtype=d_out{k})"
            names["np"] = np
        results.append(r)
    if target == "numpy":
        names["np"] = np
        lines.append("    with np.errstate(all='ignore'):  # numpy semantics: inf and nan, no warnings")
        lines.append(f"        r = {call}")
    else:
        lines.append(f"    r = {call}")
    if multiple and results != [f"r[{k}]" for k in range(len(outputs))]:
        lines.append(f"    return ({''.join(x + ', ' for x in results)})")
    elif multiple:
        lines.append("    return r")
    else:
        lines.append(f"    return {results[0]}")
    source = "\n".join(lines) + "\n"
    exec(compile(source, "<adjit entry>", "exec"), names)  # noqa: S102 - generated names only
    entry = names["entry"]
    entry.source = source
    return entry
