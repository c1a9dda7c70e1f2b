"""word2vec (Mikolov et al. 2013): skip-gram and CBOW with negative sampling, trained by one
compiled adjit step, and a generated corpus whose analogies are known.

The loss of one example, with ``h`` the input vector (skip-gram: the centre word's row of the
input table ``W_in``; CBOW: the mean of the context words' rows), ``o`` the word to predict
(skip-gram: a context word; CBOW: the centre) and ``k`` negatives drawn from the unigram
distribution raised to 3/4::

    -log sigmoid(W_out[o] . h) - sum_k log sigmoid(-W_out[neg_k] . h)

summed over the batch: each example moves the rows it uses as much as one step of word2vec.c
would (learning rate 0.025 for skip-gram, 0.05 for CBOW, decayed linearly to 0), all the
examples of a batch at once, as word2vec.c's threads do without locks. Frequent words are
subsampled before the windows are cut: a word of frequency ``f`` is kept with probability
``sqrt(t/f) + t/f`` (capped at 1), the rule of word2vec.c and gensim, rather than the paper's
discard probability ``1 - sqrt(t/f)``; both keep rare words and thin out frequent ones, the
code's a little less.

Why the step works on row slices: an update by a pure function returns new tables, so a step on
the whole tables costs O(vocabulary x dim) however small the batch (the gradient of a gather is
a dense table; see tests/test_text.py). For a vocabulary larger than a batch's ids, the trainer
gathers the rows the batch touches, runs the compiled step on those slices and writes the rows
back: the cost of a step follows the batch, not the vocabulary. Inside the step the gather is
``ops.take`` and its gradient the scatter-add ``take_grad``, over the slices.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import compiler, engine, ops
from ..engine import Function, var
from .activations import softplus
from .text import Vocabulary, tokenize
from .vectors import WordVectors


def negative_sampling_loss(h, w_out, targets, negatives):
    """Sum over the batch of ``-log sigmoid(w_out[t] . h) - sum_k log sigmoid(-w_out[n_k] . h)``:
    ``h`` (B, d) input vectors, ``targets`` (B,) and ``negatives`` (B, k) rows of ``w_out``."""
    # One gather for the target and its negatives: scores (B, 1 + k); -log sigmoid(s) is
    # softplus(-s) for the target, softplus(s) for a negative.
    outputs = ops.concatenate([ops.expand_dims(targets, 1), negatives], axis=1)
    scores = ops.sum(ops.take(w_out, outputs) * ops.expand_dims(h, 1), axis=-1)
    sign = np.array([-1.0] + [1.0] * negatives.shape[1], dtype=scores.dtype)
    return ops.sum(softplus(scores * sign))


def skipgram_loss(w_in, w_out, centres, targets, negatives):
    """Skip-gram: the centre word's vector predicts a context word."""
    return negative_sampling_loss(ops.take(w_in, centres), w_out, targets, negatives)


def cbow_loss(w_in, w_out, contexts, mask, targets, negatives):
    """CBOW: the mean of the context vectors (``contexts`` (B, C), ``mask`` 1 where a slot holds
    a word) predicts the centre word."""
    summed = ops.sum(ops.take(w_in, contexts) * ops.expand_dims(mask, -1), axis=1)
    return negative_sampling_loss(summed / ops.expand_dims(ops.sum(mask, axis=1), -1), w_out, targets, negatives)


def step_function(method: str, negatives: int, context: int = 0, dtype="float32") -> Function:
    """The training step as a graph, ``(w_in, w_out, *batch, lr) -> (loss, w_in', w_out')``:
    the loss, its gradient with respect to both tables (gather and scatter-add) and the SGD
    update; tables of any number of rows. ``batch`` is ``(centres, targets, negatives)`` for
    skip-gram, ``(contexts, mask, targets, negatives)`` for CBOW (``context`` slots)."""
    tables = [var("w_in", (None, None), dtype), var("w_out", (None, None), dtype)]
    if method == "skipgram":
        batch = [var("centres", (None,), "int64")]
        loss = skipgram_loss
    elif method == "cbow":
        batch = [var("contexts", (None, context), "int64"), var("mask", (None, context), dtype)]
        loss = cbow_loss
    else:
        raise ValueError(f"word2vec: method must be 'skipgram' or 'cbow', got {method!r}")
    batch += [var("targets", (None,), "int64"), var("negatives", (None, negatives), "int64")]
    lr = var("lr", (), dtype)
    f = engine.value_and_grad(Function(tables + batch, loss(*tables, *batch), name=f"{method}_loss"),
                              wrt=["w_in", "w_out"])
    value, g_in, g_out = f(*tables, *batch)
    return Function(tables + batch + [lr], [value, tables[0] - lr * g_in, tables[1] - lr * g_out],
                    name=f"{method}_step")


class NegativeSampler:
    """Draws from the unigram distribution raised to ``power`` through a table of ``size`` word
    ids, each word filling a share proportional to ``count ** power`` (word2vec.c's table; int32
    and 10^6 entries by default, 4 MB, so that draws mostly hit the cache)."""

    def __init__(self, counts, power: float = 0.75, size: int = 1_000_000):
        weights = np.asarray(counts, dtype=np.float64) ** power
        if weights.sum() <= 0:
            raise ValueError("NegativeSampler: no word has a positive count")
        bounds = np.cumsum(weights) / weights.sum()
        self.table = np.searchsorted(bounds, (np.arange(size) + 0.5) / size).astype(np.int32)

    def draw(self, rng, targets, k: int) -> np.ndarray:
        """(len(targets), k) negatives, none equal to its row's target (redrawn: word2vec.c
        skips them)."""
        out = self.table[rng.integers(0, len(self.table), size=(len(targets), k))].astype(np.int64)
        clash = out == targets[:, None]
        while clash.any():
            out[clash] = self.table[rng.integers(0, len(self.table), size=int(clash.sum()))]
            clash = out == targets[:, None]
        return out


def keep_probability(counts, t: float) -> np.ndarray:
    """word2vec.c's subsampling: keep a word of frequency f with probability sqrt(t/f) + t/f,
    at most 1 (``t <= 0``: keep everything)."""
    counts = np.asarray(counts, dtype=np.float64)
    if t <= 0:
        return np.ones_like(counts)
    f = counts / max(counts.sum(), 1)
    with np.errstate(divide="ignore"):
        ratio = np.where(f > 0, t / f, np.inf)
    return np.minimum(np.sqrt(ratio) + ratio, 1.0)


def skipgram_pairs(ids, sentence, window: int, rng) -> tuple:
    """(centres, contexts) of every pair within each centre's window, which is drawn in
    1..window per centre (word2vec.c's reduced window: near words count more), within a
    sentence."""
    n = len(ids)
    reach = rng.integers(1, window + 1, size=n)
    centres, contexts = [], []
    for j in range(1, min(window, n - 1) + 1):
        same = sentence[:-j] == sentence[j:]
        right = same & (reach[:-j] >= j)  # centre i, context i + j
        left = same & (reach[j:] >= j)    # centre i + j, context i
        centres += [ids[:-j][right], ids[j:][left]]
        contexts += [ids[j:][right], ids[:-j][left]]
    if not centres:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(centres), np.concatenate(contexts)


def cbow_examples(ids, sentence, window: int, rng) -> tuple:
    """(contexts (N, 2*window), mask, centres): each word's context within its reduced window
    (0 and mask 0 in the empty slots); words without any context are left out."""
    n = len(ids)
    reach = rng.integers(1, window + 1, size=n)
    contexts, mask = np.zeros((n, 2 * window), np.int64), np.zeros((n, 2 * window), np.float32)
    for k, j in enumerate([o for o in range(-window, window + 1) if o]):
        lo, hi = max(0, -j), min(n, n - j)  # centres i with i + j in range
        if lo >= hi:
            continue
        i = np.arange(lo, hi)
        ok = (sentence[i] == sentence[i + j]) & (reach[i] >= abs(j))
        contexts[i[ok], k], mask[i[ok], k] = ids[i[ok] + j], 1.0
    has = mask.sum(axis=1) > 0
    return contexts[has], mask[has], ids[has]


class Word2Vec:
    """Skip-gram or CBOW with negative sampling (Mikolov et al. 2013).

    ``fit(sentences)`` takes lists of tokens; ``wv`` (a ``WordVectors`` of the input table)
    answers ``most_similar`` and ``analogy``; ``history`` has the loss per epoch and the
    throughput (corpus words per second, subsampled words included, as word2vec.c counts them;
    the compilation is timed apart, in ``compile_seconds``). ``row_slices``: step on the rows a
    batch touches (True) or on the whole tables (False); by default, slices when the vocabulary
    has more than twice the ids of a batch. Both give the same numbers.

    >>> sentences = generated_corpus(seed=0, sentences=2000)[0]
    >>> w2v = Word2Vec(dim=16, epochs=1, seed=0).fit(sentences)
    >>> len(w2v.wv) > 100
    True
    """

    def __init__(self, dim: int = 50, method: str = "skipgram", window: int = 5, negatives: int = 5,
                 subsample: float = 1e-3, min_count: int = 1, epochs: int = 5, learning_rate: float | None = None,
                 batch_size: int = 1024, row_slices: bool | None = None, seed: int = 0):
        if method not in ("skipgram", "cbow"):
            raise ValueError(f"Word2Vec: method must be 'skipgram' or 'cbow', got {method!r}")
        self.dim, self.method, self.window, self.negatives = int(dim), method, int(window), int(negatives)
        self.subsample, self.min_count, self.epochs = subsample, int(min_count), int(epochs)
        self.learning_rate = learning_rate or (0.025 if method == "skipgram" else 0.05)
        self.batch_size, self.row_slices, self.seed = int(batch_size), row_slices, seed
        self.history, self.compile_seconds = [], None

    def fit(self, sentences) -> "Word2Vec":
        """Train on ``sentences`` (lists of tokens; iterated twice, so a list or an object that
        can be iterated again, such as ``LineSentences``): build the vocabulary (``min_count``),
        then ``epochs`` passes with the learning rate decayed linearly to 0."""
        if iter(sentences) is sentences:
            raise TypeError("Word2Vec.fit: sentences is a one-pass iterator; pass a list or an object that "
                            "can be iterated again (LineSentences)")
        self.vocab = Vocabulary.build(sentences, min_count=self.min_count)
        encoded = [self.vocab.encode(s) for s in sentences]
        ids = np.concatenate(encoded) if encoded else np.zeros(0, np.int64)
        sentence = np.repeat(np.arange(len(encoded)), [len(s) for s in encoded])
        known = ids != self.vocab.unk_id  # words under min_count are dropped, as word2vec.c does
        ids, sentence = ids[known], sentence[known]
        if not len(ids):
            raise ValueError(f"Word2Vec.fit: no word occurs at least min_count={self.min_count} times")
        counts = self.vocab.counts.copy()
        counts[self.vocab.unk_id] = 0  # never a negative
        rng = np.random.default_rng(self.seed)
        v, d = len(self.vocab), self.dim
        self.w_in = rng.uniform(-0.5 / d, 0.5 / d, size=(v, d)).astype(np.float32)
        self.w_out = np.zeros((v, d), np.float32)
        sampler = NegativeSampler(counts)
        keep = keep_probability(counts, self.subsample)
        start = time.perf_counter()
        step = compiler.jit(step_function(self.method, self.negatives, 2 * self.window), "cpu")
        self._compile(step)
        self.compile_seconds, self.history = time.perf_counter() - start, []
        # Slices of the tables when a batch touches a small part of them (see the docstring).
        per_batch = self.batch_size * (self.negatives + 1 + (2 * self.window if self.method == "cbow" else 1))
        self._slices = v > 2 * per_batch if self.row_slices is None else self.row_slices
        self._seen, self._where = np.zeros(v, bool), np.zeros(v, np.int64)
        total_steps, done = None, 0
        for epoch in range(self.epochs):
            start = time.perf_counter()
            kept = rng.random(len(ids)) < keep[ids]
            if self.method == "skipgram":
                centres, targets = skipgram_pairs(ids[kept], sentence[kept], self.window, rng)
                inputs = (centres,)
            else:
                contexts, mask, targets = cbow_examples(ids[kept], sentence[kept], self.window, rng)
                inputs = (contexts, mask)
            order = rng.permutation(len(targets))
            n_steps = -(-len(targets) // self.batch_size)
            total_steps = total_steps or max(n_steps * self.epochs, 1)
            loss = 0.0
            for b in range(n_steps):
                idx = order[b * self.batch_size:(b + 1) * self.batch_size]
                lr = np.float32(self.learning_rate * max(1.0 - done / total_steps, 1e-4))
                negatives = sampler.draw(rng, targets[idx], self.negatives)
                loss += self._step(step, [a[idx] for a in inputs], targets[idx], negatives, lr)
                done += 1
            seconds = time.perf_counter() - start
            self.history.append({"epoch": epoch + 1, "loss": loss / max(len(targets), 1), "examples": len(targets),
                                 "seconds": seconds, "words_per_s": len(ids) / seconds})
        self.wv = WordVectors(self.vocab.tokens, self.w_in)
        return self

    def _compile(self, step) -> None:
        """Compile the step (or load it from the cache) on a batch of one, so that the epochs'
        times are training only."""
        first = np.zeros((1, 2 * self.window), np.int64) if self.method == "cbow" else np.zeros(1, np.int64)
        batch = (first, np.ones((1, 2 * self.window), np.float32)) if self.method == "cbow" else (first,)
        step(self.w_in[:1], self.w_out[:1], *batch, np.zeros(1, np.int64), np.zeros((1, self.negatives), np.int64),
             np.float32(0))

    def _rows(self, ids) -> tuple:
        """The distinct ``ids`` (sorted) and where each id is among them: like ``np.unique``
        with ``return_inverse``, without the sort (O(len(ids)) and a scan of V bytes)."""
        self._seen[ids] = True
        rows = np.flatnonzero(self._seen)
        self._seen[rows] = False
        self._where[rows] = np.arange(len(rows))
        return rows, self._where[ids]

    def _step(self, step, inputs, targets, negatives, lr) -> float:
        """One SGD step: on the whole tables, or on the rows this batch touches."""
        n, outputs = len(targets), np.concatenate([targets, negatives.ravel()])
        if self._slices:
            rows_in, local_in = self._rows(inputs[0])
            rows_out, local_out = self._rows(outputs)
            # np.take: 4x faster than fancy indexing for rows of a large table (numpy 2.4)
            w_in, w_out = np.take(self.w_in, rows_in, axis=0), np.take(self.w_out, rows_out, axis=0)
        else:
            local_in, local_out, w_in, w_out = inputs[0], outputs, self.w_in, self.w_out
        loss, w_in, w_out = step(w_in, w_out, local_in, *inputs[1:], local_out[:n],
                                 local_out[n:].reshape(negatives.shape), lr)
        if self._slices:
            self.w_in[rows_in], self.w_out[rows_out] = w_in, w_out
        else:
            self.w_in, self.w_out = w_in, w_out
        return float(loss)

    @property
    def words_per_second(self) -> float:
        """Throughput of the last epoch."""
        return self.history[-1]["words_per_s"] if self.history else float("nan")


class LineSentences:
    """The sentences of a text file, one per line, tokenized by ``text.tokenize``; iterating
    reads the file again, line by line (it is never held in memory as text)."""

    def __init__(self, path, lowercase: bool = True):
        self.path, self.lowercase = Path(path), lowercase

    def __iter__(self):
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                tokens = tokenize(line, lowercase=self.lowercase)
                if tokens:
                    yield tokens


def train_file(path, lowercase: bool = True, **options) -> Word2Vec:
    """``Word2Vec(**options)`` trained on a text file, one sentence per line (see
    ``LineSentences``); in memory: the token ids (8 bytes a word) and the two tables."""
    return Word2Vec(**options).fit(LineSentences(path, lowercase))


# --- a generated corpus whose analogies are known -------------------------------------------------
# Each word of a pair is (what it is, which side of the pair): a country and its capital share
# the nation's words and differ by country/city words; a man and a woman of the same role share
# the role's words and differ by pronouns; a noun and its plural share the thing's words and
# differ by determiners and verb agreement. Sentences mix one word's two kinds of context, so
# the vector offset of a relation is the same across pairs: the structure analogies read.
COUNTRIES = [("france", "paris", "french"), ("italy", "rome", "italian"), ("germany", "berlin", "german"),
             ("spain", "madrid", "spanish"), ("japan", "tokyo", "japanese"), ("china", "beijing", "chinese"),
             ("russia", "moscow", "russian"), ("egypt", "cairo", "egyptian"), ("greece", "athens", "greek"),
             ("norway", "oslo", "norwegian"), ("poland", "warsaw", "polish"), ("turkey", "ankara", "turkish")]
GENDER = [("man", "woman", "work office"), ("king", "queen", "throne crown"), ("boy", "girl", "school toys"),
          ("father", "mother", "children family"), ("son", "daughter", "parents born"),
          ("brother", "sister", "sibling twin"), ("husband", "wife", "married wedding"),
          ("uncle", "aunt", "cousins visit"), ("prince", "princess", "castle royal"),
          ("nephew", "niece", "birthday gift"), ("grandfather", "grandmother", "old garden"),
          ("actor", "actress", "film stage")]
NOUNS = [("dog", "dogs", "leash kennel"), ("cat", "cats", "whiskers milk"), ("car", "cars", "road engine"),
         ("house", "houses", "roof door"), ("tree", "trees", "leaves branches"), ("bird", "birds", "wings nest"),
         ("book", "books", "pages library"), ("apple", "apples", "juice orchard"), ("horse", "horses", "saddle stable"),
         ("ship", "ships", "sea harbour"), ("river", "rivers", "water bridge"), ("flower", "flowers", "petals vase")]

_PLACES = {
    "country": ["{w} is a country where people speak {lang}", "the government of {w} is {lang}",
                "the {lang} nation of {w} has a border", "the president of {w} leads the {lang} nation",
                "{w} is a large country with a {lang} economy"],
    "city": ["{w} is a {lang} city", "the mayor of {w} speaks {lang}", "the streets of {w} are full of {lang} people",
             "{w} is the largest {lang} city with many streets", "the {lang} city of {w} has a mayor"],
}
_PEOPLE = ["the {w} said that {he} likes the {r}", "{he} is the {w} with the {r}",
           "the {w} took {his} {r} home", "everyone knows the {w} because {he} loves {his} {r}",
           "{his} {r} made the {w} smile"]
_THINGS = {
    "one": ["{a} {w} is near the {r}", "{a} {w} was by the {r}", "there is {a} {w} at the {r}",
            "{a} {w} has a {r}"],
    "many": ["{a} {w} are near the {r}", "{a} {w} were by the {r}", "there are {a} {w} at the {r}",
             "{a} {w} have a {r}"],
}
_PRONOUNS = {"m": {"he": ["he"], "his": ["his", "him"]}, "f": {"he": ["she"], "his": ["her", "hers"]}}
_DETERMINERS = {"one": ["a", "one", "this", "that", "each"], "many": ["two", "many", "these", "those", "some"]}


def generated_corpus(seed: int = 0, sentences: int = 20000) -> tuple:
    """``(sentences, questions)``: templated sentences (token lists) about countries and
    capitals, male and female words, singular and plural nouns, drawn from ``seed``; and the
    analogy questions they answer, ``{"capital": [...], "gender": [...], "plural": [...]}``,
    each ``(a, b, c, d)``: a is to b as c is to d, for every ordered pair of two pairs."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(sentences):
        kind = rng.integers(3)
        if kind == 0:
            country, capital, lang = COUNTRIES[rng.integers(len(COUNTRIES))]
            side = "country" if rng.random() < 0.5 else "city"
            template = _PLACES[side][rng.integers(len(_PLACES[side]))]
            text = template.format(w=country if side == "country" else capital, lang=lang)
        elif kind == 1:
            pair = GENDER[rng.integers(len(GENDER))]
            g = rng.integers(2)
            pron = _PRONOUNS["mf"[g]]
            role = pair[2].split()
            text = _PEOPLE[rng.integers(len(_PEOPLE))].format(
                w=pair[g], he=pron["he"][0], his=pron["his"][rng.integers(len(pron["his"]))],
                r=role[rng.integers(len(role))])
        else:
            pair = NOUNS[rng.integers(len(NOUNS))]
            number = ("one", "many")[rng.integers(2)]
            things = pair[2].split()
            dets = _DETERMINERS[number]
            text = _THINGS[number][rng.integers(len(_THINGS[number]))].format(
                a=dets[rng.integers(len(dets))], w=pair[number == "many"], r=things[rng.integers(len(things))])
        out.append(text.split())
    questions = {name: [(a, b, c, d) for a, b, *_ in pairs for c, d, *_ in pairs if a != c]
                 for name, pairs in (("capital", [(p[0], p[1]) for p in COUNTRIES]),
                                     ("gender", [(p[0], p[1]) for p in GENDER]),
                                     ("plural", [(p[0], p[1]) for p in NOUNS]))}
    return out, questions
