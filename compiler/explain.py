"""Why a call compiled: the ``adjit`` logger says what was new (first call, dtype, rank, a size
that now varies, a changed graph) and how long compiling took. ``ADJIT_LOG=1`` prints it on
stderr; or configure ``logging.getLogger("adjit")`` yourself."""
from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger("adjit")

if os.environ.get("ADJIT_LOG", "") not in ("", "0") and not log.handlers:
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter("adjit: %(message)s"))
    log.addHandler(_handler)
    log.setLevel(logging.INFO)


def _spec(s) -> str:
    return f"{s.dtype}[{','.join('?' if d is None else str(d) for d in s.shape)}]"


def signature_change(names, old, new) -> tuple:
    """(reason, dims that only changed size) between two argument signatures of one function."""
    reasons, resized = [], []
    for k, (name, a, b) in enumerate(zip(names, old, new)):
        if a.dtype != b.dtype:
            reasons.append(f"new dtype for {name}: {b.dtype} (was {a.dtype})")
        elif len(a.shape) != len(b.shape):
            reasons.append(f"new rank for {name}: {len(b.shape)} (was {len(a.shape)})")
        else:
            for d, (x, y) in enumerate(zip(a.shape, b.shape)):
                if x != y:
                    resized.append((k, d))
                    reasons.append(f"{name}.shape[{d}] changed {x} -> {y}: it is dynamic from now on")
    return "; ".join(reasons), resized


def describe(names, specs) -> str:
    return ", ".join(f"{n}: {_spec(s)}" for n, s in zip(names, specs))
