"""`python -m mlmon`: the same command line as the `mlmon` script."""

import sys

from mlmon.cli import main

sys.exit(main())
