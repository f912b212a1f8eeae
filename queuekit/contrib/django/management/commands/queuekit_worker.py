"""``manage.py queuekit_worker``: run the Django project's tasks from the broker."""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from queuekit.contrib.django import registry
from queuekit.contrib.django.checks import reachability
from queuekit.contrib.django.management.commands._common import add_backend_argument, queuekit_backend
from queuekit.worker import OWN_PROCESS_SWITCH

_LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG, 3: logging.DEBUG}


class Command(BaseCommand):
    """Reserve, run and acknowledge jobs until stopped (SIGTERM/SIGINT), or until idle with ``--burst``."""

    help = "Run queuekit workers for this project's Django tasks."

    def add_arguments(self, parser: CommandParser) -> None:
        """The worker's options."""
        add_backend_argument(parser)
        parser.add_argument("--queues", action="append",
                            help="queue names, comma-separated or repeated (default: the backend's QUEUES)")
        parser.add_argument("--concurrency", type=int, default=4, help="worker threads (default 4)")
        parser.add_argument("--prefetch", type=int, help="jobs reserved beyond concurrency (default: = concurrency)")
        parser.add_argument("--burst", action="store_true", help="exit as soon as no job is ready")
        parser.add_argument("--lease", type=float, help="lease seconds (default: OPTIONS['lease'], 30)")
        parser.add_argument("--grace", type=float, default=30.0, help="seconds to finish running jobs on stop")

    def handle(self, *args: Any, **options: Any) -> None:
        """Start the worker in this process; exit with its exit code."""
        if options["concurrency"] < 1:
            raise CommandError(f"--concurrency must be at least 1, got {options['concurrency']}")
        self._configure_logging(options["verbosity"])
        backend = queuekit_backend(options["backend"])
        app = backend.binding.app  # every known task registered on it
        problem = reachability(backend)
        if problem:
            raise CommandError(problem)
        queues = _queues(options["queues"]) or backend.binding.default_queues(backend.queues)
        self.stdout.write(
            f"queuekit worker for TASKS[{backend.alias!r}] on {app.redacted_url}: "
            f"queues {', '.join(queues)}; {len(registry.known(backend.alias))} task(s)"
        )
        connections.close_all()  # the worker threads open their own connections
        worker = app.worker(
            queues=queues, concurrency=options["concurrency"], prefetch=options["prefetch"],
            burst=options["burst"], lease=options["lease"], grace=options["grace"],
            switch_interval=OWN_PROCESS_SWITCH,
        )
        code = worker.run()
        counts = ", ".join(f"{name} {count}" for name, count in sorted(worker.counts.items())) or "nothing run"
        self.stdout.write(f"queuekit worker stopped: {counts}")
        if code:
            sys.exit(code)

    def _configure_logging(self, verbosity: int) -> None:
        logger = logging.getLogger("queuekit")
        if not logger.handlers and not logging.getLogger().handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"))
            logger.addHandler(handler)
        logger.setLevel(_LEVELS.get(verbosity, logging.INFO))


def _queues(values: list[str] | None) -> list[str]:
    names: list[str] = []
    for value in values or []:
        names += [name.strip() for name in value.split(",") if name.strip()]
    return list(dict.fromkeys(names))
