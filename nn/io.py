"""Parameters on disk as ``.npz`` (numpy's zip of ``.npy`` files; never pickle)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def save(params: dict, path) -> Path:
    """Write ``params`` (a flat dict of arrays, as ``model.init`` makes it) to ``path``."""
    path = Path(path)
    np.savez(path, **{k: np.asarray(v) for k, v in params.items()})
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def load(path, like=None) -> dict:
    """Read parameters saved by ``save``. With ``like`` (a model or a dict of arrays), check that
    the file has exactly the entries the model expects, with the same shapes and dtypes: a
    mismatch is a one-line error naming the entry."""
    path = Path(path)
    with np.load(path, allow_pickle=False) as data:
        params = {k: data[k] for k in data.files}
    if like is None:
        return params
    expected = like.init(0) if hasattr(like, "init") else like
    missing, extra = sorted(set(expected) - set(params)), sorted(set(params) - set(expected))
    if missing or extra:
        raise ValueError(f"nn.load: {path.name} does not match the model: "
                         + "; ".join(f"{what} {', '.join(map(repr, keys))}" for what, keys in
                                     (("missing", missing), ("unexpected", extra)) if keys))
    for k, want in expected.items():
        got = params[k]
        if got.shape != np.shape(want) or got.dtype != np.asarray(want).dtype:
            raise ValueError(f"nn.load: {path.name}: {k!r} is {got.dtype}{list(got.shape)}, "
                             f"the model expects {np.asarray(want).dtype}{list(np.shape(want))}")
    return params
