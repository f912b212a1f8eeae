"""Servers a test starts for itself: spare ports, and folders and commands of the server's own account.

PostgreSQL refuses to run as root and RabbitMQ reads its Erlang cookie from its own home,
so when the tests run as root, a private server's folder belongs to the server's system
account (``postgres``, ``mysql``, ``rabbitmq``) and its commands run as that account
through ``runuser``. The folder lives under the system temp directory, not in pytest's
``tmp_path``, which only root may enter.
"""

from __future__ import annotations

import os
import pwd
import random
import shutil
import socket
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.support import service_unavailable


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ephemeral_start() -> int:
    """The first port the kernel hands out to outgoing connections (32768 if it cannot be read)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(bus: bool = False) -> int:
    """A TCP port nothing listens on right now (and port + 10000 too, for a cluster bus).

    It lies below the kernel's ephemeral range, so while a test restarts its server no
    client's outgoing connection can take the port meanwhile (a RabbitMQ node failed to
    start again on a port a connection had been given in between).
    """
    low, high = 10000, _ephemeral_start() - (10000 if bus else 0)
    for _ in range(1000):
        port = random.randrange(low, high)
        if _bindable(port) and (not bus or _bindable(port + 10000)):
            return port
    raise RuntimeError(f"no free TCP port between {low} and {high}")


class Account:
    """The system account a private server runs as (the current user unless the tests run as root)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.switch = os.geteuid() == 0
        self.runuser = ""
        if self.switch:
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                service_unavailable(f"running as root, and there is no {name!r} account to run a private server as")
            runuser = shutil.which("runuser")
            if runuser is None:
                service_unavailable(f"running as root, and no runuser to start a private server as {name!r}")
            self.runuser = runuser
            self.uid, self.gid, self.home = entry.pw_uid, entry.pw_gid, entry.pw_dir
        else:
            self.uid, self.gid, self.home = os.getuid(), os.getgid(), os.path.expanduser("~")

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run as this account."""
        return [self.runuser, "-u", self.name, "--", *argv] if self.switch else list(argv)

    def folder(self, label: str) -> Path:
        """A new empty folder of this account's own under the system temp directory."""
        path = Path(tempfile.mkdtemp(prefix=f"qk-{label}-"))
        self.own(path)
        return path

    def own(self, *paths: Path) -> None:
        """Give files the test wrote to this account."""
        if self.switch:
            for path in paths:
                os.chown(path, self.uid, self.gid)


def remove(folder: Path) -> None:
    """Delete a private server's folder (after the server stopped)."""
    shutil.rmtree(folder, ignore_errors=True)
