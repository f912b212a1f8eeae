"""Message bodies a producer could never send, for writing straight into a broker.

Each carries :data:`MARK` where it has room for it, so a test can check that no raw
body reaches the worker's log. The schema, task-name and signature cases are signed
correctly unless the signature is the defect, so each reaches the check it is about.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from queuekit.message import Message, Signer

MARK = "QKRAWBODY7"
UNIMPORTED_MODULE = "wsgiref.simple_server"  # stdlib, never imported by a worker


@dataclass(frozen=True)
class BadBody:
    """One malformed body and the start of the dead-letter reason it must get."""

    name: str
    body: bytes
    reason: str


def _canonical(document: dict[str, Any]) -> bytes:
    """The bytes the signature covers: sorted keys, no spaces (as queuekit.message signs)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


_DROP: Any = object()  # as a field's new value: remove the field


def _document(**changes: Any) -> dict[str, Any]:
    document = Message("faults.work", (MARK,)).to_json()
    for name, value in changes.items():
        if value is _DROP:
            del document[name]
        else:
            document[name] = value
    return document


def _signed(signer: Signer, document: dict[str, Any], *, kid: str | None = None, mac: str | None = None) -> bytes:
    key = kid or signer.current
    digest = mac or signer.mac(key, _canonical(document))
    return json.dumps({**document, "sig": {"kid": key, "mac": digest}}).encode()


def bad_bodies(signer: Signer, max_size: int) -> list[BadBody]:
    """One body per defect the research plan (5.9) lists, for a worker signing with ``signer``."""

    def sign(**changes: Any) -> bytes:
        return _signed(signer, _document(**changes))

    oversized = json.dumps({"pad": MARK * (max_size // len(MARK) + 1)}).encode()
    return [
        BadBody("not UTF-8", b"\xff\xfe" + MARK.encode() + b"\xc3\x28", "malformed: body is not UTF-8"),
        BadBody("invalid JSON", f'{{"v": 1, "task": "faults.work", "args": ["{MARK}"'.encode(),
                "malformed: body is not valid JSON"),
        BadBody("not an object", json.dumps([MARK]).encode(), "malformed: body is not a JSON object"),
        BadBody("5,000-digit integer", f'{{"v": 1, "args": [{"9" * 5000}], "m": "{MARK}"}}'.encode(),
                "malformed: body is not valid JSON"),
        BadBody("deep nesting", b"[" * (max_size - 1000), "malformed: body is nested too deeply"),
        BadBody("oversized", oversized, f"malformed: body of {len(oversized)} bytes exceeds the limit of {max_size}"),
        BadBody("missing task", sign(task=_DROP), "malformed: field 'task' is missing"),
        BadBody("args not a list", sign(args={"a": MARK}), "malformed: field 'args' must be list, got dict"),
        BadBody("kwargs not an object", sign(kwargs=[MARK]), "malformed: field 'kwargs' must be dict, got list"),
        BadBody("attempts a string", sign(max_attempts="3"), "malformed: field 'max_attempts' must be int, got str"),
        BadBody("unknown task os.system", sign(task="os.system", args=[f"echo {MARK}"]),
                "unknown task 'os.system': not registered"),
        BadBody("unknown importable task", sign(task=f"{UNIMPORTED_MODULE}.demo_app"),
                f"unknown task '{UNIMPORTED_MODULE}.demo_app': not registered"),
        BadBody("wrong arity", sign(args=[MARK, 1, 2, 3, 4], max_attempts=1), "exception: TypeError: "),
        BadBody("not signed", json.dumps(_document()).encode(), "malformed: message is not signed"),
        BadBody("bad signature", _signed(signer, _document(), mac="0" * 64), "malformed: signature does not match"),
        BadBody("unknown key id", _signed(signer, _document(), kid="k9", mac="0" * 64),
                "malformed: unknown signing key id 'k9'"),
    ]
