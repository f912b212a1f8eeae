"""``manage.py queuekit_status``: queue depths of a queuekit ``TASKS`` entry."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from queuekit.contrib.django import registry
from queuekit.contrib.django.checks import scrub
from queuekit.contrib.django.management.commands._common import add_backend_argument, queuekit_backend
from queuekit.errors import QueuekitError


class Command(BaseCommand):
    """Print ready, delayed, in-flight and dead counts per queue."""

    help = "Show queue depths (ready, delayed, in flight, dead) of a queuekit TASKS entry."

    def add_arguments(self, parser: CommandParser) -> None:
        """``--backend`` and ``--json``."""
        add_backend_argument(parser)
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args: Any, **options: Any) -> None:
        """Ask the broker for the depths of the backend's queues and any others it knows."""
        backend = queuekit_backend(options["backend"])
        app = backend.binding.app
        wanted = backend.binding.default_queues(backend.queues)
        try:
            stats = app.broker.stats(None)
            stats.update({name: depth for name, depth in app.broker.stats(wanted).items() if name not in stats})
        except QueuekitError as exc:
            raise CommandError(f"broker {app.redacted_url} did not answer: {scrub(str(exc), app.url)}") from None
        if options["json"]:
            self.stdout.write(json.dumps({name: vars(depth) for name, depth in sorted(stats.items())}, indent=2))
            return
        self.stdout.write(f"broker: {app.redacted_url} (TASKS[{backend.alias!r}])")
        rows = [("queue", "ready", "delayed", "in flight", "dead")]
        for name, depth in sorted(stats.items()):
            rows.append((name, str(depth.ready), str(depth.delayed), str(depth.in_flight), str(depth.dead)))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        for row in rows:
            cells = [row[0].ljust(widths[0])]
            cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
            self.stdout.write("  ".join(cells))
        self.stdout.write(f"{len(registry.known(backend.alias))} task(s) known: "
                          + (", ".join(sorted(registry.known(backend.alias))) or "none"))
