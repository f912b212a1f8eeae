"""``queuekit dashboard [APP] [--url URL] [--host H] [--port P] [--token-file F]``.

Registered in the ``queuekit.commands`` entry-point group. Nothing third-party is imported
until the command runs, so ``queuekit --help`` works without the ``dashboard`` extra, and
the command itself then names the pip command that installs it.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

from queuekit import config
from queuekit.app import App
from queuekit.errors import ConfigurationError
from queuekit.urls import CREATE

INSTALL = 'pip install "queuekit[dashboard]"'


def register(subparsers: Any) -> None:
    """Add the ``dashboard`` command."""
    parser = subparsers.add_parser("dashboard", help="web UI: queues, rates, dead letters, jobs, workers")
    parser.add_argument("app", nargs="?", help="the App (module:attribute) whose broker, result store and queues "
                                               "to show")
    parser.add_argument("--url", help="broker URL (default: the app's, else QUEUEKIT_BROKER_URL, config file, "
                                      "then sqlite:///queuekit.db)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1: this "
                                                            "machine only)")
    parser.add_argument("--port", type=_port, default=8080, help="port (default 8080; 0 picks a free one)")
    parser.add_argument("--token-file", help="file holding the token that allows actions (requeue, purge, cancel); "
                                             "default QUEUEKIT_DASHBOARD_TOKEN; without either it is read-only")
    parser.set_defaults(func=run)


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    """Serve the dashboard until interrupted; return the exit code."""
    from queuekit.contrib.dashboard.security import exposure_warning, load_token

    token = load_token(args.token_file)
    try:
        from queuekit.contrib.dashboard.server import listen, serve
        from queuekit.contrib.dashboard.web import create_app
    except ImportError as exc:
        missing = (exc.name or "its extra").split(".")[0]
        raise ConfigurationError(f"queuekit dashboard needs {missing}; install it with: "
                                 f"{INSTALL}") from None
    app = _open(args)
    app.broker.stats(None)  # an unreachable broker is one line now, not an error page later
    sock = listen(args.host, args.port)
    warning = exposure_warning(args.host, token)
    if warning:
        print(f"queuekit dashboard: {warning}", file=sys.stderr)
    host = f"[{args.host}]" if ":" in args.host else args.host
    mode = "actions need the token" if token else "read-only (no token)"
    print(f"queuekit dashboard: http://{host}:{sock.getsockname()[1]}/ for {app.redacted_url}, {mode}; "
          "Ctrl-C stops it", flush=True)
    # uvicorn shuts down cleanly on Ctrl-C, then re-raises it: the normal way to stop, not an error.
    with contextlib.suppress(KeyboardInterrupt):
        serve(create_app(app, token=token), sock)
    print("queuekit dashboard: stopped", flush=True)
    return 0


def _open(args: argparse.Namespace) -> App:
    """The App named on the command line, or one on the URL (opened without creating anything)."""
    if args.app:
        from queuekit.cli import load_app

        return load_app(args.app, args.url)
    return App(config.resolve_url(args.url), broker_options={CREATE: False})
