"""The training part of ``adjit demo``: models that learn real data, with compiled steps.

Each function trains one model, prints its progress bars and a summary line, and returns its
figures (for ``--json`` and the tests): test accuracy or error, compile time, steps per second.
"""
from __future__ import annotations

import time

from . import nn


def _report(name: str, history, seconds: float, steps: int, **figures) -> dict:
    out = {"model": name, "epochs": len(history.epochs), "compile_seconds": history.compile_seconds,
           "train_seconds": seconds, "steps_per_second": steps / max(seconds - (history.compile_seconds or 0), 1e-9),
           "final_loss": history["loss"][-1], **figures}
    return out


def _fit(model, data, test, loss, optimizer, epochs, batch_size, verbose, **kw) -> tuple:
    start = time.perf_counter()
    params, history = nn.fit(model, model.init(0), data, loss, optimizer, epochs=epochs, batch_size=batch_size,
                             validation=test, seed=0, verbose=verbose, **kw)
    seconds = time.perf_counter() - start
    steps = epochs * -(-len(data[0]) // batch_size)
    return params, history, seconds, steps


def mlp_digits(epochs: int = 20, verbose=None) -> dict:
    """A 64-64-10 relu MLP on the flattened 8x8 digits, Adam; test accuracy on a held-out 20%."""
    train, test = nn.data.load_digits(images=False)
    model = nn.Sequential([nn.Dense(64, activation="relu"), nn.Dense(10)], input_shape=(64,), name="mlp")
    params, history, seconds, steps = _fit(model, train, test, "softmax_cross_entropy",
                                           nn.optim.Adam(1e-2), epochs, 32, verbose)
    accuracy = nn.metrics.accuracy(nn.predict(model, params, test[0]), test[1])
    return _report("MLP 64-64-10 on the 8x8 digits", history, seconds, steps, test_accuracy=accuracy)


def cnn_model():
    """The digits CNN: two convs 32@3x3 + relu, max-pool 2, flatten, dropout 0.3, dense 64 +
    relu, dense 10 (logits); 8x8x1 images."""
    return nn.Sequential([
        nn.Conv2D(32, 3, padding="same", activation="relu"),
        nn.Conv2D(32, 3, padding="same", activation="relu"), nn.MaxPool2D(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Dense(64, activation="relu"), nn.Dense(10),
    ], input_shape=(8, 8, 1), name="cnn")


def cnn_digits(epochs: int = 25, verbose=None) -> dict:
    """``cnn_model`` on the 8x8 digit images, Adam; test accuracy on a held-out 20%."""
    train, test = nn.data.load_digits(images=True)
    model = cnn_model()
    params, history, seconds, steps = _fit(model, train, test, "softmax_cross_entropy",
                                           nn.optim.Adam(2e-3), epochs, 32, verbose)
    accuracy = nn.metrics.accuracy(nn.predict(model, params, test[0]), test[1])
    return _report("CNN on the 8x8 digit images", history, seconds, steps, test_accuracy=accuracy)


def lstm_sine(epochs: int = 20, verbose=None) -> dict:
    """An LSTM(32) reading 20 steps of a noisy sine (random frequency and phase) and a dense
    readout predicting the next value; MSE against the "repeat the last value" baseline."""
    X, y = nn.data.sine_sequences(1200, 20, seed=0)
    train, test = (X[:1000], y[:1000]), (X[1000:], y[1000:])
    model = nn.Sequential([nn.LSTM(32), nn.Dense(1)], input_shape=(20, 1), name="lstm")
    params, history, seconds, steps = _fit(model, train, test, "mse", nn.optim.Adam(1e-2), epochs, 32, verbose)
    pred = nn.predict(model, params, test[0])
    return _report("LSTM(32) predicting the next value of a noisy sine", history, seconds, steps,
                   test_mse=float(((pred - test[1]) ** 2).mean()),
                   test_mse_of_repeating_the_last_value=float(((test[0][:, -1] - test[1]) ** 2).mean()))


def print_result(r: dict) -> None:
    figures = [f"{k.replace('_', ' ')} {v:.2%}" if "accuracy" in k else f"{k.replace('_', ' ')} {v:.4g}"
               for k, v in r.items() if k.startswith("test_")]
    print(f"  {r['model']}: {', '.join(figures)} after {r['epochs']} epochs; compile {r['compile_seconds']:.2f} s, "
          f"{r['steps_per_second']:,.0f} steps/s, {r['train_seconds']:.1f} s in all\n")


TRAININGS = {"mlp": mlp_digits, "cnn": cnn_digits, "lstm": lstm_sine}


def run(names, verbose=None) -> list:
    """Train the models ``names`` (keys of ``TRAININGS``) one after the other."""
    results = []
    for name in names:
        results.append(TRAININGS[name](verbose=verbose))
        if verbose is not False:
            print_result(results[-1])
    return results
