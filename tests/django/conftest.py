"""Django configured in this process for the in-process tests; helpers for the subprocess ones.

The in-process tests use the in-memory broker with a worker thread. The end-to-end
tests run ``manage.py`` of the bookshop example in real subprocesses on SQLite (and on
Redis or PostgreSQL, marked ``service``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("django", reason="Django is not installed (pip install 'queuekit[django]')")

import django
from django.conf import settings

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parents[1] / "examples" / "django"
for folder in (str(HERE), str(EXAMPLE)):
    if folder not in sys.path:
        sys.path.insert(0, folder)

from queuekit.contrib.django.compat import SOURCE  # noqa: E402  (after Django is importable)

FRAMEWORK = ["django_tasks"] if SOURCE == "django_tasks" else []

from djsupport import backend_entry, tasks_on  # noqa: E402

_DB_DIR = tempfile.mkdtemp(prefix="qk-django-")


if not settings.configured:
    settings.configure(
        DEBUG=False,
        USE_TZ=True,
        SECRET_KEY="tests",
        INSTALLED_APPS=["django.contrib.contenttypes", *FRAMEWORK, "queuekit.contrib.django", "orders", "qktest"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(_DB_DIR, "db.sqlite3")}},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        TASKS={"default": backend_entry(f"memory://qk-django-{uuid.uuid4().hex[:8]}")},
        ROOT_URLCONF="bookshop.urls",
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@pytest.fixture
def backend(unique: str) -> Iterator[Any]:
    """The queuekit backend on a fresh in-memory broker."""
    with tasks_on(f"memory://django-{unique}") as found:
        yield found
