"""Management commands of the queuekit Django app."""
