"""Tasks: a function registered on an app, with the options its jobs carry."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from queuekit.job import Job
from queuekit.message import Message

if TYPE_CHECKING:
    from queuekit.app import App
    from queuekit.canvas import Signature
    from queuekit.ratelimit import RateLimit

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class TaskOptions:
    """Per-task settings; None means "the app's default"."""

    queue: str = "default"
    priority: int = 0
    retries: int = 0
    backoff: float | None = None
    max_backoff: float | None = None
    timeout: float | None = None
    lease: float | None = None
    store_result: bool = True
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    rate_limit: RateLimit | None = None

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError(f"retries must be 0 or more, got {self.retries}")
        for name in ("backoff", "max_backoff", "timeout", "lease"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if not isinstance(self.priority, int) or isinstance(self.priority, bool):
            raise TypeError(f"priority must be an int, got {self.priority!r}")


class Task(Generic[P, R]):
    """A registered function. Call it to run it here; ``delay`` or ``enqueue`` to queue it."""

    def __init__(self, app: App, fn: Callable[P, R], name: str, options: TaskOptions) -> None:
        self.app = app
        self.fn = fn
        self.name = name
        self.options = options
        self.is_async = inspect.iscoroutinefunction(fn)
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __repr__(self) -> str:
        return f"<Task {self.name} queue={self.options.queue}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def with_options(self, **changes: Any) -> Task[P, R]:
        """A view of this task with other defaults (queue, priority, retries, ...)."""
        return Task(self.app, self.fn, self.name, dataclasses.replace(self.options, **changes))

    def s(self, *args: Any, **kwargs: Any) -> Signature:
        """A signature for a workflow step: the parent step's result is prepended to ``args``."""
        from queuekit.canvas import signature

        return signature(self.app, self.name, args, kwargs, immutable=False)

    def si(self, *args: Any, **kwargs: Any) -> Signature:
        """An immutable signature: the step ignores the parent step's result."""
        from queuekit.canvas import signature

        return signature(self.app, self.name, args, kwargs, immutable=True)

    def message(self, *args: P.args, **kwargs: P.kwargs) -> Message:
        """A message for this task with its default options, for ``app.enqueue_many``."""
        # The options were checked when the task was declared, and ``args`` and ``kwargs`` are
        # this call's own: nothing to check or copy, unlike ``build``.
        opts = self.options
        return Message(self.name, args, kwargs, opts.queue, opts.priority, 0.0, opts.retries + 1, opts.timeout)

    def build(
        self,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        delay: float | dt.timedelta | None = None,
        eta: float | dt.datetime | None = None,
        priority: int | None = None,
        queue: str | None = None,
        key: str | None = None,
        retries: int | None = None,
        timeout: float | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> Message:
        """A message with explicit options; the building block of ``enqueue``."""
        opts = self.options
        chosen_retries = opts.retries if retries is None else retries
        if chosen_retries < 0:
            raise ValueError(f"retries must be 0 or more, got {chosen_retries}")
        chosen_priority = opts.priority if priority is None else priority
        if not isinstance(chosen_priority, int) or isinstance(chosen_priority, bool):
            raise TypeError(f"priority must be an int, got {chosen_priority!r}")
        return Message(
            task=self.name,
            args=tuple(args),
            kwargs=dict(kwargs or {}),
            queue=queue or opts.queue,
            priority=chosen_priority,
            delay=_delay_seconds(delay, eta),
            max_attempts=chosen_retries + 1,
            timeout=opts.timeout if timeout is None else timeout,
            key=key,
            headers=dict(headers or {}),
        )

    def delay(self, *args: P.args, **kwargs: P.kwargs) -> Job[R]:
        """Enqueue with the task's default options."""
        return self._send(self.message(*args, **kwargs))

    def enqueue(
        self,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        connection: Any = None,
        **options: Any,
    ) -> Job[R]:
        """Enqueue with options: delay, eta, priority, queue, key, retries, timeout, headers.

        ``connection``: write the job inside that open database transaction (SQL brokers).
        """
        return self._send(self.build(args, kwargs, **options), connection)

    async def aenqueue(
        self,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Job[R]:
        """Async ``enqueue``: the broker call runs in a thread, off the event loop."""
        message = self.build(args, kwargs, **options)
        return await asyncio.to_thread(self._send, message)

    def _send(self, message: Message, connection: Any = None) -> Job[R]:
        (job_id,) = self.app.send([message], connection=connection)
        return Job(self.app, job_id)


def _delay_seconds(delay: float | dt.timedelta | None, eta: float | dt.datetime | None) -> float:
    if delay is not None and eta is not None:
        raise ValueError("give delay or eta, not both")
    if isinstance(delay, dt.timedelta):
        delay = delay.total_seconds()
    if eta is not None:
        if isinstance(eta, dt.datetime):
            if eta.tzinfo is None:
                raise ValueError("eta must be timezone-aware (naive datetimes are ambiguous)")
            eta = eta.timestamp()
        delay = eta - time.time()
    if delay is None:
        return 0.0
    if not isinstance(delay, (int, float)) or isinstance(delay, bool):
        raise TypeError(f"delay must be seconds or a timedelta, got {delay!r}")
    return max(float(delay), 0.0)
