"""``python -m adjit``: the same as the ``adjit`` command."""
import sys

from .cli import main

sys.exit(main())
