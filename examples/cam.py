"""Seeing inside a CNN: feature maps and class activation maps on the digits.

Trains ``nn.activation_maps.cam_model`` (three convs, global average pooling, dense) on the 8x8
digits placed at random on a blank 16x16 canvas, then writes three PNGs:

  feature_maps.png  a test digit, the first conv layer's maps and the last conv layer's maps
  cam_digits.png    one test digit of each class with the CAM of its predicted class over it
  cam_classes.png   one digit with the CAM of each of the ten classes, on one scale

and prints the test accuracy and how often the CAM's maximum lies on the digit's pixels.
Run: ``python examples/cam.py [--canvas 16] [--epochs 15] [--out DIR]``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from adjit import nn
from adjit.nn import activation_maps as am


def main(argv=None) -> dict:
    """Run with command-line arguments ``argv``; the figures, the PNGs' paths, and the model,
    its parameters and the test digits on their canvases."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--canvas", type=int, default=16, help="canvas size (8: the bare digits)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=".", help="directory for the PNGs")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    model, params, (Xt, yt), history = am.train_digits(args.canvas, epochs=args.epochs, seed=args.seed)
    model.summary()
    cams, _, logits = am.class_activation_maps(model, params, Xt)
    rate, chance = am.max_on_ink(cams, Xt)
    print(f"test accuracy {nn.metrics.accuracy(logits, yt):.2%} after {args.epochs} epochs "
          f"(compile {history.compile_seconds:.1f} s); the CAM's maximum lies on the digit for "
          f"{rate:.1%} of the test images (chance: {chance:.1%})")

    convs = [layer.name for layer in model.layers if isinstance(layer, nn.Conv2D)]
    first, last = convs[0], convs[-1]
    maps = am.feature_maps(model, params, Xt[:1], [first, last])
    am.plot_feature_maps(Xt[0], {first: maps[first][0], last: maps[last][0]}, out / "feature_maps.png",
                         title=f"a test digit {yt[0]}: the first and the last conv layers' activations")
    pick = [int(np.flatnonzero(yt == c)[0]) for c in range(10)]
    am.plot_cams(Xt[pick], cams[pick], [f"label {yt[i]}, predicted {logits[i].argmax()}" for i in pick],
                 out / "cam_digits.png")
    one = np.repeat(Xt[pick[:1]], 10, axis=0)
    per_class, _, _ = am.class_activation_maps(model, params, one, classes=np.arange(10))
    am.plot_cams(one, per_class, [f"CAM of class {c}" for c in range(10)], out / "cam_classes.png", shared=True)
    pngs = [out / "feature_maps.png", out / "cam_digits.png", out / "cam_classes.png"]
    print(f"wrote {', '.join(map(str, pngs))}")
    return {"test_accuracy": nn.metrics.accuracy(logits, yt), "max_on_digit": rate, "chance": chance,
            "pngs": pngs, "model": model, "params": params, "test": (Xt, yt)}


if __name__ == "__main__":
    main()
