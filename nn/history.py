"""The record of a training run: one row of numbers per epoch, saved as CSV or JSON, plotted as PNG."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from .plotting import pyplot, save_png


class History:
    """``history["loss"]`` is the list of per-epoch values (as Keras' ``History.history``)."""

    def __init__(self):
        self.epochs: list = []
        self.rows: list = []
        self.compile_seconds = None  # time to the end of the first step: tracing, compiling, running
        self.state = None  # the optimizer state after the last step, to continue training

    def append(self, epoch: int, row: dict) -> None:
        self.epochs.append(epoch)
        self.rows.append(dict(row))

    def __getitem__(self, key: str) -> list:
        return [r.get(key) for r in self.rows]

    def keys(self) -> list:
        out = []
        for r in self.rows:
            out += [k for k in r if k not in out]
        return out

    def save(self, path) -> Path:
        """As ``.csv`` (a header, one line per epoch) or ``.json`` (a dict of lists)."""
        path = Path(path)
        columns = ["epoch"] + self.keys()
        if path.suffix == ".csv":
            with open(path, "w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(columns)
                for epoch, r in zip(self.epochs, self.rows):
                    writer.writerow([epoch] + [r.get(k, "") for k in columns[1:]])
        elif path.suffix == ".json":
            data = {"epoch": self.epochs, **{k: self[k] for k in columns[1:]},
                    "compile_seconds": self.compile_seconds}
            path.write_text(json.dumps(data, indent=1))
        else:
            raise ValueError(f"History.save: {path.name}: use a .csv or .json file")
        return path

    def plot(self, path, keys=None) -> Path:
        """A PNG of the loss curves (training and validation, or ``keys``) against the epoch."""
        plt = pyplot()
        keys = keys or [k for k in self.keys() if k.endswith("loss")]
        fig, ax = plt.subplots(figsize=(6, 4))
        for k in keys:
            ax.plot(self.epochs, self[k], marker="o", label=k)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.legend()
        ax.grid(alpha=0.3)
        return save_png(fig, path)
