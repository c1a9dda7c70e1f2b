"""Seeing inside a CNN (nn.activation_maps): feature maps captured from a compiled forward pass,
bilinear upsampling, class activation maps (their defining identity, their shape, and that
their maximum lies on the digit for a trained network), the digits on a canvas, the PNGs."""
from __future__ import annotations

import doctest

import numpy as np
import pytest

from adjit import nn
from adjit.engine import Function, var
from adjit.nn import activation_maps as am

import naive_conv as naive
from support import load_example


def test_upsampling_is_bilinear_with_half_pixel_centres():
    a, b = 2.0, 6.0
    np.testing.assert_allclose(am.upsample_bilinear(np.array([[a, b]]), (1, 4)),
                               [[a, 0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b, b]])
    maps = np.random.default_rng(0).normal(size=(3, 4, 5))
    np.testing.assert_allclose(am.upsample_bilinear(maps, (4, 5)), maps)       # same size: unchanged
    np.testing.assert_allclose(am.upsample_bilinear(np.full((2, 3), 7.0), (9, 5)), 7.0)
    u, v = np.array([1.0, -2.0, 4.0]), np.array([3.0, 0.5])                        # rows, then columns
    rows, cols = am.upsample_bilinear(u[None], (1, 7))[0], am.upsample_bilinear(v[None], (1, 4))[0]
    np.testing.assert_allclose(am.upsample_bilinear(np.outer(u, v), (7, 4)), np.outer(rows, cols))


def test_upsampling_agrees_with_pytorch():
    torch = pytest.importorskip("torch")
    maps = np.random.default_rng(1).normal(size=(2, 3, 5))
    for size in [(8, 10), (7, 11), (3, 5)]:
        want = torch.nn.functional.interpolate(torch.tensor(maps)[None], size=size, mode="bilinear",
                                               align_corners=False)[0].numpy()
        np.testing.assert_allclose(am.upsample_bilinear(maps, size), want, rtol=1e-12, atol=1e-12)


def test_digits_on_a_canvas():
    X = np.random.default_rng(0).uniform(0.1, 1, size=(50, 8, 8, 1)).astype(np.float32)
    C = nn.data.on_canvas(X, 12, seed=4)
    assert C.shape == (50, 12, 12, 1) and C.dtype == np.float32
    corners = set()
    for image, canvas in zip(X, C):
        rows, cols = np.nonzero(canvas[..., 0])
        r, c = rows.min(), cols.min()
        assert rows.max() - r == 7 and cols.max() - c == 7
        np.testing.assert_array_equal(canvas[r:r + 8, c:c + 8], image)
        corners.add((r, c))
    assert len(corners) > 15  # 25 places to put an 8x8 image on 12x12
    np.testing.assert_array_equal(nn.data.on_canvas(X, 12, seed=4), C)
    np.testing.assert_array_equal(nn.data.on_canvas(X, 8), X)
    with pytest.raises(ValueError, match="a canvas of 6x6 cannot hold images of 8x8"):
        nn.data.on_canvas(X, 6)


def test_docstring_examples_run():
    for module in (am, nn.data):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``examples/cam.py`` at a small size: ``cam_model`` trained for 12 epochs on the digits
    placed on 12x12 canvases, its PNGs written."""
    return load_example("cam").main(["--canvas", "12", "--epochs", "12", "--out", str(tmp_path_factory.mktemp("cam"))])


def test_feature_maps_are_the_layers_outputs(trained):
    model, params, (Xt, _) = trained["model"], trained["params"], trained["test"]
    out = am.feature_maps(model, params, Xt[:3], ["conv2d", "conv2d_2"])
    assert out["conv2d"].shape == (3, 12, 12, 16) and out["conv2d_2"].shape == (3, 6, 6, 64)
    first = naive.conv2d(Xt[:3], params["conv2d/kernel"], padding="same") + params["conv2d/bias"]
    np.testing.assert_allclose(out["conv2d"], np.maximum(first, 0), rtol=1e-5, atol=1e-5)
    p = {k: var(k, v.shape, v.dtype.name) for k, v in params.items()}
    x = var("x", (3, 12, 12, 1), "float32")
    logits = Function(list(p.values()) + [x], model(p, x))(*params.values(), Xt[:3])  # the interpreter
    np.testing.assert_allclose(out["output"], logits, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="cam_cnn has no layer 'conv9'"):
        am.feature_maps(model, params, Xt[:1], ["conv9"])


def test_class_activation_maps_add_up_to_the_logits_and_lie_on_the_digit(trained):
    model, params, (Xt, yt) = trained["model"], trained["params"], trained["test"]
    cams, maps, logits = am.class_activation_maps(model, params, Xt)
    assert cams.shape == (len(Xt), 12, 12) and maps.shape == (len(Xt), 6, 6)
    assert nn.metrics.accuracy(logits, yt) >= 0.9
    # logit_c = mean(CAM_c) + b_c: the map of each class splits its score over the image
    predicted = logits.argmax(axis=1)
    np.testing.assert_allclose(maps.mean(axis=(1, 2)) + params["dense/bias"][predicted],
                               logits[np.arange(len(Xt)), predicted], rtol=1e-4, atol=1e-4)
    classes = np.arange(10)
    _, maps_all, logits_one = am.class_activation_maps(model, params, np.repeat(Xt[:1], 10, axis=0), classes)
    np.testing.assert_allclose(maps_all.mean(axis=(1, 2)) + params["dense/bias"], logits_one[0], rtol=1e-4,
                               atol=1e-4)
    rate, chance = am.max_on_ink(cams, Xt)  # 0.78 and 0.23 (0.70 to 0.79 for seeds 0 to 3)
    assert rate >= 0.6 and rate >= 2.5 * chance, (rate, chance)
    with pytest.raises(ValueError, match="must end in GlobalAvgPool2D and Dense"):
        am.class_activation_maps(nn.Sequential([nn.Flatten(), nn.Dense(2)], input_shape=(4, 4, 1)), {}, Xt[:1])


def test_the_pngs_are_written(trained):
    assert trained["test_accuracy"] >= 0.9 and trained["max_on_digit"] >= 0.6
    for path in trained["pngs"]:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
