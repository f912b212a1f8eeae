"""The App: task registry, broker and result store for one application."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, overload

from queuekit import config
from queuekit.broker import Broker, Envelope, JobStatus, Outcome, ResultStore, TransactionalEnqueue
from queuekit.codec import Codec, resolve_codec
from queuekit.errors import CapabilityError, ConfigurationError, TaskNotRegistered
from queuekit.job import Job
from queuekit.keyvalue import LocalKeyValue, SharedState, state_for
from queuekit.message import DEFAULT_MAX_SIZE, Message, Signer, check_headers
from queuekit.middleware import Middleware, call_hooks
from queuekit.queues import check_queue_name
from queuekit.ratelimit import RateLimit
from queuekit.registry import backend_class, open_broker
from queuekit.schedules import CatchUp, Schedule, describe_every
from queuekit.task import Task, TaskOptions
from queuekit.urls import redact

if TYPE_CHECKING:
    from queuekit.worker import Worker

P = ParamSpec("P")
R = TypeVar("R")

class TaskDecorator(Protocol):
    """What ``app.task(...)`` with options returns: a decorator that registers a function."""

    def __call__(self, fn: Callable[P, R], /) -> Task[P, R]: ...


class App:
    """One application's tasks and the broker that carries them.

    ``App()`` resolves the broker URL from ``QUEUEKIT_BROKER_URL``, then the config file,
    then defaults to ``sqlite:///queuekit.db``. The URL's scheme is checked at once; the
    connection is opened on first use. ``App(broker=obj)`` uses an already-open broker
    object instead (tests, embedding) and closes it in :meth:`close`. ``codec``: how
    messages become bytes (``"json"``, ``"msgspec"``, ``"auto"``; ``QUEUEKIT_CODEC`` otherwise;
    see :mod:`queuekit.codec`).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        results: str | None = None,
        secret: str | bytes | None = None,
        default_queue: str = "default",
        lease: float = 30.0,
        backoff: float = 1.0,
        max_backoff: float = 3600.0,
        result_ttl: float = 86400.0,
        redeliveries: int = 2,
        max_message_size: int = DEFAULT_MAX_SIZE,
        broker_options: Mapping[str, Any] | None = None,
        broker: Broker | None = None,
        middleware: Sequence[Middleware] = (),
        codec: str | Codec | None = None,
    ) -> None:
        # With ``broker``, ``url`` (if given) only labels it in logs and reprs.
        self.url = config.resolve_url(url) if broker is None else (url or f"object://{type(broker).__name__}")
        self.results_url = config.resolve_results_url(results)
        if broker is None:
            backend_class(self.url)  # unknown scheme: fail here, naming the installed ones
        if self.results_url:
            backend_class(self.results_url)
        if lease <= 0 or backoff <= 0 or max_backoff <= 0 or result_ttl <= 0:
            raise ConfigurationError("lease, backoff, max_backoff and result_ttl must be positive")
        chosen_secret = config.resolve_secret(secret)
        self.signer = Signer.from_secret(chosen_secret) if chosen_secret else None
        self.default_queue = check_queue_name(default_queue)
        self.lease = lease
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.result_ttl = result_ttl
        if redeliveries < 0:
            raise ConfigurationError(f"redeliveries must be 0 or more, got {redeliveries}")
        self.redeliveries = redeliveries
        self.max_message_size = max_message_size
        # How envelopes become bytes: "json", "msgspec" or "auto" (msgspec when installed); queuekit.codec.
        self.codec = resolve_codec(codec)
        self.broker_options = dict(broker_options or {})
        self.tasks: dict[str, Task[Any, Any]] = {}
        # Hooks around enqueue, run and the worker's life (queuekit.middleware); add more with add_middleware.
        self.middleware: list[Middleware] = []
        for each in middleware:
            self.add_middleware(each)
        self.schedules: dict[str, Schedule] = {}
        self.local_state = LocalKeyValue()  # shared state when neither broker nor result store keeps any
        self._state: SharedState | None = None
        self._broker: Broker | None = broker
        self._results: ResultStore | None = None
        self._results_opened = False
        self._lock = threading.Lock()

    def add_middleware(self, middleware: Middleware) -> None:
        """Install a middleware after those already installed (:mod:`queuekit.middleware`)."""
        if not isinstance(middleware, Middleware):
            raise ConfigurationError(
                f"middleware must be a queuekit.Middleware instance, got {type(middleware).__name__}; "
                "subclass queuekit.Middleware and pass an instance"
            )
        self.middleware.append(middleware)

    @property
    def redacted_url(self) -> str:
        """The broker URL with credentials masked, for logs and messages."""
        return redact(self.url)

    def __repr__(self) -> str:
        return f"<App {self.redacted_url} tasks={len(self.tasks)}>"

    def use_url(self, url: str) -> None:
        """Point the app at another broker (before first use), e.g. from ``--url``."""
        backend_class(url)
        with self._lock:
            if self._broker is not None:
                raise ConfigurationError("the broker is already open; change the URL before first use")
            self.url = url

    # -- broker and results ------------------------------------------------------------

    @property
    def broker(self) -> Broker:
        """The broker, opened on first use."""
        if self._broker is None:
            with self._lock:
                if self._broker is None:
                    self._broker = open_broker(self.url, **self.broker_options)
        return self._broker

    @property
    def results(self) -> ResultStore | None:
        """Where outcomes are kept: the separate store if configured, else the broker if it can."""
        if not self._results_opened:
            with self._lock:
                if not self._results_opened:
                    self._results = self._open_results()
                    self._results_opened = True
        return self._results

    @property
    def state(self) -> SharedState:
        """Where schedules, rate limits, cancel flags, progress and heartbeats live (:mod:`queuekit.keyvalue`)."""
        if self._state is None:
            self._state = state_for(self)
        return self._state

    def _open_results(self) -> ResultStore | None:
        if self.results_url:
            store = open_broker(self.results_url)
            if not (store.capabilities.results and isinstance(store, ResultStore)):
                raise ConfigurationError(f"{redact(self.results_url)} cannot store results")
            return store
        broker = self._broker or open_broker(self.url, **self.broker_options)
        self._broker = broker
        return broker if broker.capabilities.results and isinstance(broker, ResultStore) else None

    def close(self) -> None:
        """Close the broker and result store connections."""
        with self._lock:
            for thing in (self._results, self._broker):
                if thing is not None:
                    thing.close()
            self._broker, self._results, self._results_opened = None, None, False
            self._state = None

    # -- tasks ---------------------------------------------------------------------------

    @overload
    def task(self, fn: Callable[P, R], /) -> Task[P, R]: ...

    @overload
    def task(
        self,
        *,
        name: str | None = None,
        queue: str | None = None,
        priority: int = 0,
        retries: int = 0,
        backoff: float | None = None,
        max_backoff: float | None = None,
        timeout: float | None = None,
        lease: float | None = None,
        store_result: bool = True,
        retry_on: tuple[type[BaseException], ...] = (Exception,),
        rate_limit: str | None = None,
    ) -> TaskDecorator: ...

    def task(
        self,
        fn: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        queue: str | None = None,
        priority: int = 0,
        retries: int = 0,
        backoff: float | None = None,
        max_backoff: float | None = None,
        timeout: float | None = None,
        lease: float | None = None,
        store_result: bool = True,
        retry_on: tuple[type[BaseException], ...] = (Exception,),
        rate_limit: str | None = None,
    ) -> Any:
        """Register a function as a task; use bare (``@app.task``) or with options.

        ``retries``: further attempts after the first; ``backoff``: base of the exponential
        backoff in seconds (app default otherwise); ``timeout``: time limit per attempt;
        ``lease``: how long a worker holds the job between heartbeats; ``retry_on``:
        exception types worth retrying; ``rate_limit``: at most this many starts, e.g. ``"100/s"``,
        ``"10/m"``, across every worker sharing the broker's state (:mod:`queuekit.ratelimit`).
        """
        opts = TaskOptions(
            queue=check_queue_name(queue or self.default_queue), priority=priority, retries=retries,
            backoff=backoff, max_backoff=max_backoff, timeout=timeout, lease=lease,
            store_result=store_result, retry_on=retry_on,
            rate_limit=RateLimit.parse(rate_limit) if rate_limit is not None else None,
        )

        def register(func: Callable[..., Any]) -> Task[Any, Any]:
            task_name = name or _default_name(func)
            if task_name in self.tasks and self.tasks[task_name].fn is not func:
                raise ConfigurationError(f"task name {task_name!r} is already registered")
            created: Task[Any, Any] = Task(self, func, task_name, opts)
            self.tasks[task_name] = created
            return created

        return register(fn) if fn is not None else register

    # -- periodic jobs -------------------------------------------------------------------

    def periodic(
        self,
        *,
        every: float | dt.timedelta | None = None,
        cron: str | None = None,
        tz: str = "UTC",
        name: str | None = None,
        queue: str | None = None,
        catch_up: CatchUp = "latest",
        **task_options: Any,
    ) -> TaskDecorator:
        """Register a function as a task and run it on a schedule: ``every=`` seconds or ``cron=``.

        ``tz``: the time zone of a cron expression (IANA name); ``catch_up``: what to do with
        ticks missed while no worker ran (``latest``, the default: once; ``all``; ``none``).
        Other keywords are task options (retries, timeout, ...). Workers run the schedules
        unless started with ``--no-schedules``; see :mod:`queuekit.schedules`.
        """
        def register(func: Callable[..., Any]) -> Task[Any, Any]:
            created: Task[Any, Any] = self.task(queue=queue, **task_options)(func)
            self.schedule(created, every=every, cron=cron, tz=tz, name=name, catch_up=catch_up)
            return created

        return register

    def schedule(
        self,
        task: Task[Any, Any],
        *,
        every: float | dt.timedelta | None = None,
        cron: str | None = None,
        tz: str = "UTC",
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        name: str | None = None,
        queue: str | None = None,
        catch_up: CatchUp = "latest",
    ) -> Schedule:
        """Enqueue ``task(*args, **kwargs)`` on a schedule (the imperative form of :meth:`periodic`)."""
        if task.app is not self or self.tasks.get(task.name) is None:
            raise ConfigurationError(f"schedule: {task!r} is not a task of this app; register it with @app.task first")
        chosen = name or task.name
        if chosen in self.schedules:
            raise ConfigurationError(f"a schedule named {chosen!r} already exists; give this one name=...")
        created = Schedule(
            chosen, task.name, describe_every(every) if every is not None else None, cron, tz,
            tuple(args), dict(kwargs or {}), check_queue_name(queue) if queue else None, catch_up,
        )
        self.schedules[chosen] = created
        return created

    def get_task(self, name: str) -> Task[Any, Any]:
        """A task by full name, or by its short name when that is unambiguous."""
        found = self.tasks.get(name)
        if found is not None:
            return found
        matches = [t for full, t in self.tasks.items() if full.rsplit(".", 1)[-1] == name]
        if len(matches) == 1:
            return matches[0]
        known = ", ".join(sorted(self.tasks)) or "none"
        hint = " (ambiguous short name)" if matches else ""
        raise TaskNotRegistered(f"task {name!r} is not registered on this app{hint}; known: {known}")

    # -- producing -----------------------------------------------------------------------

    def send(self, messages: Iterable[Message], *, connection: Any = None) -> list[str]:
        """Encode and enqueue messages in one broker call; return their job ids.

        Everything is validated and encoded before any I/O, so a bad message leaves
        nothing half-written. With ``connection`` (a database connection in an open
        transaction) the jobs are written in that transaction, on brokers that can.
        """
        hooks = self.middleware
        batch = [_before_enqueue(hooks, message) for message in messages] if hooks else list(messages)
        envelope = self.envelope
        envelopes = [envelope(message) for message in batch]
        if not envelopes:
            return []
        broker = self.broker
        if connection is None:
            self._record_pending(broker, batch, envelopes)
            ids = broker.enqueue(envelopes)
        elif broker.capabilities.transactional_enqueue and isinstance(broker, TransactionalEnqueue):
            ids = broker.enqueue_in(connection, envelopes)
        else:
            raise CapabilityError(
                f"{self.redacted_url} cannot enqueue inside your transaction; "
                "use a SQL broker on the same database, or enqueue after commit"
            )
        if hooks:
            for message, job_id in zip(batch, ids, strict=True):
                call_hooks(hooks, "after_enqueue", message, job_id)
        return ids

    def _record_pending(self, broker: Broker, messages: Sequence[Message], envelopes: Sequence[Envelope]) -> None:
        """On a broker that cannot say where a job is (no ``job_state``), note in the result store it exists.

        Written before the enqueue, so the worker's outcome always lands after it and
        replaces it; ``Job.status()`` then reads ``pending`` rather than ``unknown``. Not
        for tasks that store no result (nothing would replace the record), nor for keyed
        jobs on a broker with dedup (the id may not be the one stored).
        """
        if broker.capabilities.job_state or (store := self.results) is None:
            return
        now = time.time()
        records = [
            Outcome(envelope.id, JobStatus.PENDING, finished_at=now)
            for message, envelope in zip(messages, envelopes, strict=True)
            if self.get_task(message.task).options.store_result and not (envelope.key and broker.capabilities.dedup)
        ]
        if records:
            store.save_outcomes(records, self.result_ttl)

    def envelope(self, message: Message) -> Envelope:
        """Validate and encode one message into what the broker stores."""
        if message.task not in self.tasks:
            self.get_task(message.task)  # raises TaskNotRegistered with the known names
        check_queue_name(message.queue)
        if message.headers:
            check_headers(message.headers)
        body = self.codec.encode(message, max_size=self.max_message_size, signer=self.signer)
        return Envelope(message.id, message.queue, body, message.priority, message.delay, message.key)

    def enqueue_many(self, messages: Iterable[Message], *, connection: Any = None) -> list[Job[Any]]:
        """Enqueue a batch in one broker call (atomically where the broker can)."""
        return [Job(self, job_id) for job_id in self.send(messages, connection=connection)]

    def job(self, job_id: str) -> Job[Any]:
        """A handle on a job by id."""
        return Job(self, job_id)

    def worker(self, **options: Any) -> Worker:
        """A worker for this app; see :class:`queuekit.worker.Worker` for the options."""
        from queuekit.worker import Worker

        return Worker(self, **options)


def _before_enqueue(hooks: Sequence[Middleware], message: Message) -> Message:
    """The message with headers of its own (a dict middleware may add to), after every ``before_enqueue``."""
    message = dataclasses.replace(message, headers=dict(message.headers))
    call_hooks(hooks, "before_enqueue", message)
    return message


def _default_name(fn: Callable[..., Any]) -> str:
    module = fn.__module__
    if module == "__main__":
        main = sys.modules["__main__"]
        spec = getattr(main, "__spec__", None)
        if spec is not None and spec.name:
            module = spec.name
        elif getattr(main, "__file__", None):
            module = Path(main.__file__ or "").stem
    return f"{module}.{fn.__qualname__}"
