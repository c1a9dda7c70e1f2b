"""Seeing inside a CNN: the feature maps of its conv layers, and class activation maps.

A class activation map (Zhou et al. 2016, "Learning Deep Features for Discriminative
Localization") needs a network that ends in global average pooling and one dense layer: with
``A_k`` the last conv layer's feature maps and ``w_kc`` the dense kernel,
``logit_c = sum_k w_kc mean(A_k) + b_c = mean(CAM_c) + b_c`` where ``CAM_c = sum_k w_kc A_k``.
The CAM is that sum map, upsampled (bilinear) to the input's size: where it is large, the
image pushed the score of class c up.

Where a digit is can only be asked when it does not fill the image: on the bare 8x8 digits the
CAM of a trained network peaks on the digit no more often than a random pixel would (the holes
and the sides of the strokes win as often). ``train_digits`` places each digit at a random
position on a larger blank canvas (``nn.data.on_canvas``), the localization task of the CAM
paper in small.

Everything runs compiled: the feature maps are outputs of one forward pass (the model's
``capture`` of layer outputs), the CAMs numpy on top of them. The PNGs need matplotlib.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import compiler
from ..engine import Function, var
from . import data
from .layers import Conv2D, Dense, GlobalAvgPool2D, MaxPool2D
from .model import Sequential
from .optim import Adam
from .plotting import pyplot, save_png
from .train import fit


def cam_model(input_shape=(16, 16, 1), filters=(16, 32, 64), classes: int = 10) -> Sequential:
    """A CNN for class activation maps: conv ``filters[0]``@3x3, conv ``filters[1]``@3x3,
    max-pool 2, conv ``filters[2]``@3x3 (all "same", relu), global average pooling, dense
    ``classes`` (logits). The last feature maps have half the input's height and width.

    >>> cam_model().output_shape()
    (None, 10)
    """
    f1, f2, f3 = filters
    return Sequential([
        Conv2D(f1, 3, padding="same", activation="relu"), Conv2D(f2, 3, padding="same", activation="relu"),
        MaxPool2D(2), Conv2D(f3, 3, padding="same", activation="relu"), GlobalAvgPool2D(), Dense(classes),
    ], input_shape=input_shape, name="cam_cnn")


def train_digits(canvas: int = 16, filters=(16, 32, 64), epochs: int = 15, seed: int = 0, verbose=None) -> tuple:
    """``cam_model`` trained (Adam 3e-3, batch 32) on the 8x8 digits placed at random on a
    ``canvas`` x ``canvas`` blank image (``nn.data.on_canvas``; 8 keeps them as they are).
    Returns ``(model, params, (X_test, y_test), history)``, the test digits on their canvases."""
    (X, y), (Xt, yt) = data.load_digits(seed=seed)
    X, Xt = data.on_canvas(X, canvas, seed), data.on_canvas(Xt, canvas, seed + 1)
    model = cam_model((canvas, canvas, 1), filters)
    params, history = fit(model, model.init(seed), (X, y), "softmax_cross_entropy", Adam(3e-3), epochs=epochs,
                          batch_size=32, seed=seed, verbose=verbose)
    return model, params, (Xt, yt), history


def feature_maps(model, params: dict, X, names, batch_size: int = 256) -> dict:
    """The outputs of the layers ``names`` (e.g. conv layers: (N, H, W, C) feature maps) and
    of the model (under ``"output"``) for inputs ``X``, from one compiled forward pass."""
    p = {k: var(k, np.shape(v), np.asarray(v).dtype.name) for k, v in params.items()}
    x = var("x", (None,) + model.input_shape, model.input_dtype)
    captured: dict = {}
    out = model(p, x, capture=captured)
    missing = [n for n in names if n not in captured]
    if missing:
        raise ValueError(f"feature_maps: {model.name} has no layer {missing[0]!r}; "
                         f"its layers are {', '.join(captured)}")
    forward = compiler.jit(Function(list(p.values()) + [x], [captured[n] for n in names] + [out],
                                    name="feature_maps"), "cpu")
    X = np.asarray(X, dtype=model.input_dtype)
    chunks = [forward(*params.values(), X[i:i + batch_size]) for i in range(0, len(X), batch_size)]
    return {name: np.concatenate([c[k] for c in chunks]) for k, name in enumerate(list(names) + ["output"])}


def _interpolation(size: int, source: int) -> np.ndarray:
    """(size, source) weights of linear interpolation with half-pixel centres (TensorFlow's
    ``resize(method="bilinear")``, PyTorch's ``align_corners=False``): output cell i samples the
    source at ``(i + 0.5) * source / size - 0.5``, clamped to the edge cells."""
    s = np.clip((np.arange(size) + 0.5) * source / size - 0.5, 0, source - 1)
    low = np.floor(s).astype(int)
    high = np.minimum(low + 1, source - 1)
    weights = np.zeros((size, source))
    np.add.at(weights, (np.arange(size), low), 1 - (s - low))
    np.add.at(weights, (np.arange(size), high), s - low)
    return weights


def upsample_bilinear(maps, size) -> np.ndarray:
    """Maps (..., h, w) resized to ``size`` (H, W) by bilinear interpolation (half-pixel centres).

    >>> upsample_bilinear(np.array([[0.0, 1.0]]), (1, 4)).tolist()
    [[0.0, 0.25, 0.75, 1.0]]
    """
    maps = np.asarray(maps, dtype=np.float64)
    rows, cols = _interpolation(size[0], maps.shape[-2]), _interpolation(size[1], maps.shape[-1])
    return rows @ maps @ cols.T


def class_activation_maps(model, params: dict, X, classes=None) -> tuple:
    """For a model whose last layers are global average pooling and a dense layer (after a conv
    layer): ``(cams (N, H, W) at the input's size, maps (N, h, w) before upsampling, logits)``.
    ``classes`` (N,) picks the class of each map; by default the predicted one."""
    pool, dense = model.layers[-2], model.layers[-1]
    if not (isinstance(pool, GlobalAvgPool2D) and isinstance(dense, Dense)):
        raise ValueError(f"class_activation_maps: {model.name} must end in GlobalAvgPool2D and Dense, "
                         f"not {type(pool).__name__} and {type(dense).__name__}")
    last_conv = next((layer for layer in reversed(model.layers) if isinstance(layer, Conv2D)), None)
    if last_conv is None:
        raise ValueError(f"class_activation_maps: {model.name} has no Conv2D layer")
    out = feature_maps(model, params, X, [last_conv.name])
    features, logits = out[last_conv.name], out["output"]
    classes = logits.argmax(axis=1) if classes is None else np.asarray(classes)
    weights = model.layer_params(params, dense)["kernel"][:, classes].T  # (N, C): each map's class weights
    maps = np.einsum("nhwc,nc->nhw", features.astype(np.float64), weights)
    return upsample_bilinear(maps, model.input_shape[:2]), maps, logits


def max_on_ink(cams, images) -> tuple:
    """``(rate, chance)``: the fraction of images whose CAM (N, H, W) has its maximum on a pixel
    of the digit (a nonzero pixel of the image (N, H, W, 1)), and the fraction of the pixels that
    are the digit's (what a map that peaked at random would score)."""
    ink = np.asarray(images)[..., 0].reshape(len(images), -1) > 0
    peaks = np.asarray(cams).reshape(len(cams), -1).argmax(axis=1)
    return float(ink[np.arange(len(ink)), peaks].mean()), float(ink.mean())


def _mosaic(maps, cols: int) -> np.ndarray:
    """(h, w, C) maps tiled row by row into one image, one blank (NaN) pixel between them."""
    h, w, count = maps.shape
    rows = -(-count // cols)
    out = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan)
    for k in range(count):
        r, c = divmod(k, cols)
        out[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = maps[..., k]
    return out


def plot_feature_maps(image, layers: dict, path, title: str = "") -> Path:
    """A PNG: the input ``image`` (H, W, 1), then for each ``{name: maps (h, w, C)}`` its maps
    tiled in a grid (bright = strongly activated; one colour scale per layer)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 1 + len(layers), figsize=(3.2 * (1 + len(layers)), 3.6),
                             gridspec_kw={"width_ratios": [1] + [1.6] * len(layers)})
    axes[0].imshow(np.asarray(image)[..., 0], cmap="gray_r", interpolation="nearest")
    axes[0].set_title("input")
    axes[0].set_xticks([])  # no ticks, but the frame: the blank part of the input is white
    axes[0].set_yticks([])
    for ax, (name, maps) in zip(axes[1:], layers.items()):
        ax.imshow(_mosaic(maps, int(np.ceil(np.sqrt(maps.shape[-1])))), cmap="viridis", interpolation="nearest")
        ax.set_title(f"{name}: {maps.shape[-1]} maps {maps.shape[0]}x{maps.shape[1]}")
        ax.axis("off")
    fig.suptitle(title)
    return save_png(fig, path)


def plot_cams(images, cams, titles, path, cols: int = 5, shared: bool = False) -> Path:
    """A PNG grid: each image (H, W, 1) in grey with its CAM (H, W) over it in colour. Each map
    on its own scale from its minimum (blue) to its maximum (red: what drove the score most),
    or with ``shared``, all on one scale centred at 0 (red: evidence for the class, blue:
    against), to compare the maps of different classes."""
    plt = pyplot()
    cams = np.asarray(cams)
    bound = float(np.abs(cams).max()) or 1.0
    rows = -(-len(images) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, cam, title in zip(axes.ravel(), images, cams, titles):
        ax.imshow(np.asarray(image)[..., 0], cmap="gray_r", interpolation="nearest")
        if shared:
            ax.imshow(cam, cmap="bwr", vmin=-bound, vmax=bound, alpha=0.55, interpolation="bilinear")
        else:
            ax.imshow(cam, cmap="jet", vmin=cam.min(), vmax=cam.max(), alpha=0.45, interpolation="bilinear")
        ax.set_title(title, fontsize=9)
    return save_png(fig, path)
