"""A RabbitMQ node of the test's own, to restart at will; the shared node is never touched.

The node has its own name (``qk-test-<hex>@localhost``), AMQP port, distribution port,
mnesia, log, config, enabled-plugins and env files in a folder of its own (owned by the
``rabbitmq`` account when the tests run as root), and the machine's Erlang cookie (the
account's home), so that ``rabbitmqctl -n <node>`` reaches it. It starts once per test
module: a start takes 5-15 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pika
from pika.exceptions import AMQPError

from tests.own_servers import Account, free_port, remove
from tests.support import service_unavailable

_STARTUP = 90.0  # seconds the node may take to start on a loaded machine
_SCRIPTS = "/usr/lib/rabbitmq/bin"  # the real scripts; /usr/sbin holds wrappers that refuse other users


def _script(name: str) -> str:
    found = shutil.which(name, path=_SCRIPTS) or shutil.which(name)
    if found is None:
        service_unavailable(f"no {name} to start a private RabbitMQ node")
    return found


class PrivateRabbit:
    """A RabbitMQ node this test started; restarted with ``rabbitmqctl stop_app`` and ``start_app``."""

    kind = "rabbitmq"

    def __init__(self) -> None:
        self.server, self.rabbitmqctl = _script("rabbitmq-server"), _script("rabbitmqctl")
        self.account = Account("rabbitmq")
        self.node = f"qk-test-{uuid.uuid4().hex[:8]}@localhost"
        self.port, self.dist_port = free_port(), free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"
        self.folder: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def _env(self) -> dict[str, str]:
        assert self.folder is not None
        folder = self.folder
        return {
            **os.environ, "HOME": self.account.home, "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port), "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(folder / "log"), "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(folder / "rabbitmq-env.conf"), "RABBITMQ_PID_FILE": str(folder / "pid"),
        }

    def start(self) -> None:
        """Write the node's files into a new folder, start the node and wait until it accepts AMQP logins."""
        self.folder = folder = self.account.folder("rabbitmq")
        files = {
            "rabbitmq.conf": f"listeners.tcp.1 = 127.0.0.1:{self.port}\n",
            "enabled_plugins": "[].\n",  # no management plugin: it would want the shared node's HTTP port
            "rabbitmq-env.conf": "",  # not the machine's, which names the shared node
        }
        for name, text in files.items():
            (folder / name).write_text(text)
            self.account.own(folder / name)
        with (folder / "console.log").open("wb") as out:
            self.process = subprocess.Popen(self.account.command([self.server]), env=self._env(), cwd=folder,
                                            stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + _STARTUP
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (folder / "console.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"private RabbitMQ node {self.node} did not start; console:\n{log}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        params = pika.URLParameters(self.url)
        params.socket_timeout = 2
        params.connection_attempts = 1
        try:
            pika.BlockingConnection(params).close()
        except (AMQPError, OSError):
            return False
        return True

    def ctl(self, *args: str) -> None:
        """``rabbitmqctl -n <node> args``; fail with its output when it fails."""
        # Without the node's RABBITMQ_DIST_PORT: the CLI would listen at that port + 10000, past 65535 for a high one.
        env = {key: value for key, value in self._env().items() if key != "RABBITMQ_DIST_PORT"}
        done = subprocess.run(self.account.command([self.rabbitmqctl, "-n", self.node, *args]), env=env,
                              cwd="/", capture_output=True, text=True, timeout=_STARTUP)
        assert done.returncode == 0, f"rabbitmqctl {' '.join(args)} failed: {done.stdout}{done.stderr}"

    def restart(self) -> None:
        """Stop the RabbitMQ application (every connection closes, the port goes away) and start it again."""
        self.ctl("stop_app")
        self.ctl("start_app")

    def stop(self) -> None:
        """Halt the node and delete its folder."""
        if self.process is not None:
            if self.process.poll() is None:
                try:
                    self.ctl("stop")
                    self.process.wait(60)
                except (AssertionError, subprocess.TimeoutExpired):
                    self._kill_node()
            self.process = None
        if self.folder is not None:
            remove(self.folder)
            self.folder = None

    def _kill_node(self) -> None:
        """SIGKILL the node whose PID our pid file names (ours: we started it), and our runuser."""
        assert self.folder is not None and self.process is not None
        try:
            pid = int((self.folder / "pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = 0
        if pid:
            subprocess.run(self.account.command(["kill", "-KILL", str(pid)]), check=False, timeout=30)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)
