"""Benchmarks: ``python -m bench`` (or ``make bench``) runs every suite and rewrites RESULTS.md."""
