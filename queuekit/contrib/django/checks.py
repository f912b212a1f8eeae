"""System checks for ``TASKS`` entries that use :class:`QueuekitBackend`.

``manage.py check`` runs :func:`backend_checks` for every such entry (Django calls the
backend's ``check()``). The broker is contacted only by the deployment check
(``manage.py check --deploy``) and by ``queuekit_worker`` at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from django.conf import settings as django_settings
from django.core import checks
from django.utils.module_loading import import_string

from queuekit.contrib.django import registry
from queuekit.contrib.django.binding import check_queue, option_path_enqueue
from queuekit.contrib.django.settings import EnqueueMode
from queuekit.errors import QueuekitError
from queuekit.urls import redact

if TYPE_CHECKING:
    from queuekit.contrib.django.backend import QueuekitBackend


def backend_checks(backend: QueuekitBackend) -> list[checks.CheckMessage]:
    """Every configuration problem of one backend, without contacting the broker."""
    binding = backend.binding
    where = f"TASKS[{backend.alias!r}]"
    if binding.error is not None:
        return [checks.Error(binding.error, obj=where, id="queuekit.E001")]
    found: list[checks.CheckMessage] = []
    for queue in sorted(backend.queues):
        problem = check_queue(queue)
        if problem:
            found.append(checks.Error(f"{where}['QUEUES']: {problem}", obj=where, id="queuekit.E002"))
    found += _capability_checks(backend)
    found += _task_checks(backend)
    return found


def _capability_checks(backend: QueuekitBackend) -> list[checks.CheckMessage]:
    binding = backend.binding
    settings, app = binding.require()
    where = f"TASKS[{backend.alias!r}]"
    try:
        caps = app.broker.capabilities
        store = app.results
    except QueuekitError as exc:
        detail = scrub(str(exc), app.url)
        return [checks.Error(f"{settings.path('url')}: cannot open {app.redacted_url}: {detail}", obj=where,
                             id="queuekit.E003")]
    found: list[checks.CheckMessage] = []
    if not caps.cross_process:
        found.append(checks.Warning(
            f"{settings.path('url')} = {app.redacted_url!r} keeps jobs inside this process; "
            "a `manage.py queuekit_worker` process will never see them",
            hint="use it for tests with an in-process worker only; use sqlite://, redis:// or postgresql:// otherwise",
            obj=where, id="queuekit.W001"))
    if store is None:
        found.append(checks.Warning(
            f"{app.redacted_url} keeps no results, so get_result() and TaskResult.refresh() are unavailable",
            hint=f"set {settings.path('results')} to a result store URL", obj=where, id="queuekit.W002"))
    if settings.enqueue is EnqueueMode.IN_TRANSACTION:
        found += _transaction_checks(backend.alias, app.url, caps.transactional_enqueue, settings.database)
    return found


def _transaction_checks(alias: str, url: str, transactional: bool, database: str) -> list[checks.CheckMessage]:
    where = f"TASKS[{alias!r}]"
    path = option_path_enqueue(alias)
    if not transactional:
        return [checks.Error(
            f"{path} is 'in_transaction' but {redact(url)} cannot enqueue inside a Django transaction",
            hint="use a SQL broker URL on the same database as DATABASES, or 'on_commit'", obj=where,
            id="queuekit.E004")]
    if database not in django_settings.DATABASES:
        return [checks.Error(f"TASKS[{alias!r}]['OPTIONS']['database'] names no entry of DATABASES: {database!r}",
                             obj=where, id="queuekit.E005")]
    if not same_database(url, django_settings.DATABASES[database]):
        return [checks.Error(
            f"{path} is 'in_transaction' but the broker {redact(url)} is not the database "
            f"DATABASES[{database!r}]; jobs written in Django's transaction would never reach the worker",
            hint="point the broker URL at the same database, or use 'on_commit'", obj=where, id="queuekit.E006")]
    return []


def same_database(url: str, database: dict[str, Any]) -> bool:
    """Whether a broker URL names the database of a ``DATABASES`` entry (engine, host, port, name)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0].lower()
    engine = str(database.get("ENGINE", ""))
    if scheme == "sqlite":
        name = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        return "sqlite" in engine and _same_file(name, str(database.get("NAME", "")))
    kinds = {"postgresql": "postgresql", "postgres": "postgresql", "mysql": "mysql", "mariadb": "mysql"}
    if kinds.get(scheme) is None or kinds[scheme] not in engine:
        return False
    host = (parts.hostname or "localhost").replace("127.0.0.1", "localhost")
    other = (str(database.get("HOST") or "localhost")).replace("127.0.0.1", "localhost")
    port = parts.port or (5432 if kinds[scheme] == "postgresql" else 3306)
    other_port = int(database.get("PORT") or port)
    return (host, port, unquote(parts.path.lstrip("/"))) == (other, other_port, str(database.get("NAME", "")))


def _same_file(left: str, right: str) -> bool:
    if not left or not right or ":memory:" in (left, right):
        return False
    return Path(left).resolve() == Path(right).resolve()


def _task_checks(backend: QueuekitBackend) -> list[checks.CheckMessage]:
    """Each known task must be reachable at its module path, or no worker can run it."""
    found: list[checks.CheckMessage] = []
    for path, task in sorted(registry.known(backend.alias).items()):
        try:
            target = import_string(path)
        except ImportError:
            target = None
        if getattr(target, "func", target) is not task.func:
            found.append(checks.Error(
                f"task {path} cannot be found at its module path, so a worker cannot run it",
                hint="define tasks at module level in an importable module (not __main__, not nested)",
                obj=path, id="queuekit.E007"))
    return found


def probe_brokers(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> Iterable[checks.CheckMessage]:
    """Deployment check: every queuekit broker answers a stats call."""
    from queuekit.contrib.django.backend import QueuekitBackend
    from queuekit.contrib.django.compat import task_backends

    found: list[checks.CheckMessage] = []
    for backend in task_backends.all():
        if not isinstance(backend, QueuekitBackend) or backend.binding.error is not None:
            continue
        problem = reachability(backend)
        if problem:
            found.append(checks.Error(problem, obj=f"TASKS[{backend.alias!r}]", id="queuekit.E008"))
    return found


def reachability(backend: QueuekitBackend) -> str | None:
    """None if the broker answers, else a message naming the setting and the redacted URL."""
    settings, app = backend.binding.require()
    try:
        app.broker.stats(sorted(backend.queues) or ["default"])
    except Exception as exc:  # any failure to answer is the finding
        detail = scrub(f"{type(exc).__name__}: {exc}", app.url)
        return f"{settings.path('url')}: broker {app.redacted_url} is unreachable: {detail}"
    return None


def scrub(text: str, url: str) -> str:
    """``text`` with the URL's password masked wherever it appears (driver errors may echo it)."""
    password = urlsplit(url).password
    if password:
        text = text.replace(password, "***").replace(unquote(password), "***")
    return redact(text)


def register() -> None:
    """Register the deployment check (once)."""
    checks.register(probe_brokers, "queuekit", deploy=True)
