"""``python -m pysym``: the command line (see :mod:`pysym._cli`)."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
