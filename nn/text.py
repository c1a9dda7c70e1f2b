"""Text basics: a tokenizer, a vocabulary, bag-of-words and n-gram counts as ``scipy.sparse``
CSR matrices, one-hot encoding, and a logistic-regression baseline trained by adjit on a
generated sentiment task whose answer is known.
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np
import scipy.sparse as sp

_NUMBER = r"\d+(?:[.,]\d+)+"            # 3.14, 1,000 (plain integers are matched as words)
_WORD = r"[^\W_]+(?:['\u2019][^\W_]+)*"  # letters and digits, inner apostrophes: don't, mp3
_PUNCT = r"[^\w\s]|_"
_WORDS = re.compile(f"{_NUMBER}|{_WORD}")
_WORDS_AND_PUNCT = re.compile(f"{_NUMBER}|{_WORD}|{_PUNCT}")


def tokenize(text: str, lowercase: bool = True, punctuation: bool = False) -> list:
    """Words and numbers of ``text``, in order: a word is a run of letters and digits with
    inner apostrophes (``don't``, ``mp3``), a number may have inner ``.`` or ``,`` (``3.14``,
    ``1,000``). Punctuation is dropped, or kept one character per token (``punctuation=True``).

    >>> tokenize("Don't panic: it's 3.14, not 42!")
    ["don't", 'panic', "it's", '3.14', 'not', '42']
    >>> tokenize("Hi, you!", punctuation=True)
    ['hi', ',', 'you', '!']
    """
    if lowercase:
        text = text.lower()
    return (_WORDS_AND_PUNCT if punctuation else _WORDS).findall(text)


class Vocabulary:
    """Tokens and their ids: id 0 is ``<unk>``, which every unknown token encodes to; the others
    by decreasing count, ties in lexicographic (code point) order, so the ids depend on the
    counts only, never on the order of the documents.

    >>> vocab = Vocabulary.build([["b", "a", "c", "a"], ["b", "d"]], min_count=2)
    >>> vocab.tokens
    ['<unk>', 'a', 'b']
    >>> vocab.encode(["a", "zebra", "b"]).tolist()
    [1, 0, 2]
    >>> vocab.decode([2, 1, 0])
    ['b', 'a', '<unk>']
    """

    unk = "<unk>"
    unk_id = 0

    def __init__(self, tokens, counts):
        self.tokens = list(tokens)
        self.counts = np.asarray(counts, dtype=np.int64)
        if not self.tokens or self.tokens[0] != self.unk or len(self.counts) != len(self.tokens):
            raise ValueError(f"Vocabulary: expected '{self.unk}' first and one count per token")
        self.ids = {t: k for k, t in enumerate(self.tokens)}
        if len(self.ids) != len(self.tokens):
            raise ValueError("Vocabulary: a token appears twice")

    @classmethod
    def build(cls, documents, min_count: int = 1, max_size: int | None = None) -> "Vocabulary":
        """From token lists (one pass over ``documents``): tokens seen at least ``min_count``
        times, the most frequent first, at most ``max_size`` entries with ``<unk>`` (so the ids
        fit ``Embedding(max_size, ...)``). ``counts[0]`` counts the occurrences left out."""
        if max_size is not None and max_size < 1:
            raise ValueError(f"Vocabulary: max_size must be at least 1 (for '{cls.unk}'), got {max_size}")
        counter = Counter()
        for doc in documents:
            counter.update(doc)
        unk_count = counter.pop(cls.unk, 0)
        ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
        kept = [(t, c) for t, c in ranked if c >= min_count]
        if max_size is not None:
            kept = kept[:max_size - 1]
        unk_count += sum(counter.values()) - sum(c for _, c in kept)
        return cls([cls.unk] + [t for t, _ in kept], [unk_count] + [c for _, c in kept])

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token) -> bool:
        return token in self.ids

    def __getitem__(self, token) -> int:
        """The id of ``token`` (``unk_id`` for an unknown one)."""
        return self.ids.get(token, self.unk_id)

    def count(self, token) -> int:
        """How many times ``token`` was seen when the vocabulary was built (0 if unknown)."""
        return int(self.counts[self.ids[token]]) if token in self.ids and token != self.unk else 0

    def encode(self, tokens) -> np.ndarray:
        """Token ids, as an int64 array."""
        get = self.ids.get
        return np.fromiter((get(t, 0) for t in tokens), dtype=np.int64)

    def decode(self, ids) -> list:
        """Tokens of ``ids``."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"decode: ids must be in [0, {len(self)}), got {ids.min()}..{ids.max()}")
        return [self.tokens[k] for k in ids.tolist()]


def _csr(rows: list, n_columns: int, binary: bool, dtype) -> sp.csr_matrix:
    """One row per list of column ids (repeats counted, or only present when ``binary``)."""
    indptr = np.cumsum([0] + [len(r) for r in rows])
    indices = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    m = sp.csr_matrix((np.ones(len(indices), dtype), indices, indptr), shape=(len(rows), n_columns))
    m.sum_duplicates()  # adds repeated columns: counts
    if binary:
        m.data[:] = 1
    return m


def bag_of_words(documents, vocab: Vocabulary, binary: bool = False, dtype="float32") -> sp.csr_matrix:
    """(documents, len(vocab)) counts of each token in each document (token lists); column 0
    counts the unknown tokens. ``binary``: 1 where a token is present instead of its count."""
    return _csr([vocab.encode(doc) for doc in documents], len(vocab), binary, dtype)


def _ngram_range(n) -> tuple:
    lo, hi = (1, n) if isinstance(n, (int, np.integer)) else tuple(n)
    if not 1 <= lo <= hi <= 3:
        raise ValueError(f"ngram_counts: n must be 1, 2, 3 or a range (lo, hi) within 1..3, got {n!r}")
    return lo, hi


def ngrams(tokens, n) -> list:
    """The n-grams of a token list for ``n`` an int (1..n) or a range ``(lo, hi)``, each as its
    words joined by a space, shortest first.

    >>> ngrams(["a", "b", "c"], 2)
    ['a', 'b', 'c', 'a b', 'b c']
    """
    lo, hi = _ngram_range(n)
    return [" ".join(tokens[i:i + k]) for k in range(lo, hi + 1) for i in range(len(tokens) - k + 1)]


def ngram_counts(documents, n=2, features=None, min_count: int = 1, binary: bool = False,
                 dtype="float32") -> tuple:
    """``(matrix, feature_names)``: a CSR matrix (documents x features) of the counts of each
    n-gram (``ngrams``) in each document, and the n-gram of each column, sorted (as
    scikit-learn's ``CountVectorizer``). Pass ``features`` (from the training documents) to
    count the same columns in new documents; n-grams outside them are dropped. Without it, the
    features are the n-grams that occur at least ``min_count`` times in all.

    >>> m, names = ngram_counts([["the", "cat"], ["the", "the"]], n=2)
    >>> names
    ['cat', 'the', 'the cat', 'the the']
    >>> m.toarray().tolist()
    [[1.0, 1.0, 1.0, 0.0], [0.0, 2.0, 0.0, 1.0]]
    """
    grams = [ngrams(list(doc), n) for doc in documents]
    if features is None:
        counter = Counter(g for doc in grams for g in doc)
        features = sorted(g for g, c in counter.items() if c >= min_count)
    else:
        _ngram_range(n)
        features = list(features)
    column = {g: k for k, g in enumerate(features)}
    rows = [np.array([column[g] for g in doc if g in column], dtype=np.int64) for doc in grams]
    return _csr(rows, len(features), binary, dtype), features


def one_hot(ids, num_classes: int, dtype="float32") -> np.ndarray:
    """``ids`` (any shape) -> ``ids.shape + (num_classes,)`` with a 1 at each id.

    >>> one_hot([2, 0], 3).tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    ids = np.asarray(ids)
    if ids.dtype.kind not in "iu":
        raise ValueError(f"one_hot: ids must be integers, got {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
        raise ValueError(f"one_hot: ids must be in [0, {num_classes}), got {ids.min()}..{ids.max()}")
    return (ids[..., None] == np.arange(num_classes)).astype(dtype)


# --- a generated sentiment task, and a logistic-regression baseline --------------------------------
_SUBJECTS = ["the movie", "the film", "this book", "the food", "the service", "the hotel", "the show",
             "the album", "the game", "the phone", "the concert", "the camera", "this restaurant", "the play",
             "the course", "the trip"]
_POSITIVE = ["good", "great", "excellent", "wonderful", "lovely", "brilliant", "enjoyable", "superb"]
_NEGATIVE = ["bad", "awful", "terrible", "boring", "poor", "dreadful", "disappointing", "horrible"]
_TEMPLATES = ["{s} was {a}", "i think {s} is {a}", "honestly {s} was {a}", "overall {s} seemed {a}",
              "{s} is {a} and i said so", "to be fair {s} felt {a}", "my friends say {s} is {a}",
              "in the end {s} was {a}", "we all agreed that {s} was {a}", "{s} turned out {a}"]


def sentiment_dataset(seed: int = 0, train: int = 2000, test: int = 500, negation: float = 0.3) -> tuple:
    """Templated reviews, ``((train_texts, train_labels), (test_texts, test_labels))``, label 1
    positive and 0 negative: an adjective from a positive or a negative list, negated ("not
    good") with probability ``negation``, which flips the label. The test sentences use
    subjects and templates that no training sentence has, so only the adjective and its
    negation carry over. The answer is known: on word counts a linear model can be right on
    at most ``1 - negation/2`` of the sentences (the label is an exclusive or of the adjective's
    polarity and "not"), on word and word-pair counts on all of them ("not good" is a feature).

    >>> (texts, labels), _ = sentiment_dataset(train=3, test=1)
    >>> len(texts), sorted(set(labels.tolist())) <= [0, 1]
    (3, True)
    """
    rng = np.random.default_rng(seed)
    split_s, split_t = len(_SUBJECTS) * 3 // 4, len(_TEMPLATES) * 4 // 5

    def draw(n, subjects, templates):
        texts, labels = [], []
        for _ in range(n):
            positive = rng.random() < 0.5
            adjective = (_POSITIVE if positive else _NEGATIVE)[rng.integers(len(_POSITIVE))]
            negated = rng.random() < negation
            template = templates[rng.integers(len(templates))]
            texts.append(template.format(s=subjects[rng.integers(len(subjects))],
                                         a=("not " if negated else "") + adjective))
            labels.append(int(positive != negated))
        return texts, np.array(labels, dtype=np.int64)
    return (draw(train, _SUBJECTS[:split_s], _TEMPLATES[:split_t]),
            draw(test, _SUBJECTS[split_s:], _TEMPLATES[split_t:]))


def logistic_regression(X, y, num_classes: int | None = None, epochs: int = 20, learning_rate: float = 0.05,
                        l2: float = 1e-4, batch_size: int = 32, seed: int = 0) -> tuple:
    """Multinomial logistic regression trained by adjit (``nn.fit``: one compiled step with
    Adam and an L2 term): ``(model, params)``; ``nn.predict(model, params, X)`` gives the
    logits. ``X`` may be a scipy.sparse matrix: it is densified (float32), which is right for
    the few thousand features of the small tasks here, not for a large vocabulary."""
    from .layers import Dense
    from .model import Sequential
    from .optim import Adam
    from .train import fit
    X = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    model = Sequential([Dense(num_classes or int(y.max()) + 1, kernel_initializer="zeros")], input_shape=X.shape[1:])
    params, _ = fit(model, model.init(seed), (X, y), "softmax_cross_entropy", Adam(learning_rate, weight_decay=l2),
                    epochs=epochs, batch_size=batch_size, seed=seed, verbose=False)
    return model, params


def sentiment_baseline(n=2, seed: int = 0, **options) -> dict:
    """Logistic regression on the n-gram counts (``n``: see ``ngrams``) of ``sentiment_dataset``:
    ``{"train_accuracy", "test_accuracy", "features"}``."""
    from .metrics import accuracy
    from .train import predict
    (train_texts, y_train), (test_texts, y_test) = sentiment_dataset(seed)
    X_train, names = ngram_counts([tokenize(t) for t in train_texts], n)
    X_test, _ = ngram_counts([tokenize(t) for t in test_texts], n, features=names)
    model, params = logistic_regression(X_train, y_train, seed=seed, **options)
    return {"train_accuracy": accuracy(predict(model, params, X_train.toarray()), y_train),
            "test_accuracy": accuracy(predict(model, params, X_test.toarray()), y_test), "features": len(names)}
