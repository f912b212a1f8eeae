"""The SQL blocks (queuekit_sql/sql/*.sql) against the code that asks for them, without a database.

Every block is asked for somewhere, and every name the code asks for exists on each database
that runs it; each block fills and compiles for each driver's parameter style.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import sqlalchemy
from queuekit_sql.dialects import DIALECTS
from queuekit_sql.statements import FILES, Names, Statements, blocks, compile_sql, file_blocks, parse_blocks

PACKAGE = Path(__file__).resolve().parents[2] / "backends" / "sql" / "queuekit_sql"
FAMILIES = ("sqlite", "postgresql", "mysql")
ENGINES = {"sqlite": "sqlite://", "postgresql": "postgresql+psycopg://u@h/d", "mysql": "mysql+pymysql://u@h/d"}
# The modules that run statements (the others build URLs, pools and schemas).
MODULES = ("admin", "base", "broker", "keyvalue", "results", "statements", "transactional")
# Calls whose argument names a block, and which argument.
_ASKING = {"get": 0, "render": 0, "listed": 0, "rows": 0, "rows_in": 0, "run": 0, "many": 0, "arrays": 0,
           "_listed": 1, "_held": 1}
# Statements the code asks for on some databases only (the code branches on the family).
ONLY = {
    "insert_notify": {"postgresql"}, "insert_job_arrays": {"postgresql"},
    "dead_move": {"postgresql"}, "notify": {"postgresql"},
    "clock": {"mysql"}, "insert_job_bound": {"mysql"}, "max_packet": {"mysql"}, "lease_picked": {"mysql"},
    "pick": {"mysql"},
    "claim": {"sqlite", "postgresql"},
    "take_held": {"sqlite", "mysql"}, "delete_jobs": {"sqlite", "mysql"}, "insert_dead": {"sqlite", "mysql"},
}
_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")


def _strings(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def asked() -> set[str]:
    """Block names the backend's code asks for (literal arguments, and the block names a name argument is set from)."""
    literal, variable = _asked()
    return literal | (variable & _all_blocks())


def _asked() -> tuple[set[str], set[str]]:
    """Strings passed literally as a block name, and strings a variable passed as one is set from."""
    found: set[str] = set()
    variable: set[str] = set()
    for path in (PACKAGE / f"{module}.py" for module in MODULES):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
                if not isinstance(call.func, ast.Attribute) or call.func.attr not in _ASKING:
                    continue
                position = _ASKING[call.func.attr]
                if len(call.args) <= position:
                    continue
                argument = call.args[position]
                if isinstance(argument, ast.Name):  # a variable: every string it is assigned or loops over
                    sources = [n.value for n in ast.walk(function) if isinstance(n, ast.Assign)
                               and argument.id in {t.id for t in ast.walk(n) if isinstance(t, ast.Name)}]
                    sources += [n.iter for n in ast.walk(function) if isinstance(n, ast.For | ast.comprehension)
                                and isinstance(n.target, ast.Name) and n.target.id == argument.id]
                    variable |= {s for source in sources for s in _strings(source) if _IDENTIFIER.fullmatch(s)}
                elif isinstance(argument, ast.Constant | ast.IfExp):
                    found |= {s for s in _strings(argument) if _IDENTIFIER.fullmatch(s)}
    return found, variable


def _all_blocks() -> set[str]:
    return {name for file in FILES for name in file_blocks(file)}


def test_every_block_is_asked_for() -> None:
    unused = _all_blocks() - asked()
    assert not unused, f"blocks no code asks for: {sorted(unused)}"


@pytest.mark.parametrize("family", FAMILIES)
def test_every_name_the_code_asks_for_exists_on_each_database_that_runs_it(family: str) -> None:
    missing = {name for name in asked() if family in ONLY.get(name, FAMILIES) and name not in blocks(family)}
    assert not missing, f"{family} lacks the blocks {sorted(missing)}"
    assert set(ONLY) <= asked(), f"ONLY lists names no code asks for: {sorted(set(ONLY) - asked())}"


def test_the_scan_finds_names_passed_literally_and_through_variables() -> None:
    literal, variable = _asked()
    assert {"ack", "extend", "still_held", "nack", "take_held", "insert_notify", "kv_get"} <= literal
    assert {"claim", "pick", "claim_ready_arm", "kv_delete_if"} <= variable


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("clock", [False, True], ids=["server-clock", "client-clock"])
def test_every_block_fills_and_compiles_for_the_driver(family: str, clock: bool) -> None:
    sa_dialect = sqlalchemy.create_engine(ENGINES[family]).dialect
    names = Names.build("qk_", None, sa_dialect.identifier_preparer.quote_identifier)
    statements = Statements(DIALECTS[family], sa_dialect, names, clock)
    for name in blocks(family):
        if name.endswith("_arm") or name in ("claim", "pick"):
            continue
        if name == "insert_job_arrays":  # its ON CONFLICT clause is a slot the code fills
            compiled = statements.get(name, on_conflict="ON CONFLICT DO NOTHING")
        else:
            compiled = statements.listed(name, {"ids": ["a"], "tags": ["b"], "delays": [1.0]}, {})[0]
        assert "{" not in compiled.sql and "}" not in compiled.sql, name
        assert not re.search(r"(?<![:\w]):[a-z]", compiled.sql), f"{name}: a parameter left uncompiled"
    claim = statements.claim(3).sql
    assert claim.count("UNION ALL") == 5 and names.jobs in claim and "{" not in claim


def test_lists_compile_to_an_in_list_or_one_binary_array() -> None:
    sql = "DELETE FROM t WHERE id IN :ids AND x = :x AND y = ANY(CAST(:ys AS TEXT[]))"
    qmark = compile_sql(sql, "qmark", size=2)
    assert qmark.sql == "DELETE FROM t WHERE id IN (?, ?) AND x = ? AND y = ANY(CAST(? AS TEXT[]))"
    assert qmark.names == ("ids0", "ids1", "x", "ys")
    psycopg = compile_sql(sql, "pyformat", arrays=True)
    assert psycopg.sql == "DELETE FROM t WHERE id = ANY(%(ids)b) AND x = %(x)s AND y = ANY(CAST(%(ys)b AS TEXT[]))"
    assert psycopg.names is None
    pymysql = compile_sql("SELECT '%' WHERE a IN :a", "pyformat", size=1)
    assert pymysql.sql == "SELECT '%%' WHERE a IN (%(a0)s)"


def test_a_block_file_is_named_blocks_with_comment_lines_dropped() -> None:
    text = "-- intro\n-- name: one\n-- about one\nSELECT 1\n\n-- name: two\nSELECT 2 -- trailing stays\n"
    assert parse_blocks(text) == {"one": "SELECT 1", "two": "SELECT 2 -- trailing stays"}
    with pytest.raises(ValueError, match="twice"):
        parse_blocks("-- name: one\nSELECT 1\n-- name: one\nSELECT 2\n")
