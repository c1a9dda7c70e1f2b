"""Text basics, embeddings, word2vec and word vectors (nn.text, nn.word2vec, nn.vectors)."""
from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp

from adjit import compiler, engine, nn, ops
from adjit.engine import Function, numeric, var
from adjit.nn import text, vectors, word2vec

from support import load_example


# --- tokenizer and vocabulary ----------------------------------------------------------------------
def test_tokenizer_words_numbers_and_punctuation():
    assert text.tokenize("") == [] and text.tokenize("  ,;!  ") == []
    assert text.tokenize("Hello, World! It's 3.14 or 1,000 -- not 42.") == \
        ["hello", "world", "it's", "3.14", "or", "1,000", "not", "42"]
    assert text.tokenize("Hello, World!", lowercase=False) == ["Hello", "World"]
    assert text.tokenize("Wait... what?!", punctuation=True) == ["wait", ".", ".", ".", "what", "?", "!"]
    assert text.tokenize("Café naïve MP3 snake_case") == ["café", "naïve", "mp3", "snake", "case"]
    assert text.tokenize("a_b", punctuation=True) == ["a", "_", "b"]
    assert text.tokenize("end.", punctuation=True) == ["end", "."]  # a number needs digits after its dot


def test_vocabulary_unknowns_min_count_and_counts():
    empty = text.Vocabulary.build([])
    assert empty.tokens == ["<unk>"] and len(empty) == 1
    assert empty.encode(["anything", "at", "all"]).tolist() == [0, 0, 0]
    assert empty.encode([]).dtype == np.int64 and empty.encode([]).size == 0
    docs = [["b", "a", "c", "a"], ["b", "d", "a"], []]
    vocab = text.Vocabulary.build(docs, min_count=2)
    assert vocab.tokens == ["<unk>", "a", "b"]
    assert vocab.counts.tolist() == [2, 3, 2]  # <unk> counts the occurrences left out: c and d
    assert vocab.count("a") == 3 and vocab.count("c") == 0 and vocab.count("<unk>") == 0
    assert vocab["b"] == 2 and vocab["zebra"] == vocab.unk_id == 0
    assert "a" in vocab and "c" not in vocab
    assert vocab.encode(["a", "zebra", "b"]).tolist() == [1, 0, 2]
    assert vocab.decode([2, 1, 0]) == ["b", "a", "<unk>"]
    with pytest.raises(ValueError, match=r"ids must be in \[0, 3\)"):
        vocab.decode([3])
    assert text.Vocabulary.build([["<unk>", "x"]]).counts.tolist() == [1, 1]  # a literal <unk> is unknown


def test_vocabulary_max_size_breaks_ties_by_token_whatever_the_order():
    docs = [["pear", "fig", "apple", "fig", "kiwi", "date"], ["apple", "date", "kiwi"]]
    # counts: apple 2, date 2, fig 2, kiwi 2, pear 1
    vocab = text.Vocabulary.build(docs, max_size=3)
    assert vocab.tokens == ["<unk>", "apple", "date"]
    assert vocab.counts.tolist() == [5, 2, 2]
    reordered = text.Vocabulary.build([list(reversed(d)) for d in reversed(docs)], max_size=3)
    assert reordered.tokens == vocab.tokens
    assert text.Vocabulary.build(docs).tokens == ["<unk>", "apple", "date", "fig", "kiwi", "pear"]
    assert text.Vocabulary.build(docs, max_size=1).tokens == ["<unk>"]
    with pytest.raises(ValueError, match="max_size must be at least 1"):
        text.Vocabulary.build(docs, max_size=0)


def test_bag_of_words_and_binary_presence():
    vocab = text.Vocabulary.build([["a", "b", "a"]])
    m = text.bag_of_words([["a", "a", "b", "zzz"], [], ["b"]], vocab)
    assert sp.isspmatrix_csr(m) and m.shape == (3, 3) and m.dtype == np.float32
    assert m.toarray().tolist() == [[1, 2, 1], [0, 0, 0], [0, 0, 1]]  # column 0: unknown tokens
    assert text.bag_of_words([["a", "a", "b"]], vocab, binary=True).toarray().tolist() == [[0, 1, 1]]


def test_ngram_counts_by_hand():
    docs = [text.tokenize("The cat sat."), text.tokenize("the cat, the cat")]
    m, names = text.ngram_counts(docs, n=3)
    # doc 0: the, cat, sat | the cat, cat sat | the cat sat
    # doc 1: the x2, cat x2 | the cat x2, cat the | the cat the, cat the cat
    assert names == ["cat", "cat sat", "cat the", "cat the cat", "sat", "the", "the cat", "the cat sat",
                     "the cat the"]
    assert sp.isspmatrix_csr(m)
    assert m.toarray().tolist() == [[1, 1, 0, 0, 1, 1, 1, 1, 0],
                                    [2, 0, 1, 1, 0, 2, 2, 0, 1]]
    bigrams, names2 = text.ngram_counts(docs, n=(2, 2), min_count=2)
    assert names2 == ["the cat"] and bigrams.toarray().tolist() == [[1], [2]]
    new, same = text.ngram_counts([["the", "dog", "sat"]], n=3, features=names)  # unseen n-grams dropped
    assert same == names and new.toarray().tolist() == [[0, 0, 0, 0, 1, 1, 0, 0, 0]]
    binary, _ = text.ngram_counts(docs, n=1, binary=True)
    assert binary.toarray().tolist() == [[1, 1, 1], [1, 0, 1]]
    empty, none = text.ngram_counts([[]], n=2)
    assert empty.shape == (1, 0) and none == []
    with pytest.raises(ValueError, match="n must be 1, 2, 3"):
        text.ngram_counts(docs, n=4)


def test_one_hot():
    assert text.one_hot([2, 0], 3).tolist() == [[0, 0, 1], [1, 0, 0]]
    assert text.one_hot(np.array([[1], [0]]), 2, "int64").shape == (2, 1, 2)
    with pytest.raises(ValueError, match=r"ids must be in \[0, 3\)"):
        text.one_hot([3], 3)
    with pytest.raises(ValueError, match="must be integers"):
        text.one_hot([0.5], 3)


def test_logistic_regression_baseline_reaches_the_known_answer():
    """Negation makes the label an exclusive or of the adjective and "not": word counts cannot
    separate it (at most 1 - 0.3/2 = 85% right), word pairs can ("not good")."""
    words = text.sentiment_baseline(n=1)
    pairs = text.sentiment_baseline(n=2)
    assert words["test_accuracy"] <= 0.86
    assert pairs["train_accuracy"] == 1.0 and pairs["test_accuracy"] >= 0.98
    assert pairs["features"] > words["features"]



def test_text_baseline_example_reaches_the_known_answer(capsys):
    """``examples/text_baseline.py`` at a small size: word counts and presence stay under the
    85% bound, word pairs and triples separate the held-out sentences."""
    results = load_example("text_baseline").main(["--train", "600", "--test", "200", "--epochs", "10"])
    assert results["word counts"][1] <= 0.86 and results["word presence"][1] <= 0.86
    assert results["1- to 2-gram counts"][1] >= 0.98 and results["1- to 3-gram counts"][1] >= 0.98
    assert results["word counts"][0] < results["1- to 2-gram counts"][0] < results["1- to 3-gram counts"][0]
    assert "test accuracy" in capsys.readouterr().out

# --- embeddings: gather, scatter-add, cost against the vocabulary ------------------------------------
def test_embedding_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    table, weights = rng.normal(size=(7, 3)), rng.normal(size=(2, 4, 3))
    ids = np.array([[1, 5, 1, 6], [0, 1, 5, -1]])  # repeats accumulate; -1 is the last row

    def f(E, w, i):
        return ops.sum(ops.tanh(nn.Embedding(7, 3)({"embeddings": E}, i)) * w)
    F = engine.trace(f, table, weights, ids)
    want = numeric.grad(F, table, weights, ids)[0]
    assert np.count_nonzero(np.abs(want).sum(axis=1)) == 4  # rows 0, 1, 5, 6 only
    for target in ("numpy", "cpu"):
        got = compiler.jit(engine.grad(F, wrt="E"), target)(table, weights, ids)
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


def _embedding_step(d: int, batch: int, length: int):
    """A compiled SGD step of embedding -> mean over the sequence -> dense -> cross-entropy, for
    any vocabulary size (the table's rows are a dynamic dimension)."""
    emb, dense = nn.Embedding(1, d), nn.Dense(2)
    E, K, b = var("E", (None, d), "float32"), var("K", (d, 2), "float32"), var("b", (2,), "float32")
    x, y = var("x", (batch, length), "int64"), var("y", (batch,), "int64")
    logits = dense({"kernel": K, "bias": b}, ops.mean(emb({"embeddings": E}, x), axis=1))
    loss = Function([E, K, b, x, y], nn.losses.softmax_cross_entropy(logits, y), name="embedding_loss")
    value, *grads = engine.value_and_grad(loss, wrt=["E", "K", "b"])(E, K, b, x, y)
    new, _ = nn.optim.SGD(0.1).update({"E": E, "K": K, "b": b}, dict(zip("EKb", grads)), {})
    return compiler.jit(Function([E, K, b, x, y], [value, new["E"], new["K"], new["b"]], name="embedding_step"))


def _best_time(fn, repeat: int = 7, number: int = 20) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def test_embedding_step_does_not_grow_with_the_vocabulary_beyond_its_gradient():
    d, batch, length = 16, 64, 8
    step = _embedding_step(d, batch, length)
    # Only table-shaped arrays have the vocabulary's size (the table, its gradient made by the
    # scatter-add, the update): no one-hot matrix, no product with the table.
    sized = [n for n in step.function.nodes if None in n.shape]
    assert all(n.shape == (None, d) for n in sized) and "take_grad" in {n.prim for n in sized}
    assert not any(n.prim == "matmul" and any(None in i.shape for i in n.inputs) for n in step.function.nodes)
    rng = np.random.default_rng(0)
    K, b = rng.normal(size=(d, 2)).astype(np.float32), np.zeros(2, np.float32)
    memory, seconds, dense = {}, {}, {}
    for vocab in (1_000, 100_000):
        table = rng.normal(size=(vocab, d)).astype(np.float32)
        ids, labels = rng.integers(0, vocab, (batch, length)), rng.integers(0, 2, batch)
        loss, new_table, _, _ = step(table, K, b, ids, labels)
        touched = np.unique(ids)
        assert np.array_equal(np.flatnonzero(np.any(new_table != table, axis=1)), touched)
        memory[vocab] = step.memory(table, K, b, ids, labels)
        seconds[vocab] = _best_time(lambda: step(table, K, b, ids, labels))

        def gradient_array():  # what any dense-gradient step must do: a zero table, then a pass over it
            g = np.zeros_like(table)
            np.subtract(table, g, out=g)
        dense[vocab] = _best_time(gradient_array)
    grown = (100_000 - 1_000) * d * 4
    assert memory[100_000]["peak_temporary_bytes"] - memory[1_000]["peak_temporary_bytes"] <= grown
    assert memory[100_000]["result_bytes"] - memory[1_000]["result_bytes"] == grown  # the new table
    assert seconds[100_000] - seconds[1_000] <= 3 * dense[100_000] + 50e-6, (seconds, dense)


# --- word2vec --------------------------------------------------------------------------------------
def _log_sigmoid(x):
    return -np.logaddexp(0, -x)


def _negative_sampling_numpy(h, w_out, targets, negatives):
    """The loss and its gradients with respect to h and w_out, written out."""
    u, un = w_out[targets], w_out[negatives]
    pos, neg = np.sum(h * u, axis=-1), np.einsum("bkd,bd->bk", un, h)
    loss = -np.sum(_log_sigmoid(pos)) - np.sum(_log_sigmoid(-neg))
    d_pos, d_neg = -1 / (1 + np.exp(pos)), 1 / (1 + np.exp(-neg))
    g_h = d_pos[:, None] * u + np.einsum("bk,bkd->bd", d_neg, un)
    g_out = np.zeros_like(w_out)
    np.add.at(g_out, targets, d_pos[:, None] * h)
    np.add.at(g_out, negatives, d_neg[:, :, None] * h[:, None, :])
    return loss, g_h, g_out


def _compiled_step(method: str):
    """The float32 step that Word2Vec() compiles (5 negatives, window 5): compiled once."""
    return compiler.jit(word2vec.step_function(method, 5, 10), "cpu")


def test_skipgram_step_matches_numpy():
    rng = np.random.default_rng(1)
    w_in = (rng.normal(size=(9, 4)) * 0.5).astype(np.float32)
    w_out = (rng.normal(size=(8, 4)) * 0.5).astype(np.float32)
    centres, targets = np.array([0, 3, 3, 8, 2]), np.array([1, 7, 0, 1, 5])
    negatives = rng.integers(0, 8, (5, 5))
    loss, g_h, g_out = _negative_sampling_numpy(w_in[centres].astype(np.float64), w_out.astype(np.float64),
                                                targets, negatives)
    g_in = np.zeros((9, 4))
    np.add.at(g_in, centres, g_h)
    got = _compiled_step("skipgram")(w_in, w_out, centres, targets, negatives, np.float32(0.1))
    np.testing.assert_allclose(got[0], loss, rtol=1e-5)
    np.testing.assert_allclose(got[1], w_in - 0.1 * g_in, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[2], w_out - 0.1 * g_out, rtol=1e-5, atol=1e-6)


def test_cbow_step_matches_numpy():
    rng = np.random.default_rng(2)
    w_in = (rng.normal(size=(6, 3)) * 0.5).astype(np.float32)
    w_out = (rng.normal(size=(6, 3)) * 0.5).astype(np.float32)
    contexts = np.zeros((2, 10), np.int64)
    mask = np.zeros((2, 10), np.float32)
    contexts[0, 4:6], mask[0, 4:6] = [1, 2], 1       # two words around the centre
    contexts[1, 2:6], mask[1, 2:6] = [3, 3, 4, 5], 1  # a repeated one
    targets, negatives = np.array([4, 0]), rng.integers(0, 6, (2, 5))
    w64 = w_in.astype(np.float64)
    h = np.array([(w64[1] + w64[2]) / 2, (2 * w64[3] + w64[4] + w64[5]) / 4])
    loss, g_h, g_out = _negative_sampling_numpy(h, w_out.astype(np.float64), targets, negatives)
    g_in = np.zeros((6, 3))
    for b in range(2):
        np.add.at(g_in, contexts[b][mask[b] > 0], g_h[b] / mask[b].sum())
    got = _compiled_step("cbow")(w_in, w_out, contexts, mask, targets, negatives, np.float32(0.1))
    np.testing.assert_allclose(got[0], loss, rtol=1e-5)
    np.testing.assert_allclose(got[1], w_in - 0.1 * g_in, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[2], w_out - 0.1 * g_out, rtol=1e-5, atol=1e-6)
    assert np.array_equal(got[1][0], w_in[0])  # row 0 fills the empty slots (mask 0): not moved


def test_softplus_has_derivative_one_half_at_zero():
    """Zero scores (an output table that starts at zero) must still move: relu and abs alone
    have derivative 0 at their kinks."""
    g = engine.grad(engine.trace(lambda z: ops.sum(nn.activations.softplus(z)), np.zeros(3)))
    np.testing.assert_allclose(g(np.array([0.0, 30.0, -30.0])), [0.5, 1.0, 1 / (1 + np.exp(30.0))], rtol=1e-12)
    bce = engine.grad(engine.trace(nn.losses.binary_cross_entropy_with_logits, np.zeros(2), np.zeros(2)), wrt=0)
    np.testing.assert_allclose(bce(np.zeros(2), np.array([1.0, 0.0])), [-0.25, 0.25])


def test_negative_sampling_table_and_subsampling():
    counts = np.array([0, 1000, 100, 10, 1])
    sampler = word2vec.NegativeSampler(counts, size=100_000)
    share = np.bincount(sampler.table, minlength=5) / len(sampler.table)
    np.testing.assert_allclose(share, counts ** 0.75 / np.sum(counts ** 0.75), atol=2e-5)
    targets = np.array([1, 1, 2, 3] * 500)
    drawn = sampler.draw(np.random.default_rng(0), targets, 5)
    assert drawn.shape == (2000, 5) and not np.any(drawn == targets[:, None]) and not np.any(drawn == 0)
    keep = word2vec.keep_probability(counts, t=1e-3)  # f = 1000/1111 ...: sqrt(t/f) + t/f
    f = counts[1] / counts.sum()
    assert keep[1] == pytest.approx(np.sqrt(1e-3 / f) + 1e-3 / f) and keep[4] == 1.0
    assert np.all(word2vec.keep_probability(counts, t=0) == 1)


def test_windows_by_hand():
    ids, sentence = np.array([10, 11, 12, 13, 14]), np.array([0, 0, 0, 1, 1])
    rng = np.random.default_rng(0)
    centres, contexts = word2vec.skipgram_pairs(ids, sentence, 1, rng)  # window 1: neighbours only
    assert sorted(zip(centres.tolist(), contexts.tolist())) == [(10, 11), (11, 10), (11, 12), (12, 11),
                                                                 (13, 14), (14, 13)]
    contexts, mask, centres = word2vec.cbow_examples(ids, sentence, 1, rng)
    assert centres.tolist() == [10, 11, 12, 13, 14]
    assert (contexts * mask).tolist() == [[0, 11], [10, 12], [11, 0], [0, 14], [13, 0]]
    far = word2vec.skipgram_pairs(ids, sentence, 4, np.random.default_rng(0))
    assert all(sentence[ids == c] == sentence[ids == o] for c, o in zip(*far))  # never across sentences


def test_row_slices_give_the_same_tables_as_whole_tables():
    sentences, _ = word2vec.generated_corpus(seed=3, sentences=300)
    runs = [word2vec.Word2Vec(dim=8, epochs=1, batch_size=64, row_slices=s, seed=0).fit(sentences)
            for s in (True, False)]
    assert np.array_equal(runs[0].w_in, runs[1].w_in) and np.array_equal(runs[0].w_out, runs[1].w_out)
    assert runs[0].history[0]["loss"] == runs[1].history[0]["loss"]


def test_word2vec_rejects_one_pass_iterators_and_corpora_without_words():
    with pytest.raises(TypeError, match="one-pass iterator"):
        word2vec.Word2Vec().fit(s for s in [["a", "b"]])
    with pytest.raises(ValueError, match="no word occurs at least min_count=2 times"):
        word2vec.Word2Vec(min_count=2).fit([["a", "b"], []])
    with pytest.raises(ValueError, match="method must be 'skipgram' or 'cbow'"):
        word2vec.Word2Vec(method="glove")


@pytest.mark.parametrize("method", ["skipgram", "cbow"])
def test_word2vec_learns_the_analogies_of_the_generated_corpus(method, tmp_path):
    sentences, questions = word2vec.generated_corpus(seed=0, sentences=12000)
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(s) for s in sentences) + "\n", encoding="utf-8")
    model = word2vec.train_file(path, dim=24, method=method, epochs=4, seed=0)
    assert len(model.vocab) == len({w for s in sentences for w in s}) + 1
    scores = model.wv.analogy_accuracy(questions)
    assert scores["questions"] == 3 * 12 * 11 and scores["skipped"] == 0
    assert scores["total"] >= 0.9, scores
    assert model.wv.analogy("king", "man", "woman")[0][0] == "queen"
    assert model.words_per_second > 0 and model.history[-1]["loss"] < model.history[0]["loss"]



def test_word2vec_example_trains_on_a_file_and_writes_vectors(tmp_path, capsys):
    """``examples/word2vec.py --file``: trains on a text file, prints neighbours, writes a
    ``.vec`` file that reads back with the model's vectors."""
    sentences, questions = word2vec.generated_corpus(seed=1, sentences=6000)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(" ".join(s) for s in sentences) + "\n", encoding="utf-8")
    out = load_example("word2vec").main(["--file", str(corpus), "--dim", "24", "--epochs", "3",
                                         "--save", str(tmp_path / "v.vec"), "--query", "king"])
    assert out["analogy_accuracy"] is None and out["model"].wv.analogy_accuracy(questions)["total"] >= 0.5
    back = vectors.read_vec(tmp_path / "v.vec")
    assert back.words == out["model"].wv.words
    np.testing.assert_allclose(back["king"], out["model"].wv["king"], rtol=1e-4, atol=1e-6)
    assert "nearest to 'king'" in capsys.readouterr().out

# --- word vectors ----------------------------------------------------------------------------------
def test_word_vectors_neighbours_and_analogies():
    wv = vectors.WordVectors(["king", "man", "woman", "queen", "apple"],
                             np.array([[1, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 1], [0.1, 0, -1]], np.float32))
    assert wv.analogy("king", "man", "woman", topn=2)[0][0] == "queen"
    assert [w for w, _ in wv.analogy("king", "man", "woman", topn=5)] == ["queen", "apple"]  # query words out
    top = wv.most_similar("king", topn=2)
    assert [w for w, _ in top] == ["man", "queen"] and top[0][1] == pytest.approx(np.sqrt(0.5))
    assert wv.similarity("man", "woman") == 0.0
    acc = wv.analogy_accuracy({"g": [("man", "king", "woman", "queen"), ("man", "woman", "king", "apple")],
                               "x": [("man", "king", "unknown", "queen")]})
    assert acc["g"] == 0.5 and acc["total"] == 0.5 and acc["questions"] == 2 and acc["skipped"] == 1
    with pytest.raises(KeyError, match="'prince' is not in the vocabulary"):
        wv["prince"]


def test_vec_round_trip_limit_and_embedding_matrix(tmp_path):
    rng = np.random.default_rng(0)
    words = ["the", "of", "naïve", "3.14", "<s>"]
    table = rng.normal(size=(5, 4)).astype(np.float32)
    path = vectors.write_vec(tmp_path / "v.vec", words, table)
    back = vectors.read_vec(path)
    assert back.words == words and back.vectors.dtype == np.float32 and np.array_equal(back.vectors, table)
    first = vectors.read_vec(path, limit=2)
    assert first.words == ["the", "of"] and np.array_equal(first.vectors, table[:2])
    assert np.array_equal(vectors.read_vec(path, dtype="float64").vectors.astype(np.float32), table)
    # fastText's own files end each line with a space
    (tmp_path / "ft.vec").write_text("2 2\nhello 0.5 -1 \nworld 1e-3 2 \n", encoding="utf-8")
    assert vectors.read_vec(tmp_path / "ft.vec")["world"].tolist() == [np.float32(1e-3), 2.0]
    vocab = text.Vocabulary.build([["the", "zebra", "of"]])
    matrix = back.embedding_matrix(vocab, missing="zeros")  # <unk>, of, the, zebra
    assert np.array_equal(matrix[[1, 2]], table[[1, 0]]) and not matrix[[0, 3]].any()
    with pytest.raises(ValueError, match="contains whitespace"):
        vectors.write_vec(tmp_path / "bad.vec", ["two words"], table[:1])


@pytest.mark.parametrize("content, message", [
    ("2 3\na 1 2 3\nb 1 2\n", r"bad\.vec:3: expected a word and 3 values, got 2 value\(s\) after 'b'"),
    ("2 3\na 1 2 3\nb 1 x 3\n", r"bad\.vec:3: 'x' is not a number \(in the vector of 'b'\)"),
    ("3 3\na 1 2 3\nb 1 2 3\n", r"bad\.vec:1: the header announces 3 words, the file has 2"),
    ("1 3\na 1 2 3\nb 1 2 3\n", r"bad\.vec:3: the header announces 1 words; this line is one more"),
    ("a 1 2 3\n", r"bad\.vec:1: expected a header 'count dimension', got 'a 1 2 3'"),
    ("", r"bad\.vec:1: expected a header"),
])
def test_malformed_vec_files_name_the_line(tmp_path, content, message):
    (tmp_path / "bad.vec").write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        vectors.read_vec(tmp_path / "bad.vec")
    assert "\n" not in str(info.value)


def test_repeated_words_keep_their_first_vector(tmp_path):
    (tmp_path / "dup.vec").write_text("3 1\na 1\nb 2\na 3\n", encoding="utf-8")
    with pytest.warns(UserWarning, match="1 repeated word"):
        wv = vectors.read_vec(tmp_path / "dup.vec")
    assert wv.words == ["a", "b"] and wv["a"].tolist() == [1.0]


# --- frozen and trainable pretrained embeddings ------------------------------------------------------
def test_frozen_embedding_is_not_updated():
    rng = np.random.default_rng(0)
    pretrained = rng.normal(size=(20, 4)).astype(np.float32)

    class MeanOverTime(nn.Layer):
        kind = "mean_over_time"

        def __call__(self, params, x, training=False, key=None):
            return ops.mean(x, axis=1)

    def model(trainable):
        return nn.Sequential([nn.Embedding.from_pretrained(pretrained, trainable=trainable), MeanOverTime(),
                              nn.Dense(2)], input_shape=(5,), input_dtype="int64")
    X, y = rng.integers(0, 20, (64, 5)), rng.integers(0, 2, 64)
    optimizer = nn.optim.SGD(0.5, momentum=0.9, weight_decay=0.1)  # weight decay would move any parameter
    frozen = model(False)
    assert "Trainable params: 10" in frozen.summary(print_fn=None)
    assert "Non-trainable params: 80" in frozen.summary(print_fn=None)
    params = frozen.init(seed=0)
    assert np.array_equal(params["embedding/embeddings"], pretrained)
    trained, history = nn.fit(frozen, params, (X, y), "softmax_cross_entropy", optimizer, epochs=2, verbose=False)
    assert np.array_equal(trained["embedding/embeddings"], pretrained)
    assert not np.array_equal(trained["dense/kernel"], params["dense/kernel"])
    assert not any("embedding" in k for k in history.state)  # the optimizer never saw it
    # the model itself says so: a gradient taken by hand through it is zero
    F = engine.trace(lambda E, x: ops.sum(frozen({**params, "embedding/embeddings": E}, x)), pretrained, X[:3])
    assert not engine.grad(F, wrt=0)(pretrained, X[:3]).any()
    unfrozen = model(True)
    moved, _ = nn.fit(unfrozen, unfrozen.init(seed=0), (X, y), "softmax_cross_entropy", optimizer, epochs=2,
                      verbose=False)
    assert not np.array_equal(moved["embedding/embeddings"], pretrained)


@pytest.mark.parametrize("name", ["adjit.nn.text", "adjit.nn.vectors", "adjit.nn.word2vec", "adjit.nn.layers"])
def test_docstring_examples_run(name):
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
