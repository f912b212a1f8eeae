"""What a JSON value may be: the one contract every codec (:mod:`queuekit.codec`) enforces.

Arguments, keyword arguments, headers and results travel as JSON. A value is accepted
when it is built only from the plain types ``dict`` (string keys), ``list``, ``tuple``
(sent as a list), ``str``, ``int``, finite ``float``, ``bool`` and ``None``, nested at
most :data:`MAX_DEPTH` containers deep. Subclasses (an ``IntEnum``, an ``OrderedDict``),
``datetime``, ``UUID``, ``Decimal``, ``bytes`` and sets are refused, although some JSON
libraries would quietly turn them into something else: what a task receives is exactly
what was sent. Integers are limited only by Python's own integer-to-text limit (4,300
digits by default), which both codecs share.

Each codec calls :func:`check_value` before encoding. On decoding, JSON itself can only
carry the plain types; :func:`needs_depth_check` and :func:`check_depth` refuse a body
nested deeper than the limit, so that both codecs accept and refuse the same bodies.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from queuekit.errors import SerializationError

MAX_DEPTH = 64  # containers inside one argument, keyword argument, header value or result
_SAFE_BITS = 14_000  # an int this short always has a decimal spelling (4,300 digits is about 14,284 bits)
_SHOWN = 60


def check_value(value: Any, where: str) -> None:
    """Raise :class:`SerializationError` naming ``where`` unless ``value`` is a plain JSON value.

    ``where`` says what the value is, for the message (``"an argument of task 'x'"``).
    """
    kind = type(value)
    if kind is str:
        if not value.isascii():
            _check_text(value, where)
    elif kind is int:
        if value.bit_length() > _SAFE_BITS:
            _check_int(value, where)
    elif kind is float:
        if value - value != 0.0:  # NaN and both infinities; JSON has no spelling for them
            raise SerializationError(
                f"{where} is not JSON-serializable: {value!r} has no JSON spelling; send a finite number"
            )
    elif kind is not bool and value is not None:
        _check(value, where, 0)


def _check_text(value: str, where: str) -> None:
    try:
        value.encode()
    except UnicodeEncodeError:
        raise SerializationError(
            f"{where} is not JSON-serializable: a str holds a lone surrogate; send valid Unicode text"
        ) from None


def _check_int(value: int, where: str) -> None:
    try:
        str(value)
    except ValueError:
        raise SerializationError(
            f"{where} is not JSON-serializable: an int has more digits than Python writes (4,300 by default); "
            "send it as a str"
        ) from None


def _check(value: Any, where: str, depth: int) -> None:
    kind = type(value)
    if kind is list or kind is tuple:
        items: Iterable[Any] = value
    elif kind is dict:
        for key in value:
            if type(key) is not str:
                raise SerializationError(
                    f"{where} is not JSON-serializable: dict key {str(key)[:_SHOWN]!r} is a {type(key).__name__}, "
                    "not a str; convert the keys with str()"
                )
            if not key.isascii():
                _check_text(key, where)
        items = value.values()
    else:
        raise SerializationError(
            f"{where} is not JSON-serializable: {kind.__name__} is not a JSON type; convert it to a plain dict, "
            "list, str, int, float, bool or None"
        )
    if depth >= MAX_DEPTH:
        raise SerializationError(f"{where} is not JSON-serializable: nested over {MAX_DEPTH} levels deep; flatten it")
    for item in items:
        kind = type(item)
        if kind is list or kind is dict or kind is tuple:
            _check(item, where, depth + 1)
        elif kind is not str or not item.isascii():
            check_value(item, where)


def check_values(values: Iterable[Any], where: str) -> None:
    """:func:`check_value` for each of ``values`` (the arguments of one call)."""
    for item in values:
        if type(item) is not str or not item.isascii():
            check_value(item, where)


def within_depth(body: bytes, args: list[Any], kwargs: dict[str, Any], headers: dict[str, Any]) -> bool:
    """True unless an argument, keyword argument or header value of a decoded envelope is nested past the limit.

    The common message (scalar arguments, no keyword arguments or headers) takes one
    loop; any other counts the body's brackets before walking.
    """
    if not (kwargs or headers):
        for value in args:
            if type(value) is list or type(value) is dict:
                break
        else:
            return True
    if not needs_depth_check(body):
        return True
    return all(map(check_depth, args)) and all(map(check_depth, kwargs.values())) and all(
        map(check_depth, headers.values()))


def needs_depth_check(body: bytes) -> bool:
    """True if ``body`` has enough brackets that some value in it might be nested too deeply.

    Counting brackets (in strings too) is cheap and errs on the side of checking.
    """
    return body.count(b"[") + body.count(b"{") > MAX_DEPTH


def check_depth(value: Any, depth: int = 0) -> bool:
    """True if ``value`` (an argument, header value or result) is nested no deeper than :func:`check_value` allows."""
    kind = type(value)
    if kind is list:
        items: Iterable[Any] = value
    elif kind is dict:
        items = value.values()
    else:
        return True
    if depth >= MAX_DEPTH:
        return False
    return all(check_depth(item, depth + 1) for item in items)
