"""Log records that name the job they were written for, as text or as one JSON object per line.

:class:`JobFilter` stamps every record with the job the calling code runs as
(``queuekit.current_job()``): ``job_id``, ``task``, ``queue`` and ``attempt``, or None
outside a job. Attach it to a handler (not a logger), so that records of every library
pass it. :class:`JsonFormatter` writes those fields with the time, level, logger and
message. ``queuekit --log-format json worker ...`` sets both up; an embedding
application can use them with its own handlers::

    handler = logging.StreamHandler()
    handler.addFilter(JobFilter())
    handler.setFormatter(JsonFormatter())
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from queuekit.execution import current_job

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d]%(job_label)s: %(message)s"
JOB_FIELDS = ("job_id", "task", "queue", "attempt")


class JobFilter(logging.Filter):
    """Adds ``job_id``, ``task``, ``queue``, ``attempt`` and ``job_label`` (`` job=<id>`` or empty) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = current_job()
        if job is None:  # outside a job: keep what the caller passed in ``extra``
            for name in JOB_FIELDS:
                record.__dict__.setdefault(name, None)
            record.job_label = ""
        else:
            record.job_id, record.task = job.delivery.id, job.task.name
            record.queue, record.attempt = job.delivery.queue, job.delivery.attempts
            record.job_label = f" job={job.delivery.id}"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the job fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        for name in JOB_FIELDS:
            document[name] = getattr(record, name, None)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False, default=str)
