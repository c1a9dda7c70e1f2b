"""matplotlib for the PNGs nn writes (loss curves, the gradient study, activation maps)."""
from __future__ import annotations

from pathlib import Path


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend, or a one-line error saying how to get
    it (it is in the optional ``examples`` extra)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("writing a PNG needs matplotlib: pip install 'adjit[examples]'") from None
    return plt



def save_png(fig, path) -> Path:
    """Lay ``fig`` out, write it to ``path`` as a PNG and close it (pyplot keeps every open figure)."""
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot().close(fig)
    return Path(path)
