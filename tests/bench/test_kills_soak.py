"""Issue 12's bench items: ``--kills N`` for the failure workload and the ``soak`` workload, on tiny sizes."""

from __future__ import annotations

import argparse
import copy
import dataclasses
import uuid
from pathlib import Path
from typing import Any

import pytest
from queuekit_bench.cleanup import Cleanup
from queuekit_bench.cli import add_arguments, main, settings_from
from queuekit_bench.context import BackendRun
from queuekit_bench.ledger import LedgerWriter, account, read_ledger
from queuekit_bench.progress import Progress
from queuekit_bench.scenarios import failure, soak
from queuekit_bench.schema import validate
from queuekit_bench.settings import DEFAULT_SCENARIOS, QUICK, SCENARIOS, Settings, parse_scenarios
from queuekit_bench.targets import Target

from tests.bench.benchdata import sample_document


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_kills_and_duration_override_the_profile_and_the_full_profile_soaks_through_100_kills() -> None:
    settings = settings_from(_args("--quick", "--scenarios", "failure,soak", "--kills", "5", "--duration", "6.5"))
    assert settings.failure_kills == 5 and settings.soak_seconds == 6.5
    assert settings_from(_args("--kills", "0")).failure_kills == 0  # a ledger run without kills is a baseline
    full = settings_from(_args("--full"))
    assert full.failure_kills == 100 and "soak" in full.scenarios and full.scenarios == SCENARIOS
    assert "soak" not in settings_from(_args("--quick")).scenarios == DEFAULT_SCENARIOS
    assert "soak" in parse_scenarios("all") and parse_scenarios("soak") == ("soak",)


@pytest.mark.parametrize(("argv", "message"), [
    (["--kills", "-1"], "--kills must be 0 or more, got -1"),
    (["--scenarios", "soak", "--kills", "3"], "--kills applies to the failure scenario, which is not selected"),
    (["--scenarios", "soak", "--duration", "1"], "--duration must be at least 4 seconds, got 1"),
    (["--scenarios", "soak", "--duration", "nan"], "--duration must be at least 4 seconds, got nan"),
    (["--duration", "60"], "--duration sets the soak scenario's length, and soak is not selected"),
])
def test_bad_kills_or_duration_is_one_line_naming_the_fix(argv: list[str], message: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def _run(target: Target, settings: Settings, workdir: Path, scenario: Any) -> dict[str, Any]:
    cleanup = Cleanup()
    try:
        ctx = BackendRun(target, settings, workdir=workdir, run_id=uuid.uuid4().hex[:6], cleanup=cleanup,
                         progress=Progress(quiet=True))
        try:
            result: dict[str, Any] = scenario(ctx)
            return result
        finally:
            ctx.close()
    finally:
        cleanup.run()


def _valid_in_a_document(name: str, result: dict[str, Any]) -> list[str]:
    """Schema errors of ``result`` placed as scenario ``name`` of a complete results document."""
    document = sample_document()
    document["settings"]["scenarios"] = list(SCENARIOS)
    document["backends"][0]["scenarios"][name] = {"status": "ok", "reason": None, "seconds": 1.0, **result}
    return validate(document)


def test_a_failure_run_with_kills_on_sqlite_loses_nothing(tmp_path: Path) -> None:
    settings = dataclasses.replace(QUICK, failure_jobs=100, failure_kills=2, seed=12)
    found = _run(Target("sqlite", f"sqlite:///{tmp_path / 'bench.db'}"), settings, tmp_path, failure.run)
    print({k: found[k] for k in ("accepted", "lost", "duplicated", "dead_lettered", "top_ups", "elapsed_s")})
    assert found["mode"] == "worker processes killed" and found["kills_planned"] == 2
    assert len(found["kills"]) == 2 and len({kill["pid"] for kill in found["kills"]}) == 2
    assert found["accepted"] >= 100 and found["drained"] is True
    assert found["lost"] == 0 and found["unexpected"] == 0 and found["dead_lettered_unstarted"] == 0
    assert found["redeliveries"] == 2  # the app default decides dead-lettering: the jobs carry no retries
    assert _valid_in_a_document("failure", found) == []


def _soak(target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setattr(soak, "HIGH", 2000)  # a smaller backlog to fill before the clock starts
    monkeypatch.setattr(soak, "BATCH", 1000)
    found = _run(target, dataclasses.replace(QUICK, soak_seconds=4.0), tmp_path, soak.run)
    samples = found["samples"]
    print({k: found[k] for k in ("completed", "enqueued", "first_quarter", "last_quarter")})
    assert len(samples) == 9 and samples[0]["t"] == 0.0 and found["duration_s"] == samples[-1]["t"] >= 4.0
    assert [s["t"] for s in samples] == sorted(s["t"] for s in samples)
    assert found["completed"] == samples[-1]["completed"] > 0 and found["enqueued"] >= found["completed"]
    assert 0 <= found["min_waiting"] <= 2000 and 0.0 <= found["dry_share"] <= 1.0
    assert all(s["rss_mb"] > 0 for s in samples)  # /proc/<pid>/status VmRSS of the worker's process
    for part in (found["first_quarter"], found["last_quarter"]):
        assert part["jobs_per_s"] > 0 and part["rss_mb"] > 0 and part["to_s"] > part["from_s"]
    assert found["first_quarter"]["from_s"] == 0.0 and found["last_quarter"]["to_s"] == found["duration_s"]
    assert _valid_in_a_document("soak", found) == []
    return found


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="capability not declared: /proc")
def test_a_soak_on_sqlite_samples_the_worker_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found = _soak(Target("sqlite", f"sqlite:///{tmp_path / 'bench.db'}"), tmp_path, monkeypatch)
    assert found["worker_kind"] == "process"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="capability not declared: /proc")
def test_a_soak_on_memory_samples_the_harness_that_runs_its_worker_thread(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    found = _soak(Target("memory", f"memory://qkbench-soak-{uuid.uuid4().hex[:8]}"), tmp_path, monkeypatch)
    assert found["worker_kind"].startswith("thread")


def test_quarters_compare_the_first_and_last_quarter_of_the_samples() -> None:
    samples = [{"t": t * 0.5, "completed": 100.0 * t if t < 8 else 800.0 + 50.0 * (t - 8), "rss_mb": 40.0 + t}
               for t in range(17)]
    assert soak.quarter(samples, 0) == {"from_s": 0.0, "to_s": 2.0, "jobs_per_s": 200.0, "rss_mb": 42.0}
    assert soak.quarter(samples, 3) == {"from_s": 6.0, "to_s": 8.0, "jobs_per_s": 100.0, "rss_mb": 54.0}


def test_rss_of_a_process_that_is_gone_reads_as_zero() -> None:
    assert soak.rss_mb(2**22 + 12345) == 0.0  # above the kernel's pid_max: never a live process


def test_a_dead_letter_that_never_finished_is_not_counted_as_lost(tmp_path: Path) -> None:
    producer, worker = LedgerWriter(tmp_path / "p.ledger"), LedgerWriter(tmp_path / "w.ledger")
    for key in ("p:0", "p:1", "p:2"):
        producer.accepted(key, 1.0, 1.0)
    worker.start("p:0")
    worker.done("p:0")
    worker.start("p:1")  # killed mid-run, then dead-lettered
    result = account(read_ledger(tmp_path), dead={"p:1"})
    assert (result.lost, result.dead_unfinished, result.lost_keys) == (1, 1, ("p:2",))
    assert account(read_ledger(tmp_path)).lost == 2


def _with_soak_and_dead_letters() -> dict[str, Any]:
    document = sample_document()
    document["settings"]["scenarios"] = list(SCENARIOS)
    alpha = document["backends"][0]["scenarios"]
    alpha["failure"].update(kills=[{"pid": n, "t": float(n)} for n in range(100)], dead_lettered=4,
                            dead_lettered_unstarted=1, accepted=5000)
    samples = [{"t": float(t), "completed": 1000.0 * t, "rss_mb": 50.0 + t / 4} for t in range(9)]
    alpha["soak"] = {"status": "ok", "reason": None, "seconds": 8.5, "duration_s": 8.0, "interval_s": 1.0,
                     "concurrency": 2, "worker_kind": "process", "enqueued": 9000, "completed": 8000,
                     "min_waiting": 0, "dry_share": 0.25,
                     "samples": samples, "first_quarter": soak.quarter(samples, 0),
                     "last_quarter": soak.quarter(samples, 3)}
    return document


def test_kills_dead_letters_and_the_soak_reach_the_matrix_the_tables_and_the_plots(tmp_path: Path) -> None:
    from queuekit_bench.report import write_report
    from queuekit_bench.report.matrix import guarantees
    from queuekit_bench.report.terminal import summary_table

    document = _with_soak_and_dead_letters()
    assert validate(document) == []
    cell = guarantees(document["backends"][0])["at_least_once"]
    assert cell.text() == ("yes / 5000 accepted, 0 lost, 3 duplicated, 4 dead-lettered (1 never started) "
                           "after 100 kills: kept")
    table = summary_table(document)
    assert "0/3/4 (100)" in table and "1,000>1,000, 50.2>51.8" in table and "0/3/- (1)" in table
    write_report(document, tmp_path)
    markdown = (tmp_path / "report.md").read_text()
    section = markdown[markdown.index("## Soak: one worker over time"):]
    assert "| alpha | 8.00 | process | 8,000 | 1,000 | 1,000 | +0% | 50.2 | 51.8 | +3% | 0 | 25% |" in section
    assert "![soak_rate](plots/soak_rate.svg)" in section
    for name in ("soak_rate", "soak_rss"):
        assert "<polyline" in (tmp_path / "plots" / f"{name}.svg").read_text()
    assert "| 4 (1 never started) |" in markdown


def test_a_report_without_a_soak_has_no_soak_section_or_plots(tmp_path: Path) -> None:
    from queuekit_bench.report import write_report

    document = copy.deepcopy(sample_document())
    write_report(document, tmp_path)
    assert "## Soak" not in (tmp_path / "report.md").read_text()
    assert not (tmp_path / "plots" / "soak_rate.svg").exists()
