"""Logging for the ``queuekit`` command: queuekit's own lines at the chosen level, others' quiet.

Client libraries log their own view of a failure (pika writes fifteen INFO lines for
one refused connection) that queuekit already reports in one line, so the loggers of
other libraries show warnings and errors only. ``--log-level debug`` opens them too:
debug is for finding out what a library did.

Every line written while a job runs names it (:mod:`queuekit.logs`); ``--log-format json``
writes one JSON object per line instead of text.
"""

from __future__ import annotations

import logging

from queuekit.logs import TEXT_FORMAT, JobFilter, JsonFormatter

log = logging.getLogger("queuekit.cli")

FORMAT = TEXT_FORMAT
LOG_FORMATS = ("text", "json")


def own_loggers() -> list[str]:
    """queuekit's logger, and those of installed distributions named ``queuekit_*``."""
    names = [name for name in logging.root.manager.loggerDict if name.startswith("queuekit_") and "." not in name]
    return ["queuekit", *names]


def configure_logging(level: str, log_format: str = "text") -> None:
    """One stderr handler (text or JSON lines); queuekit's loggers at ``level``, others' at WARNING (or DEBUG)."""
    chosen = logging.getLevelName(level.upper())
    others = logging.DEBUG if chosen == logging.DEBUG else max(chosen, logging.WARNING)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "queuekit_cli", False)]:
        root.removeHandler(old)  # main() called again in one process (tests): one handler
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(FORMAT))
    handler.addFilter(JobFilter())
    handler.queuekit_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(others)
    for name in own_loggers():
        logging.getLogger(name).setLevel(chosen)
