"""The broker's SQL: named blocks in ``sql/*.sql``, filled and compiled once per database.

``sql/common.sql`` holds every statement as a named block (a ``-- name: <name>`` line,
then the SQL); ``sql/<family>.sql`` holds the blocks that differ on one database and
replaces the common block of the same name there. A block is plain SQL with ``{jobs}``-style
slots for the (validated, quoted) table names and ``{now}`` for the clock, and ``:name``
parameters. :meth:`Statements.get` fills the slots (``str.format``, once per statement) and
compiles the result for the driver (``?``, ``%(name)s`` ...), caching it; the broker then runs
the compiled text on a pooled DB-API cursor.

A list parameter is written ``IN :name`` (SQLAlchemy's own spelling of an expanding
parameter). On PostgreSQL it becomes ``= ANY(%(name)b)``: one array sent in binary, one
short statement whatever the count (psycopg dumps a list as a text array by default,
quoting each element with a regular expression; binary skips that work on both sides,
measured about 1.5x faster for a 1,000-row array INSERT), and so does every
``CAST(:name AS type[])``. Elsewhere it becomes an ``IN`` list of a few fixed sizes
(padded by repeating), so the cache stays small. Three statements get one more slot filled
by code: the claim (``{arms}``, one copy of the arm blocks per queue, each with its ``{i}``),
the nack on SQLite and MySQL (``{delays}``, one ``WHEN :tagsN THEN :delaysN`` per job), and
PostgreSQL's batch insert (``{on_conflict}``: empty, or ``ON CONFLICT DO NOTHING``).
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from queuekit_sql.dialects import Dialect

SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
ARRAY_LIMIT = 4096
FILES = ("common", "sqlite", "postgresql", "mysql")

_HEADER = re.compile(r"^-- name: ([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
# A parameter: ``:name`` not part of ``::`` or a word; ``IN :name`` a list; followed by
# ``AS type[]``, an array (inside a CAST).
_PARAM = re.compile(r"(?<![:\w])(IN\s+)?:(\w+)(?![:\w])(?=(\s+AS\s+[A-Z][A-Z ]*\[\])?)")
_POSITIONAL = {"qmark": "?", "format": "%s"}
_NAMED = {"pyformat": "%({name})s", "named": ":{name}"}


def bucket(count: int) -> int:
    """The smallest cached list size that holds ``count`` items (at most 256)."""
    for size in SIZES:
        if count <= size:
            return size
    return SIZES[-1]


def chunks(items: Sequence[Any], size: int = SIZES[-1]) -> list[Sequence[Any]]:
    """``items`` in slices of at most ``size``."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def padded(values: Sequence[Any], size: int) -> list[Any]:
    """``values`` repeated at the end up to ``size`` (IN lists ignore repeats)."""
    return [*values, *([values[-1]] * (size - len(values)))]


def parse_blocks(text: str) -> dict[str, str]:
    """The named blocks of one ``.sql`` file: name -> SQL, comment lines dropped."""
    parts = _HEADER.split(text)
    found: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in found:
            raise ValueError(f"SQL block {name!r} is defined twice")
        lines = [line.rstrip() for line in body.splitlines() if line.strip() and not line.lstrip().startswith("--")]
        found[name] = "\n".join(lines)
    return found


@functools.cache
def file_blocks(file: str) -> dict[str, str]:
    """The blocks of ``sql/<file>.sql`` shipped in the package."""
    return parse_blocks((resources.files("queuekit_sql") / "sql" / f"{file}.sql").read_text(encoding="utf-8"))


def blocks(family: str) -> dict[str, str]:
    """Every block for one database family: its own file's over the common ones."""
    return {**file_blocks("common"), **file_blocks(family)}


@dataclass(frozen=True)
class Names:
    """Quoted, schema-qualified table and index names, and the NOTIFY channel."""

    jobs: str
    dead: str
    results: str
    kv: str
    kv_members: str
    versions: str
    indexes: Mapping[str, str]
    channel: str

    @classmethod
    def build(cls, prefix: str, schema: str | None, quote: Any) -> Names:
        """Names for ``prefix`` (and ``schema``); both were validated against a strict pattern."""
        qualify = (lambda table: f"{quote(schema)}.{quote(table)}") if schema else quote
        index_names = ("jobs_id", "jobs_key", "jobs_ready", "jobs_waiting", "dead_queue", "dead_id", "results_expiry",
                       "kv_expiry", "kv_members_expiry",
                       "jobs_pkey", "jobs_id_key")  # the last two: PostgreSQL's names for schema 1's constraints
        digest = hashlib.sha256(f"{schema or ''}\0{prefix}".encode()).hexdigest()[:40]
        return cls(
            jobs=qualify(f"{prefix}jobs"),
            dead=qualify(f"{prefix}dead"),
            results=qualify(f"{prefix}results"),
            kv=qualify(f"{prefix}kv"),
            kv_members=qualify(f"{prefix}kv_members"),
            versions=qualify(f"{prefix}schema_version"),
            indexes={f"ix_{name}": quote(f"{prefix}{name}") for name in index_names},
            channel=f"queuekit_{digest}",  # fixed length: never truncated, never shared by two tables
        )


class Compiled:
    """One statement in the driver's own parameter style; ``shape``: the row type its columns were checked for."""

    __slots__ = ("names", "shape", "sql")

    def __init__(self, sql: str, names: Sequence[str] | None) -> None:
        self.sql = sql
        self.names = tuple(names) if names is not None else None
        self.shape: Any = None

    def args(self, params: Mapping[str, Any]) -> Any:
        """Parameters as the driver wants them: a tuple (positional styles) or the mapping."""
        if self.names is None:
            return params
        return tuple(params[name] for name in self.names)

    def check(self, description: Any, shape: Any) -> None:
        """Make sure the result's columns are the fields of ``shape``, by name (once per statement)."""
        columns = tuple(str(column[0]).lower() for column in description or ())
        if columns != shape._fields:
            raise RuntimeError(f"statement returns columns {columns}, read as {shape.__name__}{shape._fields}")
        self.shape = shape


def compile_sql(sql: str, paramstyle: str, *, size: int = 1, arrays: bool = False) -> Compiled:
    """``sql`` with its ``:name`` parameters in the driver's ``paramstyle``.

    ``arrays`` (psycopg): a list is one array parameter and array parameters are sent in
    binary; otherwise ``IN :name`` becomes ``IN (:name0, ..., :name<size-1>)``.
    """
    names: list[str] = []

    def place(name: str, binary: bool) -> str:
        if paramstyle in _POSITIONAL:
            names.append(name)
            return _POSITIONAL[paramstyle]
        if paramstyle == "numeric":
            names.append(name)
            return f":{len(names)}"
        return f"%({name})b" if binary else _NAMED[paramstyle].format(name=name)

    def replace(match: re.Match[str]) -> str:
        listed, name, array = match.group(1), match.group(2), match.group(3)
        if listed and arrays:
            return f"= ANY({place(name, True)})"
        if listed:
            return "IN (" + ", ".join(place(f"{name}{n}", False) for n in range(size)) + ")"
        return place(name, arrays and array is not None)

    if paramstyle in ("format", "pyformat"):
        sql = sql.replace("%", "%%")
    text = _PARAM.sub(replace, sql)
    return Compiled(text, names if paramstyle in (*_POSITIONAL, "numeric") else None)


class Statements:
    """The blocks of one database, filled for its tables and compiled for its driver (each variant cached)."""

    def __init__(self, dialect: Dialect, sa_dialect: Any, names: Names, client_clock: bool) -> None:
        self.dialect = dialect
        self.names = names
        self.blocks = blocks(dialect.family)
        self._fill = {"jobs": names.jobs, "dead": names.dead, "results": names.results, "kv": names.kv,
                      "kv_members": names.kv_members, "now": dialect.now(client_clock)}
        self.client_clock = self._fill["now"] == ":now"
        self._paramstyle = str(sa_dialect.paramstyle)
        # psycopg binds a list as one array, whatever its length; elsewhere each item is a
        # parameter of an IN list of a cached size.
        self._arrays = dialect.family == "postgresql" and getattr(sa_dialect, "driver", "") == "psycopg"
        self.list_limit = ARRAY_LIMIT if self._arrays else SIZES[-1]
        self._cache: dict[tuple[Any, ...], Compiled] = {}
        self._lock = threading.Lock()

    def render(self, name: str, **slots: str) -> str:
        """The block with its slots filled but parameters still ``:named`` (for a SQLAlchemy connection)."""
        return self.blocks[name].format(**self._fill, **slots)

    def get(self, name: str, size: int = 1, **slots: str) -> Compiled:
        """The compiled statement (cached); ``size``: the length its ``IN`` lists are compiled for."""
        key = (name, size, *sorted(slots.items())) if slots else (name, size)
        found = self._cache.get(key)
        if found is None:
            found = compile_sql(self.render(name, **slots), self._paramstyle, size=size, arrays=self._arrays)
            with self._lock:
                self._cache[key] = found
        return found

    def claim(self, queue_count: int) -> Compiled:
        """The claim over ``queue_count`` queues (``:q0``...): ``claim``, or ``pick`` on MySQL, with its arms."""
        key = ("claim", queue_count)
        found = self._cache.get(key)
        if found is None:
            arms = " UNION ALL ".join(self.render(arm, i=str(i))
                                      for i in range(queue_count) for arm in ("claim_ready_arm", "claim_due_arm"))
            name = "claim" if self.dialect.update_returning else "pick"
            found = compile_sql(self.render(name, arms=arms), self._paramstyle, arrays=self._arrays)
            with self._lock:
                self._cache[key] = found
        return found

    def listed(
        self, name: str, lists: Mapping[str, Sequence[Any]], params: Mapping[str, Any]
    ) -> tuple[Compiled, dict[str, Any]]:
        """The statement and its parameters, with each list of ``lists`` (one length, at most ``list_limit``).

        PostgreSQL takes each list as one array; elsewhere ``name0``, ``name1``... of an IN
        list of a cached size, padded by repeating.
        """
        merged = dict(params)
        if self._arrays:
            for key, values in lists.items():
                merged[key] = list(values)
            return self.get(name, 0), merged
        size = bucket(max(len(values) for values in lists.values()))
        for key, values in lists.items():
            for n, value in enumerate(padded(values, size)):
                merged[f"{key}{n}"] = value
        delays = " ".join(f"WHEN :tags{n} THEN :delays{n}" for n in range(size)) if "delays" in lists else ""
        return (self.get(name, size, delays=delays) if delays else self.get(name, size)), merged
