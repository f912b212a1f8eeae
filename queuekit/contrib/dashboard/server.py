"""Serving the dashboard with uvicorn: from the command line, or in a thread (tests, embedding)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

from queuekit.errors import ConfigurationError


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free one); a one-line error when it cannot be had."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; check --host") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
                                 "choose another --port or --host") from None
    return sock


def server(asgi: ASGIApp) -> uvicorn.Server:
    """A uvicorn server for the dashboard: its own log lines at warning and above, no access log."""
    return uvicorn.Server(uvicorn.Config(asgi, log_level="warning", access_log=False, lifespan="on"))


def serve(asgi: ASGIApp, sock: socket.socket) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM)."""
    server(asgi).run(sockets=[sock])


class Running:
    """The dashboard served on a free loopback port in a thread; ``with Running(asgi) as r: r.url``."""

    def __init__(self, asgi: ASGIApp, host: str = "127.0.0.1") -> None:
        self._sock = listen(host, 0)
        port = self._sock.getsockname()[1]
        self.url = f"http://{host}:{port}"
        self._server = server(asgi)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="queuekit-dashboard", daemon=True)

    def start(self, timeout: float = 30.0) -> Running:
        """Start serving and wait until the server accepts requests (at most ``timeout`` seconds)."""
        self._thread.start()
        pause, deadline = threading.Event(), time.monotonic() + timeout
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            pause.wait(0.01)
        if not self._server.started:
            self.stop()
            raise RuntimeError(f"the dashboard server did not start within {timeout:g} s (see the log above)")
        return self

    def stop(self) -> None:
        """Ask the server to finish and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()

    def __enter__(self) -> Running:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
