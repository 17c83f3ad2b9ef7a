"""`python -m kerasmm ...` runs the `kerasmm` command."""

import sys

from kerasmm.cli import main

sys.exit(main())
