"""The dashboard's ASGI application: HTML pages and the JSON API they poll.

``create_app(app, token=...)`` returns a Starlette application; ``queuekit dashboard``
serves it with uvicorn, and an application can mount it in its own ASGI server. Broker
calls block, so every endpoint is a plain function that Starlette runs in its thread pool.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from queuekit.app import App
from queuekit.broker import QueueStats
from queuekit.contrib.dashboard.rates import Rates, Sampler, WorkerRates
from queuekit.contrib.dashboard.reading import NOT_AVAILABLE, Reader, Row, stats_row
from queuekit.contrib.dashboard.security import Guard
from queuekit.errors import BrokerError, InvalidQueueName, QueuekitError
from queuekit.queues import check_queue_name
from queuekit.urls import redact

HERE = Path(__file__).parent
POLL_SECONDS = 2.0
MAX_ID = 200  # characters of a job id accepted in a URL

# script-src 'self': even a payload that escaped the escaping could not run inline script.
_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                 b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    """ASGI middleware adding the content security policy and friends to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + _HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


def when(stamp: float | None) -> str:
    """Epoch seconds as ``YYYY-MM-DD HH:MM:SS UTC`` (the page's script writes the same form)."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp)) if stamp else ""


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = when
    env.filters["rate"] = lambda value: "" if value is None else f"{value:g}/s"
    return env


class Dashboard:
    """The pages and API endpoints over one :class:`Reader`."""

    def __init__(self, app: App, token: str | None, interval: float) -> None:
        self.reader = Reader(app)
        self.guard = Guard(token)
        self.rates = Rates(min_gap=interval / 2)
        self.sampler = Sampler(self.reader.queues, self.rates, interval)
        self.worker_rates = WorkerRates()
        self.templates = _environment()

    # -- helpers ---------------------------------------------------------------------------

    def page(self, request: Request, name: str, **context: Any) -> HTMLResponse:
        """Render a template with what every page needs (broker, CSRF token, whether actions exist)."""
        context.update(broker=self.reader.broker_info(), csrf=self.guard.csrf, actions=self.guard.actions,
                       not_available=NOT_AVAILABLE)
        return HTMLResponse(self.templates.get_template(name).render(context))

    def queue_rows(self) -> list[Row]:
        """Every queue's depths and rates; a fresh read that also feeds the samples."""
        found = self.reader.queues()
        self.rates.add(found)
        return [{**stats_row(name, stats), **self.rates.for_queue(name)} for name, stats in found.items()]

    def refuse(self, request: Request) -> JSONResponse | None:
        """The refusal of an action request, or None when it may go ahead."""
        origin = request.headers.get("origin")  # browsers send it with every POST; scripts may not
        origin_ok = origin is None or urlsplit(origin).netloc == request.headers.get("host", "")
        refused = self.guard.refusal(request.headers, origin_ok)
        return None if refused is None else JSONResponse({"error": refused[1]}, status_code=refused[0])

    # -- pages -----------------------------------------------------------------------------

    def overview(self, request: Request) -> Response:
        return self.page(request, "overview.html", queues=self.queue_rows(), sampler_error=self.sampler.error,
                         workers=self.workers()["summary"])

    def queue_page(self, request: Request) -> Response:
        queue = _queue(request)
        return self.page(request, "queue.html", **self.queue_detail(queue))

    def dead_page(self, request: Request) -> Response:
        return self.page(request, "dead.html", **self.dead_letters(request))

    def dead_letters(self, request: Request) -> Row:
        """A queue's dead letters (up to ``?limit=``, 100) and how many it holds in all."""
        queue = _queue(request)
        letters = self.reader.dead(queue, _limit(request))
        total = self.reader.broker.stats([queue]).get(queue, QueueStats()).dead
        return {"queue": queue, "dead": letters, "total": max(total, len(letters))}

    def job_lookup(self, request: Request) -> Response:
        job_id = request.query_params.get("id", "").strip()
        return RedirectResponse(f"/jobs/{_job_id(job_id)}" if job_id else "/", status_code=303)

    def job_page(self, request: Request) -> Response:
        return self.page(request, "job.html", job=self.reader.job(_job_id(request.path_params["job_id"])))

    def workers_page(self, request: Request) -> Response:
        found = self.workers()
        return self.page(request, "workers.html", workers=found["workers"], note=found["note"])

    def schedules_page(self, request: Request) -> Response:
        schedules, note = self.reader.schedules()
        return self.page(request, "schedules.html", schedules=schedules, note=note)

    # -- API -------------------------------------------------------------------------------

    def api_session(self, request: Request) -> Response:
        return JSONResponse({"csrf": self.guard.csrf, "actions": self.guard.actions, "poll_seconds": POLL_SECONDS})

    def api_broker(self, request: Request) -> Response:
        return JSONResponse({**self.reader.broker_info(), "sampler_error": self.sampler.error})

    def api_queues(self, request: Request) -> Response:
        return JSONResponse({"queues": self.queue_rows(), "workers": self.workers()["summary"], "at": time.time()})

    def workers(self) -> Row:
        """Live workers with their finished-jobs rates, a summary (None without heartbeats) and a note."""
        workers, note = self.reader.workers()
        if workers is None:
            return {"workers": None, "note": note, "summary": None}
        rates = self.worker_rates.update(workers)
        for worker in workers:
            worker["finished_rate"] = rates.get(str(worker["id"]))
        known = [rate for rate in rates.values() if rate is not None]
        summary = {"alive": len(workers), "finished_rate": round(sum(known), 2) if known else None}
        return {"workers": workers, "note": note, "summary": summary}

    def queue_detail(self, queue: str) -> Row:
        """One queue's depths and its first ready and delayed jobs (None without ``browse``)."""
        stats = self.reader.broker.stats([queue]).get(queue, QueueStats())
        return {"queue": queue, "stats": stats_row(queue, stats), "ready": self.reader.waiting(queue, delayed=False),
                "delayed": self.reader.waiting(queue, delayed=True)}

    def api_queue(self, request: Request) -> Response:
        return JSONResponse(self.queue_detail(_queue(request)))

    def api_dead(self, request: Request) -> Response:
        return JSONResponse(self.dead_letters(request))

    async def api_requeue(self, request: Request) -> Response:
        refused = self.refuse(request)
        if refused is not None:
            return refused
        ids = _ids(await request.body())
        return await _in_thread(lambda: {"requeued": self.reader.requeue(_queue(request), ids)})

    async def api_purge(self, request: Request) -> Response:
        refused = self.refuse(request)
        if refused is not None:
            return refused
        return await _in_thread(lambda: {"purged": self.reader.purge_dead(_queue(request))})

    def api_job(self, request: Request) -> Response:
        return JSONResponse(self.reader.job(_job_id(request.path_params["job_id"])))

    async def api_cancel(self, request: Request) -> Response:
        refused = self.refuse(request)
        if refused is not None:
            return refused
        job_id = _job_id(request.path_params["job_id"])
        return await _in_thread(lambda: {"cancelled": self.reader.cancel(job_id)})

    def api_workers(self, request: Request) -> Response:
        found = self.workers()
        return JSONResponse({"workers": found["workers"], "note": found["note"]})

    def api_schedules(self, request: Request) -> Response:
        schedules, note = self.reader.schedules()
        return JSONResponse({"schedules": schedules, "note": note})

    def routes(self) -> list[Route | Mount]:
        """Every page, API endpoint and the static files."""
        get, post = ["GET"], ["POST"]
        return [
            Route("/", self.overview, methods=get),
            Route("/queues/{queue}", self.queue_page, methods=get),
            Route("/queues/{queue}/dead", self.dead_page, methods=get),
            Route("/jobs", self.job_lookup, methods=get),
            Route("/jobs/{job_id}", self.job_page, methods=get),
            Route("/workers", self.workers_page, methods=get),
            Route("/schedules", self.schedules_page, methods=get),
            Route("/api/session", self.api_session, methods=get),
            Route("/api/broker", self.api_broker, methods=get),
            Route("/api/queues", self.api_queues, methods=get),
            Route("/api/queues/{queue}", self.api_queue, methods=get),
            Route("/api/queues/{queue}/dead", self.api_dead, methods=get),
            Route("/api/queues/{queue}/dead/requeue", self.api_requeue, methods=post),
            Route("/api/queues/{queue}/dead/purge", self.api_purge, methods=post),
            Route("/api/jobs/{job_id}", self.api_job, methods=get),
            Route("/api/jobs/{job_id}/cancel", self.api_cancel, methods=post),
            Route("/api/workers", self.api_workers, methods=get),
            Route("/api/schedules", self.api_schedules, methods=get),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]

    def error(self, request: Request, exc: Exception) -> Response:
        """A broker failure or bad input: JSON for the API, a page otherwise; one line, never a traceback."""
        bad_input = isinstance(exc, (InvalidQueueName, HTTPException))
        status = 400 if bad_input else 503 if isinstance(exc, BrokerError) else 500
        if isinstance(exc, HTTPException):
            status = exc.status_code
        message = exc.detail if isinstance(exc, HTTPException) else redact(f"{type(exc).__name__}: {exc}")
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=status)
        body = self.templates.get_template("error.html").render(message=message, status=status, csrf="",
                                                               actions=False, broker=None)
        return HTMLResponse(body, status_code=status)


async def _in_thread(action: Callable[[], Row]) -> Response:
    """Run a blocking broker action off the event loop and answer with its JSON."""
    return JSONResponse(await run_in_threadpool(action))


def _queue(request: Request) -> str:
    return check_queue_name(str(request.path_params["queue"]))


def _job_id(text: str) -> str:
    if not text or len(text) > MAX_ID or any(ch in text for ch in "/?#\\") or not text.isprintable():
        raise HTTPException(400, f"invalid job id {text[:60]!r}: give the id enqueue printed (at most {MAX_ID} "
                                 "characters)")
    return text


def _limit(request: Request) -> int:
    text = request.query_params.get("limit", "100")
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise HTTPException(400, f"limit must be a whole number from 1 to 1000, got {text[:20]!r}")
    return int(text)


def _ids(body: bytes) -> list[str] | None:
    """The ``ids`` of a requeue request body (None: all); a malformed body is a 400, never "requeue all"."""
    if not body.strip():
        return None
    try:
        document = json.loads(body)
    except ValueError:
        raise HTTPException(400, 'the body must be JSON: {"ids": ["<job id>", ...]}, or empty for all') from None
    ids = document.get("ids") if isinstance(document, dict) else None
    if ids is None and isinstance(document, dict) and not document:
        return None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise HTTPException(400, 'ids must be a list of job id strings: {"ids": ["<job id>", ...]}')
    return ids


def create_app(app: App, *, token: str | None = None, interval: float = POLL_SECONDS) -> Starlette:
    """The dashboard of ``app`` as an ASGI application; read-only unless ``token`` is given.

    Depths are sampled every ``interval`` seconds while it runs (for the rates); the app is
    closed when the ASGI server shuts it down.
    """
    dashboard = Dashboard(app, token, interval)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        dashboard.sampler.start()
        try:
            yield
        finally:
            dashboard.sampler.stop()
            dashboard.reader.close()

    handlers: dict[Any, Callable[[Request, Exception], Response]] = {
        QueuekitError: dashboard.error, HTTPException: dashboard.error,
    }
    asgi = Starlette(routes=dashboard.routes(), lifespan=lifespan, exception_handlers=handlers)
    asgi.add_middleware(SecurityHeaders)
    asgi.state.dashboard = dashboard
    return asgi
