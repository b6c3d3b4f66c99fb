"""``python -m tools.reproduce``: see :mod:`tools.reproduce.cli`."""

import sys

from tools.reproduce.cli import main

sys.exit(main())
