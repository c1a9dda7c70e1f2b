"""nn: layers, models, losses, optimizers, the compiled step, the trainer, saving, data readers."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from adjit import compiler, engine, nn, ops


def _rng(seed=0):
    return np.random.default_rng(seed)


# --- layers and models -------------------------------------------------------------------------
def test_dense_shapes_counts_and_names():
    model = nn.Sequential([nn.Dense(8, activation="relu"), nn.Dense(8), nn.Activation("tanh"), nn.Dense(3)],
                          input_shape=(5,))
    params = model.init(seed=1)
    assert list(params) == ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias",
                            "dense_2/kernel", "dense_2/bias"]
    assert model.count_params() == (5 * 8 + 8) + (8 * 8 + 8) + (8 * 3 + 3)
    assert model.output_shape() == (None, 3)
    text = model.summary(print_fn=None)
    assert "dense_1 (Dense)" in text and "(None, 8)" in text and "Total params: 147" in text
    x = _rng().normal(size=(4, 5)).astype(np.float32)
    want = np.tanh(np.maximum(x @ params["dense/kernel"] + params["dense/bias"], 0) @ params["dense_1/kernel"]
                   + params["dense_1/bias"]) @ params["dense_2/kernel"] + params["dense_2/bias"]
    got = nn.predict(model, params, x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_init_is_seeded_per_layer():
    a = nn.Sequential([nn.Dense(4), nn.Dense(2)], input_shape=(3,)).init(seed=3)
    b = nn.Sequential([nn.Dense(4), nn.Dense(2)], input_shape=(3,)).init(seed=3)
    c = nn.Sequential([nn.Dense(4), nn.Dense(2)], input_shape=(3,)).init(seed=4)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["dense/kernel"], c["dense/kernel"])


def test_initializers_have_the_documented_statistics():
    rng = _rng()
    w = nn.initializers.glorot_uniform(rng, (400, 600), 400, 600)
    limit = np.sqrt(6 / 1000)
    assert w.dtype == np.float32 and np.abs(w).max() <= limit and abs(w.std() - limit / np.sqrt(3)) < 2e-3
    h = nn.initializers.he_normal(rng, (500, 400), 500, 400, "float64")
    assert np.abs(h).max() <= 2 * np.sqrt(2 / 500) / 0.8796 + 1e-12 and abs(h.std() - np.sqrt(2 / 500)) < 2e-3
    q = nn.initializers.orthogonal(rng, (16, 16), dtype="float64")
    np.testing.assert_allclose(q @ q.T, np.eye(16), atol=1e-12)
    r = nn.initializers.orthogonal(rng, (8, 32), dtype="float64")
    np.testing.assert_allclose(r @ r.T, np.eye(8), atol=1e-12)
    with pytest.raises(ValueError, match="unknown initializer 'bogus'"):
        nn.Dense(3, kernel_initializer="bogus")


def test_embedding_gathers_rows_and_its_gradient_scatters():
    layer = nn.Embedding(10, 4)
    table = layer.init(0, (3,))["embeddings"]
    assert table.shape == (10, 4) and np.abs(table).max() <= 0.05
    ids = np.array([[1, 2, 2], [0, 9, 1]])
    f = engine.trace(lambda E, i: ops.sum(layer({"embeddings": E}, i) ** 2), table, ids)
    np.testing.assert_allclose(compiler.jit(f, "cpu")(table, ids), np.sum(table[ids] ** 2), rtol=1e-6)
    grad = compiler.jit(engine.grad(f, wrt="E"), "cpu")(table, ids)
    want = np.zeros_like(table)
    np.add.at(want, ids, 2 * table[ids])
    np.testing.assert_allclose(grad, want, rtol=1e-6)


def test_dropout_scales_kept_units_and_is_the_identity_at_evaluation():
    layer = nn.Dropout(0.25)
    x = engine.var("x", (None, 1000), "float32")
    key = engine.var("key", (), "int64")
    f = compiler.jit(engine.Function([x, key], layer({}, x, training=True, key=key)), "cpu")
    ones = np.ones((20, 1000), np.float32)
    out = f(ones, 5)
    assert set(np.unique(out)) == {0.0, np.float32(1 / 0.75)}
    assert abs((out == 0).mean() - 0.25) < 0.01
    assert np.array_equal(f(ones, 5), out) and not np.array_equal(f(ones, 6), out)
    assert layer({}, x) is x
    with pytest.raises(ValueError, match="needs a random key"):
        layer({}, x, training=True)
    with pytest.raises(ValueError, match="rate must be in"):
        nn.Dropout(1.0)


# --- losses and metrics --------------------------------------------------------------------------
def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("name", ["mse", "softmax_cross_entropy", "softmax_cross_entropy_onehot",
                                  "binary_cross_entropy_with_logits"])
def test_losses_match_numpy(name):
    r = _rng(2)
    z = r.normal(size=(6, 4)) * 3
    labels = r.integers(0, 4, 6)
    onehot = np.eye(4)[labels]
    t = r.uniform(size=(6, 4))
    cases = {
        "mse": (t, np.mean((z - t) ** 2)),
        "softmax_cross_entropy": (labels, -np.mean(_log_softmax(z)[np.arange(6), labels])),
        "softmax_cross_entropy_onehot": (onehot, -np.mean(np.sum(_log_softmax(z) * onehot, axis=-1))),
        "binary_cross_entropy_with_logits": (t, -np.mean(t * np.log(1 / (1 + np.exp(-z)))
                                                         + (1 - t) * np.log(1 - 1 / (1 + np.exp(-z))))),
    }
    target, want = cases[name]
    f = engine.trace(lambda a, b: nn.losses.get(name)(a, b), z, target)
    np.testing.assert_allclose(f(z, target), want, rtol=1e-12)
    np.testing.assert_allclose(compiler.jit(f, "cpu")(z, target), want, rtol=1e-12)


def test_cross_entropy_is_stable_for_huge_logits():
    z = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])
    f = engine.trace(nn.losses.softmax_cross_entropy, z, np.array([1, 1]))
    assert np.isclose(f(z, np.array([1, 1])), 1000.0)
    g = engine.trace(nn.losses.binary_cross_entropy_with_logits, z, np.ones_like(z))
    assert np.isclose(g(z, np.ones_like(z)), 500.0)  # mean of 0, 1000, 1000, 0


def test_metrics():
    logits = np.array([[0.1, 0.5, 0.4], [0.9, 0.05, 0.05], [0.2, 0.3, 0.5]])
    labels = np.array([2, 0, 0])
    assert nn.metrics.accuracy(logits, labels) == pytest.approx(1 / 3)
    assert nn.metrics.accuracy(logits, np.eye(3)[labels]) == pytest.approx(1 / 3)
    assert nn.metrics.top_k_accuracy(logits, labels, k=2) == pytest.approx(2 / 3)
    assert nn.metrics.top_k_accuracy(logits, labels, k=3) == 1.0


# --- optimizers ----------------------------------------------------------------------------------
def _sgd_ref(p, grads, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    v, out = np.zeros_like(p), []
    for g in grads:
        g = g + weight_decay * p
        v = momentum * v + g
        p = p - lr * ((g + momentum * v) if nesterov else v)
        out.append(p)
    return out


def _adam_ref(p, grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    m, v, out = np.zeros_like(p), np.zeros_like(p), []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        out.append(p)
    return out


OPTIMIZERS = {
    "sgd": (lambda: nn.optim.SGD(0.1), lambda p, g: _sgd_ref(p, g, 0.1)),
    "momentum": (lambda: nn.optim.SGD(0.1, momentum=0.9), lambda p, g: _sgd_ref(p, g, 0.1, 0.9)),
    "nesterov": (lambda: nn.optim.SGD(0.1, momentum=0.9, nesterov=True), lambda p, g: _sgd_ref(p, g, 0.1, 0.9, True)),
    "weight_decay": (lambda: nn.optim.SGD(0.1, momentum=0.5, weight_decay=0.01),
                     lambda p, g: _sgd_ref(p, g, 0.1, 0.5, weight_decay=0.01)),
    "adam": (lambda: nn.optim.Adam(0.01), lambda p, g: _adam_ref(p, g, 0.01)),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizers_first_three_steps_match_their_formulas_on_arrays_and_compiled(name):
    make, ref = OPTIMIZERS[name]
    r = _rng(3)
    p0 = r.normal(size=(3, 2))
    grads = [r.normal(size=(3, 2)) for _ in range(3)]
    want = ref(p0, grads)
    opt = make()
    params, state = {"w": p0}, opt.init({"w": p0})
    for g, w in zip(grads, want):  # numpy arrays
        params, state = opt.update(params, {"w": g}, state)
        np.testing.assert_allclose(params["w"], w, rtol=1e-12)
    # graph nodes, compiled: the same update as one function of (params, grads, state)
    state = opt.init({"w": p0})
    keys = list(state)
    pv, gv = engine.var("w", (3, 2)), engine.var("g", (3, 2))
    sv = {k: engine.var(f"s/{k}", np.shape(state[k])) for k in keys}
    new_p, new_s = opt.update({"w": pv}, {"w": gv}, sv)
    step = compiler.jit(engine.Function([pv, gv] + list(sv.values()), [new_p["w"]] + [new_s[k] for k in keys]), "cpu")
    p = p0
    for g, w in zip(grads, want):
        p, *rest = step(p, g, *[state[k] for k in keys])
        state = dict(zip(keys, rest))
        np.testing.assert_allclose(p, w, rtol=1e-12)


def test_adam_keeps_float32():
    opt = nn.optim.Adam()
    p = {"w": np.ones(3, np.float32)}
    new, state = opt.update(p, {"w": np.ones(3, np.float32)}, opt.init(p))
    assert new["w"].dtype == np.float32 and all(np.asarray(v).dtype == np.float32 for v in state.values())


def test_gradient_clipping():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([4.0])}
    assert nn.optim.global_norm(g) == 5.0
    clipped = nn.optim.clip_by_global_norm(g, 1.0)
    np.testing.assert_allclose(np.concatenate([clipped["a"], clipped["b"]]), [0.6, 0.0, 0.8])
    assert nn.optim.clip_by_global_norm(g, 10.0)["a"].tolist() == [3.0, 0.0]
    assert nn.optim.clip_by_value(g, 3.5)["b"].tolist() == [3.5]
    a, b = engine.var("a", (2,)), engine.var("b", (1,))
    f = engine.Function([a, b], list(nn.optim.clip_by_global_norm({"a": a, "b": b}, 1.0).values()))
    got = compiler.jit(f, "cpu")(g["a"], g["b"])
    np.testing.assert_allclose(np.concatenate(got), [0.6, 0.0, 0.8])
    opt = nn.optim.SGD(1.0, clipnorm=1.0)
    new, _ = opt.update({"a": np.zeros(2), "b": np.zeros(1)}, g, {})
    np.testing.assert_allclose(new["b"], [-0.8])


# --- training ------------------------------------------------------------------------------------
def _blobs(n=240, seed=0):
    r = _rng(seed)
    y = r.integers(0, 3, n)
    X = (r.normal(size=(n, 4)) * 0.5 + np.eye(3, 4)[y] * 2).astype(np.float32)
    return X, y


def test_fit_trains_is_quiet_and_records_history(tmp_path, capsys):
    X, y = _blobs()
    model = nn.Sequential([nn.Dense(16, activation="relu"), nn.Dropout(0.1), nn.Dense(3)], input_shape=(4,))
    params = model.init(0)
    params, history = nn.fit(model, params, (X[:200], y[:200]), "softmax_cross_entropy", nn.optim.Adam(0.05),
                             epochs=4, batch_size=32, validation=(X[200:], y[200:]), verbose=False,
                             history_file=tmp_path / "h.json", plot_file=tmp_path / "loss.png")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert history["loss"][-1] < history["loss"][0] * 0.5
    assert history["val_accuracy"][-1] > 0.9
    assert set(history.keys()) >= {"loss", "accuracy", "val_loss", "val_accuracy", "seconds", "samples_per_s"}
    saved = json.loads((tmp_path / "h.json").read_text())
    assert saved["epoch"] == [1, 2, 3, 4] and saved["loss"] == history["loss"]
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history.save(tmp_path / "h.csv")
    lines = (tmp_path / "h.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,loss,accuracy") and len(lines) == 5
    assert history.state["step"] == 4 * 7  # 200 samples in batches of 32: 7 steps per epoch


def test_one_compiled_function_per_training_step():
    X, y = _blobs(64)
    model = nn.Sequential([nn.Dense(8, activation="tanh"), nn.Dense(3)], input_shape=(4,))
    params = model.init(0)
    step = nn.train_step(model, "softmax_cross_entropy", nn.optim.SGD(0.1), params, y[:1])
    assert step.compiled.source.count("\ndef ") == 1 and "@numba.njit" in step.compiled.source
    loss, preds, new, state = step(params, {}, X[:10], y[:10])
    loss7, _, _, _ = step(params, {}, X[:7], y[:7])  # another batch size: the same compilation
    assert len(step.compiled._fn.signatures) == 1
    f = engine.trace(lambda W, b, W2, b2, x, t: nn.losses.softmax_cross_entropy(ops.tanh(x @ W + b) @ W2 + b2, t),
                     *params.values(), X[:10], y[:10])
    grads = engine.grad(f, wrt=[0, 1, 2, 3])(*params.values(), X[:10], y[:10])
    np.testing.assert_allclose(loss, f(*params.values(), X[:10], y[:10]), rtol=1e-5)
    for (k, p), g in zip(params.items(), grads):
        np.testing.assert_allclose(new[k], p - 0.1 * g, rtol=1e-5, atol=1e-6)


# --- saving and data -----------------------------------------------------------------------------
def test_save_and_load_round_trip_and_mismatch(tmp_path):
    model = nn.Sequential([nn.Dense(4), nn.Dense(2)], input_shape=(3,))
    params = model.init(0)
    path = nn.save(params, tmp_path / "p.npz")
    back = nn.load(path, like=model)
    assert list(back) == list(params) and all(np.array_equal(back[k], params[k]) for k in params)
    other = nn.Sequential([nn.Dense(5), nn.Dense(2)], input_shape=(3,))
    with pytest.raises(ValueError, match=r"'dense/kernel' is float32\[3, 4\], the model expects float32\[3, 5\]"):
        nn.load(path, like=other)
    with pytest.raises(ValueError, match="missing 'dense_2/bias'"):
        nn.load(path, like=nn.Sequential([nn.Dense(4), nn.Dense(2), nn.Dense(1)], input_shape=(3,)))


def _write_idx(path, array, type_code):
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as fh:
        fh.write(data)


def test_idx_reader_and_mnist_loader(tmp_path):
    images = _rng().integers(0, 256, size=(5, 28, 28)).astype(np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", images, 0x08)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", labels, 0x08)
    X, y = nn.data.load_mnist(tmp_path)
    assert X.shape == (5, 28, 28, 1) and X.dtype == np.float32 and y.tolist() == [3, 1, 4, 1, 5]
    np.testing.assert_allclose(X[..., 0], images / 255.0, rtol=1e-6)
    floats = _rng().normal(size=(2, 3))
    _write_idx(tmp_path / "f.idx", floats, 0x0E)
    np.testing.assert_array_equal(nn.data.read_idx(tmp_path / "f.idx"), floats)
    (tmp_path / "bad.idx").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09abc")
    with pytest.raises(ValueError, match=r"bad.idx holds 3 bytes of data, its header \[9\]"):
        nn.data.read_idx(tmp_path / "bad.idx")
    (tmp_path / "junk.idx").write_bytes(b"PK\x03\x04")
    with pytest.raises(ValueError, match="junk.idx is not an IDX file"):
        nn.data.read_idx(tmp_path / "junk.idx")


def test_digits_are_the_real_dataset_split_by_class():
    (Xtr, ytr), (Xte, yte) = nn.data.load_digits()
    assert len(Xtr) + len(Xte) == 1797 and Xtr.shape[1:] == (8, 8, 1) and Xtr.max() == 1.0
    assert abs(len(Xte) - 0.2 * 1797) < 10 and set(np.unique(yte)) == set(range(10))


@pytest.mark.parametrize("name", ["adjit.nn.model", "adjit.nn.optim", "adjit.ops.random"])
def test_docstring_examples_run(name):
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0


def test_gradient_study_shows_vanishing_and_exploding_gradients(tmp_path):
    from adjit.nn import gradient_study as gs
    lengths = (1, 5, 20)
    for sigma in (0.9, 1.1):  # tiny states: tanh is linear, so the norm is sigma**T
        loss = gs._elman_loss(sigma, 16, 0)
        np.testing.assert_allclose(gs.gradient_norms(loss, lengths, 16), [sigma ** T for T in lengths], rtol=1e-6)
    loss = gs._lstm_loss(1.0, 16, 0)
    vanishing = gs.gradient_norms(loss, (1, 20, 50), 16)
    loss = gs._lstm_loss(2.0, 16, 0)
    kept = gs.gradient_norms(loss, (1, 20, 50), 16)
    assert vanishing[2] < 1e-4 * vanishing[0] and kept[2] > 1e-2 * kept[0]  # the forget gates decide
    result = {"lengths": list(lengths), "rows": {"a": [1.0, 0.5, 0.1]}}
    assert "T=20" in gs.format_table(result)
    gs.plot(result, tmp_path / "g.png")
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"


def _conv_params(k, cin, cout):
    return k * k * cin * cout + cout


def test_lenet_and_alexnet_shapes_and_parameter_counts():
    lenet = nn.models.lenet()
    # conv 5x5 1->6 (24x24), pool (12x12), conv 5x5 6->16 (8x8), pool (4x4), 256 -> 120 -> 84 -> 10
    want = _conv_params(5, 1, 6) + _conv_params(5, 6, 16) + (256 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    assert lenet.count_params() == want == 44_426
    text = lenet.summary(print_fn=None)
    assert "(None, 24, 24, 6)" in text and "(None, 4, 4, 16)" in text and "(None, 256)" in text
    alexnet = nn.models.alexnet()
    # 224 -> conv 11/4 valid: 54 -> pool 27 -> conv 5 same: 27 -> pool 13 -> 3 convs same -> pool 6
    want = (_conv_params(11, 3, 96) + _conv_params(5, 96, 256) + _conv_params(3, 256, 384)
            + _conv_params(3, 384, 384) + _conv_params(3, 384, 256)
            + (6 * 6 * 256 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000))
    assert alexnet.count_params() == want == 62_378_344
    text = alexnet.summary(print_fn=None)
    for shape in ("(None, 54, 54, 96)", "(None, 27, 27, 256)", "(None, 13, 13, 384)", "(None, 6, 6, 256)",
                  "(None, 9216)", "(None, 1000)"):
        assert shape in text
    assert alexnet.output_shape() == (None, 1000)


def test_adam_step_agrees_with_pytorch():
    torch = pytest.importorskip("torch")
    r = _rng(5)
    p0, grads = r.normal(size=(4, 3)), [r.normal(size=(4, 3)) for _ in range(3)]
    w = torch.tensor(p0, requires_grad=True)
    opt_t = torch.optim.Adam([w], lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    opt = nn.optim.Adam(0.01)
    params, state = {"w": p0}, opt.init({"w": p0})
    for g in grads:
        w.grad = torch.tensor(g)
        opt_t.step()
        params, state = opt.update(params, {"w": g}, state)
        np.testing.assert_allclose(params["w"], w.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_a_cnn_step_agrees_with_pytorch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    model = nn.Sequential([nn.Conv2D(4, 3, activation="relu"), nn.MaxPool2D(2), nn.Flatten(), nn.Dense(3)],
                          input_shape=(8, 8, 2), input_dtype="float64")
    params = {k: v.astype(np.float64) for k, v in model.init(0).items()}
    x, y = _rng(6).normal(size=(5, 8, 8, 2)), np.array([0, 2, 1, 1, 0])
    step = nn.train_step(model, "softmax_cross_entropy", nn.optim.SGD(1.0), params, y[:1], target="numpy")
    loss, _, new, _ = step(params, {}, x, y)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h = F.conv2d(torch.tensor(x).permute(0, 3, 1, 2), t["conv2d/kernel"].permute(3, 2, 0, 1), t["conv2d/bias"])
    h = F.max_pool2d(F.relu(h), 2).permute(0, 2, 3, 1).reshape(5, -1)
    loss_t = F.cross_entropy(h @ t["dense/kernel"] + t["dense/bias"], torch.tensor(y))
    loss_t.backward()
    assert abs(loss - loss_t.item()) < 1e-10
    for k in params:  # SGD with lr 1: the gradient is the change
        np.testing.assert_allclose(params[k] - new[k], t[k].grad.numpy(), rtol=1e-8, atol=1e-12)


def test_the_same_recurrent_model_built_twice_compiles_to_the_same_graph():
    """The second build meets the memoized gradient graph of the first: its loops merge a round
    later in CSE, and the passes must still reach the same optimized graph (no second compile)."""
    def build():
        model = nn.Sequential([nn.SimpleRNN(3, return_sequences=True)], input_shape=(2, 2))
        step = nn.TrainStep(model, "mse", nn.optim.SGD(0.1), model.init(0), {}, np.zeros((1, 2, 3), np.float32),
                            target="numpy")
        return step.compiled.function
    first, second = build(), build()
    assert second.key == first.key and len(second.nodes) == len(first.nodes)
    assert sum(n.prim == "scan" for n in second.nodes) == 2  # one forward loop, one reverse loop
