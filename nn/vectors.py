"""Word vectors: nearest neighbours and analogies by cosine similarity, the fastText / word2vec
text format (``.vec``) read and written as a stream, and an ``Embedding`` initialised from them.

The ``.vec`` format: a header line ``count dimension``, then one line per word, the word and its
``dimension`` values separated by single spaces (fastText adds a trailing space; it is allowed).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .initializers import uniform


class WordVectors:
    """Words and their vectors (one row each), with cosine-similarity queries.

    >>> import numpy as np
    >>> wv = WordVectors(["king", "man", "woman", "queen"],
    ...                  np.array([[1, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 1]], np.float32))
    >>> wv.analogy("king", "man", "woman")[0][0]  # king - man + woman
    'queen'
    """

    def __init__(self, words, vectors):
        self.words = [str(w) for w in words]
        self.vectors = np.asarray(vectors)
        if self.vectors.ndim != 2 or len(self.words) != len(self.vectors):
            raise ValueError(f"WordVectors: {len(self.words)} words but vectors of shape {self.vectors.shape}")
        self.index = {}
        for k, w in enumerate(self.words):
            self.index.setdefault(w, k)
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        self._unit = self.vectors / np.where(norms > 0, norms, 1)  # zero vectors stay zero: similarity 0

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word) -> bool:
        return word in self.index

    def __getitem__(self, word) -> np.ndarray:
        return self.vectors[self._id(word)]

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def _id(self, word) -> int:
        try:
            return self.index[word]
        except KeyError:
            raise KeyError(f"{word!r} is not in the vocabulary ({len(self)} words)") from None

    def similarity(self, a: str, b: str) -> float:
        """The cosine similarity of two words' vectors."""
        return float(self._unit[self._id(a)] @ self._unit[self._id(b)])

    def most_similar(self, query, topn: int = 10, exclude=()) -> list:
        """``[(word, cosine), ...]`` nearest to ``query`` (a word, excluded from the answer, or
        a vector), best first, without the words in ``exclude``."""
        if isinstance(query, str):
            exclude = set(exclude) | {query}
            query = self._unit[self._id(query)]
        query = np.asarray(query, dtype=np.float64)
        scores = self._unit @ (query / max(np.linalg.norm(query), 1e-30))
        for w in exclude:
            if w in self.index:
                scores[self.index[w]] = -np.inf
        topn = min(topn, len(self) - len(set(exclude) & self.index.keys()))
        best = np.argpartition(-scores, topn - 1)[:topn] if topn > 0 else np.zeros(0, np.int64)
        best = best[np.lexsort((best, -scores[best]))]  # by score, then by id: deterministic ties
        return [(self.words[k], float(scores[k])) for k in best]

    def analogy(self, a: str, b: str, c: str, topn: int = 1) -> list:
        """The words nearest to ``a - b + c`` (unit vectors added, as Mikolov et al. 2013 do:
        "3CosAdd"), the three query words excluded: ``analogy("king", "man", "woman")`` is
        king - man + woman, which should be queen."""
        u = self._unit
        return self.most_similar(u[self._id(a)] - u[self._id(b)] + u[self._id(c)], topn, exclude=(a, b, c))

    def analogy_accuracy(self, questions) -> dict:
        """Questions in the format of Mikolov's ``questions-words.txt``: ``(a, b, c, d)`` reads
        "a is to b as c is to d", answered by ``analogy(b, a, c)``. ``questions`` is a list of
        them or ``{section: list}``. Returns ``{section: accuracy, ..., "total": accuracy,
        "questions": answered, "skipped": with a word out of the vocabulary}``; questions are
        answered 1024 at a time (one matrix product each)."""
        sections = questions if isinstance(questions, dict) else {"all": questions}
        out, right, asked, skipped = {}, 0, 0, 0
        for name, qs in sections.items():
            known = [q for q in qs if all(w in self.index for w in q)]
            skipped += len(qs) - len(known)
            if not known:
                out[name] = float("nan")
                continue
            ids = np.array([[self.index[w] for w in q] for q in known])
            hits = 0
            for chunk in np.array_split(ids, -(-len(ids) // 1024)):  # scores of 1024 questions at a time
                queries = self._unit[chunk[:, 1]] - self._unit[chunk[:, 0]] + self._unit[chunk[:, 2]]
                scores = queries @ self._unit.T
                scores[np.arange(len(chunk))[:, None], chunk[:, :3]] = -np.inf
                hits += int(np.sum(np.argmax(scores, axis=1) == chunk[:, 3]))
            out[name] = hits / len(known)
            right, asked = right + hits, asked + len(known)
        out.update(total=right / asked if asked else float("nan"), questions=asked, skipped=skipped)
        return out

    def embedding_matrix(self, tokens, seed: int = 0, missing: str = "uniform", dtype="float32") -> np.ndarray:
        """Rows for ``tokens`` (a ``text.Vocabulary`` or a list, in id order) taken from these
        vectors; a token without a vector gets Keras' uniform [-0.05, 0.05] draw from ``seed``
        (``missing="uniform"``) or zeros (``"zeros"``). Feed it to ``Embedding.from_pretrained``."""
        tokens = list(getattr(tokens, "tokens", tokens))
        if missing not in ("uniform", "zeros"):
            raise ValueError(f"embedding_matrix: missing must be 'uniform' or 'zeros', got {missing!r}")
        out = (uniform(np.random.default_rng(seed), (len(tokens), self.dim), dtype=dtype) if missing == "uniform"
               else np.zeros((len(tokens), self.dim), dtype))
        found = [(k, self.index[t]) for k, t in enumerate(tokens) if t in self.index]
        if found:
            rows, src = np.array(found).T
            out[rows] = self.vectors[src]
        return out

    def save(self, path, precision: int | None = None) -> Path:
        """Write the ``.vec`` text format (see ``write_vec``)."""
        return write_vec(path, self.words, self.vectors, precision)


def write_vec(path, words, vectors, precision: int | None = None) -> Path:
    """Write ``words`` and their ``vectors`` in the ``.vec`` text format, one line at a time.
    ``precision``: significant digits; the default writes float32 values exactly (9 digits)
    and float64 ones with 17, so that ``read_vec`` gives back the same numbers."""
    path, vectors = Path(path), np.asarray(vectors)
    words = [str(w) for w in words]
    if vectors.ndim != 2 or len(words) != len(vectors):
        raise ValueError(f"write_vec: {len(words)} words but vectors of shape {vectors.shape}")
    digits = precision or (9 if vectors.dtype == np.float32 else 17)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"{len(words)} {vectors.shape[1]}\n")
        for k, (word, row) in enumerate(zip(words, vectors)):
            if not word or word != "".join(word.split()):
                raise ValueError(f"write_vec: word {k} ({word!r}) is empty or contains whitespace")
            fh.write(word + " " + " ".join(f"{v:.{digits}g}" for v in row.tolist()) + "\n")
    return path


def read_vec(path, limit: int | None = None, dtype="float32") -> WordVectors:
    """Read a ``.vec`` file line by line (never the whole file at once): the first ``limit``
    words (all by default; files are usually sorted by frequency). A malformed line is a
    one-line ``ValueError`` naming the file and the line. A word seen twice keeps its first
    vector (with a warning), as gensim does.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "v.vec")
    >>> _ = write_vec(p, ["a", "b"], np.eye(2, dtype=np.float32))
    >>> read_vec(p)["b"].tolist()
    [0.0, 1.0]
    """
    path = Path(path)
    with open(path, encoding="utf-8") as fh:
        header = fh.readline()
        parts = header.split()
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError(f"{path.name}:1: expected a header 'count dimension', got {header.strip()[:60]!r}")
        count, dim = int(parts[0]), int(parts[1])
        rows = count if limit is None else min(count, int(limit))
        words, vectors, seen, duplicates = [], np.empty((rows, dim), dtype), set(), 0
        lineno = 1
        for lineno, line in enumerate(fh, start=2):
            if lineno - 1 > count:
                raise ValueError(f"{path.name}:{lineno}: the header announces {count} words; this line is one more")
            if len(words) == rows:  # the limit
                break
            fields = line.rstrip().split(" ")
            if len(fields) != dim + 1:
                raise ValueError(f"{path.name}:{lineno}: expected a word and {dim} values, got {len(fields) - 1} "
                                 f"value(s) after {fields[0][:40]!r}")
            if fields[0] in seen:
                duplicates += 1
                continue
            try:
                vectors[len(words)] = [float(v) for v in fields[1:]]
            except ValueError:
                bad = next(v for v in fields[1:] if not _is_number(v))
                raise ValueError(f"{path.name}:{lineno}: {bad[:40]!r} is not a number "
                                 f"(in the vector of {fields[0][:40]!r})") from None
            seen.add(fields[0])
            words.append(fields[0])
    if len(words) < rows and lineno - 1 < count:
        raise ValueError(f"{path.name}:1: the header announces {count} words, the file has {lineno - 1}")
    if duplicates:
        warnings.warn(f"read_vec: {path.name}: {duplicates} repeated word(s) ignored (the first vector kept)",
                      stacklevel=2)
    return WordVectors(words, vectors[:len(words)])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
