"""Rates of the SQL broker beside a raw driver loop on the same database, in the same run.

    python backends/sql/bench/sql_rates.py                      # SQLite, plus PG/MariaDB if they answer
    python backends/sql/bench/sql_rates.py --url postgresql://postgres@127.0.0.1/test --jobs 20000

For each database it measures, on no-op jobs:

* single enqueue (one job per call) and batch enqueue (1,000 per call), at the broker
  level (envelopes ready) and through the app (``task.delay`` / ``app.enqueue_many``);
* drain: broker ``reserve(100)`` + ``ack`` loop, and one burst worker process-wide;
* the raw driver doing the same physical work: single autocommitted INSERTs,
  ``executemany``, and a claim-and-delete loop (``DELETE ... WHERE id IN (SELECT ... FOR
  UPDATE SKIP LOCKED LIMIT 100) RETURNING`` on PostgreSQL; the SELECT/DELETE pair on
  MariaDB; ``DELETE ... RETURNING`` on SQLite);
* one SQLAlchemy Core single-INSERT loop (``engine.begin()`` + ``text()``), the reason the
  broker runs compiled SQL on pooled DB-API cursors;
* end-to-end latency at a fixed rate with the producer in another process (LISTEN/NOTIFY
  wake-ups on PostgreSQL, polling elsewhere);
* reserve+ack cost per job at several backlog depths (``--depths``).

Figures are only comparable within one run on one machine: the ratios are the result.
This is a measuring script, not the benchmark harness (``queuekit bench``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import sqlalchemy
from queuekit_sql import SQLBroker

from queuekit import App
from queuekit.broker import Envelope
from queuekit.message import new_id
from queuekit.worker import OWN_PROCESS_SWITCH

DEFAULT_SERVERS = ["postgresql://postgres@127.0.0.1/test", "mariadb://root@127.0.0.1/test"]
BODY = b'{"v":1,"id":"0123456789abcdef0123456789abcdef","task":"bench.noop","args":[1],"kwargs":{}}'
PREFIX = "qkbench_"


def rate(count: int, seconds: float) -> float:
    """Jobs per second."""
    return count / seconds if seconds > 0 else float("inf")


def timed(fn: Callable[[], int]) -> float:
    """Run ``fn`` (which returns how many jobs it handled); return jobs per second."""
    started = time.perf_counter()
    count = fn()
    return rate(count, time.perf_counter() - started)


# -- raw driver loops ------------------------------------------------------------------------


class Raw:
    """The driver alone on a two-column table: the physical limit beside the broker."""

    def __init__(self, url: str) -> None:
        self.family = url.split(":", 1)[0].split("+")[0]
        broker = SQLBroker.from_url(url)  # only to reuse its parsing and engine for the connection
        self.engine = broker._db.engine
        self.raw = self.engine.raw_connection()
        self.conn = self.raw.driver_connection
        self.table = PREFIX + "raw"
        ddl = {
            "sqlite": "id INTEGER PRIMARY KEY, queue TEXT, body BLOB",
            "postgresql": "id BIGSERIAL PRIMARY KEY, queue TEXT, body BYTEA",
            "mariadb": "id BIGINT AUTO_INCREMENT PRIMARY KEY, queue VARCHAR(255), body LONGBLOB",
            "mysql": "id BIGINT AUTO_INCREMENT PRIMARY KEY, queue VARCHAR(255), body LONGBLOB",
        }[self.family]
        cur = self.raw.cursor()
        cur.execute(f"DROP TABLE IF EXISTS {self.table}")
        cur.execute(f"CREATE TABLE {self.table} ({ddl})")
        self.mark = "?" if self.family == "sqlite" else "%s"
        self._broker = broker

    def close(self) -> None:
        self.raw.cursor().execute(f"DROP TABLE IF EXISTS {self.table}")
        self.raw.close()
        self._broker.close()

    def single(self, count: int) -> int:
        cur = self.raw.cursor()
        sql = f"INSERT INTO {self.table} (queue, body) VALUES ({self.mark}, {self.mark})"
        for _ in range(count):
            cur.execute(sql, ("bench", BODY))
        return count

    def batch(self, count: int) -> int:
        cur = self.raw.cursor()
        sql = f"INSERT INTO {self.table} (queue, body) VALUES ({self.mark}, {self.mark})"
        for start in range(0, count, 1000):
            cur.execute("BEGIN" if self.family != "mariadb" else "START TRANSACTION")
            cur.executemany(sql, [("bench", BODY)] * min(1000, count - start))
            cur.execute("COMMIT")
        return count

    def drain(self) -> int:
        cur = self.raw.cursor()
        done = 0
        while True:
            if self.family == "postgresql":
                cur.execute(f"DELETE FROM {self.table} WHERE id IN (SELECT id FROM {self.table} WHERE queue = %s "
                            "ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 100) RETURNING id, body", ("bench",))
                got = len(cur.fetchall())
            elif self.family == "sqlite":
                cur.execute("BEGIN IMMEDIATE")
                cur.execute(f"DELETE FROM {self.table} WHERE id IN (SELECT id FROM {self.table} WHERE queue = ? "
                            "ORDER BY id LIMIT 100) RETURNING id, body", ("bench",))
                got = len(cur.fetchall())
                cur.execute("COMMIT")
            else:
                cur.execute("START TRANSACTION")
                cur.execute(f"SELECT id, body FROM {self.table} WHERE queue = %s ORDER BY id LIMIT 100 "
                            "FOR UPDATE SKIP LOCKED", ("bench",))
                ids = [row[0] for row in cur.fetchall()]
                if ids:
                    cur.execute(f"DELETE FROM {self.table} WHERE id IN ({', '.join(['%s'] * len(ids))})", ids)
                cur.execute("COMMIT")
                got = len(ids)
            if not got:
                return done
            done += got


def interleaved_single(url: str, count: int, rounds: int) -> None:
    """Single enqueue beside single raw INSERTs in alternating rounds; the median of the ratios.

    One-row commits are the figure most shaken by other load on a shared machine, so
    each round runs both back to back and the ratio is taken per round.
    """
    raw = Raw(url)
    broker = SQLBroker.from_url(url)
    per_round = max(count // rounds, 1)
    ratios = []
    try:
        for _ in range(rounds):
            raw_rate = timed(lambda: raw.single(per_round))
            ours = timed(lambda: sum(len(broker.enqueue([env])) for env in envelopes(per_round)))
            ratios.append(ours / raw_rate)
    finally:
        broker.purge("bench")
        broker.close()
        raw.close()
    shown = ", ".join(f"{r:.2f}" for r in ratios)
    print(f"  single enqueue / raw single INSERT, {rounds} interleaved rounds: median "
          f"{statistics.median(ratios):.2f}x (rounds: {shown})")


def core_single(url: str, count: int) -> int:
    """SQLAlchemy Core, ``engine.begin()`` + ``text()`` per INSERT: the path the broker does not take."""
    broker = SQLBroker.from_url(url)
    engine = broker._db.engine.execution_options(isolation_level="AUTOCOMMIT")
    table = PREFIX + "raw"
    statement = sqlalchemy.text(f"INSERT INTO {table} (queue, body) VALUES (:queue, :body)")
    started = time.perf_counter()
    for _ in range(count):
        with engine.connect() as connection:
            connection.execute(statement, {"queue": "bench", "body": BODY})
    elapsed = time.perf_counter() - started
    broker.close()
    return int(rate(count, elapsed))


# -- queuekit --------------------------------------------------------------------------------


def envelopes(count: int, queue: str = "bench") -> list[Envelope]:
    """Fresh envelopes with the benchmark body and job ids as the producer API makes them."""
    return [Envelope(new_id(), queue, BODY) for _ in range(count)]


def broker_rates(url: str, jobs: int, single: int) -> dict[str, float]:
    """Single and batch enqueue and a reserve(100)+ack drain, straight on the broker."""
    broker = SQLBroker.from_url(url)
    broker.purge("bench")
    out: dict[str, float] = {}
    ones = envelopes(single)
    out["single enqueue"] = timed(lambda: sum(len(broker.enqueue([env])) for env in ones))
    many = envelopes(jobs)
    out["batch enqueue"] = timed(lambda: sum(len(broker.enqueue(many[s:s + 1000])) for s in range(0, jobs, 1000)))

    def drain() -> int:
        done = 0
        while True:
            got = broker.reserve(["bench"], 100, 60)
            if not got:
                return done
            broker.ack(got)
            done += len(got)

    out["drain reserve(100)+ack"] = timed(drain)
    broker.close()
    return out


def app_rates(url: str, jobs: int, single: int) -> dict[str, float]:
    """The same through the app (encoding included) and a burst worker."""
    app = App(url)

    @app.task(name="bench.noop", store_result=False)
    def noop(n: int) -> None:
        return None

    app.broker.purge("default")
    out: dict[str, float] = {}
    out["app single enqueue (task.delay)"] = timed(lambda: sum(1 for n in range(single) if noop.delay(n)))
    out["app batch enqueue (enqueue_many)"] = timed(
        lambda: sum(len(app.enqueue_many([noop.message(n) for n in range(s, min(s + 1000, jobs))]))
                    for s in range(0, jobs, 1000)))
    worker = app.worker(burst=True, concurrency=8, switch_interval=OWN_PROCESS_SWITCH)  # as `queuekit worker`
    total = jobs + single
    out["worker drain (burst, 1 process)"] = timed(lambda: (worker.run(install_signals=False), total)[1])
    app.close()
    return out


def backlog_costs(url: str, depths: list[int]) -> dict[int, float]:
    """Microseconds per job of reserve(100)+ack while ``depth`` jobs wait behind."""
    broker = SQLBroker.from_url(url)
    broker.purge("backlog")
    costs: dict[int, float] = {}
    have = 0
    for depth in sorted(depths):
        for start in range(have, depth, 5000):
            broker.enqueue(envelopes(min(5000, depth - start), "backlog"))
        have = depth
        measured = min(2000, depth)
        started = time.perf_counter()
        done = 0
        while done < measured:
            got = broker.reserve(["backlog"], 100, 60)
            broker.ack(got)
            done += len(got)
        costs[depth] = (time.perf_counter() - started) / done * 1e6
        broker.enqueue(envelopes(done, "backlog"))  # keep the depth
    broker.purge("backlog")
    broker.close()
    return costs


PRODUCER = """
import sys, time, uuid
from queuekit.broker import Envelope
from queuekit_sql import SQLBroker
broker = SQLBroker.from_url(sys.argv[1])
count, pace = int(sys.argv[2]), 1.0 / float(sys.argv[3])
start = time.perf_counter()
for n in range(count):
    time.sleep(max(0.0, start + n * pace - time.perf_counter()))
    broker.enqueue([Envelope(uuid.uuid4().hex, "latency", repr(time.time()).encode())])
broker.close()
"""


def latency(url: str, count: int, per_second: float) -> tuple[float, float]:
    """p50 and p99 milliseconds from enqueue (another process) to reserve, at a fixed rate."""
    broker = SQLBroker.from_url(url)
    broker.purge("latency")
    broker.reserve(["latency"], 1, 60, wait=0.01)  # starts the LISTEN thread where there is one
    producer = subprocess.Popen([sys.executable, "-c", PRODUCER, url, str(count), str(per_second)])
    seen: list[float] = []
    while len(seen) < count:
        for delivery in broker.reserve(["latency"], 10, 60, wait=1.0):
            seen.append((time.time() - float(delivery.body)) * 1000)
            broker.ack([delivery])
    producer.wait()
    broker.close()
    seen.sort()
    return statistics.median(seen), seen[int(len(seen) * 0.99) - 1]


# -- running ---------------------------------------------------------------------------------


def reachable(url: str) -> bool:
    """True if the broker opens (tables created on the way)."""
    try:
        SQLBroker.from_url(url).close()
        return True
    except Exception as exc:
        print(f"skipping {url.split('?')[0]}: {type(exc).__name__}: {str(exc)[:120]}")
        return False


def measure(url: str, args: argparse.Namespace) -> None:
    """Every figure for one database, printed with its ratio to the raw loop."""
    family = url.split(":", 1)[0]
    print(f"\n== {url.split('?')[0]}  ({args.jobs} jobs, {args.single} single)")
    raw = Raw(url)
    raw_single = timed(lambda: raw.single(args.single))
    raw_batch = timed(lambda: raw.batch(args.jobs))
    raw_drain = timed(raw.drain)
    core = core_single(url, args.single)
    raw.close()
    queuekit: dict[str, float] = {**broker_rates(url, args.jobs, args.single), **app_rates(url, args.jobs, args.single)}
    rows: list[tuple[str, float, float | None]] = [
        ("raw single INSERT (autocommit)", raw_single, None),
        ("SQLAlchemy Core single INSERT", core, raw_single),
        ("queuekit single enqueue (broker)", queuekit["single enqueue"], raw_single),
        ("queuekit single enqueue (task.delay)", queuekit["app single enqueue (task.delay)"], raw_single),
        ("raw executemany (1,000/txn)", raw_batch, None),
        ("queuekit batch enqueue (broker)", queuekit["batch enqueue"], raw_batch),
        ("queuekit batch enqueue (enqueue_many)", queuekit["app batch enqueue (enqueue_many)"], raw_batch),
        ("raw claim-and-delete drain (100)", raw_drain, None),
        ("queuekit reserve(100)+ack drain", queuekit["drain reserve(100)+ack"], raw_drain),
        ("queuekit worker drain (1 process)", queuekit["worker drain (burst, 1 process)"], raw_drain),
    ]
    for name, value, base in rows:
        ratio = f"{value / base:6.2f}x raw" if base else ""
        print(f"  {name:<40} {value:>10,.0f} jobs/s  {ratio}")
    if args.rounds:
        interleaved_single(url, args.single, args.rounds)
    if args.latency:
        p50, p99 = latency(url, args.latency, args.rate)
        how = "LISTEN/NOTIFY" if family.startswith("postgres") else "polling"
        print(f"  latency at {args.rate:g} jobs/s ({how}, producer in another process): "
              f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    if args.depths:
        costs = backlog_costs(url, [int(d) for d in args.depths.split(",")])
        first = costs[min(costs)]
        shown = ", ".join(f"{d:,}: {c:.0f} us ({c / first:.2f}x)" for d, c in costs.items())
        print(f"  reserve+ack cost per job by backlog depth: {shown}")


def drop_tables(url: str) -> None:
    """Remove the benchmark's tables."""
    broker = SQLBroker.from_url(url)
    raw = broker._db.engine.raw_connection()
    try:
        for table in ("jobs", "dead", "results", "schema_version"):
            raw.cursor().execute(f"DROP TABLE IF EXISTS {PREFIX}{table}")
    finally:
        raw.close()
        broker.close()


def main() -> int:
    """Measure every database given (or found) and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", action="append", help="database URL (repeatable); default SQLite + local servers")
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--single", type=int, default=2000)
    parser.add_argument("--latency", type=int, default=1000, help="jobs for the latency run (0: skip)")
    parser.add_argument("--rate", type=float, default=200.0, help="jobs per second in the latency run")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved single-enqueue rounds (0: skip)")
    parser.add_argument("--depths", default="1000,10000,100000", help="backlog depths ('' to skip)")
    args = parser.parse_args()
    urls = args.url or [f"sqlite:///{os.path.join(tempfile.mkdtemp(), 'bench.db')}", *DEFAULT_SERVERS]
    for url in urls:
        url = f"{url}{'&' if '?' in url else '?'}prefix={PREFIX}&migrate=auto"
        if reachable(url):
            try:
                measure(url, args)
            finally:
                drop_tables(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
