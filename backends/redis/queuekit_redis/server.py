"""The server as one client knows it: its fingerprint, read at first use and after a lost connection.

The first read logs the durability once; a later read with another run id means the
server restarted (see :mod:`queuekit_redis.epochs` for what that may have cost).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from queuekit.errors import ConnectionLost
from queuekit_redis.durability import Fingerprint
from queuekit_redis.errors import timed_out, translated

log = logging.getLogger("queuekit.redis")


class ServerWatch:
    """The server's :class:`Fingerprint`, kept current.

    ``probe`` reads it (redis-py errors); ``read_timeout`` is how long a silent server
    makes a read wait, so a second probe is not tried sooner than that.
    """

    def __init__(self, where: str, probe: Callable[[], Fingerprint], read_timeout: float) -> None:
        self.where = where
        self.current: Fingerprint | None = None
        self.suspect = False  # a command lost its connection: read the fingerprint again after the next success
        self._probe = probe
        self._read_timeout = read_timeout
        self._silent: tuple[float, str] | None = None  # when a probe timed out, and how
        self._lock = threading.Lock()

    def first(self) -> None:
        """Before the first command: read the fingerprint; a silent server raises :class:`ConnectionLost`."""
        if self.current is None:
            self.fingerprint(silent_raises=True)

    def lost(self, error: Exception) -> None:
        """A command failed with ``error``: after a lost connection the server may have restarted."""
        if isinstance(error, ConnectionLost):
            self.suspect = True

    def recheck(self) -> None:
        """A command succeeded after a lost connection: read the fingerprint again (a restart is logged)."""
        self.suspect = False
        self.fingerprint(refresh=True)

    def fingerprint(self, refresh: bool = False, *, silent_raises: bool = False) -> Fingerprint | None:
        """The server's persistence fingerprint; None while it cannot be reached.

        ``silent_raises``: a probe that times out raises :class:`ConnectionLost` instead
        (the server is silent, and the command that asked would only wait as long again).
        """
        if self.current is not None and not refresh:
            return self.current
        silent = self._silent
        if silent_raises and silent is not None and time.monotonic() - silent[0] < self._read_timeout:
            raise ConnectionLost(silent[1])  # it just stayed silent for a whole wait: not again at once
        try:
            with translated(self.where):
                found = self._probe()
        except ConnectionLost as exc:
            if timed_out(exc):
                self._silent = (time.monotonic(), str(exc))
                if silent_raises:
                    raise
            return None
        self._silent = None
        with self._lock:
            old, self.current = self.current, found
        if old is None:  # a worker says the durability once at its start; producers stay quiet
            log.debug("redis at %s: %s", self.where, found.describe())
            for warning, must_act in found.warnings():
                log.log(logging.WARNING if must_act else logging.DEBUG, "redis at %s: %s", self.where, warning)
        elif old.run_id != found.run_id:
            log.warning("redis at %s restarted (new run_id); %s", self.where, found.describe())
        return found
