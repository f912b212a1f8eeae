"""``queuekit sql migrate [URL]`` and ``queuekit sql version [URL]``: the schema from the shell.

Registered in the ``queuekit.commands`` entry-point group; the core CLI calls
:func:`register` with its subparsers.
"""

from __future__ import annotations

import argparse
from typing import Any

from queuekit import config
from queuekit.errors import ConfigurationError
from queuekit_sql.database import Database
from queuekit_sql.dialects import check_server
from queuekit_sql.options import parse
from queuekit_sql.schema import Migrator
from queuekit_sql.statements import Names


def register(subparsers: Any) -> None:
    """Add the ``sql`` command and its ``migrate`` / ``version`` actions."""
    parser = subparsers.add_parser("sql", help="SQL backend: create or upgrade the queuekit tables")
    parser.add_argument("action", choices=["migrate", "version"],
                        help="migrate: apply missing schema versions; version: show applied and latest")
    parser.add_argument("url", nargs="?", help="database URL (default: --url, QUEUEKIT_BROKER_URL, config file)")
    parser.add_argument("--url", dest="url_option", help="database URL (same as the positional one)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Carry out ``queuekit sql ACTION``; return the exit code."""
    url = config.resolve_url(args.url or args.url_option)
    settings = parse(url, {"migrate": "check"})
    db = Database(settings)
    try:
        db.read(lambda cur: None, what="connect")
        check_server(settings.family, db.sa_dialect)
        names = Names.build(settings.prefix, settings.schema, db.sa_dialect.identifier_preparer.quote_identifier)
        migrator = Migrator(db, names)
        schema = f", schema {settings.schema}" if settings.schema else ""
        where = f"{settings.redacted} (prefix {settings.prefix}{schema})"
        if args.action == "version":
            current = migrator.current()
            shown = "no queuekit tables" if current is None else f"schema version {current}"
            print(f"{where}: {shown}; this queuekit provides version {migrator.latest}")
            return 0 if current == migrator.latest else 1
        current = migrator.current()
        if current is not None and current > migrator.latest:
            raise ConfigurationError(
                f"{where} is at schema version {current}, newer than this queuekit ({migrator.latest})"
            )
        applied = migrator.upgrade()
        if applied:
            print(f"{where}: applied schema version(s) {', '.join(map(str, applied))}; now at {migrator.latest}")
        else:
            print(f"{where}: already at schema version {migrator.latest}")
        return 0
    finally:
        db.close()
