"""The workflow workload: a chord's fan-out/fan-in figure, its callback check, and its result store."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import pytest
from queuekit_bench import tasks
from queuekit_bench.agents import BenchError
from queuekit_bench.cleanup import Cleanup
from queuekit_bench.context import BackendRun
from queuekit_bench.progress import Progress
from queuekit_bench.scenarios import workflow
from queuekit_bench.settings import QUICK, Settings
from queuekit_bench.targets import Target

TINY = dataclasses.replace(QUICK, repeats=2, workflow_members=20, workflow_workers=2)


def _run(target: Target, settings: Settings, workdir: Path) -> dict[str, object]:
    cleanup = Cleanup()
    try:
        ctx = BackendRun(target, settings, workdir=workdir, run_id=uuid.uuid4().hex[:6], cleanup=cleanup,
                         progress=Progress(quiet=True))
        try:
            return workflow.run(ctx)
        finally:
            ctx.close()
    finally:
        cleanup.run()


def _memory() -> Target:
    return Target("memory", f"memory://qkbench-wf-{uuid.uuid4().hex[:8]}")


def test_a_chord_on_memory_gives_positive_figures_and_the_members_sum(tmp_path: Path) -> None:
    found = _run(_memory(), TINY, tmp_path)
    assert found["members"] == 20 and found["result_store"] == "broker" and found["worker_kind"] == "thread"
    assert found["callback_total"] == sum(range(20)) == 190
    assert found["callback_results"] == [190, 190]
    figures = found["figures"]
    assert isinstance(figures, dict)
    assert figures["seconds"]["unit"] == "s" and figures["seconds"]["runs"] == 2
    assert all(value > 0 for value in figures["seconds"]["samples"])
    assert all(value > 0 for value in figures["members_per_s"]["samples"])
    joins, totals = figures["join_s"]["samples"], figures["seconds"]["samples"]
    assert all(0 < join <= total for join, total in zip(joins, totals, strict=True))  # a part of the whole


def test_a_wrong_callback_result_fails_the_figure_naming_both_values(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    right = tasks.total

    def off_by_one(values: list[int], key: str) -> int:
        return right(values, key) + 1

    monkeypatch.setattr(tasks, "total", off_by_one)  # what bench_app registers from here on
    with pytest.raises(BenchError, match=r"chord callback returned 191, expected 190 \(the sum of its 20 members"):
        _run(_memory(), TINY, tmp_path)


def test_a_failed_member_fails_the_scenario_with_the_step_and_its_error(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(index: int, key: str = "") -> int:
        raise ValueError(f"member {index} broke")

    monkeypatch.setattr(tasks, "member", broken)
    monkeypatch.setattr(workflow, "FIRST_LOOK", 0.5)  # look for a failure soon instead of after 10 s
    with pytest.raises(BenchError, match=r"the callback did not run .*WorkflowFailed.*member \d+ broke"):
        _run(_memory(), TINY, tmp_path)


def test_rabbitmq_keeps_no_results_so_the_chord_uses_an_sqlite_store_beside_the_run(tmp_path: Path) -> None:
    from tests.rabbitmq.servers import shared_url_or_skip

    found = _run(Target("rabbitmq", shared_url_or_skip()), TINY, tmp_path)
    assert found["result_store"] == "sqlite file beside the run" and found["worker_kind"] == "process"
    assert found["callback_results"] == [190, 190]
    assert (tmp_path / "results.db").exists()
