"""Who may act: the bearer token, the CSRF token, and where the dashboard listens.

Without a token the dashboard is read-only. With one, every action is a POST that carries
``Authorization: Bearer <token>`` and ``X-CSRF-Token: <csrf>`` (the CSRF token is in every
page and in ``GET /api/session``); a request whose ``Origin`` is another site is refused.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from queuekit.errors import ConfigurationError

ENV_TOKEN = "QUEUEKIT_DASHBOARD_TOKEN"
MIN_TOKEN = 16
_MAKE_ONE = "python -c \"import secrets; print(secrets.token_urlsafe(32))\" > secret.txt"


def load_token(token_file: str | None, environ: Mapping[str, str] = os.environ) -> str | None:
    """The token from ``--token-file``, else ``QUEUEKIT_DASHBOARD_TOKEN``, else None (read-only)."""
    if token_file:
        try:
            text = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(f"cannot read --token-file {token_file}: {exc.strerror}; "
                                     f"make one with: {_MAKE_ONE}") from None
        where = f"--token-file {token_file}"
    else:
        text = environ.get(ENV_TOKEN, "").strip()
        where = ENV_TOKEN
        if not text:
            return None
    if len(text) < MIN_TOKEN:
        raise ConfigurationError(f"the token in {where} has {len(text)} characters; use at least {MIN_TOKEN}, "
                                 f"e.g. {_MAKE_ONE}")
    return text


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, token: str | None) -> str | None:
    """The warning to print when the dashboard listens beyond this machine, else None."""
    if is_loopback(host):
        return None
    if token is None:
        return (f"warning: the dashboard listens on {host} without a token: anyone who can reach it reads every "
                "queue, job argument and error (it stays read-only); bind 127.0.0.1 or put it behind a proxy "
                "with authentication")
    return (f"warning: the dashboard listens on {host} over plain HTTP: the token crosses the network in clear; "
            "put it behind a TLS proxy")


class Guard:
    """Checks an action request; one instance per dashboard, its CSRF token made at start."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        self.csrf = secrets.token_urlsafe(32)

    @property
    def actions(self) -> bool:
        """True when a token is configured (actions are possible at all)."""
        return self.token is not None

    def refusal(self, headers: Mapping[str, str], origin_ok: bool) -> tuple[int, str] | None:
        """``(status, reason)`` when the request may not act, None when it may."""
        if self.token is None:
            return 403, f"the dashboard is read-only: start it with --token-file or {ENV_TOKEN} to allow actions"
        if not origin_ok:
            return 403, "refused: the request comes from another site (Origin does not match)"
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            return 401, "refused: this action needs the dashboard token (Authorization: Bearer <token>)"
        if not hmac.compare_digest(headers.get("x-csrf-token", "").encode(), self.csrf.encode()):
            return 403, "refused: missing or wrong CSRF token (X-CSRF-Token; GET /api/session gives it)"
        return None
