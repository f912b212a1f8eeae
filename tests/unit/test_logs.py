"""Log lines written while a job runs name it, in text and in JSON."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from queuekit import App
from queuekit.cli_logging import FORMAT
from queuekit.logs import JobFilter, JsonFormatter


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, logging.Handler]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(JobFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        yield out, handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _run(app: App) -> None:
    assert app.worker(burst=True, concurrency=1, grace=5.0).run(install_signals=False) == 0


def test_json_lines_carry_the_job_fields_inside_a_job_and_null_outside(
    captured: tuple[io.StringIO, logging.Handler],
) -> None:
    out, handler = captured
    handler.setFormatter(JsonFormatter())
    app = App("memory://")

    @app.task(queue="logs")
    def talk(n: int) -> None:
        logging.getLogger("elsewhere").warning("inside %d", n)

    job = talk.delay(7)
    logging.getLogger("elsewhere").warning("outside")
    logging.getLogger("elsewhere").warning("own extra", extra={"queue": "mine"})
    _run(app)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    inside = [r for r in records if r["message"] == "inside 7"]
    outside = [r for r in records if r["message"] == "outside"]
    assert len(inside) == 1 and len(outside) == 1
    assert inside[0]["job_id"] == job.id and inside[0]["task"] == talk.name
    assert inside[0]["queue"] == "logs" and inside[0]["attempt"] == 1
    assert inside[0]["logger"] == "elsewhere" and inside[0]["level"] == "WARNING"
    assert inside[0]["time"].endswith("+00:00")
    assert outside[0]["job_id"] is None and outside[0]["task"] is None
    assert [r["queue"] for r in records if r["message"] == "own extra"] == ["mine"]
    assert all({"time", "level", "logger", "message", "job_id", "task", "queue", "attempt"} <= set(r) for r in records)


def test_text_lines_name_the_job_and_exceptions_stay_in_json(captured: tuple[io.StringIO, logging.Handler]) -> None:
    out, handler = captured
    handler.setFormatter(logging.Formatter(FORMAT))
    app = App("memory://")

    @app.task
    async def talk() -> None:
        logging.getLogger("elsewhere").warning("async inside")

    job = talk.delay()
    _run(app)
    [line] = [line for line in out.getvalue().splitlines() if "async inside" in line]
    assert f" job={job.id}: async inside" in line
    try:
        raise ValueError("shown")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    JobFilter().filter(record)
    document = json.loads(JsonFormatter().format(record))
    assert "ValueError: shown" in document["exception"] and document["job_id"] is None
