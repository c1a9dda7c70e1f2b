"""The character example: an Elman RNN learns "hello" one character at a time.

Vocabulary {h, e, l, o}, one-hot inputs; trained on "hell" -> "ello" (each step predicts the
next character), it then reads "hell" and predicts "ello". Run: ``python examples/hello.py``.
"""
from __future__ import annotations

import numpy as np

from adjit import nn

VOCAB = "helo"


def one_hot(text: str) -> np.ndarray:
    return np.eye(len(VOCAB), dtype=np.float32)[[VOCAB.index(c) for c in text]]


def train(epochs: int = 200, seed: int = 0):
    """The model, its trained parameters and the final loss."""
    model = nn.Sequential([nn.SimpleRNN(8, return_sequences=True), nn.Dense(len(VOCAB))],
                          input_shape=(4, len(VOCAB)), name="hello_rnn")
    x = one_hot("hell")[None]                                     # (1, 4, 4)
    y = np.array([[VOCAB.index(c) for c in "ello"]])              # (1, 4) next characters

    def loss(logits, labels):  # cross-entropy at every step
        return nn.losses.softmax_cross_entropy(logits, labels)
    params, history = nn.fit(model, model.init(seed), (x, y), loss, nn.optim.Adam(0.05), epochs=epochs,
                             batch_size=1, seed=seed, metrics=[], verbose=False)
    return model, params, history["loss"][-1]


def predict(model, params, text: str) -> str:
    logits = nn.predict(model, params, one_hot(text)[None])[0]
    return "".join(VOCAB[k] for k in logits.argmax(axis=-1))


if __name__ == "__main__":
    model, params, final = train()
    print(f"final loss {final:.4f}; 'hell' -> {predict(model, params, 'hell')!r}")
