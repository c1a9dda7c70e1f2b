"""Text generation (nn.charlm): the standard library's docstrings as a text, the character
vocabulary, a character-level LSTM whose validation bits per character fall below the unigram
entropy, its one-step form against the whole-sequence model, and seeded sampling."""
from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

from adjit.engine import Function, var
from adjit.nn import charlm as L

from support import load_example


def test_the_default_text_is_english_docstrings_read_offline():
    text = L.stdlib_docstrings(max_chars=20_000)
    assert len(text) == 20_000
    assert text.count("Return ") > 10 and text.count(" the ") > 100
    assert L.stdlib_docstrings(max_chars=20_000) == text  # the same text on every call


def test_vocabulary_unknown_characters_and_entropy():
    vocab = L.CharVocabulary.build("aaabbc\ufffd", min_count=2)
    assert vocab.chars == ["\ufffd", "a", "b"] and len(vocab) == 3
    assert vocab.encode("abcz").tolist() == [1, 2, 0, 0]
    assert vocab.decode(vocab.encode("ab?")) == "ab\ufffd"
    assert L.unigram_entropy([1, 1, 2, 2], 3) == 1.0 and L.unigram_entropy([0, 0], 3) == 0.0
    assert math.isclose(L.unigram_entropy(np.arange(8), 8), 3.0)
    x, y = L.windows(np.arange(10), 3)
    assert x.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]] and y.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    lm = L.CharLM(vocab, units=4)
    with pytest.raises(ValueError, match=r"the training text \(8 characters\) is shorter than a window of 9"):
        lm.fit(np.zeros(8, np.int64), np.zeros(100, np.int64), length=8)
    with pytest.raises(ValueError, match="8 characters hold no window of 8 and the next one"):
        lm.bits_per_char({}, np.zeros(8, np.int64), length=8)


def test_docstring_examples_run():
    result = doctest.testmod(L)
    assert result.attempted > 0 and result.failed == 0


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``examples/textgen.py`` at a small size, on a file of 130,000 characters of docstrings:
    an LSTM(32) trained for 150 steps of 32 windows of 32 characters on the first 90%."""
    folder = tmp_path_factory.mktemp("textgen")
    text_file = folder / "docstrings.txt"
    text_file.write_text(L.stdlib_docstrings(max_chars=130_000), encoding="utf-8")
    return load_example("textgen").main(["--text", str(text_file), "--units", "32", "--steps", "150", "--length", "32",
                                         "--eval-every", "50", "--temperatures", "0.5", "1.5",
                                         "--plot", str(folder / "bpc.png")]) | {"plot": folder / "bpc.png"}


def test_validation_bits_per_character_fall_below_the_unigram_entropy(trained):
    history, unigram = trained["history"], trained["unigram_bits"]
    assert history["step"] == [50, 100, 150] and history["chars"][-1] == 150 * 32 * 32
    assert 4.0 < unigram < 5.5  # English text with code in it
    assert history["val_bpc"][-1] < history["val_bpc"][0]
    assert history["val_bpc"][-1] < unigram - 0.5, (history["val_bpc"], unigram)
    assert trained["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {t: len(s) for t, s in trained["samples"].items()} == {0.5: 400, 1.5: 400}


def test_the_one_step_model_computes_what_the_sequence_model_computes(trained):
    lm, params = trained["model"], trained["params"]
    ids = lm.vocab.encode("Return the number of items.")
    p = {k: var(k, v.shape, v.dtype.name) for k, v in params.items()}
    x = var("x", (1, len(ids)), "int64")
    want = Function(list(p.values()) + [x], lm.model(p, x))(*params.values(), ids[None])[0]
    np.testing.assert_allclose(lm.step_logits(params, ids), want, rtol=1e-4, atol=1e-4)


def test_sampling_is_seeded_and_a_low_temperature_picks_the_likeliest_character(trained):
    lm, params = trained["model"], trained["params"]
    a = lm.sample(params, 60, prime="The ", temperature=1.0, seed=1)
    assert len(a) == 60 and a == lm.sample(params, 60, prime="The ", temperature=1.0, seed=1)
    assert a != lm.sample(params, 60, prime="The ", temperature=1.0, seed=2)
    cold = lm.sample(params, 30, prime="The ", temperature=1e-3, seed=3)
    ids = lm.vocab.encode("The " + cold)
    logits = lm.step_logits(params, ids[:-1])
    assert logits[3:].argmax(axis=1).tolist() == ids[4:].tolist()
    with pytest.raises(ValueError, match="temperature must be positive"):
        lm.sample(params, 5, temperature=0)
