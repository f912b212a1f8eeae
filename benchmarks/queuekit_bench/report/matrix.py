"""The guarantees matrix: per backend, what it declares against what the run measured."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from queuekit_bench.report.data import Entry, count, scenario

KEPT = "kept"
VIOLATED = "VIOLATED"
NOT_PROMISED = "not promised"
NOT_MEASURED = "not measured"

COLUMNS = ("durable", "fifo", "priorities", "delays", "at_least_once", "transactional_enqueue")


@dataclass(frozen=True)
class Cell:
    """One guarantee of one backend: the declaration, the measurement and the verdict."""

    declared: str
    measured: str
    verdict: str

    def text(self) -> str:
        """Compact form for tables: ``declared / measured: verdict``."""
        return f"{self.declared} / {self.measured}: {self.verdict}"


def _verdict(promised: bool, broken: bool | None) -> str:
    if broken is None:
        return NOT_MEASURED
    if not promised:
        return NOT_PROMISED
    return VIOLATED if broken else KEPT


def _yes(value: Any) -> str:
    return "yes" if value else "no"


def _durable(caps: dict[str, Any], failure: dict[str, Any] | None) -> Cell:
    declared = str(caps.get("durability", "?"))
    if failure and failure.get("mode", "").startswith("broker"):
        measured = f"{count(failure.get('lost'))} of {count(failure.get('accepted'))} lost when its process died"
        lost = int(failure.get("lost", 0))
        return Cell(declared, measured, NOT_PROMISED if declared == "none" else (VIOLATED if lost else KEPT))
    return Cell(declared, "broker restarts are not part of the bench", NOT_MEASURED)


def _fifo(caps: dict[str, Any], ordering: dict[str, Any] | None) -> Cell:
    fifo = ordering.get("fifo_1") if ordering else None
    if not fifo:
        return Cell(_yes(caps.get("fifo")), "-", NOT_MEASURED)
    inversions = int(fifo["inversions"])
    many = ordering.get("fifo_n", {}) if ordering else {}
    with_many = f"{count(many.get('inversions'))} with {count(many.get('consumers'))}"
    measured = f"{inversions} inversions (1 consumer); {with_many}"
    return Cell(_yes(caps.get("fifo")), measured, _verdict(bool(caps.get("fifo")), inversions > 0))


def _priorities(caps: dict[str, Any], ordering: dict[str, Any] | None) -> Cell:
    prio = ordering.get("priority") if ordering else None
    if not prio:
        return Cell(_yes(caps.get("priorities")), "-", NOT_MEASURED)
    inversions = int(prio["inversions"])
    return Cell(_yes(caps.get("priorities")), f"{inversions} inversions",
                _verdict(bool(caps.get("priorities")), inversions > 0))


def _delays(caps: dict[str, Any], ordering: dict[str, Any] | None) -> Cell:
    delay = ordering.get("delay") if ordering else None
    if not delay or "early" not in delay:
        return Cell(_yes(caps.get("delays")), "-", NOT_MEASURED)
    early, never = int(delay["early"]), int(delay.get("never_ran", 0))
    measured = f"{early} early, {never} never ran"
    return Cell(_yes(caps.get("delays")), measured, _verdict(bool(caps.get("delays")), early + never > 0))


def _at_least_once(caps: dict[str, Any], failure: dict[str, Any] | None) -> Cell:
    promised = bool(caps.get("at_least_once"))
    if not failure or not failure.get("mode", "").startswith("worker"):
        return Cell(_yes(promised), "-", NOT_MEASURED)
    lost, unexpected = int(failure["lost"]), int(failure["unexpected"])
    measured = (f"{count(failure.get('accepted'))} accepted, {lost} lost, {count(failure.get('duplicated'))} "
                f"duplicated, {dead_text(failure)} after {len(failure.get('kills', []))} kills")
    verdict = VIOLATED if unexpected else _verdict(promised, lost > 0)
    return Cell(_yes(promised), measured, verdict)


def dead_text(failure: dict[str, Any]) -> str:
    """``N dead-lettered (M never started)``; the second part only where the run recorded it."""
    text = f"{count(failure.get('dead_lettered', 0))} dead-lettered"
    unstarted = failure.get("dead_lettered_unstarted")
    return text + (f" ({count(unstarted)} never started)" if unstarted is not None else "")


def guarantees(entry: Entry) -> dict[str, Cell]:
    """The matrix row of one backend that ran."""
    caps: dict[str, Any] = entry.get("capabilities") or {}
    ordering = scenario(entry, "ordering")
    failure = scenario(entry, "failure")
    return {
        "durable": _durable(caps, failure),
        "fifo": _fifo(caps, ordering),
        "priorities": _priorities(caps, ordering),
        "delays": _delays(caps, ordering),
        "at_least_once": _at_least_once(caps, failure),
        "transactional_enqueue": Cell(_yes(caps.get("transactional_enqueue")), "-", NOT_MEASURED),
    }


def violations(entry: Entry) -> list[str]:
    """The guarantees a backend declared and the run saw broken."""
    return [name for name, cell in guarantees(entry).items() if cell.verdict == VIOLATED]
