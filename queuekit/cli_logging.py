"""Logging for the ``queuekit`` command: queuekit's own lines at the chosen level, others' quiet.

Client libraries log their own view of a failure (pika writes fifteen INFO lines for
one refused connection) that queuekit already reports in one line, so the loggers of
other libraries show warnings and errors only. ``--log-level debug`` opens them too:
debug is for finding out what a library did.
"""

from __future__ import annotations

import logging

log = logging.getLogger("queuekit.cli")

FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"


def own_loggers() -> list[str]:
    """queuekit's logger, and those of installed distributions named ``queuekit_*``."""
    names = [name for name in logging.root.manager.loggerDict if name.startswith("queuekit_") and "." not in name]
    return ["queuekit", *names]


def configure_logging(level: str) -> None:
    """One stderr handler; queuekit's loggers at ``level``, everyone else's at WARNING (or DEBUG)."""
    chosen = logging.getLevelName(level.upper())
    others = logging.DEBUG if chosen == logging.DEBUG else max(chosen, logging.WARNING)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "queuekit_cli", False)]:
        root.removeHandler(old)  # main() called again in one process (tests): one handler
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.queuekit_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(others)
    for name in own_loggers():
        logging.getLogger(name).setLevel(chosen)
