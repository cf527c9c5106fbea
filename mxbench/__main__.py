"""``python -m mxbench``: the command line."""

import sys

from mxbench.cli import main

sys.exit(main())
