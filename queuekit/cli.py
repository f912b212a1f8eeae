"""The ``queuekit`` command line: worker, status, job, cancel, schedules, dlq, enqueue, purge, backends.

Distributions add subcommands through the ``queuekit.commands`` entry-point group:
the entry point names a function ``register(subparsers)`` that adds one parser and
sets ``func`` (``args -> exit code``) as its default.

Exit status: 0 on success, 1 when the broker fails or the thing asked for does not
exist, 2 for a usage or configuration error. Every error is one line on stderr.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any

from queuekit import config, resets
from queuekit.app import App
from queuekit.broker import Broker, JobStatus, Outcome, QueueStats, ResultStore, StateReporter
from queuekit.cli_logging import LOG_FORMATS, configure_logging, log
from queuekit.errors import BrokerError, ConfigurationError, InvalidQueueName, QueuekitError
from queuekit.queues import check_queue_name
from queuekit.registry import installed_schemes, open_broker
from queuekit.urls import CREATE, redact
from queuekit.worker import OWN_PROCESS_SWITCH, default_queues


class Failed(QueuekitError):
    """The command ran but what it was asked for does not exist (exit 1)."""


def load_app(spec: str, url: str | None = None) -> App:
    """Import ``module:attribute`` and return the App it names, bound to ``url`` if given."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigurationError(f"app must be given as module:attribute, e.g. myapp.tasks:app (got {spec!r})")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    if url:
        os.environ[config.ENV_URL] = url  # an App() without explicit URL picks it up
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        where = f" (looked in {os.getcwd()} and the import path)" if exc.name == module_name.split(".")[0] else ""
        raise ConfigurationError(f"cannot import module {module_name!r}: {exc}{where}") from None
    except ImportError as exc:
        raise ConfigurationError(f"cannot import module {module_name!r}: {exc}") from None
    app = getattr(module, attribute, None)
    if not isinstance(app, App):
        apps = sorted(name for name, value in vars(module).items() if isinstance(value, App))
        found = f"module {module_name!r} has no attribute {attribute!r}" if app is None else (
            f"{spec} is a {type(app).__name__}, not a queuekit App")
        named = ", ".join(f"{module_name}:{name}" for name in apps) or "none"
        raise ConfigurationError(f"{found}; the Apps in {module_name}: {named}")
    if url and app.url != url:
        app.use_url(url)
    return app


def _queue_list(text: str) -> list[str]:
    """``--queues a,b``: each name checked by the one queue-name rule."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one queue name, e.g. --queues emails,default")
    try:
        return [check_queue_name(name) for name in names]
    except InvalidQueueName as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _target(args: argparse.Namespace) -> tuple[str, App | None]:
    """The broker URL a command reads (``--url``, else the app's, else the configured one) and the app."""
    app = load_app(args.app, args.url) if getattr(args, "app", None) else None
    return (app.url if app is not None else config.resolve_url(args.url)), app


def open_for_reading(url: str) -> Broker:
    """Open a broker for a command that only reads: it must not create a database, file or table."""
    return open_broker(url, **{CREATE: False})


# -- commands ------------------------------------------------------------------------------


def cmd_worker(args: argparse.Namespace) -> int:
    """Run a worker (or a supervisor of several worker processes)."""
    if args.processes > 1:
        from queuekit.supervisor import supervise

        if args.metrics_port is None:
            return supervise(args.processes, _child_argv(args), burst=args.burst)
        env, child_exited, stop_metrics = _metrics().serve_children(args.metrics_port)
        try:
            return supervise(args.processes, _child_argv(args), burst=args.burst, env=env, on_exit=child_exited)
        finally:
            stop_metrics()
    app = load_app(args.app, args.url)
    if args.metrics_port is not None:
        _metrics().instrument_worker(app, args.metrics_port)
    worker = app.worker(
        queues=args.queues, concurrency=args.concurrency, prefetch=args.prefetch, burst=args.burst,
        lease=args.lease, grace=args.grace, switch_interval=OWN_PROCESS_SWITCH, schedules=not args.no_schedules,
        on_state_loss=args.on_state_loss,
    )
    try:
        return worker.run()
    finally:
        app.close()  # hands back anything a push-based broker prefetched but never gave out


def _metrics() -> Any:
    """queuekit.contrib.prometheus, or a one-line error naming the extra that brings it."""
    try:
        from queuekit.contrib import prometheus
    except ImportError:
        raise ConfigurationError('--metrics-port needs prometheus_client: pip install "queuekit[prometheus]"') from None
    return prometheus


def _child_argv(args: argparse.Namespace) -> list[str]:
    argv = [sys.executable, "-m", "queuekit", "--log-level", args.log_level, "--log-format", args.log_format,
            "worker", args.app,
            "--concurrency", str(args.concurrency), "--grace", str(args.grace), "--processes", "1"]
    queues = ",".join(args.queues) if args.queues else None
    for flag, value in (("--queues", queues), ("--url", args.url), ("--prefetch", args.prefetch),
                        ("--lease", args.lease), ("--metrics-port", args.metrics_port)):
        if value is not None:
            argv += [flag, str(value)]
    argv += ["--on-state-loss", args.on_state_loss]
    return argv + (["--burst"] if args.burst else []) + (["--no-schedules"] if args.no_schedules else [])


def cmd_status(args: argparse.Namespace) -> int:
    """Print queue depths per state: the named queues, else the app's, else every queue the broker lists."""
    url, app = _target(args)
    named = args.queues or (default_queues(app) if app is not None else None)
    broker = open_for_reading(url)
    reader = App(broker=broker, url=url, results=app.results_url if app is not None else None)
    try:
        found = broker.stats(named)
        if args.ack_reset:
            print(f"acknowledged {resets.acknowledge(reader)} state reset record(s)")
        losses = resets.records(reader)
    finally:
        reader.close()
    stats = {name: found.get(name, QueueStats()) for name in named} if named else found
    lost = {loss.queue: loss for loss in losses}
    if args.json:
        print(json.dumps({q: {**s.__dict__, "state_reset": lost[q].__dict__ if q in lost else None}
                          for q, s in stats.items()}, indent=2))
        return 0
    print(f"broker: {redact(url)}")
    rows = [("queue", "ready", "delayed", "in flight", "dead")]
    rows += [(q, str(s.ready), str(s.delayed), str(s.in_flight), str(s.dead)) for q, s in stats.items()]
    _print_table(rows)
    for loss in losses:
        print(f"STATE RESET: {loss.describe()}: jobs accepted before it were lost; "
              "acknowledge with: queuekit status --ack-reset")
    if not stats:
        print("(no queues found; a broker that cannot list its queues shows them when named: "
              "queuekit status myapp.tasks:app, or --queues a,b)")
    return 0


def _print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in pairs]
        print("  ".join(cells))


def cmd_job(args: argparse.Namespace) -> int:
    """Show what the broker and the result store know of one job."""
    url, app = _target(args)
    results_url = app.results_url if app is not None else config.resolve_results_url(None)
    broker = open_for_reading(url)
    store = open_for_reading(results_url) if results_url else None
    try:
        results = store if store is not None else broker
        outcome = results.load_outcome(args.id) if isinstance(results, ResultStore) and (
            store is not None or broker.capabilities.results) else None
        state = broker.state(args.id) if broker.capabilities.job_state and isinstance(broker, StateReporter) else None
    finally:
        for thing in (store, broker):
            if thing is not None:
                thing.close()
    if outcome is None and state is None:
        if broker.capabilities.job_state or results_url or broker.capabilities.results:
            raise Failed(f"job {args.id}: unknown to {redact(url)} (never enqueued here, or its record "
                         "expired after the app's result_ttl)")
        raise Failed(f"job {args.id}: {redact(url)} cannot tell a job's state and no result store is "
                     "configured (set QUEUEKIT_RESULTS_URL or App(url, results=...))")
    _print_job(args.id, outcome, state, as_json=args.json)
    return 0


def _created_at(job_id: str) -> float | None:
    """The creation time queuekit's job ids carry in their first 12 hex digits (None for other ids)."""
    try:
        stamp = int(job_id[:12], 16) / 1000 if len(job_id) == 32 else None
    except ValueError:
        return None
    return stamp if stamp is not None and 1e9 < stamp < time.time() + 86400 else None


def _when(stamp: float | None) -> str | None:
    if not stamp:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) + f".{int(stamp % 1 * 1000):03d}"


def _print_job(job_id: str, outcome: Outcome | None, state: JobStatus | None, *, as_json: bool) -> None:
    status = outcome.status if outcome is not None else state
    assert status is not None
    fields: dict[str, Any] = {"id": job_id, "status": status.value, "created": _when(_created_at(job_id))}
    if outcome is not None and outcome.status.finished:  # not the enqueue record of a pending job
        fields.update(attempts=outcome.attempts, finished=_when(outcome.finished_at))
        if outcome.status is JobStatus.SUCCEEDED:
            fields["result"] = outcome.result
        else:
            fields.update(error=outcome.error, traceback=outcome.traceback)
    if as_json:
        print(json.dumps(fields, indent=2, default=str))
        return
    trace = fields.pop("traceback", None)
    for name, value in fields.items():
        if value is not None:
            print(f"{name + ':':<10}{json.dumps(value, default=str) if name == 'result' else value}")
    if trace:
        print("traceback:")
        print(trace.rstrip())


def cmd_cancel(args: argparse.Namespace) -> int:
    """Cancel a job: removed if it waits (where the broker can), else flagged for the worker."""
    app = load_app(args.app, args.url) if args.app else App(args.url)
    try:
        cancelled = app.job(args.id).cancel()
    finally:
        app.close()
    if not cancelled:
        raise Failed(f"job {args.id}: nothing to cancel (it already finished, or {app.redacted_url} does not know it)")
    print(f"cancelled {args.id}")
    return 0


def cmd_schedules(args: argparse.Namespace) -> int:
    """List the app's schedules with their next run and, from the shared state, their last run."""
    from queuekit.schedules import schedule_states

    app = load_app(args.app, args.url)
    try:
        states = schedule_states(app)
        where = app.state.where
    finally:
        app.close()
    if args.json:
        print(json.dumps([state.__dict__ for state in states], indent=2))
        return 0
    if not states:
        print(f"{args.app} declares no schedules (@app.periodic or app.schedule)")
        return 0
    rows = [("schedule", "when", "next run", "last run", "last job")]
    rows += [(s.name, s.spec, _when(s.next_run) or "", _when(s.last_run) or "never", s.last_job_id or "")
             for s in states]
    _print_table(rows)
    if where == "this process":
        print("(this broker keeps no shared state and the app has no result store that does: "
              "last runs are known only inside each worker)")
    return 0


def cmd_dlq(args: argparse.Namespace) -> int:
    """List, requeue or purge a queue's dead letters."""
    url, _ = _target(args)
    broker = open_for_reading(url) if args.action == "list" else open_broker(url)
    try:
        if args.action == "list":
            letters = broker.dead_letters(args.queue, args.limit)
            total = broker.stats([args.queue]).get(args.queue, QueueStats()).dead
            for letter in letters:
                print(f"{letter.id}  attempts={letter.attempts}  reason={letter.reason[:200]}")
            shown = f"{len(letters)} of {total}" if total > len(letters) else str(len(letters))
            print(f"{shown} dead letter(s) in {args.queue}")
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
    try:
        job = task.enqueue(call_args, call_kwargs, **options)
    finally:
        app.close()
    print(job.id)
    return 0


def _json_arg(text: str | None, kind: type, flag: str) -> Any:
    if text is None:
        return kind()
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"{flag} is not valid JSON: {exc}") from None
    if not isinstance(value, kind):
        raise ConfigurationError(f"{flag} must be a JSON {'array' if kind is list else 'object'}")
    return value


def cmd_purge(args: argparse.Namespace) -> int:
    """Delete a queue's ready and delayed jobs."""
    url, _ = _target(args)
    broker = open_broker(url)
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


_APP_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")  # module:attribute


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block) that name a close match for a mistyped choice."""

    def error(self, message: str) -> Any:
        if "invalid choice: " in message:
            wrong = message.split("invalid choice: ", 1)[1].split(" (choose from", 1)[0].strip("'")
            choices = message.rsplit("(choose from ", 1)[-1].rstrip(")").replace("'", "").split(", ")
            close = difflib.get_close_matches(wrong, choices, n=1)
            if close and "did you mean" not in message:
                message += f"; did you mean {close[0]!r}?"
        elif "unrecognized arguments: " in message:
            apps = [word for word in message.split("unrecognized arguments: ", 1)[1].split() if _APP_SPEC.match(word)]
            if apps:  # `queuekit dlq list emails myapp.tasks:app`, as status and job take it
                message += f"; dlq and purge take the app as an option: --app {apps[0]}"
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, plugin subcommands included."""
    parser = _Parser(prog="queuekit", description="Background jobs on the broker you choose.",
                     epilog="Exit status: 0 success, 1 broker failure or not found, 2 usage or configuration error.")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                        help="queuekit's log level (default info); other libraries log warnings only, "
                             "except with debug")
    parser.add_argument("--log-format", default="text", choices=LOG_FORMATS,
                        help="text (default) or json: one object per line with time, level, logger, message, "
                             "job_id, task, queue, attempt")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    url_help = "broker URL (default: the app's, else QUEUEKIT_BROKER_URL, config file, then sqlite:///queuekit.db)"
    app_help = "the App (module:attribute) whose broker URL and queues to use"

    worker = sub.add_parser("worker", help="run tasks from the queues")
    worker.add_argument("app", help="the App to run, as module:attribute")
    worker.add_argument("--queues", type=_queue_list,
                        help="comma-separated queue names (default: every queue the app's tasks use)")
    worker.add_argument("--concurrency", type=_positive_int, default=8, help="threads per process (default 8)")
    worker.add_argument("--prefetch", type=_positive_int,
                        help="jobs reserved beyond concurrency (default: adaptive, about 0.1 s of work at "
                             "the observed rate, at least 3 x concurrency, at most 1024)")
    worker.add_argument("--processes", type=_positive_int, default=1, help="worker processes (default 1)")
    worker.add_argument("--burst", action="store_true", help="exit as soon as no job is ready")
    worker.add_argument("--lease", type=_positive_float, help="lease seconds (default: the app's, 30)")
    worker.add_argument("--grace", type=_positive_float, default=30.0,
                        help="seconds to finish running jobs on stop (default 30)")
    worker.add_argument("--url", help="broker URL (default: the app's)")
    worker.add_argument("--on-state-loss", choices=["continue", "exit"], default="continue",
                        help="when the broker reports it lost accepted jobs (Redis restarted without persistence): "
                             "record it and go on (default), or also exit with status 3")
    worker.add_argument("--no-schedules", action="store_true",
                        help="do not run the app's periodic jobs in this worker (by default one worker leads them)")
    worker.add_argument("--metrics-port", type=_port, help="serve Prometheus metrics on this port at /metrics "
                        '(needs pip install "queuekit[prometheus]"; see docs/observability.md)')
    worker.set_defaults(func=cmd_worker)

    status = sub.add_parser("status", help="queue depths: ready, delayed, in flight, dead")
    status.add_argument("app", nargs="?", help=app_help + " (default: every queue the broker can list)")
    status.add_argument("--queues", type=_queue_list, help="comma-separated queue names to show")
    status.add_argument("--url", help=url_help)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--ack-reset", action="store_true",
                        help="acknowledge (delete) the state reset records, once someone has dealt with the loss")
    status.set_defaults(func=cmd_status)

    job = sub.add_parser("job", help="one job: status, attempts, times, result or error and traceback")
    job.add_argument("id", help="the job id, as enqueue printed it")
    job.add_argument("app", nargs="?", help=app_help + " (and its result store)")
    job.add_argument("--url", help=url_help)
    job.add_argument("--json", action="store_true", help="machine-readable output")
    job.set_defaults(func=cmd_job)

    cancel = sub.add_parser("cancel", help="cancel a job: a waiting one never runs, a running one is told")
    cancel.add_argument("id", help="the job id, as enqueue printed it")
    cancel.add_argument("app", nargs="?", help=app_help + " (and its result store)")
    cancel.add_argument("--url", help=url_help)
    cancel.set_defaults(func=cmd_cancel)

    schedules = sub.add_parser("schedules", help="the app's periodic jobs: next run, last run, last job id")
    schedules.add_argument("app", help="the App, as module:attribute")
    schedules.add_argument("--url", help="broker URL (default: the app's)")
    schedules.add_argument("--json", action="store_true", help="machine-readable output")
    schedules.set_defaults(func=cmd_schedules)

    dlq = sub.add_parser("dlq", help="dead-letter queue: list, requeue or purge")
    dlq.add_argument("action", choices=["list", "requeue", "purge"])
    dlq.add_argument("queue", type=_queue_name)
    dlq.add_argument("--id", dest="ids", action="append", help="requeue only this job id (repeatable)")
    dlq.add_argument("--limit", type=_positive_int, default=100, help="list at most this many (default 100)")
    dlq.add_argument("--app", help=app_help)
    dlq.add_argument("--url", help=url_help)
    dlq.set_defaults(func=cmd_dlq)

    enqueue = sub.add_parser("enqueue", help="enqueue one job of a registered task")
    enqueue.add_argument("app", help="the App, as module:attribute")
    enqueue.add_argument("task", help="task name (full, or short when unambiguous)")
    enqueue.add_argument("--args", help="JSON array of positional arguments")
    enqueue.add_argument("--kwargs", help="JSON object of keyword arguments")
    enqueue.add_argument("--queue", type=_queue_name, help="queue (default: the task's)")
    enqueue.add_argument("--priority", type=int, help="higher runs first (default: the task's)")
    enqueue.add_argument("--delay", type=float, help="seconds before the job is due")
    enqueue.add_argument("--key", help="dedup key: no second job while one with this key is pending")
    enqueue.add_argument("--url", help="broker URL (default: the app's)")
    enqueue.set_defaults(func=cmd_enqueue)

    purge = sub.add_parser("purge", help="delete a queue's ready and delayed jobs")
    purge.add_argument("queue", type=_queue_name)
    purge.add_argument("--app", help=app_help)
    purge.add_argument("--url", help=url_help)
    purge.set_defaults(func=cmd_purge)

    backends = sub.add_parser("backends", help="list installed broker URL schemes")
    backends.set_defaults(func=cmd_backends)

    for point in entry_points(group="queuekit.commands"):
        if point.name in sub.choices:  # the same command seen twice (a stale install's metadata)
            continue
        try:
            point.load()(sub)
        except Exception as exc:  # a broken plugin must not break the core commands
            log.warning("cannot load command %r from %s: %s", point.name, point.value, exc)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535, got {text!r}")
    return int(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def _queue_name(text: str) -> str:
    try:
        return check_queue_name(text)
    except InvalidQueueName as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def exit_code(exc: QueuekitError) -> int:
    """1 when the broker failed or the thing asked for does not exist; 2 for usage or configuration."""
    if isinstance(exc, (ConfigurationError, InvalidQueueName)):
        return 2
    return 1 if isinstance(exc, (BrokerError, Failed)) else 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``queuekit`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    try:
        code: int = args.func(args)
    except QueuekitError as exc:
        print(f"queuekit: error: {redact(str(exc))}", file=sys.stderr)
        return exit_code(exc)
    except KeyboardInterrupt:
        return 130
    return code
