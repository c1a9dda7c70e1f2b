"""Classic networks as ``Sequential`` models: ``lenet()`` and ``alexnet()``."""
from __future__ import annotations

from .layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D
from .model import Sequential


def lenet(input_shape=(28, 28, 1), classes: int = 10, pool=MaxPool2D) -> Sequential:
    """LeNet-5 as the course trains it (LeCun et al. 1998, with relu and max pooling): conv 6@5x5,
    pool 2, conv 16@5x5, pool 2, flatten, dense 120, dense 84, dense ``classes`` (logits).
    On 28x28x1: 44,426 parameters."""
    return Sequential([
        Conv2D(6, 5, activation="relu"), pool(2),
        Conv2D(16, 5, activation="relu"), pool(2),
        Flatten(),
        Dense(120, activation="relu"), Dense(84, activation="relu"), Dense(classes),
    ], input_shape=input_shape, name="lenet")


def alexnet(input_shape=(224, 224, 3), classes: int = 1000, dropout: float = 0.5) -> Sequential:
    """AlexNet (Krizhevsky, Sutskever & Hinton 2012) in one tower, with 2x2 stride-2 pooling:
    conv 96@11x11 stride 4 valid, pool; conv 256@5x5 same, pool; conv 384@3x3, conv 384@3x3,
    conv 256@3x3 (same), pool; dense 4096, dropout, dense 4096, dropout, dense ``classes``
    (logits). On 224x224x3: 62,378,344 parameters."""
    return Sequential([
        Conv2D(96, 11, strides=4, activation="relu"), MaxPool2D(2, 2),
        Conv2D(256, 5, padding="same", activation="relu"), MaxPool2D(2, 2),
        Conv2D(384, 3, padding="same", activation="relu"),
        Conv2D(384, 3, padding="same", activation="relu"),
        Conv2D(256, 3, padding="same", activation="relu"), MaxPool2D(2, 2),
        Flatten(),
        Dense(4096, activation="relu"), Dropout(dropout),
        Dense(4096, activation="relu"), Dropout(dropout),
        Dense(classes),
    ], input_shape=input_shape, name="alexnet")
