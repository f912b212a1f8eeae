"""A TCP forwarder of the test's own in front of a shared server, to cut connections at will.

The shared servers are never stopped; a test that needs "the server went away" points the
broker at this proxy and closes it instead (:meth:`Proxy.cut`), resets the connections
that are open and lets new ones through (:meth:`Proxy.reset`, a network blip), or stops
forwarding bytes while every connection stays open (:meth:`Proxy.freeze`, a silent peer).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from types import TracebackType


class Proxy:
    """Forwards 127.0.0.1:<port> to ``target``; :meth:`cut` closes every connection and the listener."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        self._flowing = threading.Event()
        self._flowing.set()
        threading.Thread(target=self._accept, name="test-proxy", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed
            try:
                server = socket.create_connection(self.target, timeout=10)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._closed:
                    client.close()
                    server.close()
                    return
                self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def cut(self) -> None:
        """Close the listener and every forwarded connection: the server looks gone."""
        with self._lock:
            self._closed = True
            sockets, self._sockets = self._sockets, []
        self._flowing.set()
        self._listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    @property
    def connections(self) -> int:
        """Connections forwarded now."""
        with self._lock:
            return len(self._sockets) // 2

    def reset(self) -> int:
        """Reset every forwarded connection (both ends see a RST), keep accepting; return how many."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:  # linger 0 first: a close sends RST, not FIN
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RD)  # wakes the pump blocked in recv, sends nothing
            sock.close()
        return len(sockets) // 2

    def freeze(self) -> None:
        """Stop forwarding bytes; connections stay open and silent until :meth:`thaw`."""
        self._flowing.clear()

    def thaw(self) -> None:
        """Forward bytes again."""
        self._flowing.set()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self._flowing.wait()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.cut()

