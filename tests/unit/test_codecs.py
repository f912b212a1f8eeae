"""Both codecs under one contract: the same acceptance, the same decoded values, the same errors, one wire format."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import subprocess
import sys
import uuid
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuekit import App
from queuekit.broker import JobStatus, Outcome
from queuekit.codec import Codec, codec_named, resolve_codec
from queuekit.codec_json import JsonCodec
from queuekit.errors import ConfigurationError, MalformedMessage, MessageTooLarge, SerializationError, SignatureError
from queuekit.json_values import MAX_DEPTH
from queuekit.message import DEFAULT_MAX_SIZE, Message, Signer

pytest.importorskip("msgspec")  # in the dev install through queuekit[all]; CI installs it

REFERENCE = codec_named("json")
FAST = codec_named("msgspec")
CODECS = [pytest.param(REFERENCE, id="json"), pytest.param(FAST, id="msgspec")]
PAIRS = [pytest.param(a, b, id=f"{a.name}-to-{b.name}") for a in (REFERENCE, FAST) for b in (REFERENCE, FAST)]
SIGNER = Signer.from_secret("s3cret")


class Colour(enum.IntEnum):
    RED = 1


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


REFUSED_VALUES = [
    float("nan"), float("inf"), float("-inf"), dt.datetime(2026, 1, 1), dt.date(2026, 1, 1), uuid.uuid4(),
    decimal.Decimal("1.5"), b"bytes", bytearray(b"x"), {1, 2}, frozenset({1}), {1: "int key"}, {1.5: "x"},
    {None: "x"}, {True: "x"}, {(1, 2): "x"}, Colour.RED, OrderedDict(a=1), object(), _nested(MAX_DEPTH + 1),
    [[float("nan")]], {"a": {"b": uuid.uuid4()}}, "\ud800", 10**5000,
]


def _outcome(result: Any) -> Outcome:
    return Outcome("job1", JobStatus.SUCCEEDED, result=result, attempts=1, finished_at=1.5)


def _error(call: Any) -> str:
    """The class and message of what ``call`` raised, or "" if it returned."""
    try:
        call()
    except (SerializationError, MalformedMessage, MessageTooLarge) as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("value", REFUSED_VALUES, ids=lambda v: type(v).__name__)
def test_every_codec_refuses_what_json_cannot_carry_faithfully(codec: Codec, value: Any) -> None:
    with pytest.raises(SerializationError, match="not JSON-serializable"):
        codec.encode(Message("t.send", (value,)), max_size=DEFAULT_MAX_SIZE)
    with pytest.raises(SerializationError, match="not JSON-serializable"):
        codec.encode(Message("t.send", kwargs={"x": value}), max_size=DEFAULT_MAX_SIZE)
    with pytest.raises(SerializationError, match="not JSON-serializable"):
        codec.encode_outcome(_outcome(value))


@pytest.mark.parametrize(("writer", "reader"), PAIRS)
def test_tuples_arrive_as_lists_and_the_deepest_allowed_nesting_passes(writer: Codec, reader: Codec) -> None:
    message = Message("t.send", ((1, (2, 3)), _nested(MAX_DEPTH)), {"k": (4,)})
    back = reader.decode(writer.encode(message, max_size=DEFAULT_MAX_SIZE), max_size=DEFAULT_MAX_SIZE)
    assert back.args == ([1, [2, 3]], _nested(MAX_DEPTH))
    assert back.kwargs == {"k": [4]}


def _envelope(args: str) -> bytes:
    return b'{"v":1,"id":"x","task":"t","args":' + args.encode("utf-8", "surrogatepass") + b"}"


MALFORMED = [
    _envelope("[NaN]"), _envelope("[Infinity]"), _envelope("[-Infinity]"), _envelope("[1e400]"),
    _envelope("[-1e400]"), _envelope('["\\ud800"]'), _envelope('["\\udc00x"]'), _envelope('["\\ud800\\u0041"]'),
    _envelope("[" + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "]"),
    _envelope("[" + '{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1) + "]"),
    _envelope("[" + "9" * 4301 + "]"), _envelope('["\xff"]').replace(b"\xc3\xbf", b"\xff"),
    b'{"v":1,"id":"x","task":"t","created_at":1e400}', b'{"v":1,"id":"x","task":"t","timeout":' + b"9" * 400 + b"}",
    b'{"v":1,"id":"x","task":"t","priority":1.0}', b'{"v":1,"id":"x","task":"t","headers":[]}',
    b'\xef\xbb\xbf{"v":1,"id":"x","task":"t"}', b'{"v":1,"id":"x","task":"t"} x', b"", b"null", b'"s"',
    b'{"v":1,"id":"x","task":"t","args":[1,]}', b'{"v":1,"id":"x","task":"t","args":["a\nb"]}',
]


@pytest.mark.parametrize("body", MALFORMED)
def test_both_codecs_refuse_the_same_bodies_in_the_same_words(body: bytes) -> None:
    reference = _error(lambda: REFERENCE.decode(body, max_size=DEFAULT_MAX_SIZE))
    assert reference.startswith("MalformedMessage: ")
    assert _error(lambda: FAST.decode(body, max_size=DEFAULT_MAX_SIZE)) == reference


@pytest.mark.parametrize(("writer", "reader"), PAIRS)
def test_mixed_producers_and_workers_interoperate_signed_and_unsigned(writer: Codec, reader: Codec) -> None:
    message = Message("t.send", (1, 1e16, 1e-7, 0.1 + 0.2, "é\u2028\x00", None, True), {"k": {"n": [1.5]}},
                      "emails", 3, max_attempts=2, timeout=2, key="k", headers={"x-trace": "abc", "qk.wf": {"a": 1}})
    expected = Message(**{**message.__dict__, "delay": 0.0, "timeout": 2.0, "args": (1, 1e16, 1e-7, 0.1 + 0.2,
                       "é\u2028\x00", None, True)})
    plain = writer.encode(message, max_size=DEFAULT_MAX_SIZE)
    assert reader.decode(plain, max_size=DEFAULT_MAX_SIZE) == expected
    signed = writer.encode(message, max_size=DEFAULT_MAX_SIZE, signer=SIGNER)
    assert reader.decode(signed, max_size=DEFAULT_MAX_SIZE, signer=SIGNER) == expected
    with pytest.raises(SignatureError, match="does not match"):
        reader.decode(signed.replace(b'"emails"', b'"others"'), max_size=DEFAULT_MAX_SIZE, signer=SIGNER)
    with pytest.raises(SignatureError, match="not signed"):
        reader.decode(plain, max_size=DEFAULT_MAX_SIZE, signer=SIGNER)


@pytest.mark.parametrize(("writer", "reader"), PAIRS)
def test_outcomes_cross_codecs(writer: Codec, reader: Codec) -> None:
    outcome = Outcome("j", JobStatus.FAILED, {"a": [1, 2.5]}, "boom", "trace", 3, 12.25, {"task": "t"})
    assert reader.decode_outcome(writer.encode_outcome(outcome)) == outcome
    assert json.loads(writer.encode_outcome(outcome)) == json.loads(REFERENCE.encode_outcome(outcome))


@pytest.mark.parametrize("codec", CODECS)
def test_unreadable_outcomes_and_sizes_are_named(codec: Codec) -> None:
    with pytest.raises(MalformedMessage, match="stored outcome is unreadable"):
        codec.decode_outcome(b'{"id":"j","status":"exploded"}')
    with pytest.raises(MalformedMessage, match="stored outcome is unreadable"):
        codec.decode_outcome(b"[1]")
    assert codec.decode_outcome(b'{"id":"j","status":"succeeded","attempts":"2","extra":null}').attempts == 2
    with pytest.raises(MessageTooLarge, match="over the limit of 100"):
        codec.encode(Message("t.send", ("x" * 200,)), max_size=100)
    with pytest.raises(MalformedMessage, match="exceeds the limit of 10"):
        codec.decode(b'{"v":1,"id":"x","task":"t"}', max_size=10)


# Values JSON can carry and a selection of those it cannot, at any depth.
_scalars = (
    st.none() | st.booleans() | st.integers() | st.integers(-(10**30), 10**30) | st.floats() | st.text()
    | st.sampled_from([dt.date(2026, 1, 1), uuid.UUID(int=5), b"b", decimal.Decimal(1), Colour.RED, "\udc80"])
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner) | st.frozensets(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=5) | st.integers() | st.none(), inner, max_size=3),
    max_leaves=10,
)


@given(args=st.lists(_values, max_size=3), kwargs=st.dictionaries(st.text(max_size=5), _values, max_size=2),
       signed=st.booleans())
def test_both_codecs_accept_the_same_messages_and_read_each_other_identically(
    args: list[Any], kwargs: dict[str, Any], signed: bool
) -> None:
    message = Message("t.send", tuple(args), kwargs, id="j", created_at=1.0)
    signer = SIGNER if signed else None
    bodies = []
    for codec in (REFERENCE, FAST):
        try:
            bodies.append(codec.encode(message, max_size=DEFAULT_MAX_SIZE, signer=signer))
        except SerializationError as exc:
            bodies.append(exc)
    reference, fast = bodies
    assert type(reference) is type(fast)
    if isinstance(reference, bytes) and isinstance(fast, bytes):
        assert json.loads(reference) == json.loads(fast)
        decoded = {(w.name, r.name): r.decode(body, max_size=DEFAULT_MAX_SIZE, signer=signer)
                   for w, body in ((REFERENCE, reference), (FAST, fast)) for r in (REFERENCE, FAST)}
        assert len({repr(m) for m in decoded.values()}) == 1  # repr: NaN-free, so equal values print alike
        assert decoded["json", "json"] == decoded["msgspec", "msgspec"]


_fields = st.sampled_from(["v", "id", "task", "args", "kwargs", "queue", "priority", "max_attempts", "timeout",
                           "key", "created_at", "headers", "other"])
_tokens = st.sampled_from(["1", "0", "-1", "1.0", "1e400", "NaN", "Infinity", "true", "null", '"s"', '"\\ud800"',
                           "[]", "{}", "[1,[2]]", '{"a":[]}', "9" * 25, '"\\u00e9"', "[NaN]", "2.5e-3"])


@given(st.dictionaries(_fields, _tokens, min_size=1), st.booleans())
def test_both_codecs_agree_on_any_envelope_document(document: dict[str, str], bare: bool) -> None:
    base = {} if bare else {"v": "1", "id": '"x"', "task": '"t"'}
    fields = {**base, **document}
    body = ("{" + ",".join(f'"{name}":{token}' for name, token in fields.items()) + "}").encode()
    outcomes = []
    for codec in (REFERENCE, FAST):
        try:
            outcomes.append(repr(codec.decode(body, max_size=DEFAULT_MAX_SIZE)))
        except MalformedMessage as exc:
            outcomes.append(f"refused: {exc}")
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("token", ["1e400", "-1E+400", "1" * 400 + ".0", "9" * 5000])
def test_an_unknown_field_out_of_range_is_refused_by_both_codecs(token: str) -> None:
    # msgspec skips unknown fields unread; the fast codec must not let such a number through
    body = ('{"v":1,"id":"x","task":"t","future":' + token + "}").encode()
    reasons = []
    for codec in (REFERENCE, FAST):
        with pytest.raises(MalformedMessage) as refused:
            codec.decode(body, max_size=DEFAULT_MAX_SIZE)
        reasons.append(str(refused.value))
    assert reasons[0] == reasons[1]


def test_an_unknown_field_in_range_is_read_alike_by_both_codecs() -> None:
    body = b'{"v":1,"id":"x","task":"t","future":{"a":[1e300,2]}}'
    assert REFERENCE.decode(body) == FAST.decode(body)


def test_apps_choose_by_argument_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUEKIT_CODEC", "json")
    assert App("memory://").codec is REFERENCE
    assert App("memory://", codec="msgspec").codec is FAST
    monkeypatch.setenv("QUEUEKIT_CODEC", "auto")
    assert App("memory://").codec is FAST
    custom = JsonCodec()
    assert App("memory://", codec=custom).codec is custom
    monkeypatch.setenv("QUEUEKIT_CODEC", "pickle")
    with pytest.raises(ConfigurationError, match="unknown codec 'pickle'"):
        App("memory://")
    with pytest.raises(ConfigurationError, match="codec must be one of"):
        resolve_codec(42)  # type: ignore[arg-type]


def test_without_msgspec_auto_falls_back_and_msgspec_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "msgspec", None)
    monkeypatch.delitem(sys.modules, "queuekit.codec_msgspec", raising=False)
    codec_named.cache_clear()
    try:
        assert codec_named("auto").name == "json"
        with pytest.raises(ConfigurationError, match=r'pip install "queuekit\[fast\]"'):
            codec_named("msgspec")
    finally:
        codec_named.cache_clear()


def test_importing_queuekit_does_not_import_msgspec() -> None:
    code = "import sys, queuekit; assert 'msgspec' not in sys.modules, 'imported'; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr
