"""``queuekit metrics [APP] [--url URL] [--queues Q] [--host H] [--port P]``: queue depths for Prometheus, no worker.

Registered in the ``queuekit.commands`` entry-point group; prometheus_client is imported
only when the command runs, which names the pip command if it is missing.
"""

from __future__ import annotations

import argparse
import threading
from typing import Any

from queuekit.cli import _port, _positive_float, _queue_list, _target, open_for_reading
from queuekit.errors import ConfigurationError
from queuekit.worker import default_queues

INSTALL = 'pip install "queuekit[prometheus]"'


def register(subparsers: Any) -> None:
    """Add the ``metrics`` command."""
    parser = subparsers.add_parser("metrics", help="serve queue depths to Prometheus at /metrics (no worker needed)")
    parser.add_argument("app", nargs="?", help="the App (module:attribute) whose broker URL and queues to use")
    parser.add_argument("--url", help="broker URL (default: the app's, else QUEUEKIT_BROKER_URL, config file, "
                                      "then sqlite:///queuekit.db)")
    parser.add_argument("--queues", help="comma-separated queue names (default: the app's, else every queue "
                                         "the broker lists)")
    parser.add_argument("--host", default="0.0.0.0", help="interface to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=_port, default=9100, help="port (default 9100)")
    parser.add_argument("--every", type=_positive_float, default=5.0, help="seconds between two samples (default 5)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Sample and serve until interrupted; return the exit code."""
    try:
        from queuekit.contrib.prometheus import Sampler, metrics, serve
    except ImportError:
        raise ConfigurationError(f"queuekit metrics needs prometheus_client; install it with: {INSTALL}") from None
    url, app = _target(args)
    queues = _queue_list(args.queues) if args.queues else (default_queues(app) if app is not None else None)
    broker = open_for_reading(url)
    try:
        broker.stats(queues)  # an unreachable broker is one line now
        sampler = Sampler(metrics(), lambda: broker, queues, args.every)
        stop_serving = serve(args.port, args.host)
        sampler.start()
        try:
            threading.Event().wait()  # until SIGINT (exit 130) or SIGTERM
        finally:
            sampler.stop()
            stop_serving()
    finally:
        broker.close()
    return 0
