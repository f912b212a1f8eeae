"""Workflows as data: signatures, chains, groups and chords, and the handles they return.

::

    chain(fetch.s(url), parse.s(), store.s(table="pages")).delay().result(timeout=60)
    group(resize.s(path, size) for size in (64, 128, 256)).delay().results(timeout=60)
    chord(group(count.s(p) for p in pages), total.s()).delay().result(timeout=60)

A signature is plain data (task name, args, kwargs, options) that travels as JSON in
the message headers; only registered task names ever run. Each step's result is the next
step's first argument, unless the step was made with ``.si()``. A group inside a chain
is joined before the next step, which gets the list of its results (a chord).

Every step has a job id derived from the workflow id and the step's place in the tree,
so a handle can find any step's outcome, and a step started twice (a parent re-run after
a lost ack) is one job on brokers that keep ids unique. How steps follow one another is in
:mod:`queuekit.workflow`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from queuekit.broker import JobStatus, Outcome
from queuekit.errors import CapabilityError, ConfigurationError, JobFailed
from queuekit.message import new_id

if TYPE_CHECKING:
    from queuekit.app import App

_OPTIONS = ("queue", "priority", "delay")


@dataclass(frozen=True)
class Signature:
    """One task call to make later: ``task.s(*args, **kwargs)``, or ``task.si(...)`` to ignore the parent's result."""

    app: App = field(repr=False, compare=False)
    task: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    immutable: bool = False

    def set(self, **options: Any) -> Signature:
        """The same call with options: ``queue``, ``priority`` or ``delay`` (seconds)."""
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ConfigurationError(f"signature options are {', '.join(_OPTIONS)}; not {', '.join(unknown)}")
        return dataclasses.replace(self, options={**self.options, **options})

    def delay(self) -> Workflow:
        """Start it as a one-step workflow."""
        return Workflow.start(self.app, self)

    def to_json(self) -> dict[str, Any]:
        """The signature as it travels in message headers."""
        return {"sig": self.task, "args": list(self.args), "kwargs": dict(self.kwargs),
                "options": dict(self.options), "immutable": self.immutable}


@dataclass(frozen=True)
class Chain:
    """Steps run one after another, each getting the previous one's result."""

    steps: tuple[Node, ...]

    def delay(self) -> Workflow:
        """Start the chain; the handle's ``result()`` is the last step's."""
        return Workflow.start(_app_of(self), self)

    def to_json(self) -> dict[str, Any]:
        """The chain as data."""
        return {"chain": [step.to_json() for step in self.steps]}


@dataclass(frozen=True)
class Group:
    """Members run in parallel, each getting the same input; the result is the list of theirs, in order.

    ``allow_failures``: when joined (a chord), a failed member does not fail the group; its
    place in the list holds ``{"error": ..., "status": "failed"}``.
    """

    members: tuple[Node, ...]
    allow_failures: bool = False

    def delay(self) -> Workflow:
        """Start every member; the handle's ``results()`` lists theirs in order."""
        return Workflow.start(_app_of(self), self)

    def to_json(self) -> dict[str, Any]:
        """The group as data."""
        return {"group": [member.to_json() for member in self.members], "allow_failures": self.allow_failures}


Node = Signature | Chain | Group


def chain(*steps: Node | Iterable[Node]) -> Chain:
    """Run ``steps`` in order; each result becomes the next step's first argument."""
    flat = _nodes(steps)
    if not flat:
        raise ConfigurationError("chain() needs at least one step, e.g. chain(fetch.s(url), parse.s())")
    return Chain(flat)


def group(*members: Node | Iterable[Node]) -> Group:
    """Run ``members`` in parallel (accepts signatures or one iterable of them)."""
    flat = _nodes(members)
    if not flat:
        raise ConfigurationError("group() needs at least one member, e.g. group(resize.s(p, 64), resize.s(p, 128))")
    return Group(flat)


def chord(header: Group | Iterable[Node], body: Node, *, allow_failures: bool = False) -> Chain:
    """Run the header group, then ``body`` with the list of its results (once, when all finished)."""
    members = header.members if isinstance(header, Group) else _nodes((header,))
    if not members:
        raise ConfigurationError("chord() needs a header with at least one member")
    return Chain((Group(members, allow_failures or (isinstance(header, Group) and header.allow_failures)), body))


def _nodes(items: Iterable[Any]) -> tuple[Node, ...]:
    flat: list[Node] = []
    for item in items:
        if isinstance(item, (Signature, Chain, Group)):
            flat.append(item)
        elif isinstance(item, Iterable) and not isinstance(item, (str, bytes, Mapping)):
            flat.extend(_nodes(item))
        else:
            raise TypeError(f"workflow steps are signatures (task.s(...)), chains or groups; got {item!r}")
    return tuple(flat)


def _app_of(node: Node) -> App:
    if isinstance(node, Signature):
        return node.app
    children = node.steps if isinstance(node, Chain) else node.members
    return _app_of(children[0])


def from_json(app: App, data: Mapping[str, Any]) -> Node:
    """A node read back from message headers or the shared state."""
    if "sig" in data:
        return Signature(app, str(data["sig"]), tuple(data.get("args", ())), dict(data.get("kwargs", {})),
                         dict(data.get("options", {})), bool(data.get("immutable", False)))
    if "chain" in data:
        return Chain(tuple(from_json(app, step) for step in data["chain"]))
    if "group" in data:
        return Group(tuple(from_json(app, member) for member in data["group"]), bool(data.get("allow_failures")))
    raise ValueError(f"not a workflow node: {str(data)[:100]}")


def step_id(workflow_id: str, path: str) -> str:
    """The job id of the step at ``path`` (e.g. ``"1.0"``): the workflow's time prefix, then a digest."""
    digest = hashlib.sha256(f"{workflow_id}/{path}".encode()).hexdigest()
    return workflow_id[:12] + digest[:20]


def child(path: str, index: int) -> str:
    """The path of a chain's step or a group's member."""
    return f"{path}.{index}" if path else str(index)


class WorkflowFailed(JobFailed):
    """A workflow step failed after its retries (or a chord member, without ``allow_failures``)."""


@dataclass(frozen=True)
class StepState:
    """Where one step of a workflow stands."""

    path: str
    task: str
    job_id: str
    status: JobStatus
    tolerated: bool = False  # inside a chord built with allow_failures: its failure does not fail the workflow


@dataclass(frozen=True)
class Workflow:
    """A started workflow: its id, its tree, and where its results are."""

    app: App = field(repr=False, compare=False)
    id: str
    root: Node = field(repr=False)

    @classmethod
    def start(cls, app: App, root: Node) -> Workflow:
        """Enqueue the first jobs of ``root`` (all members of a leading group, in batches)."""
        from queuekit.workflow import start

        if app.results is None:
            raise CapabilityError(
                f"workflows need a result store: {app.redacted_url} keeps no results; give App(url, results=...) one"
            )
        started = cls(app, new_id(), root)
        start(app, started.id, root, "", None, (), None)
        return started

    def steps(self) -> list[StepState]:
        """Every task step in tree order with its status (steps not started yet read ``unknown``)."""
        found: list[StepState] = []

        def walk(node: Node, path: str, tolerated: bool) -> None:
            if isinstance(node, Signature):
                job_id = step_id(self.id, path)
                found.append(StepState(path, node.task, job_id, self.app.job(job_id).status(), tolerated))
                return
            inside = tolerated or (isinstance(node, Group) and node.allow_failures)
            for index, sub in enumerate(node.steps if isinstance(node, Chain) else node.members):
                walk(sub, child(path, index), inside)

        walk(self.root, "", False)
        return found

    def status(self) -> tuple[JobStatus, StepState | None]:
        """``(succeeded, None)`` when every step did; ``(failed, the step)`` when one failed; else running."""
        steps = self.steps()
        for step in steps:
            if step.status in (JobStatus.FAILED, JobStatus.DEAD, JobStatus.CANCELLED) and not step.tolerated:
                return JobStatus.FAILED if step.status is not JobStatus.CANCELLED else step.status, step
        if all(step.status is JobStatus.SUCCEEDED or (step.tolerated and step.status.finished) for step in steps):
            return JobStatus.SUCCEEDED, None
        return JobStatus.RUNNING, None

    def result(self, timeout: float | None = None, poll: float = 0.05) -> Any:
        """Wait for the workflow and return its result: the last step's, or a group's list.

        Raises :class:`WorkflowFailed` naming the step that failed, ``TimeoutError`` after ``timeout``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = poll
        while True:
            done, value = self._value(self.root, "")
            if done:
                return value
            status, failed = self.status()
            if failed is not None:
                outcome = self.app.job(failed.job_id).outcome()
                error = outcome.error if outcome is not None else status.value
                raise WorkflowFailed(failed.job_id, status.value, f"step {failed.path} ({failed.task}): {error}")
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"workflow {self.id} did not finish within {timeout:g} s")
            time.sleep(pause if deadline is None else min(pause, max(deadline - time.monotonic(), 0)))
            pause = min(pause * 1.5, 0.5)

    def results(self, timeout: float | None = None) -> list[Any]:
        """A group's results in the order given (``result()`` for any other workflow)."""
        found = self.result(timeout)
        return list(found) if isinstance(found, list) else [found]

    def cancel(self) -> int:
        """Cancel every step not finished yet (steps not started are flagged and never run); how many."""
        from queuekit.control import flag

        count = 0
        for step in self.steps():
            if not step.status.finished:
                flag(self.app, step.job_id)
                count += 1
        return count

    def _value(self, node: Node, path: str) -> tuple[bool, Any]:
        if isinstance(node, Signature):
            outcome = self.app.job(step_id(self.id, path)).outcome()
            return _settled(outcome)
        if isinstance(node, Chain):
            return self._value(node.steps[-1], child(path, len(node.steps) - 1))
        joined = self.app.job(step_id(self.id, path)).outcome()  # a joined group stores its list
        if joined is not None:
            return _settled(joined)
        values = []
        for index, member in enumerate(node.members):
            done, value = self._value(member, child(path, index))
            if not done:
                return False, None
            values.append(value)
        return True, values


def _settled(outcome: Outcome | None) -> tuple[bool, Any]:
    if outcome is None or outcome.status is not JobStatus.SUCCEEDED:
        return False, None
    return True, outcome.result


def signature(app: App, task: str, args: Sequence[Any], kwargs: Mapping[str, Any] | None,
              immutable: bool) -> Signature:
    """A signature of a registered task (what ``Task.s`` and ``Task.si`` build)."""
    return Signature(app, task, tuple(args), dict(kwargs or {}), {}, immutable)
