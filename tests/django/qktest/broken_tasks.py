"""A task that a worker could not find at its module path (imported by one test only)."""
from queuekit.contrib.django.compat import task


def _vanishing() -> None:
    return None


vanished = task(_vanishing)
del _vanishing
