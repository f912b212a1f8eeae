"""A PostgreSQL cluster and a MariaDB server of the test's own, to restart at will.

Each runs from a fresh data directory on a spare port, with its Unix socket in its own
folder, and answers on 127.0.0.1 without a password (trust / a root without password).
The shared servers are never touched. Binaries that are missing skip the test through
:func:`tests.support.service_unavailable` (a failure in CI); a server that is there but
does not start is an error, with the tail of its log.
"""

from __future__ import annotations

import glob
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pymysql

from tests.own_servers import Account, free_port, remove
from tests.support import service_unavailable

_STARTUP = 60.0  # seconds a private server may take to start (a loaded CI machine)


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-2000:]
    except OSError:
        return f"(no log at {path})"


def _run(argv: list[str], log: Path, what: str) -> None:
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120, cwd="/")
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): {done.stdout.decode(errors='replace')[-1500:]}\n"
                           f"log:\n{_tail(log)}")


def _postgres_bin() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if not versions:
        service_unavailable("no pg_ctl (PostgreSQL server binaries) to start a private cluster")
    return Path(versions[-1]).parent


class PrivatePostgres:
    """A PostgreSQL cluster this test created with initdb, run and restarted with pg_ctl."""

    kind = "postgresql"

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        self.account = Account("postgres")
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.folder: Path | None = None

    @property
    def _data(self) -> Path:
        assert self.folder is not None, "start() first"
        return self.folder / "data"

    def _ctl(self, *args: str) -> None:
        assert self.folder is not None
        log = self.folder / "server.log"
        _run(self.account.command([str(self.bin / "pg_ctl"), "-D", str(self._data), "-l", str(log),
                                   "-w", "-t", str(int(_STARTUP)), *args]), log, f"pg_ctl {args[0]}")

    def start(self) -> None:
        """initdb into a new folder (trust, no fsync) and start the server."""
        self.folder = self.account.folder("pg")
        _run(self.account.command([str(self.bin / "initdb"), "-D", str(self._data), "-A", "trust", "-U", "postgres",
                                   "-E", "UTF8", "--no-sync"]), self.folder / "server.log", "initdb")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("start", "-o", options)

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: open sessions are ended, the server comes back on the same port."""
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        """Stop the server at once and delete its folder."""
        if self.folder is None:
            return
        if (self._data / "postmaster.pid").exists():
            try:
                self._ctl("stop", "-m", "immediate")
            except (RuntimeError, subprocess.TimeoutExpired):
                self._kill_postmaster()
        remove(self.folder)
        self.folder = None

    def _kill_postmaster(self) -> None:
        """The postmaster whose PID our cluster's postmaster.pid names (ours: we started it)."""
        try:
            pid = int((self._data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        subprocess.run(self.account.command(["kill", "-KILL", str(pid)]), check=False, timeout=30)


class PrivateMariaDB:
    """A MariaDB server on a datadir this test created with mariadb-install-db; a child process of the test."""

    kind = "mariadb"

    def __init__(self) -> None:
        install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        server = shutil.which("mariadbd") or shutil.which("mysqld")
        if install is None or server is None:
            for folder in ("/usr/sbin", "/usr/libexec"):
                server = server or shutil.which("mariadbd", path=folder) or shutil.which("mysqld", path=folder)
        if install is None or server is None:
            service_unavailable("no mariadb-install-db and mariadbd to start a private MariaDB server")
        self.install, self.server = install, server
        self.account = Account("mysql")
        self.port = free_port()
        self.url = f"mariadb://root@127.0.0.1:{self.port}/test"
        self.folder: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def _user(self) -> list[str]:
        return [f"--user={self.account.name}"] if self.account.switch else []

    def start(self) -> None:
        """Create the datadir (first call) and start the server; wait until it accepts a login."""
        if self.folder is None:
            self.folder = self.account.folder("mariadb")
            _run([self.install, "--no-defaults", f"--datadir={self.folder / 'data'}", *self._user(),
                  "--auth-root-authentication-method=normal", "--skip-test-db"], self.folder / "error.log",
                 "mariadb-install-db")
            self._launch()
            self._sql("CREATE DATABASE test")
        else:
            self._launch()

    def _launch(self) -> None:
        assert self.folder is not None
        log = self.folder / "error.log"
        argv = [self.server, "--no-defaults", f"--datadir={self.folder / 'data'}", *self._user(),
                f"--port={self.port}", "--bind-address=127.0.0.1", f"--socket={self.folder / 'mysqld.sock'}",
                f"--pid-file={self.folder / 'mysqld.pid'}", f"--log-error={log}", "--skip-name-resolve",
                "--innodb-buffer-pool-size=32M", "--max-connections=200"]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")
        deadline = time.monotonic() + _STARTUP
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"private mariadbd on port {self.port} did not start; log:\n{_tail(log)}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        try:
            pymysql.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=1).close()
        except pymysql.MySQLError:
            return False
        return True

    def _sql(self, statement: str) -> None:
        connection = pymysql.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=5)
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def restart(self) -> None:
        """A clean shutdown (SIGTERM, as the service manager sends) and a start on the same port and datadir."""
        assert self.process is not None, "start() first"
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(_STARTUP)
        self.process = None
        self._launch()

    def kill(self) -> None:
        """SIGKILL our server process and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self.process = None

    def stop(self) -> None:
        """Stop the server at once and delete its datadir."""
        self.kill()
        if self.folder is not None:
            remove(self.folder)
            self.folder = None
