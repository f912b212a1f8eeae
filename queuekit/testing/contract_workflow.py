"""Conformance tests for workflows (chain, group, chord, nesting) through an App and a real Worker.

They run on every broker, with the broker's result store or, where it keeps none, a separate
in-process one, as an application would configure ``results=``.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from typing import Any

import pytest

from queuekit.broker import JobStatus
from queuekit.canvas import Workflow, WorkflowFailed, chain, chord, group, step_id
from queuekit.testing.apps import app_for, running
from queuekit.testing.harness import Harness
from queuekit.worker import Worker
from queuekit.workflow import member_done


class _Tasks:
    """An app on the broker under test with a few pure tasks, and a count of callback runs."""

    def __init__(self, kit: Harness) -> None:
        self.queue = queue = kit.queue("wf")
        self.app = app = app_for(kit, queue)
        self.totals = 0
        lock = threading.Lock()

        @app.task(name=f"{queue}.add")
        def add(x: int, y: int) -> int:
            return x + y

        @app.task(name=f"{queue}.total")
        def total(values: list[Any]) -> int:
            with lock:
                self.totals += 1
            return sum(v for v in values if isinstance(v, int))

        @app.task(name=f"{queue}.boom")
        def boom(*args: Any) -> None:
            raise ValueError("boom")

        @app.task(name=f"{queue}.echo")
        def echo(*args: Any) -> list[Any]:
            return list(args)

        self.add, self.total, self.boom, self.echo = add, total, boom, echo

    def running(self) -> AbstractContextManager[Worker]:
        """A worker on this app's queue for the block."""
        return running(self.app, self.queue, concurrency=4)


class WorkflowContract:
    """Chains, groups and chords give the results of running their functions directly."""

    @pytest.fixture
    def flows(self, kit: Harness) -> _Tasks:
        """The workflow tasks on the broker under test."""
        return _Tasks(kit)

    def test_chain_passes_each_result_on(self, kit: Harness, flows: _Tasks) -> None:
        with flows.running():
            flow = chain(flows.add.s(1, 2), flows.add.s(10), flows.add.s(100)).delay()
            assert flow.result(timeout=kit.patience) == 113
            assert flow.status() == (JobStatus.SUCCEEDED, None)
            assert [step.status for step in flow.steps()] == [JobStatus.SUCCEEDED] * 3

    def test_immutable_step_ignores_the_parent_result(self, kit: Harness, flows: _Tasks) -> None:
        with flows.running():
            flow = chain(flows.add.s(1, 2), flows.echo.si("done"), flows.echo.s("x")).delay()
            assert flow.result(timeout=kit.patience) == [["done"], "x"]

    def test_group_results_in_the_order_given(self, kit: Harness, flows: _Tasks) -> None:
        with flows.running():
            flow = group(flows.add.s(i, i) for i in range(8)).delay()
            assert flow.results(timeout=kit.patience) == [2 * i for i in range(8)]

    def test_chord_calls_back_once_with_every_result(self, kit: Harness, flows: _Tasks) -> None:
        with flows.running():
            flow = chord(group(flows.add.s(i, 1) for i in range(20)), flows.total.s()).delay()
            assert flow.result(timeout=kit.patience) == sum(range(1, 21))
        assert flows.totals == 1

    def test_a_group_inside_a_chain_becomes_a_chord(self, kit: Harness, flows: _Tasks) -> None:
        with flows.running():
            flow = chain(flows.add.s(1, 1), group(flows.add.s(1), flows.add.s(2)), flows.total.s(),
                         flows.add.s(1000)).delay()
            assert flow.result(timeout=kit.patience) == 1007

    def test_nested_groups_and_chains_as_chord_members(self, kit: Harness, flows: _Tasks) -> None:
        header = group(chain(flows.add.s(1, 1), flows.add.s(1)), group(flows.add.s(2, 2), flows.add.s(3, 3)))
        with flows.running():
            flow = chord(header, flows.echo.s()).delay()
            assert flow.result(timeout=kit.patience) == [[3, [4, 6]]]

    def test_a_failed_step_stops_the_chain_and_names_itself(self, kit: Harness, flows: _Tasks) -> None:
        with flows.running():
            flow = chain(flows.add.s(1, 1), flows.boom.s(), flows.add.s(1)).delay()
            with pytest.raises(WorkflowFailed, match=r"step 1 .*boom"):
                flow.result(timeout=kit.patience)
            status, step = flow.status()
            assert status is JobStatus.FAILED and step is not None and step.path == "1"
            assert flow.steps()[2].status is JobStatus.UNKNOWN  # never started

    def test_a_failed_member_fails_the_chord_unless_allowed(self, kit: Harness, flows: _Tasks) -> None:
        with flows.running():
            strict = chord([flows.add.s(1, 1), flows.boom.s(1)], flows.total.s()).delay()
            with pytest.raises(WorkflowFailed, match="boom"):
                strict.result(timeout=kit.patience)
            lenient = chord([flows.add.s(1, 1), flows.boom.s(1)], flows.echo.s(), allow_failures=True).delay()
            [values] = lenient.result(timeout=kit.patience)
        assert values[0] == 2
        assert values[1]["status"] == "failed" and "boom" in values[1]["error"]
        assert flows.totals == 0

    def test_a_duplicated_member_completion_does_not_call_back_twice(self, kit: Harness, flows: _Tasks) -> None:
        with flows.running():
            flow = chord(group(flows.add.s(i, 0) for i in range(3)), flows.total.s()).delay()
            assert flow.result(timeout=kit.patience) == 3
            assert isinstance(flow, Workflow)
            key = f"chord:{step_id(flow.id, '0')}"
            for index in range(3):  # every member delivered again after the join fired
                member_done(flows.app, {"chord": key, "index": index, "size": 3})
            again = chord(group(flows.add.s(i, 0) for i in range(2)), flows.total.s()).delay()
            assert again.result(timeout=kit.patience) == 1
        assert flows.totals == 2

    def test_cancel_a_workflow_stops_its_remaining_steps(self, kit: Harness, flows: _Tasks) -> None:
        flow = chain(flows.add.s(1, 1), flows.add.s(1), flows.add.s(1)).delay()
        assert flow.cancel() == 3
        with flows.running():
            kit.eventually(lambda: flow.steps()[0].status is JobStatus.CANCELLED, "the first step cancelled")
        assert [step.status for step in flow.steps()] == [JobStatus.CANCELLED] * 3
        with pytest.raises(WorkflowFailed):
            flow.result(timeout=kit.patience)
