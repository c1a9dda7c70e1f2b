"""Datasets available offline: the 8x8 handwritten digits, MNIST IDX files the user has, and
small generated sequence tasks. Nothing here downloads anything."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np


def load_digits(test_fraction: float = 0.2, seed: int = 0, images: bool = True):
    """The 1797 real 8x8 handwritten digits (UCI; scikit-learn's bundled copy, the optional
    ``examples`` extra), scaled to [0, 1], split into ``((X_train, y_train), (X_test, y_test))``
    with stratified shuffling from ``seed``. ``images``: X is (N, 8, 8, 1), else (N, 64)."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise ImportError("load_digits needs scikit-learn's bundled copy of the digits: "
                          "pip install 'adjit[examples]'") from None
    bunch = sklearn_digits()
    X = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    X = X.reshape(-1, 8, 8, 1) if images else X
    return split(X, y, test_fraction, seed, stratify=True)


def on_canvas(X, size: int, seed: int = 0) -> np.ndarray:
    """Images (N, h, w, C) each placed at a random position (uniform, seeded) on a blank
    ``size`` x ``size`` canvas: (N, size, size, C). The digits on a larger canvas make a
    localization task: a network must find where the digit is.

    >>> on_canvas(np.ones((1, 2, 2, 1)), 3, seed=0)[0, ..., 0].tolist()
    [[0.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 1.0, 1.0]]
    """
    X = np.asarray(X)
    n, h, w = X.shape[:3]
    if size < max(h, w):
        raise ValueError(f"on_canvas: a canvas of {size}x{size} cannot hold images of {h}x{w}")
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(0, size - h + 1, size=n), rng.integers(0, size - w + 1, size=n)
    out = np.zeros((n, size, size) + X.shape[3:], dtype=X.dtype)
    for k in range(n):
        out[k, rows[k]:rows[k] + h, cols[k]:cols[k] + w] = X[k]
    return out


def split(X, y, test_fraction: float = 0.2, seed: int = 0, stratify: bool = False):
    """Shuffle and split into train and test; ``stratify`` keeps each class's share in both."""
    rng = np.random.default_rng(seed)
    if stratify:
        test = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:int(round(test_fraction * np.sum(y == c)))]
                               for c in np.unique(y)])
    else:
        test = rng.permutation(len(X))[:int(round(test_fraction * len(X)))]
    mask = np.zeros(len(X), dtype=bool)
    mask[test] = True
    train = rng.permutation(np.flatnonzero(~mask))
    test = rng.permutation(np.flatnonzero(mask))
    return (X[train], y[train]), (X[test], y[test])


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path) -> np.ndarray:
    """An array from an IDX file (the MNIST format: magic 0x0000TTNN, N big-endian sizes, data),
    plain or gzipped. A truncated or malformed file is a one-line error naming it."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"read_idx: {path.name} is not an IDX file (bad magic number)")
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {path.name} is truncated in its header")
    shape = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != size:
        raise ValueError(f"read_idx: {path.name} holds {len(raw) - header} bytes of data, "
                         f"its header {list(shape)} of {dtype} says {size}")
    return np.frombuffer(raw[header:], dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def load_mnist(directory, kind: str = "train"):
    """``(images (N, 28, 28, 1) float32 in [0, 1], labels int64)`` from the standard MNIST files
    in ``directory`` (``train-images-idx3-ubyte[.gz]`` and ``train-labels-idx1-ubyte[.gz]``, or
    ``t10k-...`` for ``kind="test"``)."""
    prefix = {"train": "train", "test": "t10k"}[kind]
    found = {}
    for what in ("images-idx3", "labels-idx1"):
        for suffix in ("", ".gz"):
            p = Path(directory) / f"{prefix}-{what}-ubyte{suffix}"
            if p.exists():
                found[what] = p
                break
        else:
            raise FileNotFoundError(f"load_mnist: no {prefix}-{what}-ubyte[.gz] in {directory}")
    images, labels = read_idx(found["images-idx3"]), read_idx(found["labels-idx1"])
    if len(images) != len(labels):
        raise ValueError(f"load_mnist: {len(images)} images but {len(labels)} labels in {directory}")
    return (images.astype(np.float32) / 255.0)[..., None], labels.astype(np.int64)


def sine_sequences(n: int = 1000, length: int = 20, seed: int = 0):
    """Next-value prediction: windows of noisy sines of random frequency and phase.
    Returns ``(X (n, length, 1), y (n, 1))``, y the value after the window."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.1, 0.5, size=(n, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    t = np.arange(length + 1)[None, :]
    wave = np.sin(freq * t + phase) + rng.normal(scale=0.05, size=(n, length + 1))
    return wave[:, :length, None].astype(np.float32), wave[:, length:].astype(np.float32)
