"""queuekit backend on SQL databases: SQLite (the embedded default), PostgreSQL, MySQL/MariaDB.

``App("sqlite:///jobs.db")``, ``App("postgresql://user@host/db")``,
``App("mysql://user@host/db")`` or ``mariadb://``; options ride in the URL query
(``?prefix=app_``, ``?schema=jobs``, ``?synchronous=full``). See docs/backends/.
"""

from queuekit_sql.broker import SQLBroker

__all__ = ["SQLBroker"]
__version__ = "0.1.0"
