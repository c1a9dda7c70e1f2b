"""Text generation: a character-level LSTM language model (Karpathy's char-rnn) built from adjit
pieces: embedding -> ``nn.LSTM`` -> dense over the characters, trained by the compiled step to
predict each next character of windows of a text, with the validation bits per character
reported as training goes, and sampling with a temperature.

The default text is one every machine has offline: the docstrings of the Python standard
library, read from its source files with ``ast`` (nothing is imported or downloaded).

Bits per character is the mean cross-entropy of the next character in bits
(``nats / ln 2``); each validation window starts from a zero state, as the training windows
do. The bar to pass is the unigram entropy of the text: what a model that knows only how often
each character occurs would score.
"""
from __future__ import annotations

import ast
import math
import os
import sysconfig
import time
from collections import Counter
from pathlib import Path

import numpy as np

from .. import compiler
from ..engine import Function, var
from .layers import Dense, Embedding
from .model import Sequential
from .optim import Adam
from .plotting import pyplot, save_png
from .recurrent import LSTM, lstm_cell
from .train import train_step

_SKIP = {"site-packages", "test", "tests", "idlelib", "lib2to3", "turtledemo"}


def _stdlib_files(root: Path):
    """The standard library's ``.py`` files, directory by directory in sorted order (the files of
    a directory, then its subdirectories), test suites and installed packages left out."""
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if d not in _SKIP)
        yield from (Path(folder) / f for f in sorted(files) if f.endswith(".py"))


def stdlib_docstrings(max_chars: int | None = None) -> str:
    """The docstrings (modules, classes, functions) of the installed Python standard library
    (test suites left out), joined by blank lines; at most ``max_chars`` characters (the files
    are read only as far as needed). About 1.6 MB on Python 3.11."""
    docs, size = [], 0
    for path in _stdlib_files(Path(sysconfig.get_paths()["stdlib"])):
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError):  # a file of another Python version, or not UTF-8
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc:
                    docs.append(doc)
                    size += len(doc) + 2
        if max_chars is not None and size >= max_chars:
            break
    return "\n\n".join(docs)[:max_chars]


class CharVocabulary:
    """Characters and their ids: id 0 stands for every character seen fewer than ``min_count``
    times (decoded as U+FFFD), the others by decreasing count, ties in code-point order.

    >>> vocab = CharVocabulary.build("abracadabra!", min_count=2)
    >>> vocab.chars
    ['\\ufffd', 'a', 'b', 'r']
    >>> vocab.encode("bar!").tolist(), vocab.decode([2, 1, 3, 0])
    ([2, 1, 3, 0], 'bar\\ufffd')
    """

    unknown = "\ufffd"

    def __init__(self, chars):
        self.chars = list(chars)
        self.ids = {ch: k for k, ch in enumerate(self.chars)}

    @classmethod
    def build(cls, text: str, min_count: int = 1) -> "CharVocabulary":
        ranked = sorted(Counter(text).items(), key=lambda item: (-item[1], item[0]))
        return cls([cls.unknown] + [ch for ch, n in ranked if n >= min_count and ch != cls.unknown])

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        return np.array([self.ids.get(ch, 0) for ch in text], dtype=np.int64)

    def decode(self, ids) -> str:
        return "".join(self.chars[k] for k in ids)


def unigram_entropy(ids, vocab_size: int) -> float:
    """The entropy in bits of the character frequencies of ``ids``: the bits per character of a
    model that knows only how often each character occurs."""
    p = np.bincount(np.asarray(ids), minlength=vocab_size) / len(ids)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def windows(ids, length: int) -> tuple:
    """Non-overlapping windows of ``ids``: inputs (n, length) and their next characters (n, length)."""
    ids = np.asarray(ids)
    n = (len(ids) - 1) // length
    return ids[:n * length].reshape(n, length), ids[1:n * length + 1].reshape(n, length)


class CharLM:
    """Embedding (``embed_dim``) -> LSTM (``units``, every step) -> dense logits over
    ``vocab``, as one ``nn.Sequential`` (``.model``) over windows of any length.

    >>> lm = CharLM(CharVocabulary.build("hello world"), units=8)
    >>> lm.model.output_shape()
    (None, None, 9)
    """

    def __init__(self, vocab: CharVocabulary, units: int = 128, embed_dim: int = 32):
        self.vocab = vocab
        self.embedding, self.lstm = Embedding(len(vocab), embed_dim), LSTM(units, return_sequences=True)
        self.readout = Dense(len(vocab))
        self.model = Sequential([self.embedding, self.lstm, self.readout], input_shape=(None,),
                                input_dtype="int64", name="char_lm")
        self._step = self._step_keys = None

    def bits_per_char(self, params: dict, ids, length: int = 64) -> float:
        """The mean cross-entropy of each next character of ``ids`` in bits, over non-overlapping
        windows of ``length`` each started from a zero state: the compiled one-step model runs
        ``length`` times over all the windows at once."""
        x, y = windows(ids, length)
        if not len(x):
            raise ValueError(f"CharLM.bits_per_char: {len(ids)} characters hold no window of {length} and the next one")
        args = self._step_args(params)
        h = c = np.zeros((len(x), self.lstm.units), np.float32)
        nats = 0.0
        for t in range(length):
            logits, h, c = self._step(*args, h, c, x[:, t])
            z = logits.astype(np.float64)
            top = z.max(axis=1)
            log_norm = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
            nats += float((log_norm - z[np.arange(len(z)), y[:, t]]).sum())
        return nats / (x.size * math.log(2))

    def fit(self, train_ids, validation_ids, steps: int = 1000, length: int = 64, batch_size: int = 32,
            learning_rate: float = 1e-2, eval_every: int = 100, seed: int = 0, log=print) -> tuple:
        """Adam on batches of windows drawn at random from ``train_ids`` (seeded), gradients
        clipped to norm 1; every ``eval_every`` steps (and after the last) the validation bits per
        character, passed to ``log`` as a line. Returns ``(params, history)``, history a dict of
        lists: ``step``, ``chars`` (characters trained on), ``train_bpc`` (the mean over the
        steps since the last report), ``val_bpc``, ``seconds`` (the compilation included)."""
        train_ids = np.asarray(train_ids)
        if len(train_ids) < length + 1:
            raise ValueError(f"CharLM.fit: the training text ({len(train_ids)} characters) is shorter "
                             f"than a window of {length + 1}")
        optimizer = Adam(learning_rate, clipnorm=1.0)
        params = self.model.init(seed)
        state = optimizer.init(params)
        step = train_step(self.model, "softmax_cross_entropy", optimizer, params, np.zeros((1, length), np.int64),
                          state)
        rng, offsets = np.random.default_rng(seed), np.arange(length + 1)
        history = {"step": [], "chars": [], "train_bpc": [], "val_bpc": [], "seconds": []}
        start, losses = time.perf_counter(), []
        for k in range(1, steps + 1):
            rows = train_ids[rng.integers(0, len(train_ids) - length, size=batch_size)[:, None] + offsets]
            loss, _, params, state = step(params, state, rows[:, :-1], rows[:, 1:])
            losses.append(float(loss))
            if k % eval_every == 0 or k == steps:
                row = {"step": k, "chars": k * batch_size * length, "train_bpc": np.mean(losses) / math.log(2),
                       "val_bpc": self.bits_per_char(params, validation_ids, length),
                       "seconds": time.perf_counter() - start}
                for key, value in row.items():
                    history[key].append(value)
                losses = []
                if log is not None:
                    log(f"step {k:>5}  {row['chars']:>10,} chars  train {row['train_bpc']:.3f}  "
                        f"validation {row['val_bpc']:.3f} bits/char  ({row['seconds']:.0f} s)")
        return params, history

    def _step_args(self, params: dict) -> list:
        """The parameters as the one-step model takes them, compiling it at the first call:
        ``(params, h, c, token) -> (logits, h, c)``, the embedding, ``lstm_cell`` with the LSTM
        layer's parameters and the readout, for any number of rows."""
        if self._step is None:
            p = {k: var(k, np.shape(v), np.asarray(v).dtype.name) for k, v in params.items()}
            units = self.lstm.units
            h, c = var("h", (None, units), self.lstm.dtype), var("c", (None, units), self.lstm.dtype)
            token = var("token", (None,), "int64")
            x = self.embedding(self.model.layer_params(p, self.embedding), token)
            h2, c2 = lstm_cell(self.model.layer_params(p, self.lstm), (h, c), x)
            logits = self.readout(self.model.layer_params(p, self.readout), h2)
            self._step = compiler.jit(Function(list(p.values()) + [h, c, token], [logits, h2, c2],
                                               name="char_lm_step"), "cpu")
            self._step_keys = list(p)
        return [params[k] for k in self._step_keys]

    def step_logits(self, params: dict, ids) -> np.ndarray:
        """The logits after each character of ``ids`` (T,), one compiled step at a time (what
        ``sample`` runs): (T, len(vocab))."""
        args, h = self._step_args(params), np.zeros((1, self.lstm.units), np.float32)
        c, out = h, []
        for k in np.asarray(ids):
            logits, h, c = self._step(*args, h, c, np.array([k]))
            out.append(logits[0])
        return np.array(out)

    def sample(self, params: dict, length: int, prime: str = "\n", temperature: float = 1.0, seed: int = 0) -> str:
        """``length`` characters drawn one at a time after reading ``prime``, each from
        ``softmax(logits / temperature)`` with a generator seeded by ``seed``: low temperatures
        pick the likeliest characters, 1 samples the model's own distribution, higher ones
        flatten it."""
        if temperature <= 0:
            raise ValueError(f"CharLM.sample: temperature must be positive, got {temperature}")
        if not prime:
            raise ValueError("CharLM.sample: prime must hold at least one character")
        rng, args = np.random.default_rng(seed), self._step_args(params)
        h = c = np.zeros((1, self.lstm.units), np.float32)
        ids = list(self.vocab.encode(prime))
        for k in ids[:-1]:
            _, h, c = self._step(*args, h, c, np.array([k]))
        out = []
        for _ in range(length):
            logits, h, c = self._step(*args, h, c, np.array([ids[-1]]))
            z = logits[0].astype(np.float64) / temperature
            p = np.exp(z - z.max())
            ids.append(int(rng.choice(len(p), p=p / p.sum())))
            out.append(ids[-1])
        return self.vocab.decode(out)


def plot_bpc(history: dict, unigram_bits: float, path) -> Path:
    """A PNG of the training and validation bits per character against the characters trained
    on, with the unigram entropy as a dashed line."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(history["chars"], history["train_bpc"], marker="o", label="training")
    ax.plot(history["chars"], history["val_bpc"], marker="o", label="validation")
    ax.axhline(unigram_bits, color="gray", linestyle="--", label=f"unigram entropy {unigram_bits:.2f}")
    ax.set_xlabel("characters trained on")
    ax.set_ylabel("bits per character")
    ax.legend()
    ax.grid(alpha=0.3)
    return save_png(fig, path)
