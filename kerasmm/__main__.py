"""`python -m kerasmm ...` runs the `kerasmm` command."""

import sys

from kerasmm.cli import main

if __name__ == "__main__":  # Not on a plain import (the docstring tests import it).
    sys.exit(main())
