"""Run every benchmark suite and write bench/RESULTS.md (figures are ratios against a reference
measured in the same run; absolute times depend on the machine)."""
from __future__ import annotations

import platform
import sys
from pathlib import Path

import numba
import numpy as np

from . import core

SUITES = [core.report]


def main() -> None:
    header = ["# Benchmark results", "",
              f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}; Python {sys.version.split()[0]}, "
              f"numpy {np.__version__}, numba {numba.__version__}. Regenerate with `make bench`.", ""]
    sections = []
    for suite in SUITES:
        text = suite()
        print(text)
        sections.append(text)
    Path(__file__).with_name("RESULTS.md").write_text("\n".join(header + sections))


if __name__ == "__main__":
    main()
