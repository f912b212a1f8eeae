"""A property: for random nestings of chains and groups of pure functions, a workflow's result
equals running the same functions directly (each result fed to the next step, groups joined)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queuekit import App
from queuekit.canvas import Chain, Group, Node, Signature, chain, group
from queuekit.worker import Worker

app = App("memory://workflow-property")


def _combine(*args: Any) -> int:
    """The pure function every step runs: its own constant, plus whatever it was given."""
    *given_values, constant = args
    total = constant
    for value in given_values:
        total += sum(_flatten(value)) if isinstance(value, list) else value
    return total


def _flatten(value: Any) -> Iterator[int]:
    for item in value:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item


step = app.task(name="property.step")(_combine)


def _direct(node: Node, inputs: tuple[Any, ...]) -> Any:
    """What the workflow must compute, without any broker."""
    if isinstance(node, Signature):
        return _combine(*(node.args if node.immutable else inputs + node.args))
    if isinstance(node, Chain):
        value = _direct(node.steps[0], inputs)
        for later in node.steps[1:]:
            value = _direct(later, (value,))
        return value
    return [_direct(member, inputs) for member in node.members]


def _trees() -> st.SearchStrategy[Node]:
    leaf = st.builds(lambda k, fixed: step.si(k) if fixed else step.s(k), st.integers(-50, 50), st.booleans())
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda steps: chain(*steps)),
            st.lists(inner, min_size=1, max_size=3).map(lambda members: group(*members)),
        ),
        max_leaves=8,
    )


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    running = app.worker(queues=["default"], concurrency=4)
    thread = running.start()
    yield running
    running.stop()
    thread.join(30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=_trees())
def test_a_workflow_computes_what_its_functions_compute(worker: Worker, tree: Node) -> None:
    expected = _direct(tree, ())
    started = tree.delay()
    found = started.result(timeout=60)
    assert found == expected
    if isinstance(tree, Group):
        assert started.results(timeout=60) == expected
