"""The envelope: round trips, every malformed shape, signing, size limits, through each codec in turn.

``encode`` and ``decode`` use the default codec; the module runs once with
``QUEUEKIT_CODEC=json`` and once with ``msgspec`` (tests/unit/test_codecs.py compares them).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuekit.codec import ENV_CODEC, default_codec
from queuekit.errors import MalformedMessage, MessageTooLarge, SerializationError, SignatureError
from queuekit.message import Message, Signer, decode, describe, encode, new_id


@pytest.fixture(scope="module", autouse=True, params=["json", "msgspec"])
def codec(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test of this module, once per codec (module scope: hypothesis tests take no per-test fixture)."""
    if request.param == "msgspec":
        pytest.importorskip("msgspec")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENV_CODEC, request.param)
        default_codec.cache_clear()
        assert default_codec().name == request.param
        yield request.param
    default_codec.cache_clear()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(args=st.lists(json_values, max_size=4), kwargs=st.dictionaries(st.text(max_size=8), json_values, max_size=3),
       priority=st.integers(-100, 100))
def test_round_trip_preserves_every_field(args: list[object], kwargs: dict[str, object], priority: int) -> None:
    message = Message("t.send", tuple(args), kwargs, "emails", priority, max_attempts=3, timeout=2.5, key="k")
    back = decode(encode(message))
    assert back == Message(**{**message.__dict__, "delay": 0.0})


def test_signed_round_trip_and_tampering() -> None:
    signer = Signer.from_secret("s3cret")
    body = encode(Message("t.send", (1,)), signer=signer)
    assert decode(body, signer=signer).args == (1,)
    tampered = body.replace(b"[1]", b"[2]")
    with pytest.raises(SignatureError, match="does not match"):
        decode(tampered, signer=signer)
    with pytest.raises(SignatureError, match="not signed"):
        decode(encode(Message("t.send")), signer=signer)
    with pytest.raises(SignatureError, match="unknown signing key"):
        decode(body, signer=Signer.from_secret("other", key_id="k2"))


def test_rotated_keys_verify_old_messages() -> None:
    old = Signer.from_secret("old", key_id="k1")
    body = encode(Message("t.send"), signer=old)
    rotated = Signer({"k1": b"old", "k2": b"new"}, current="k2")
    assert decode(body, signer=rotated).task == "t.send"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"[" * 100_000, "nested too deeply|not valid JSON"),
        (b'{"v":1,"id":"x","task":"t","created_at":' + b"1" * 5000 + b"}", "not valid JSON"),
        (b'{"v":1,"id":"x"}', "'task' is missing"),
        (b'{"v":2,"id":"x","task":"t"}', "version 2"),
        (b'{"v":1,"id":"x","task":"t","args":{}}', "'args' must be list"),
        (b'{"v":1,"id":"x","task":"t","kwargs":[]}', "'kwargs' must be dict"),
        (b'{"v":1,"id":"x","task":"t","max_attempts":"3"}', "'max_attempts' must be int"),
        (b'{"v":1,"id":"x","task":"t","max_attempts":true}', "must be int, got bool"),
        (b'{"v":1,"id":"x","task":"t","max_attempts":0}', "at least 1"),
        (b'{"v":1,"id":7,"task":"t"}', "'id' must be str"),
    ],
)
def test_malformed_bodies_are_named(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        decode(body)


def test_decoding_imports_nothing() -> None:
    before = set(sys.modules)
    evil = json.dumps({"v": 1, "id": "x", "task": "os.system", "args": ["true"],
                       "kwargs": {"__class__": "subprocess.Popen"}}).encode()
    message = decode(evil)
    assert message.task == "os.system"
    assert set(sys.modules) == before


def test_size_limits_on_both_sides() -> None:
    big = Message("t.send", ("x" * 2000,))
    with pytest.raises(MessageTooLarge, match="over the limit of 1000"):
        encode(big, max_size=1000)
    body = encode(big)
    with pytest.raises(MalformedMessage, match="exceeds the limit"):
        decode(body, max_size=1000)


def test_unserializable_arguments_raise_serialization_error() -> None:
    with pytest.raises(SerializationError, match="not JSON-serializable"):
        encode(Message("t.send", (object(),)))
    with pytest.raises(SerializationError):
        encode(Message("t.send", (float("nan"),)))


def test_describe_never_shows_content() -> None:
    text = describe(b'{"password": "hunter2"}')
    assert "hunter2" not in text
    assert text.startswith("23 bytes sha256:")


field_values = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False),
                         st.text(max_size=5), st.lists(st.integers(), max_size=2),
                         st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
FIELDS = ["v", "id", "task", "args", "kwargs", "queue", "priority", "max_attempts", "timeout", "key",
          "created_at", "headers"]


@given(st.dictionaries(st.sampled_from(FIELDS), field_values))
def test_any_document_decodes_to_a_well_typed_message_or_is_rejected(document: dict[str, object]) -> None:
    try:
        message = decode(json.dumps(document).encode())
    except MalformedMessage:
        return
    assert type(message.id) is str and type(message.task) is str
    assert type(message.args) is tuple and type(message.kwargs) is dict and type(message.headers) is dict
    assert type(message.priority) is int and type(message.max_attempts) is int and message.max_attempts >= 1
    assert message.timeout is None or type(message.timeout) is float
    assert message.key is None or type(message.key) is str


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_never_hands_out_the_ids_its_parent_will() -> None:
    new_id()  # the parent's pool of randomness is filled, and most of it unused
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, then gone without running pytest's teardown
        os.write(write, new_id()[12:].encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        childs = pipe.read()
    os.waitpid(pid, 0)
    parents = new_id()[12:]
    assert len(childs) == 20 and childs != parents


def test_task_message_and_build_make_the_same_message() -> None:
    import dataclasses

    from queuekit import App

    app = App("memory://")
    task = app.task(name="t.mail", queue="mail", priority=4, retries=2, timeout=7.5)(lambda *a, **k: None)
    fast, general = task.message(1, "x", to="a@b"), task.build((1, "x"), {"to": "a@b"})
    same = [f.name for f in dataclasses.fields(Message) if f.name not in ("id", "created_at")]  # made afresh
    assert [getattr(fast, f) for f in same] == [getattr(general, f) for f in same]
    assert (fast.queue, fast.priority, fast.max_attempts, fast.timeout) == ("mail", 4, 3, 7.5)
    assert fast.id != general.id and len(fast.id) == 32


def test_envelopes_stay_frozen_and_compare_by_value() -> None:
    import dataclasses

    from queuekit.broker import Envelope

    envelope = Envelope("id1", "q", b"body", priority=2)
    twin = Envelope("id1", "q", b"body", 2, 0.0, None)
    assert envelope == twin and hash(envelope) == hash(twin)
    with pytest.raises(dataclasses.FrozenInstanceError):
        envelope.queue = "other"  # type: ignore[misc]
    assert dataclasses.replace(envelope, delay=5.0) == Envelope("id1", "q", b"body", 2, 5.0)
