"""``python -m tools.study unit ...``: one unit of a study, started by ``python -m tools.reproduce``."""

import sys

from tools.study.run import main

sys.exit(main())
