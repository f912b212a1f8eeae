"""Redis servers for the tests: the shared one on loopback and private ones we own.

A private server is a ``redis-server`` child process on a free port, without
persistence unless asked; tests stop, kill and restart it by its PID only.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import redis

from tests.own_servers import free_port
from tests.support import service_unavailable

SHARED_URL = os.environ.get("QUEUEKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def shared_url_or_skip() -> str:
    """The shared server's URL; skip the test when it does not answer."""
    client = redis.Redis.from_url(SHARED_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        service_unavailable(f"redis at {SHARED_URL}: {exc}")
    finally:
        client.close()
    return SHARED_URL


def unique_prefix() -> str:
    """A key prefix no other test run uses (always containing "qkt-", see delete_prefix)."""
    return f"qkt-{uuid.uuid4().hex[:10]}"


def delete_prefix(url: str, *prefixes: str) -> None:
    """Remove every key tests wrote under these prefixes (queue keys and results), in one scan."""
    if not prefixes:
        return
    wanted = tuple(p.encode() for prefix in prefixes for p in (f"{{{prefix}:", f"{prefix}:"))
    client = redis.Redis.from_url(url)
    try:
        doomed = [key for key in client.scan_iter(match="*qkt-*", count=5000) if key.startswith(wanted)]
        for start in range(0, len(doomed), 500):
            client.delete(*doomed[start : start + 500])
    finally:
        client.close()


class PrivateRedis:
    """A redis-server this test started, on its own port and directory."""

    def __init__(self, workdir: Path, extra: Sequence[str] = (), *, bus: bool = False, tls: Path | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            service_unavailable("no redis-server binary to start a private server")
        self.binary = binary
        self.workdir = workdir
        self.extra = list(extra)
        self.port = free_port(bus)
        self.tls = tls  # a folder with ca.crt, server.crt and server.key: serve TLS only
        self.url = f"rediss://127.0.0.1:{self.port}/0" if tls else f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        ports = ["--port", str(self.port)]
        if self.tls is not None:
            ports = ["--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no",
                     "--tls-cert-file", str(self.tls / "server.crt"), "--tls-key-file", str(self.tls / "server.key"),
                     "--tls-ca-cert-file", str(self.tls / "ca.crt")]
        args = [self.binary, *ports, "--bind", "127.0.0.1", "--daemonize", "no",
                "--dir", str(self.workdir), "--save", "", "--appendonly", "no", *self.extra]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        client = self.client()
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.RedisError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        self.kill()  # never leave a half-started server behind
                        raise RuntimeError(f"private redis-server on port {self.port} did not start") from None
                    time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL the server (an unclean stop) and reap it."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        """Kill and start again on the same port."""
        self.kill()
        self.start()

    def client(self) -> redis.Redis:
        """A plain redis-py client on this server."""
        if self.tls is not None:
            return redis.Redis(host="127.0.0.1", port=self.port, ssl=True, ssl_ca_certs=str(self.tls / "ca.crt"),
                               socket_connect_timeout=1)
        return redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)


class PrivateCluster:
    """A Redis Cluster of three primaries this test started (no replicas, no persistence)."""

    def __init__(self, workdir: Path, nodes: int = 3) -> None:
        self.nodes = []
        for index in range(nodes):
            folder = workdir / f"node{index}"
            folder.mkdir(parents=True, exist_ok=True)
            self.nodes.append(PrivateRedis(folder, ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                                                    "--cluster-node-timeout", "2000"], bus=True))
        self.url = f"redis://127.0.0.1:{self.nodes[0].port}/0?cluster=true"

    def start(self) -> None:
        """Start the nodes, join them and wait until every slot is served."""
        for node in self.nodes:
            node.start()
        cli = shutil.which("redis-cli")
        if cli is None:
            service_unavailable("no redis-cli to create a private cluster")
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        subprocess.run([cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        deadline = time.monotonic() + 30
        while not all(self._ready(node) for node in self.nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("private cluster did not reach cluster_state:ok")
            time.sleep(0.05)

    @staticmethod
    def _ready(node: PrivateRedis) -> bool:
        client = node.client()
        try:
            info = client.execute_command("CLUSTER", "INFO")
            text = info.decode() if isinstance(info, bytes) else str(info)
            return "cluster_state:ok" in text and "cluster_slots_ok:16384" in text
        finally:
            client.close()

    def kill(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.kill()


def make_certificates(folder: Path) -> Path:
    """A throwaway CA and a server certificate for 127.0.0.1, made with the openssl CLI."""
    openssl = shutil.which("openssl")
    if openssl is None:
        service_unavailable("no openssl to make TLS certificates for a private server")
    folder.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=folder, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=queuekit test CA",
        "-keyout", "ca.key", "-out", "ca.crt")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "san.ext", "-out", "server.crt")
    return folder
