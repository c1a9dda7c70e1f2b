"""Sequence to sequence (Sutskever et al. 2014): an LSTM encoder reads the source into its final
state (many-to-one), an LSTM decoder started from that state writes the target one token at a
time (one-to-many), trained with teacher forcing and decoded greedily or by beam search; and
generated tasks with a known answer (reverse or sort a string of digits).

Tokens: 0 pads, 1 begins (BOS) and 2 ends (EOS) a sequence, the characters follow. The model's
input is one int row per example, the source (padded to ``source_len``) then the decoder's input
(BOS and the target, padded to ``target_len``); its output the logits for each target position,
whose labels are the target and EOS. Teacher forcing: the decoder reads the true previous
token, not its own guess. Padding in the source leaves the encoder's state as it is (a mask in
the scan), padding in the target is left out of the loss.

At inference the encoder runs once, compiled, and a compiled one-step decoder
``(state, tokens) -> (log-probabilities, state)`` runs in a Python loop: greedy decoding takes the
most likely token each step, which is beam search of width 1.
"""
from __future__ import annotations

import numpy as np

from .. import compiler, ops
from ..engine import Function, var
from .layers import Dense, Embedding, Layer
from .losses import one_hot
from .model import Model
from .optim import Adam
from .recurrent import LSTM, lstm_cell, zeros_state
from .train import fit

PAD, BOS, EOS = 0, 1, 2
TASKS = {"reverse": lambda s: s[::-1], "sort": lambda s: "".join(sorted(s))}


def digit_task(task: str = "reverse", n: int = 10_000, min_len: int = 3, max_len: int = 8, seed: int = 0) -> list:
    """``n`` distinct pairs (source, target): random digit strings of ``min_len`` to ``max_len``
    digits (lengths uniform) and the string reversed (``"reverse"``) or sorted (``"sort"``).
    Sources are distinct, so a split of the list holds out strings never seen in training.

    >>> digit_task("sort", n=2, seed=1)
    [('57901', '01579'), ('9238428', '2234889')]
    """
    if task not in TASKS:
        raise ValueError(f"digit_task: task must be one of {', '.join(TASKS)}, got {task!r}")
    if n > sum(10 ** k for k in range(min_len, max_len + 1)):
        raise ValueError(f"digit_task: there are fewer than {n} strings of {min_len} to {max_len} digits")
    rng, seen, pairs = np.random.default_rng(seed), set(), []
    while len(pairs) < n:
        s = "".join(map(str, rng.integers(0, 10, size=rng.integers(min_len, max_len + 1))))
        if s not in seen:
            seen.add(s)
            pairs.append((s, TASKS[task](s)))
    return pairs


class Codec:
    """Characters <-> token ids: PAD 0, BOS 1, EOS 2, then ``alphabet`` in its order.

    >>> codec = Codec("0123456789")
    >>> codec.encode(["12", "3"], 4).tolist()
    [[4, 5, 0, 0], [6, 0, 0, 0]]
    >>> codec.decode([[4, 5, 2, 0], [6, 6, 6, 6]])
    ['12', '3333']
    """

    def __init__(self, alphabet: str):
        self.alphabet = "".join(dict.fromkeys(alphabet))
        self.ids = {ch: k + 3 for k, ch in enumerate(self.alphabet)}

    def __len__(self) -> int:
        return len(self.alphabet) + 3

    def encode(self, strings, length: int, start: bool = False, end: bool = False) -> np.ndarray:
        """(len(strings), length) ids, padded; ``start`` puts BOS first, ``end`` EOS last."""
        out = np.full((len(strings), length), PAD, dtype=np.int64)
        for row, s in enumerate(strings):
            ids = [BOS] * start + [self.ids[ch] for ch in s] + [EOS] * end
            if len(ids) > length:
                raise ValueError(f"Codec.encode: {s!r} needs {len(ids)} tokens, more than {length}")
            out[row, :len(ids)] = ids
        return out

    def decode(self, rows) -> list:
        """Strings from id rows, each up to its first EOS or PAD."""
        out = []
        for row in np.asarray(rows):
            chars = []
            for k in row:
                if k in (EOS, PAD):
                    break
                chars.append(self.alphabet[k - 3] if k >= 3 else "")
            out.append("".join(chars))
        return out


class _LSTMLayer(Layer):
    """Configuration and parameters shared by the encoder and the decoder: ``nn.LSTM``'s."""

    def __init__(self, units: int, dtype=None, name=None):
        super().__init__(name)
        self.units, self.dtype = int(units), dtype

    def param_specs(self, input_shape) -> dict:
        return LSTM(self.units).param_specs(input_shape)


class LSTMEncoder(_LSTMLayer):
    """Many-to-one LSTM: reads (N, T, F) and returns its final state ``[h | c]`` (N, 2*units).
    ``mask`` (N, T), true (or 1) at a token and false at padding, keeps the state unchanged over
    padding, so a short sequence ends in the state its last token left. Parameters as
    ``nn.LSTM``'s."""

    kind = "lstm_encoder"

    def __call__(self, params, x, training=False, key=None, mask=None):
        mask = ops.ones_like(x[:, :, 0]) if mask is None else ops.convert(mask, x.dtype)

        def step(carry, inputs):
            x_t, m_t = inputs
            h, c = lstm_cell(params, carry, x_t)
            m = ops.expand_dims(m_t, -1)
            return (m * h + (1.0 - m) * carry[0], m * c + (1.0 - m) * carry[1]), None
        zeros = zeros_state(x, self.units)
        (h, c), _ = ops.scan(step, (zeros, zeros), (ops.transpose(x, (1, 0, 2)), ops.transpose(mask, (1, 0))))
        return ops.concatenate([h, c], axis=-1)


class LSTMDecoder(_LSTMLayer):
    """One-to-many LSTM: from ``initial_state`` ``[h | c]`` (N, 2*units) it reads (N, T, F) and
    returns every h (N, T, units). ``step`` is one of its steps, for decoding token by token."""

    kind = "lstm_decoder"

    def step(self, params, state, x_t):
        """(state [h | c] (N, 2*units), x_t (N, F)) -> (h (N, units), the new state)."""
        h, c = lstm_cell(params, (state[:, :self.units], state[:, self.units:]), x_t)
        return h, ops.concatenate([h, c], axis=-1)

    def __call__(self, params, x, training=False, key=None, initial_state=None):
        if initial_state is None:
            raise ValueError(f"{self.name or 'LSTMDecoder'}: needs an initial_state [h | c] (the encoder's)")
        carry = (initial_state[:, :self.units], initial_state[:, self.units:])

        def step(carry, x_t):  # the same as ``step``, on the (h, c) pair
            h, c = lstm_cell(params, carry, x_t)
            return (h, c), h
        _, hs = ops.scan(step, carry, ops.transpose(x, (1, 0, 2)))
        return ops.transpose(hs, (1, 0, 2))


def sequence_cross_entropy(logits, targets):
    """Mean cross-entropy over the target positions that are not padding: logits (N, T, V),
    integer targets (N, T)."""
    mask = ops.convert(targets != PAD, logits.dtype)
    nll = -ops.sum(ops.log_softmax(logits) * one_hot(targets, logits.shape[-1], logits.dtype), axis=-1)
    return ops.sum(nll * mask) / ops.sum(mask)


def sequence_accuracy(logits, targets) -> float:
    """The fraction of rows whose every non-padding position has its largest logit at the
    target (numpy; under teacher forcing when the logits come from the training model)."""
    targets = np.asarray(targets)
    right = (np.asarray(logits).argmax(axis=-1) == targets) | (targets == PAD)
    return float(right.all(axis=1).mean())


def beam_search(step, state, width: int, max_len: int) -> tuple:
    """Beam search over ``step(state, tokens) -> (log_probs (B, V), state)`` (numpy in and out,
    ``B`` rows of states): starting from BOS, keep the ``width`` most likely prefixes of each
    row, extend each by every token, keep the ``width`` best again, for ``max_len`` steps or
    until every kept prefix has ended (EOS; an ended prefix keeps its score). Scores are summed
    log-probabilities (no length normalisation). Width 1 is greedy decoding.

    Returns ``(tokens (B, width, steps), scores (B, width))``, best first; a row of tokens ends
    with EOS unless it reached ``max_len``.
    """
    state = np.asarray(state)
    rows = len(state)
    state = np.repeat(state, width, axis=0)
    tokens = np.full(rows * width, BOS, dtype=np.int64)
    scores = np.full((rows, width), -np.inf)
    scores[:, 0] = 0.0  # the beams start as copies of one prefix: count it once
    seqs = np.zeros((rows, width, 0), dtype=np.int64)
    ended = np.zeros((rows, width), dtype=bool)
    pick = np.arange(rows)[:, None]
    for _ in range(max_len):
        log_probs, state = step(state, tokens)
        log_probs = np.asarray(log_probs, dtype=np.float64).reshape(rows, width, -1)
        vocab = log_probs.shape[-1]
        stay = np.full(vocab, -np.inf)
        stay[EOS] = 0.0  # an ended prefix has one continuation, EOS again, at no cost
        log_probs = np.where(ended[..., None], stay, log_probs)
        total = (scores[..., None] + log_probs).reshape(rows, -1)
        best = np.argsort(-total, axis=1, kind="stable")[:, :width]
        beam, token = np.divmod(best, vocab)
        scores = np.take_along_axis(total, best, axis=1)
        seqs = np.concatenate([seqs[pick, beam], token[..., None]], axis=-1)
        ended = ended[pick, beam] | (token == EOS)
        state = np.asarray(state).reshape(rows, width, -1)[pick, beam].reshape(rows * width, -1)
        tokens = token.reshape(-1)
        if ended.all():
            break
    return seqs, scores


class Seq2Seq:
    """The encoder-decoder: embedding and ``LSTMEncoder`` for the source, embedding,
    ``LSTMDecoder`` and a dense readout for the target, one ``nn.Model`` (``.model``) over
    ``(N, source_len + target_len)`` ids; ``fit`` trains it with the compiled step (teacher
    forcing), ``decode`` writes targets for new sources.

    >>> s2s = Seq2Seq(Codec("0123456789"), source_len=8, target_len=9, units=16)
    >>> s2s.model.output_shape()
    (None, 9, 13)
    """

    def __init__(self, codec: Codec, source_len: int, target_len: int, embed_dim: int = 16, units: int = 128):
        self.codec, self.source_len, self.target_len = codec, int(source_len), int(target_len)
        vocab = len(codec)
        self.source_embedding = Embedding(vocab, embed_dim, name="source_embedding")
        self.encoder = LSTMEncoder(units, name="encoder")
        self.target_embedding = Embedding(vocab, embed_dim, name="target_embedding")
        self.decoder = LSTMDecoder(units, name="decoder")
        self.readout = Dense(vocab, name="readout")
        layers = [self.source_embedding, self.encoder, self.target_embedding, self.decoder, self.readout]
        self.model = Model(layers, self._forward, input_shape=(self.source_len + self.target_len,),
                           input_dtype="int64", name="seq2seq")
        self._encode = self._step = None

    def _forward(self, call, x):
        source, decoder_input = x[:, :self.source_len], x[:, self.source_len:]
        state = call(self.encoder, call(self.source_embedding, source), mask=source != PAD)
        hs = call(self.decoder, call(self.target_embedding, decoder_input), initial_state=state)
        return call(self.readout, hs)

    def arrays(self, pairs) -> tuple:
        """``(x, y)`` for pairs (source, target): x the source and BOS + target, y target + EOS."""
        sources, targets = zip(*pairs)
        x = np.concatenate([self.codec.encode(sources, self.source_len),
                            self.codec.encode(targets, self.target_len, start=True)], axis=1)
        return x, self.codec.encode(targets, self.target_len, end=True)

    def fit(self, train_pairs, epochs: int = 10, batch_size: int = 64, learning_rate: float = 5e-3, seed: int = 0,
            verbose=None) -> tuple:
        """Teacher-forced training (``nn.fit``, Adam) from the model's seeded initial parameters;
        returns ``(params, history)``, with the teacher-forced ``sequence_accuracy`` of the
        training batches per epoch."""
        return fit(self.model, self.model.init(seed), self.arrays(train_pairs), sequence_cross_entropy,
                   Adam(learning_rate), epochs=epochs, batch_size=batch_size, seed=seed,
                   metrics=[sequence_accuracy], verbose=verbose)

    def _compile(self, params: dict) -> None:
        """The encoder ``(params, source ids) -> state`` and the one-step decoder ``(params,
        state, tokens) -> (log-probabilities, state)``, compiled once for any batch size."""
        p = {k: var(k, np.shape(v), np.asarray(v).dtype.name) for k, v in params.items()}

        def own(layer):
            return self.model.layer_params(p, layer)
        source = var("source", (None, self.source_len), "int64")
        state = self.encoder(own(self.encoder), self.source_embedding(own(self.source_embedding), source),
                             mask=source != PAD)
        encoder_keys = [k for k in p if k.split("/")[0] in ("source_embedding", "encoder")]
        self._encode = (encoder_keys, compiler.jit(
            Function([p[k] for k in encoder_keys] + [source], state, name="seq2seq_encode"), "cpu"))
        state_in = var("state", (None, 2 * self.decoder.units), "float32")
        tokens = var("tokens", (None,), "int64")
        h, state_out = self.decoder.step(own(self.decoder), state_in,
                                         self.target_embedding(own(self.target_embedding), tokens))
        log_probs = ops.log_softmax(self.readout(own(self.readout), h))
        decoder_keys = [k for k in p if k.split("/")[0] in ("target_embedding", "decoder", "readout")]
        self._step = (decoder_keys, compiler.jit(
            Function([p[k] for k in decoder_keys] + [state_in, tokens], [log_probs, state_out],
                     name="seq2seq_decode_step"), "cpu"))

    def decode(self, params: dict, sources, beam_width: int = 1, batch_size: int = 512) -> list:
        """The best target string for each source: greedy (``beam_width=1``) or beam search."""
        if self._encode is None:
            self._compile(params)
        (encoder_keys, encode), (decoder_keys, step) = self._encode, self._step
        decoder_args = [params[k] for k in decoder_keys]
        out = []
        for i in range(0, len(sources), batch_size):
            ids = self.codec.encode(sources[i:i + batch_size], self.source_len)
            state = encode(*[params[k] for k in encoder_keys], ids)
            seqs, _ = beam_search(lambda s, t: step(*decoder_args, s, t), state, beam_width, self.target_len)
            out += self.codec.decode(seqs[:, 0])
        return out


def accuracy(predicted, pairs) -> float:
    """The fraction of pairs whose target is predicted exactly (sequence accuracy)."""
    return float(np.mean([p == t for p, (_, t) in zip(predicted, pairs)]))
