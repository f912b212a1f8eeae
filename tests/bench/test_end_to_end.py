"""The real command on the embedded backends: report files and schema (never timings), and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from queuekit_bench.schema import validate
from queuekit_bench.settings import DEFAULT_SCENARIOS

from queuekit import App
from tests.support import wait_until


def bench(*argv: str) -> subprocess.Popen[str]:
    # A shell without job control starts background commands with SIGINT ignored, and a
    # Python started that way never turns SIGINT into KeyboardInterrupt: the child gets
    # the default disposition back, as a terminal's Ctrl-C would find it.
    return subprocess.Popen([sys.executable, "-m", "queuekit_bench", *argv], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def test_quick_run_on_memory_and_sqlite_writes_a_valid_report(tmp_path: Path) -> None:
    out = tmp_path / "report"
    process = bench("--quick", "--backends", "memory,sqlite", "--seed", "7", "--out", str(out))
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    document = json.loads((out / "results.json").read_text())
    assert validate(document) == []
    assert [(b["name"], b["status"]) for b in document["backends"]] == [("memory", "ok"), ("sqlite", "ok")]
    for entry in document["backends"]:
        failed = {k: v["reason"] for k, v in entry["scenarios"].items() if v["status"] != "ok"}
        assert failed == {}
        assert list(entry["scenarios"]) == list(DEFAULT_SCENARIOS)  # soak only when asked for
    sqlite = document["backends"][1]
    assert sqlite["scenarios"]["failure"]["mode"] == "worker processes killed"
    assert sqlite["scenarios"]["failure"]["unexpected"] == 0
    assert sqlite["scenarios"]["enqueue"]["figures"]["single"]["raw"]["client"].startswith("sqlite3")
    assert document["backends"][0]["scenarios"]["failure"]["lost"] > 0  # memory loses its queue with its process
    for entry in document["backends"]:
        chord = entry["scenarios"]["workflow"]
        assert chord["members"] == 200 and chord["callback_results"] == [sum(range(200))] * 3
        assert all(chord["figures"][key]["median"] > 0 for key in ("seconds", "members_per_s", "join_s"))
    for name in ("report.md", "index.html", "plots/throughput.svg", "plots/drain.svg", "plots/latency.svg",
                 "plots/backlog.svg", "plots/payload.svg"):
        assert (out / name).stat().st_size > 0, name
    report = (out / "report.md").read_text()
    assert "## Which broker for what" in report
    assert "## Workflow: chord fan-out/fan-in" in report and "| sqlite | 200 | 2 x 2 (process) |" in report
    assert "memory" in stdout and "sqlite" in stdout and "chord s" in stdout  # the terminal summary table


def _run_processes(tag: str) -> list[int]:
    """Our own processes whose environment carries ``tag`` (the agents of one run)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if tag.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="capability not declared: /proc")
def test_ctrl_c_stops_agents_and_removes_queues(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    process = bench("--backends", "sqlite", "--scenarios", "drain", "--jobs", "200000", "--workers", "2",
                    "--workdir", str(workdir))
    tag = f"QKBENCH_LOGS={workdir}"
    try:
        wait_until(lambda: len(_run_processes(tag)) >= 2, timeout=120, what="agent processes")
        os.kill(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr[-2000:]
    assert "interrupted" in stderr
    wait_until(lambda: not _run_processes(tag), timeout=30, what="agents to exit")
    app = App(f"sqlite:///{workdir / 'bench.db'}")
    try:
        stats = app.broker.stats()
        assert all(s.ready == 0 and s.in_flight == 0 for s in stats.values()), stats
    finally:
        app.close()
