"""Redis errors translated into queuekit's error family."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

from queuekit.errors import BrokerError, ConnectionLost


@contextmanager
def translated(where: str) -> Iterator[None]:
    """Re-raise redis-py errors as queuekit errors; ``where`` names the server (redacted).

    Lost or refused connections, timeouts and a server still loading its data become
    :class:`ConnectionLost` (the operation may or may not have happened); everything
    else the server refuses becomes :class:`BrokerError`.
    """
    try:
        yield
    except redis.AuthenticationError as exc:
        raise BrokerError(
            f"redis at {where} refused the credentials: {exc}; check the URL's user and password"
        ) from None
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise ConnectionLost(f"lost the connection to redis at {where}: {exc}") from exc
    except redis.ResponseError as exc:
        raise BrokerError(f"redis at {where} refused a queuekit command: {exc}") from exc
    except redis.RedisError as exc:
        raise BrokerError(f"redis at {where} failed: {exc}") from exc
