"""Sequence to sequence (nn.seq2seq): the generated task, the codec, the masked encoder, beam
search on a model whose best answer is known, and an encoder-decoder that learns to reverse
digit strings it has never seen."""
from __future__ import annotations

import doctest

import numpy as np
import pytest

from adjit import nn, ops
from adjit.engine import Function, var
from adjit.nn import seq2seq as S

from support import load_example


def _random_params(layer, features, seed=0):
    return {k: v.astype(np.float64) for k, v in layer.init(seed, (None, features)).items()}


def _run(layer_fn, *arrays):
    """``layer_fn(*nodes)`` evaluated on ``arrays`` by the reference interpreter."""
    nodes = [var(f"a{k}", a.shape, a.dtype.name) for k, a in enumerate(arrays)]
    out = layer_fn(*nodes)
    return Function(nodes, list(out) if isinstance(out, tuple) else out)(*arrays)


def test_digit_task_gives_distinct_sources_and_their_answers():
    pairs = S.digit_task("reverse", n=500, min_len=2, max_len=4, seed=3)
    sources = [s for s, _ in pairs]
    assert len(set(sources)) == 500 and all(2 <= len(s) <= 4 and s.isdigit() for s in sources)
    assert all(t == s[::-1] for s, t in pairs)
    assert {len(s) for s in sources} == {2, 3, 4}
    assert all(t == "".join(sorted(s)) for s, t in S.digit_task("sort", n=50, seed=0))
    assert S.digit_task("sort", n=50, seed=0) == S.digit_task("sort", n=50, seed=0)
    with pytest.raises(ValueError, match="fewer than 200 strings of 1 to 2 digits"):
        S.digit_task(n=200, min_len=1, max_len=2)
    with pytest.raises(ValueError, match="task must be one of reverse, sort, got 'copy'"):
        S.digit_task("copy")


def test_codec_pads_marks_and_decodes():
    codec = S.Codec("0123456789")
    assert len(codec) == 13
    assert codec.encode(["90"], 4, start=True, end=True).tolist() == [[S.BOS, 12, 3, S.EOS]]
    assert codec.decode(codec.encode(["", "7", "0123"], 5, end=True)) == ["", "7", "0123"]
    with pytest.raises(ValueError, match="'12345' needs 6 tokens, more than 5"):
        codec.encode(["12345"], 5, end=True)


def test_the_loss_and_the_accuracy_leave_padding_out():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 5))
    targets = np.array([[3, 4, S.EOS], [4, S.EOS, S.PAD]])
    log_p = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    picked = [log_p[0, 0, 3], log_p[0, 1, 4], log_p[0, 2, S.EOS], log_p[1, 0, 4], log_p[1, 1, S.EOS]]
    got = _run(S.sequence_cross_entropy, logits, targets)
    np.testing.assert_allclose(got, -np.mean(picked), rtol=1e-12)
    right = np.eye(5)[[[3, 4, S.EOS], [4, S.EOS, 0]]]                    # the padded position is wrong
    assert S.sequence_accuracy(right, targets) == 1.0
    right[1, 0] = np.eye(5)[3]
    assert S.sequence_accuracy(right, targets) == 0.5


def test_docstring_examples_run():
    result = doctest.testmod(S)
    assert result.attempted > 0 and result.failed == 0


def test_the_encoder_ignores_padding_and_the_decoder_starts_from_its_state():
    enc, dec = S.LSTMEncoder(5), S.LSTMDecoder(5)
    p_enc, p_dec = _random_params(enc, 3, 0), _random_params(dec, 3, 1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 3))
    padded = np.concatenate([x, rng.normal(size=(2, 2, 3))], axis=1)  # garbage where the mask is 0
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0]], dtype=bool)
    state = _run(lambda a, m: enc(p_enc, a, mask=m), padded, mask)
    assert state.shape == (2, 10)
    np.testing.assert_allclose(state[0], _run(lambda a: enc(p_enc, a), x[:1])[0], rtol=1e-12)
    np.testing.assert_allclose(state[1], _run(lambda a: enc(p_enc, a), x[1:, :2])[0], rtol=1e-12)
    # its h is the last output of a plain LSTM layer with the same parameters
    np.testing.assert_allclose(state[0, :5], _run(lambda a: nn.LSTM(5)(p_enc, a), x[:1])[0], rtol=1e-12)
    # the decoder from that state, step by step, gives what its whole-sequence form gives
    y = rng.normal(size=(2, 4, 3))
    hs = _run(lambda a, s: dec(p_dec, a, initial_state=s), y, state)
    s = state
    for t in range(4):
        h_t, s = _run(lambda s0, y_t: dec.step(p_dec, s0, y_t), s, y[:, t])
        np.testing.assert_allclose(hs[:, t], h_t, rtol=1e-12)
    with pytest.raises(ValueError, match="needs an initial_state"):
        _run(lambda a: dec(p_dec, a), y)


def _markov_step(table):
    """A toy decoder: the state is (position, last token); ``table[(position, token)]`` gives the
    probabilities of the next token."""
    def step(state, tokens):
        rows = []
        for (position, _), token in zip(state, tokens):
            rows.append(np.log(np.maximum(table.get((int(position), int(token)), _eos_only()), 1e-300)))
        new = np.stack([state[:, 0] + 1, tokens], axis=1)
        return np.array(rows), new
    return step


def _eos_only():
    p = np.zeros(5)
    p[S.EOS] = 1.0
    return p


A, B = 3, 4  # two tokens after PAD, BOS, EOS


def test_beam_search_finds_the_sequence_greedy_decoding_misses():
    # after BOS: a 0.6, b 0.4; after "a": a 0.35, b 0.35, EOS 0.3; after "b": a 0.9, EOS 0.1;
    # then EOS. Greedy takes "a" and ends with "a a" (0.21); the best is "b a" (0.36).
    p = lambda **kw: np.array([kw.get(k, 0.0) for k in ("pad", "bos", "eos", "a", "b")])
    table = {(0, S.BOS): p(a=0.6, b=0.4), (1, A): p(a=0.35, b=0.35, eos=0.3), (1, B): p(a=0.9, eos=0.1)}
    step = _markov_step(table)
    start = np.zeros((1, 2))
    greedy, g_scores = S.beam_search(step, start, width=1, max_len=5)
    assert greedy[0, 0].tolist() == [A, A, S.EOS] and np.isclose(g_scores[0, 0], np.log(0.6 * 0.35))
    beams, scores = S.beam_search(step, start, width=2, max_len=5)
    assert beams[0, 0].tolist() == [B, A, S.EOS] and np.isclose(scores[0, 0], np.log(0.4 * 0.9))
    assert beams[0, 1].tolist() == [A, A, S.EOS] and np.isclose(scores[0, 1], np.log(0.6 * 0.35))
    # a prefix that ended keeps its score (and repeats EOS) while the others grow: after "b a"
    # (0.36), "a a" and "a b" (0.21 each), "a EOS" (0.18) is fourth
    beams, scores = S.beam_search(step, start, width=4, max_len=5)
    assert beams[0, 2:].tolist() == [[A, B, S.EOS], [A, S.EOS, S.EOS]]
    assert np.allclose(np.exp(scores[0]), [0.36, 0.21, 0.21, 0.18])
    # rows are searched independently: two copies of the start give the same answer twice
    beams2, _ = S.beam_search(step, np.zeros((2, 2)), width=2, max_len=5)
    assert beams2[0, 0].tolist() == beams2[1, 0].tolist() == [B, A, S.EOS]


@pytest.fixture(scope="module")
def trained():
    """``examples/seq2seq.py`` at a small size: 64 units learn to reverse strings of 3 to 6
    digits from 6,000 pairs in 4 epochs; 500 held-out pairs."""
    return load_example("seq2seq").main(["--train", "6000", "--test", "500", "--max-len", "6", "--units", "64",
                                         "--epochs", "4", "--lr", "1e-2", "--beam", "3"])


def test_seq2seq_learns_to_reverse_strings_it_has_never_seen(trained):
    history, test = trained["history"], trained["test"]
    assert len(test) == 500 and not {s for s, _ in test} & {s for s, _ in S.digit_task("reverse", 6500, 3, 6)[:6000]}
    assert history["loss"][-1] < 0.2 * history["loss"][0]
    assert trained["greedy"] >= 0.9 and trained["beam"] >= 0.9, trained
    s2s, params = trained["model"], trained["params"]
    assert S.accuracy(s2s.decode(params, [s for s, _ in test[:100]], beam_width=2), test[:100]) >= 0.85


def test_decoding_step_by_step_computes_what_training_computes(trained):
    """The compiled encoder and one-step decoder, fed the true previous tokens, give the
    log-probabilities of the teacher-forced model (evaluated by the reference interpreter)."""
    s2s, params, test = trained["model"], trained["params"], trained["test"]
    x, y = s2s.arrays(test[:4])
    p = {k: var(k, v.shape, v.dtype.name) for k, v in params.items()}
    xv = var("x", x.shape, "int64")
    logits = Function(list(p.values()) + [xv], ops.log_softmax(s2s.model(p, xv)))(*params.values(), x)
    s2s.decode(params, [s for s, _ in test[:1]])  # compiles the encoder and the step
    (enc_keys, encode), (dec_keys, step) = s2s._encode, s2s._step
    state = encode(*[params[k] for k in enc_keys], x[:, :s2s.source_len])
    for t in range(s2s.target_len):
        log_probs, state = step(*[params[k] for k in dec_keys], state, x[:, s2s.source_len + t])
        np.testing.assert_allclose(log_probs, logits[:, t], rtol=1e-4, atol=1e-4)
