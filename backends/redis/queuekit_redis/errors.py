"""Redis errors translated into queuekit's error family."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

from queuekit.errors import BrokerError, ConnectionLost

NETWORK_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


def translate(exc: BaseException, where: str) -> BrokerError:
    """The queuekit error for a redis-py (or socket) error; ``where`` names the server, redacted.

    Lost or refused connections, timeouts and a server still loading its data become
    :class:`ConnectionLost` (the operation may or may not have happened); everything
    else the server refuses becomes :class:`BrokerError`.
    """
    if isinstance(exc, redis.AuthenticationError):
        return BrokerError(f"redis at {where} refused the credentials: {exc}; check the URL's user and password")
    if timed_out(exc):
        return ConnectionLost(
            f"redis at {where} did not answer: {exc} (the URL options socket_connect_timeout and "
            f"socket_timeout bound each wait)"
        )
    if isinstance(exc, NETWORK_ERRORS):
        return ConnectionLost(f"lost the connection to redis at {where}: {exc}")
    if isinstance(exc, redis.ResponseError):
        return BrokerError(f"redis at {where} refused a queuekit command: {exc}")
    return BrokerError(f"redis at {where} failed: {exc}")


def timed_out(exc: BaseException | None) -> bool:
    """True when ``exc`` (or the error it was translated from) is a wait that ran out: the
    server is there but silent, so an immediate retry would only wait as long again."""
    while exc is not None:
        if isinstance(exc, (redis.TimeoutError, TimeoutError)):
            return True
        exc = exc.__cause__
    return False


@contextmanager
def translated(where: str) -> Iterator[None]:
    """Re-raise redis-py errors inside the block as queuekit errors (see :func:`translate`)."""
    try:
        yield
    except (redis.RedisError, OSError) as exc:
        raise translate(exc, where) from exc
