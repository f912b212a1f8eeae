"""The queuekit App behind each ``TASKS`` alias, and how jobs reach its broker.

Django creates a backend object per alias *per thread*; they all share one binding,
so a process keeps one broker connection pool per alias. A binding never raises on
creation: a configuration error is kept and reported by the system checks, by
``validate_task`` and by every operation that needs the broker.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from django.db import connections, transaction

from queuekit.app import App
from queuekit.broker import Capabilities, Envelope, Outcome, ResultStore, TransactionalEnqueue
from queuekit.contrib.django import registry
from queuekit.contrib.django.compat import Task
from queuekit.contrib.django.runner import make_runner
from queuekit.contrib.django.settings import BackendSettings, EnqueueMode, SettingsError, read_settings
from queuekit.errors import CapabilityError, ConfigurationError, InvalidQueueName, QueuekitError
from queuekit.queues import check_queue_name
from queuekit.urls import redact

log = logging.getLogger("queuekit.django")

_lock = threading.Lock()
_bindings: dict[str, Binding] = {}


class Binding:
    """One alias's settings, its queuekit App (opened on first use) and its tasks."""

    def __init__(self, alias: str, params: Mapping[str, Any]) -> None:
        self.alias = alias
        self.params_key = repr(sorted(params.items(), key=lambda item: str(item[0])))
        self.settings: BackendSettings | None = None
        self.error: str | None = None
        self._app: App | None = None
        self._registered: set[str] = set()
        self._lock = threading.Lock()
        try:
            self.settings = read_settings(alias, params)
            self._app = self._build_app(self.settings)
        except (SettingsError, ConfigurationError) as exc:
            self.error = str(exc)

    def __repr__(self) -> str:
        where = redact(self.settings.url) if self.settings else f"error: {self.error}"
        return f"<Binding {self.alias!r} {where}>"

    @staticmethod
    def _build_app(settings: BackendSettings) -> App:
        try:
            return App(
                settings.url, results=settings.results, secret=settings.secret, lease=settings.lease,
                backoff=settings.backoff, max_backoff=settings.max_backoff, result_ttl=settings.result_ttl,
                max_message_size=settings.max_message_size, broker_options=settings.broker_options,
            )
        except ConfigurationError as exc:
            raise ConfigurationError(f"{settings.path('url')}: {exc}") from None

    # -- configuration -------------------------------------------------------------------

    def require(self) -> tuple[BackendSettings, App]:
        """The settings and app; raise :class:`ConfigurationError` naming the bad setting."""
        if self.error is not None or self.settings is None or self._app is None:
            raise ConfigurationError(f"TASKS[{self.alias!r}] is misconfigured: {self.error}")
        return self.settings, self._app

    @property
    def app(self) -> App:
        """The queuekit App, with every known Django task of this alias registered on it."""
        _, app = self.require()
        self.sync_tasks()
        return app

    def capabilities(self) -> Capabilities | None:
        """What the broker declares, or None when it cannot be opened (the checks say why)."""
        try:
            return self.require()[1].broker.capabilities
        except QueuekitError:
            return None

    def results(self) -> ResultStore | None:
        """The result store, or None if the broker keeps none and no ``results`` URL is set."""
        try:
            return self.require()[1].results
        except QueuekitError:
            return None

    # -- tasks ---------------------------------------------------------------------------

    def register(self, task: Task[Any, Any]) -> None:
        """Know a Django task and register it on the app under its module path."""
        check_queue_name(task.queue_name)
        registry.remember(self.alias, task)
        if self._app is not None and registry.module_path(task) not in self._registered:
            self.sync_tasks()

    def sync_tasks(self) -> None:
        """Register on the app every task the registry knows for this alias."""
        settings, app = self.require()
        with self._lock:
            for path, task in registry.known(self.alias).items():
                if path in self._registered:
                    continue
                app.task(
                    name=path, queue=task.queue_name, retries=settings.retries, timeout=settings.timeout,
                )(make_runner(self.alias, path))
                self._registered.add(path)

    # -- sending -------------------------------------------------------------------------

    def submit(
        self, envelope: Envelope, run_after: float | None, record: Outcome | None, ttl: float,
        sent: Callable[[], None],
    ) -> None:
        """Hand a job to the broker when the enqueue mode says, then call ``sent``.

        ``run_after`` (Unix time) is turned into the envelope's relative delay at the
        moment the job reaches the broker, so time spent waiting for a commit counts.
        """
        settings, app = self.require()
        if run_after is not None:
            envelope = dataclasses.replace(envelope, delay=max(run_after - time.time(), 0.0))
        if settings.enqueue is EnqueueMode.IMMEDIATE:
            self._deliver(app, envelope, record, ttl)
            sent()
        elif settings.enqueue is EnqueueMode.ON_COMMIT:

            def after_commit() -> None:
                fresh = envelope if run_after is None else dataclasses.replace(
                    envelope, delay=max(run_after - time.time(), 0.0))
                self._deliver(app, fresh, record, ttl)
                sent()

            transaction.on_commit(after_commit, using=settings.database)
        else:
            self._enqueue_in_transaction(app, settings.database, envelope)  # delay is fresh: no wait

            def record_after_commit() -> None:
                if record is not None:
                    self._save_record(app, record, ttl)
                sent()

            transaction.on_commit(record_after_commit, using=settings.database)

    def _deliver(self, app: App, envelope: Envelope, record: Outcome | None, ttl: float) -> None:
        if record is not None:
            self._save_record(app, record, ttl)
        try:
            app.broker.enqueue([envelope])
        except QueuekitError as exc:
            log.error("job %s for %s was not enqueued after commit: %s", envelope.id, envelope.queue, exc)
            raise

    @staticmethod
    def _save_record(app: App, record: Outcome, ttl: float) -> None:
        store = app.results
        if store is not None:
            store.save_outcomes([record], ttl)

    def _enqueue_in_transaction(self, app: App, database: str, envelope: Envelope) -> None:
        broker = app.broker
        if not (broker.capabilities.transactional_enqueue and isinstance(broker, TransactionalEnqueue)):
            raise CapabilityError(
                f"{option_path_enqueue(self.alias)} is 'in_transaction' but {app.redacted_url} cannot "
                "enqueue inside a Django transaction; use a SQL broker on the same database, or 'on_commit'"
            )
        with transaction.atomic(using=database):
            connection = connections[database]
            connection.ensure_connection()
            broker.enqueue_in(connection.connection, [envelope])

    def default_queues(self, configured: set[str]) -> list[str]:
        """The queues a worker serves by default: ``QUEUES`` if set, else every known task's."""
        if configured:
            return sorted(configured)
        names = {task.queue_name for task in registry.known(self.alias).values()} | {"default"}
        return sorted(names)


def option_path_enqueue(alias: str) -> str:
    """The path of the ``enqueue`` option, for messages."""
    return f"TASKS[{alias!r}]['OPTIONS']['enqueue']"


def bind(alias: str, params: Mapping[str, Any]) -> Binding:
    """The shared binding for an alias; a new one when its settings changed."""
    candidate_key = repr(sorted(params.items(), key=lambda item: str(item[0])))
    with _lock:
        current = _bindings.get(alias)
        if current is not None and current.params_key == candidate_key:
            return current
        created = Binding(alias, params)
        _bindings[alias] = created
        return created


def check_queue(name: str) -> str | None:
    """None if ``name`` is a valid queuekit queue name, else why not."""
    try:
        check_queue_name(name)
    except InvalidQueueName as exc:
        return str(exc)
    return None
