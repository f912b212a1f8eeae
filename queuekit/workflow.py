"""How workflow steps follow one another: continuations in message headers, joins in shared state.

A step's job carries ``headers["qk.wf"]``: the workflow id, its path in the tree, ``then``
(the nodes still to run after it, each with its path) and ``report`` (the join it belongs
to, if it is the last step of a chord member). When the worker has stored a step's outcome
and before it acknowledges the job, :func:`advance` starts what comes next: the next node
with the result as its input, or, for a join member, counts the member done.

A join (a group followed by more steps, i.e. a chord) keeps its spec in the shared state
(``chord:<id>:spec``) and counts finished members with ``kv_add`` on ``chord:<id>:done``,
by member index: a member delivered twice counts once, and each completion costs one
atomic call whatever the group's size. The completion that brings the count to the size
fires the join: it stores the group's list as the group's own outcome and starts the next
node with it. ``chord:<id>:fired`` is set after that, so a duplicate of a member that
finishes later does not fire it again, while a worker killed between the count and the
start leaves it unset and the redelivered member fires it (at least once after kills,
exactly once otherwise).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from queuekit.broker import JobStatus, Outcome
from queuekit.canvas import Chain, Node, Signature, child, from_json, step_id
from queuekit.execution import WORKFLOW
from queuekit.message import Message

if TYPE_CHECKING:
    from queuekit.app import App
    from queuekit.execution import Completion

log = logging.getLogger("queuekit.workflow")

HEADER = WORKFLOW
BATCH = 1000  # jobs per enqueue call when a group starts
Tail = list[dict[str, Any]]  # [{"path": ..., "node": node-json}, ...]


def start(app: App, workflow: str, node: Node, path: str, report: Mapping[str, Any] | None,
          inputs: tuple[Any, ...], tail: Tail | None) -> None:
    """Enqueue the first jobs of ``node`` (given ``inputs``, then ``tail``, then ``report``)."""
    batch: list[Message] = []
    _collect(app, workflow, node, path, inputs, list(tail or []), dict(report) if report else None, batch)
    for first in range(0, len(batch), BATCH):
        app.send(batch[first:first + BATCH])


def _collect(app: App, workflow: str, node: Node, path: str, inputs: tuple[Any, ...], tail: Tail,
             report: dict[str, Any] | None, batch: list[Message]) -> None:
    if isinstance(node, Signature):
        task = app.get_task(node.task)
        args = node.args if node.immutable else inputs + node.args
        header = {"id": workflow, "path": path, "then": tail, "report": report}
        options = node.options
        message = task.build(args, node.kwargs, queue=options.get("queue"), priority=options.get("priority"),
                             delay=options.get("delay"), headers={HEADER: header})
        batch.append(_with_id(message, step_id(workflow, path)))
        return
    if isinstance(node, Chain):
        rest = [{"path": child(path, i), "node": step.to_json()} for i, step in enumerate(node.steps) if i]
        _collect(app, workflow, node.steps[0], child(path, 0), inputs, rest + tail, report, batch)
        return
    if not tail and report is None:  # a group nothing waits for: no join
        for index, member in enumerate(node.members):
            _collect(app, workflow, member, child(path, index), inputs, [], None, batch)
        return
    key = f"chord:{step_id(workflow, path)}"
    spec = {"workflow": workflow, "path": path, "shape": shape(node), "then": tail, "report": report}
    app.state.store.kv_set(f"{key}:spec", json.dumps(spec).encode(), ttl=app.result_ttl)
    size = len(node.members)
    for index, member in enumerate(node.members):
        _collect(app, workflow, member, child(path, index), inputs, [],
                 {"chord": key, "index": index, "size": size}, batch)


def _with_id(message: Message, job_id: str) -> Message:
    return dataclasses.replace(message, id=job_id)


def advance(app: App, completions: Sequence[Completion]) -> None:
    """Start what follows each finished workflow step (called after outcomes are stored, before acks)."""
    for completion in completions:
        header, outcome = completion.workflow, completion.outcome
        if header is None or outcome is None or not outcome.status.finished:
            continue  # a retry: the step is not over yet
        succeeded = outcome.status is JobStatus.SUCCEEDED
        then, report = list(header.get("then") or []), header.get("report")
        if succeeded and then:
            nxt = then[0]
            start(app, header["id"], from_json(app, nxt["node"]), nxt["path"], report, (outcome.result,), then[1:])
        elif report is not None:
            member_done(app, report)


def member_done(app: App, report: Mapping[str, Any]) -> None:
    """Count one join member done (by index: once however often it is delivered); fire the join at the end."""
    store, key = app.state.store, str(report["chord"])
    added, count = store.kv_add(f"{key}:done", str(report["index"]), ttl=app.result_ttl)
    if count < int(report["size"]) or (not added and store.kv_get(f"{key}:fired") is not None):
        return
    raw = store.kv_get(f"{key}:spec")
    if raw is None:
        log.error("workflow join %s: its spec expired before its last member finished; the rest will not run", key)
        return
    _fire(app, json.loads(raw))
    store.kv_set(f"{key}:fired", b"1", ttl=app.result_ttl)


def shape(node: Node) -> Any:
    """What a join needs of its group's tree to find each member's result, without the arguments.

    A signature is ``0``; a chain ``{"c": [shapes]}``; a group ``{"g": [shapes], "f": allow_failures}``,
    or ``{"g": n, ...}`` when its n members are all signatures (a 10,000-member group stays small).
    """
    if isinstance(node, Signature):
        return 0
    if isinstance(node, Chain):
        return {"c": [shape(step) for step in node.steps]}
    members: Any = [shape(member) for member in node.members]
    if all(member == 0 for member in members):
        members = len(members)
    return {"g": members, "f": node.allow_failures}


def _members(group_shape: Mapping[str, Any]) -> list[Any]:
    members = group_shape["g"]
    return [0] * members if isinstance(members, int) else list(members)


def _fire(app: App, spec: Mapping[str, Any]) -> None:
    workflow, path = str(spec["workflow"]), str(spec["path"])
    group = spec["shape"]
    values: list[Any] = []
    failure: str | None = None
    for index, member in enumerate(_members(group)):
        status, value = _final(app, workflow, member, child(path, index))
        if status is JobStatus.SUCCEEDED:
            values.append(value)
        elif group["f"]:
            values.append({"status": status.value, "error": value})
        else:
            values.append(None)
            failure = failure or f"member {index} {status.value}: {value}"
    group_id = step_id(workflow, path)
    store = app.results
    assert store is not None, "workflows need a result store"
    now = time.time()
    if failure is not None:
        store.save_outcomes([Outcome(group_id, JobStatus.FAILED, error=f"group failed: {failure}", finished_at=now)],
                            app.result_ttl)
        if spec.get("report") is not None:
            member_done(app, spec["report"])
        return
    store.save_outcomes([Outcome(group_id, JobStatus.SUCCEEDED, result=values, finished_at=now)], app.result_ttl)
    then = list(spec.get("then") or [])
    if then:
        nxt = then[0]
        start(app, workflow, from_json(app, nxt["node"]), nxt["path"], spec.get("report"), (values,), then[1:])
    elif spec.get("report") is not None:
        member_done(app, spec["report"])


def _final(app: App, workflow: str, member: Any, path: str) -> tuple[JobStatus, Any]:
    """A finished member's status and value (or error), from its shape: a chain's is its last reached step's."""
    if isinstance(member, dict) and "c" in member:
        status, value = JobStatus.UNKNOWN, None
        for index, step in enumerate(member["c"]):
            status, value = _final(app, workflow, step, child(path, index))
            if status is not JobStatus.SUCCEEDED:
                return status, value
        return status, value
    outcome = app.job(step_id(workflow, path)).outcome()  # a signature's, or a joined group's
    if outcome is None:
        return JobStatus.UNKNOWN, "no outcome stored"
    if outcome.status is JobStatus.SUCCEEDED:
        return outcome.status, outcome.result
    return outcome.status, outcome.error
