"""Broker URLs and options: what queuekit keeps, what goes to redis-py.

``redis://[user:password@]host[:port][/db]?prefix=app1&retries=3``,
``rediss://...`` for TLS and ``redis+unix:///path/to/redis.sock?db=0``.

queuekit's own options (URL query or keyword options; the URL wins):

* ``prefix`` (``queuekit``): the start of every key, so several apps share a server;
* ``retries`` (3) and ``retry_backoff`` (0.1 s): how often a producer call (enqueue,
  results) is retried after a lost connection, with doubling pauses and jitter,
  before :class:`~queuekit.errors.ConnectionLost` reaches the caller;
* ``max_block`` (5 s): the longest single server-side wait inside ``reserve``;
* ``cluster`` (false): the URL names one node of a Redis Cluster.

Everything else (``socket_timeout``, ``ssl_ca_certs``, ``max_connections``, ...) is a
redis-py connection option.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from queuekit.errors import ConfigurationError
from queuekit.urls import CREATE, check_options, redact

SCHEMES = ("redis", "rediss", "redis+unix")

_CLIENT_DEFAULTS: dict[str, Any] = {"socket_connect_timeout": 5.0, "socket_timeout": 10.0}
_TCP_DEFAULTS: dict[str, Any] = {"socket_keepalive": True}


@dataclass(frozen=True)
class RedisSettings:
    """queuekit's own options for one Redis broker."""

    prefix: str = "queuekit"
    retries: int = 3
    retry_backoff: float = 0.1
    max_block: float = 5.0
    cluster: bool = False

    def __post_init__(self) -> None:
        if self.retries < 0 or self.retry_backoff < 0 or self.max_block <= 0:
            raise ConfigurationError("redis options: retries and retry_backoff must be >= 0, max_block > 0")


_OWN = {f.name: f.type for f in fields(RedisSettings)}


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(value)


_PARSE: dict[str, Callable[[Any], Any]] = {
    "prefix": str, "retries": int, "retry_backoff": float, "max_block": float, "cluster": _flag,
}


def _coerce(name: str, value: Any) -> Any:
    try:
        return _PARSE[name](value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"redis option {name}={value!r} is not a valid {_OWN[name]}") from None


def split_options(url: str, options: Mapping[str, Any]) -> tuple[str, RedisSettings, dict[str, Any]]:
    """The redis-py URL, queuekit's settings, and the redis-py keyword options."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        raise ConfigurationError(f"{redact(url)!r} is not a redis://, rediss:// or redis+unix:// URL")
    if scheme.lower() == "redis+unix":
        url = "unix://" + rest
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    known = set(_PARSE) | client_option_names(scheme.lower())
    check_options([name for name, _ in query], known, where=f"{scheme.lower()}:// URLs")
    check_options(options, known | {CREATE}, where="the Redis broker's keyword options")
    options = {key: value for key, value in options.items() if key != CREATE}  # reads create nothing here
    own = {name: _coerce(name, value) for name, value in options.items() if name in _PARSE}
    own.update({name: _coerce(name, value) for name, value in query if name in _PARSE})
    kept = [(name, value) for name, value in query if name not in _PARSE]
    client_url = url.split("?", 1)[0] + (f"?{urlencode(kept)}" if kept else "")
    defaults = _CLIENT_DEFAULTS if client_url.startswith("unix://") else {**_CLIENT_DEFAULTS, **_TCP_DEFAULTS}
    client_options = {**defaults, **{k: v for k, v in options.items() if k not in _PARSE}}
    return client_url, RedisSettings(**own), client_options


def client_option_names(scheme: str) -> set[str]:
    """Every option redis-py takes for ``scheme``: its URL query names, pool and connection arguments."""
    kinds: list[type] = [redis.ConnectionPool, redis.connection.AbstractConnection]
    kinds.append({"rediss": redis.SSLConnection, "redis+unix": redis.UnixDomainSocketConnection}.get(
        scheme, redis.Connection))
    if scheme != "redis+unix":
        kinds.append(redis.RedisCluster)  # cluster=true: the cluster client's own arguments
    names = set(redis.connection.URL_QUERY_ARGUMENT_PARSERS)
    for kind in kinds:
        names.update(inspect.signature(kind).parameters)
    return names - {"self", "kwargs", "connection_kwargs", "connection_class", "host", "port", "path"}


def make_client(url: str, client_options: Mapping[str, Any]) -> redis.Redis:
    """A pooled redis-py client that never retries on its own (queuekit decides).

    Bad option names or values fail here, naming the option, rather than at first use.
    """
    try:
        pool = redis.ConnectionPool.from_url(url, retry=Retry(NoBackoff(), 0), **client_options)
        pool.connection_class(**pool.connection_kwargs)  # built, not connected: checks the options
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"invalid redis connection option for {redact(url)}: {exc}") from None
    return redis.Redis(connection_pool=pool)


def make_cluster_client(url: str, client_options: Mapping[str, Any]) -> redis.RedisCluster:
    """A cluster client from one node's URL; it connects to learn the slots (may raise)."""
    if url.startswith("unix://"):
        raise ConfigurationError(f"{redact(url)}: a Redis Cluster is reached over TCP, not a Unix socket")
    try:
        return redis.RedisCluster.from_url(url, **client_options)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"invalid redis cluster option for {redact(url)}: {exc}") from None


def socket_timeout(client_url: str, client_options: Mapping[str, Any]) -> float | None:
    """The read timeout redis-py will use (the URL's query wins over keyword options)."""
    query = dict(parse_qsl(urlsplit(client_url).query))
    value = query.get("socket_timeout", client_options.get("socket_timeout"))
    return None if value in (None, "", "None") else float(value)
