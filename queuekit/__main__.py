"""``python -m queuekit`` runs the command line."""

import sys

from queuekit.cli import main

sys.exit(main())
