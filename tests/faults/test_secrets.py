"""Research plan 5.14: a password in the broker URL, and the signing secret, never reach
logs, error messages or reprs.

Each backend gets a URL with a sentinel password it really accepts (see
:mod:`tests.faults.credentials`; SQLite URLs hold no credentials, so there only the
signing secret is a sentinel). A worker runs good, raising and malformed jobs at
debug log level; the CLI reports status on the good URL, on a closed port and (where
the server checks passwords) with a wrong password; the in-process reprs and
exception strings are collected too. No sentinel may appear in any of it.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from queuekit import App
from queuekit.broker import Envelope, QueueStats
from queuekit.message import new_id
from tests.faults.credentials import closed_port, in_query, replace_userinfo, sentinel, with_password, with_port
from tests.faults.rig import ROOT, Rig
from tests.faults.targets import Target
from tests.support import wait_until

CHECKS_PASSWORDS = ("mariadb", "rabbitmq")  # servers that refuse a wrong password
QUERY_FORM = ("postgresql", "redis")  # drivers that take ``?password=`` too


def _fail_fast(url: str, kind: str) -> str:
    """RabbitMQ retries a refused connection for ``connect_timeout`` (10 s): give up after 1 s."""
    return f"{url}{'&' if '?' in url else '?'}connect_timeout=1" if kind == "rabbitmq" else url


@pytest.fixture
def password(target: Target) -> Iterator[tuple[str, str | None]]:
    """A sentinel password and the target's URL using it (None for SQLite)."""
    word = sentinel()
    made = with_password(target, word)
    if made is None:
        yield word, None
        return
    url, undo = made
    yield word, url
    undo()


def _cli(rig: Rig, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "queuekit", "--log-level", "debug", *args], cwd=ROOT,
                          env=rig.env, capture_output=True, text=True, timeout=120)


def _failure(url: str, queue: str) -> list[str]:
    """What opening ``url`` in process and asking for a queue's stats raises, as str and repr."""
    app = App(url)
    try:
        app.broker.stats([queue])
    except Exception as exc:
        return [str(exc), repr(exc), repr(app)]
    finally:
        app.close()
    raise AssertionError("a broker that cannot connect must raise")


def _run_worker(rig: Rig, url: str) -> str:
    """A worker at debug level on good, raising and malformed jobs; its whole output."""
    worker = rig.worker("--concurrency", "2", url=url, log_level="debug")
    rig.enqueue([*(rig.message("faults.work", f"good{n}") for n in range(3)), rig.message("faults.explode", "boom")])
    rig.app.broker.enqueue([Envelope(new_id(), rig.queue, b"\xff not UTF-8")])
    done = {"good0", "good1", "good2"}
    wait_until(lambda: done <= set(rig.ledger().done_counts()) and rig.stats() == QueueStats(dead=2), 60,
               "the jobs to be done or dead-lettered")
    assert rig.stop([worker]) == [0]
    return rig.log(worker)


def _query_form(rig: Rig, url: str) -> list[str]:
    """The CLI and in-process reprs on a URL with the password in its query."""
    listing = _cli(rig, "dlq", "list", rig.queue, "--url", url)
    assert listing.returncode == 0 and "2 dead letter(s)" in listing.stdout, listing.stderr[-2000:]
    app = App(url)
    try:
        assert app.broker.stats([rig.queue])[rig.queue] == QueueStats(dead=2)
        return [listing.stdout, listing.stderr, repr(app), repr(app.broker)]
    finally:
        app.close()


def _collect(rig: Rig, url: str, kind: str, secrets: list[str]) -> list[str]:
    """Every output, error and repr to search; adds any further sentinel used to ``secrets``."""
    seen = [_run_worker(rig, url), repr(rig.app), repr(rig.app.broker)]
    status = _cli(rig, "status", "--url", url)
    assert status.returncode == 0, status.stderr[-2000:]
    seen += [status.stdout, status.stderr]
    if kind == "sqlite":
        return seen
    unreachable = _fail_fast(with_port(url, closed_port()), kind)
    refused = _cli(rig, "dlq", "list", rig.queue, "--url", unreachable)
    assert refused.returncode != 0 and refused.stderr, "a closed port must fail with a message"
    seen += [refused.stdout, refused.stderr, *_failure(unreachable, rig.queue)]
    if kind in QUERY_FORM:
        secrets.append(sentinel())
        seen += _query_form(rig, in_query(url, secrets[-1]))
    if kind in CHECKS_PASSWORDS:
        secrets.append(sentinel())
        wrong = _fail_fast(replace_userinfo(url, urlsplit(url).username or "", secrets[-1]), kind)
        denied = _cli(rig, "dlq", "list", rig.queue, "--url", wrong)
        assert denied.returncode != 0 and denied.stderr, "a wrong password must fail with a message"
        seen += [denied.stdout, denied.stderr, *_failure(wrong, rig.queue)]
    return seen


def test_passwords_and_signing_secret_never_reach_logs_errors_or_reprs(
    target: Target, tmp_path: Path, password: tuple[str, str | None]
) -> None:
    word, url = password
    signing = sentinel()
    secrets = [word, signing]
    rig = Rig(dataclasses.replace(target, url=url or target.url, cleanups=[]), tmp_path, secret=signing)
    try:
        seen = _collect(rig, rig.target.url, target.kind, secrets)
    finally:
        rig.close()
    for text in seen:
        for secret in secrets:
            at = text.find(secret)
            assert at < 0, f"a secret leaked: ...{text[max(0, at - 300):at + 100]}..."
    if url is not None:
        assert ":***@" in seen[0], "the worker's banner shows the URL, password masked"
    print(f"[{target.kind}] secrets: {len(seen)} outputs checked, "
          f"{sum(len(text) for text in seen)} characters, no sentinel found")
