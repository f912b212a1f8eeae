"""``python -m queuekit_bench``: the same as ``queuekit bench``."""

import sys

from queuekit_bench.cli import main

sys.exit(main())
