"""The ``queuekit`` command line: worker, status, dlq, enqueue, purge, backends.

Distributions add subcommands through the ``queuekit.commands`` entry-point group:
the entry point names a function ``register(subparsers)`` that adds one parser and
sets ``func`` (``args -> exit code``) as its default.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any

from queuekit import config
from queuekit.app import App
from queuekit.broker import Broker
from queuekit.errors import QueuekitError
from queuekit.registry import installed_schemes, open_broker
from queuekit.urls import redact
from queuekit.worker import OWN_PROCESS_SWITCH

log = logging.getLogger("queuekit.cli")


def load_app(spec: str, url: str | None = None) -> App:
    """Import ``module:attribute`` and return the App it names, bound to ``url`` if given."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise QueuekitError(f"app must be given as module:attribute, e.g. myapp.tasks:app (got {spec!r})")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    if url:
        os.environ[config.ENV_URL] = url  # an App() without explicit URL picks it up
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise QueuekitError(f"cannot import module {module_name!r}: {exc}") from None
    app = getattr(module, attribute, None)
    if not isinstance(app, App):
        raise QueuekitError(f"{spec} is not a queuekit App (got {type(app).__name__})")
    if url and app.url != url:
        app.use_url(url)
    return app


def _broker(args: argparse.Namespace) -> Broker:
    return open_broker(config.resolve_url(args.url))


# -- commands ------------------------------------------------------------------------------


def cmd_worker(args: argparse.Namespace) -> int:
    """Run a worker (or a supervisor of several worker processes)."""
    if args.processes > 1:
        from queuekit.supervisor import supervise

        return supervise(args.processes, _child_argv(args), burst=args.burst)
    app = load_app(args.app, args.url)
    queues = [q.strip() for q in args.queues.split(",") if q.strip()] if args.queues else None
    worker = app.worker(
        queues=queues, concurrency=args.concurrency, prefetch=args.prefetch, burst=args.burst,
        lease=args.lease, grace=args.grace, switch_interval=OWN_PROCESS_SWITCH,
    )
    try:
        return worker.run()
    finally:
        app.close()  # hands back anything a push-based broker prefetched but never gave out


def _child_argv(args: argparse.Namespace) -> list[str]:
    argv = [sys.executable, "-m", "queuekit", "--log-level", args.log_level, "worker", args.app,
            "--concurrency", str(args.concurrency), "--grace", str(args.grace), "--processes", "1"]
    for flag, value in (("--queues", args.queues), ("--url", args.url), ("--prefetch", args.prefetch),
                        ("--lease", args.lease)):
        if value is not None:
            argv += [flag, str(value)]
    return argv + (["--burst"] if args.burst else [])


def cmd_status(args: argparse.Namespace) -> int:
    """Print queue depths per state."""
    broker = _broker(args)
    try:
        stats = broker.stats()
    finally:
        broker.close()
    if args.json:
        print(json.dumps({q: s.__dict__ for q, s in stats.items()}, indent=2))
        return 0
    rows = [("queue", "ready", "delayed", "in flight", "dead")]
    rows += [(q, str(s.ready), str(s.delayed), str(s.in_flight), str(s.dead)) for q, s in stats.items()]
    print(f"broker: {redact(config.resolve_url(args.url))}")
    _print_table(rows)
    if not stats:
        print("(no queues yet)")
    return 0


def _print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in pairs]
        print("  ".join(cells))


def cmd_dlq(args: argparse.Namespace) -> int:
    """List, requeue or purge a queue's dead letters."""
    broker = _broker(args)
    try:
        if args.action == "list":
            letters = broker.dead_letters(args.queue, args.limit)
            for letter in letters:
                print(f"{letter.id}  attempts={letter.attempts}  reason={letter.reason[:200]}")
            print(f"{len(letters)} dead letter(s) in {args.queue}")
        elif args.action == "requeue":
            count = broker.requeue_dead(args.queue, args.ids or None)
            print(f"requeued {count} job(s) to {args.queue}")
        else:
            count = broker.purge_dead(args.queue)
            print(f"deleted {count} dead letter(s) from {args.queue}")
    finally:
        broker.close()
    return 0


def cmd_enqueue(args: argparse.Namespace) -> int:
    """Enqueue one job of a registered task from the shell."""
    app = load_app(args.app, args.url)
    task = app.get_task(args.task)
    call_args = _json_arg(args.args, list, "--args")
    call_kwargs = _json_arg(args.kwargs, dict, "--kwargs")
    options: dict[str, Any] = {"priority": args.priority, "queue": args.queue, "key": args.key}
    if args.delay:
        options["delay"] = args.delay
    job = task.enqueue(call_args, call_kwargs, **options)
    print(job.id)
    return 0


def _json_arg(text: str | None, kind: type, flag: str) -> Any:
    if text is None:
        return kind()
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise QueuekitError(f"{flag} is not valid JSON: {exc}") from None
    if not isinstance(value, kind):
        raise QueuekitError(f"{flag} must be a JSON {'array' if kind is list else 'object'}")
    return value


def cmd_purge(args: argparse.Namespace) -> int:
    """Delete a queue's ready and delayed jobs."""
    broker = _broker(args)
    try:
        print(f"deleted {broker.purge(args.queue)} job(s) from {args.queue}")
    finally:
        broker.close()
    return 0


def cmd_backends(args: argparse.Namespace) -> int:
    """List installed URL schemes."""
    for scheme in installed_schemes():
        print(f"{scheme}://")
    return 0


# -- parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, plugin subcommands included."""
    parser = argparse.ArgumentParser(prog="queuekit", description="Background jobs on the broker you choose.")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    url_help = "broker URL (default: QUEUEKIT_BROKER_URL, config file, then sqlite:///queuekit.db)"

    worker = sub.add_parser("worker", help="run tasks from the queues")
    worker.add_argument("app", help="the App to run, as module:attribute")
    worker.add_argument("--queues", help="comma-separated queue names (default: every queue of the app's tasks)")
    worker.add_argument("--concurrency", type=_positive_int, default=8, help="threads per process (default 8)")
    worker.add_argument("--prefetch", type=int, help="jobs reserved beyond concurrency (default: 3 x concurrency)")
    worker.add_argument("--processes", type=_positive_int, default=1, help="worker processes (default 1)")
    worker.add_argument("--burst", action="store_true", help="exit as soon as no job is ready")
    worker.add_argument("--lease", type=float, help="lease seconds (default: the app's, 30)")
    worker.add_argument("--grace", type=float, default=30.0, help="seconds to finish running jobs on stop")
    worker.add_argument("--url", help=url_help)
    worker.set_defaults(func=cmd_worker)

    status = sub.add_parser("status", help="queue depths: ready, delayed, in flight, dead")
    status.add_argument("--url", help=url_help)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_status)

    dlq = sub.add_parser("dlq", help="dead-letter queue: list, requeue or purge")
    dlq.add_argument("action", choices=["list", "requeue", "purge"])
    dlq.add_argument("queue")
    dlq.add_argument("--id", dest="ids", action="append", help="requeue only this job id (repeatable)")
    dlq.add_argument("--limit", type=_positive_int, default=100)
    dlq.add_argument("--url", help=url_help)
    dlq.set_defaults(func=cmd_dlq)

    enqueue = sub.add_parser("enqueue", help="enqueue one job of a registered task")
    enqueue.add_argument("app", help="the App, as module:attribute")
    enqueue.add_argument("task", help="task name (full, or short when unambiguous)")
    enqueue.add_argument("--args", help="JSON array of positional arguments")
    enqueue.add_argument("--kwargs", help="JSON object of keyword arguments")
    enqueue.add_argument("--queue", help="queue (default: the task's)")
    enqueue.add_argument("--priority", type=int, help="higher runs first (default: the task's)")
    enqueue.add_argument("--delay", type=float, help="seconds before the job is due")
    enqueue.add_argument("--key", help="dedup key: no second job while one with this key is pending")
    enqueue.add_argument("--url", help=url_help)
    enqueue.set_defaults(func=cmd_enqueue)

    purge = sub.add_parser("purge", help="delete a queue's ready and delayed jobs")
    purge.add_argument("queue")
    purge.add_argument("--url", help=url_help)
    purge.set_defaults(func=cmd_purge)

    backends = sub.add_parser("backends", help="list installed broker URL schemes")
    backends.set_defaults(func=cmd_backends)

    for point in entry_points(group="queuekit.commands"):
        try:
            point.load()(sub)
        except Exception as exc:  # a broken plugin must not break the core commands
            log.warning("cannot load command %r from %s: %s", point.name, point.value, exc)
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``queuekit`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"
    )
    try:
        code: int = args.func(args)
    except QueuekitError as exc:
        print(f"queuekit: error: {redact(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
