"""Broker URLs: scheme lookup, option checks and credential redaction.

Every log line, error message, ``repr`` and CLI banner that shows a URL passes it
through :func:`redact` first.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

from queuekit.errors import UnknownOption

_SECRET_PARAMS = re.compile(r"(?i)((?:^|[?&;\s])(?:password|passwd|pwd|secret|token|sentinel_password)=)[^&;\s]*")
# The userinfo's password, also in a URL whose "://" is mistyped (amqp//user:pw@host).
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*:?/*[^:/@\s]*):[^@/\s]*@")
_DSN_PASSWORD = re.compile(r"(?i)(\bpassword\s*=\s*)('[^']*'|\S+)")

MASK = "***"

# The keyword option every backend accepts: ``create=False`` opens only what already exists,
# for commands that only read (they must not create a database, a file or a table). A
# backend whose reads create nothing accepts it and has nothing to do.
CREATE = "create"


_NEAR_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)(?::/?|//)([^/:].*)$")  # redis:/h, redis:h, amqp//h


def scheme_of(url: str) -> str:
    """The URL's scheme in lower case, e.g. ``redis`` or ``kombu+sqs``."""
    head, sep, _ = url.partition("://")
    if not sep or not head:
        raise ValueError(f"{redact(url)!r} is not a URL of the form scheme://...")
    return head.lower()


def near_url(text: str) -> str | None:
    """What a URL with a mistyped separator (``redis:/host``, ``amqp//host``) meant, else None."""
    near = _NEAR_URL.match(text) if "://" not in text else None
    return f"{near.group(1)}://{near.group(2)}" if near else None


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (userinfo, query and DSN forms)."""
    text = _USERINFO.sub(lambda m: f"{m.group(1)}:{MASK}@", url)
    text = _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}{MASK}", text)
    if "://" not in text:
        text = _DSN_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return text


def query_options(url: str) -> dict[str, str]:
    """The URL's query parameters as a plain mapping (last one wins)."""
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def check_options(given: Iterable[str], known: Iterable[str], *, where: str) -> None:
    """Raise :class:`UnknownOption` for the first name in ``given`` that is not ``known``.

    Every backend calls this before it connects, for its URL query and its keyword
    options, with every name it (or its driver) accepts. The message is one line: the
    unknown name, the closest known one if any, then every known name.
    """
    allowed = set(known)
    for name in given:
        if name in allowed:
            continue
        ordered = sorted(allowed)
        close = difflib.get_close_matches(name, ordered, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        listing = ", ".join(close + [k for k in ordered if k not in close]) or "none"
        raise UnknownOption(f"unknown option {name[:60]!r} for {where}{hint}; known options: {listing}")
