"""Things given by name (activations, initialisers, losses, metrics), as Keras takes them."""
from __future__ import annotations


def lookup(table: dict, what: str, name_or_fn):
    """``name_or_fn`` itself if it is callable, else its entry in ``table``; an unknown name is
    a one-line error listing the known ones."""
    if callable(name_or_fn):
        return name_or_fn
    try:
        return table[name_or_fn]
    except (KeyError, TypeError):
        raise ValueError(f"unknown {what} {name_or_fn!r}; choose one of {', '.join(table)}") from None
