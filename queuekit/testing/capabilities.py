"""Selecting conformance tests by the capabilities a broker declares."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from queuekit.broker import Capabilities

F = TypeVar("F", bound=Callable[..., object])

SKIP_PREFIX = "capability not declared:"
_ATTRIBUTE = "__queuekit_requires__"


def requires(*names: str) -> Callable[[F], F]:
    """Mark a test as meaningful only for brokers that declare every named capability."""
    known = set(Capabilities.__dataclass_fields__)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown capabilities {unknown}; known: {', '.join(sorted(known))}")

    def mark(test: F) -> F:
        setattr(test, _ATTRIBUTE, tuple(names))
        return test

    return mark


def required_by(test: object) -> tuple[str, ...]:
    """The capabilities a test was marked with (none if unmarked)."""
    found = getattr(test, _ATTRIBUTE, ())
    return tuple(found)


def missing(capabilities: Capabilities, names: Iterable[str]) -> list[str]:
    """The names among ``names`` that ``capabilities`` does not declare."""
    return [name for name in names if not getattr(capabilities, name)]


def skip_reason(capabilities: Capabilities, names: Iterable[str]) -> str | None:
    """The skip reason for a test needing ``names``, or None if all are declared."""
    absent = missing(capabilities, names)
    return f"{SKIP_PREFIX} {', '.join(absent)}" if absent else None
