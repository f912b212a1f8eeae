"""Settings of the bookshop example.

Three environment variables choose where things live, so the same project runs on
SQLite alone or on a server broker:

* ``BOOKSHOP_DATABASE``: ``sqlite:///path/to/db.sqlite3`` (default: ``db.sqlite3`` here) or
  ``postgresql://user@host:port/name``;
* ``QUEUEKIT_BROKER_URL``: the broker (default: ``sqlite:///queuekit.db`` here);
* ``BOOKSHOP_ENQUEUE``: ``on_commit`` (default), ``in_transaction`` or ``immediate``.
"""

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import django

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = True
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
ROOT_URLCONF = "bookshop.urls"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django 6 has the tasks framework built in; Django 5.2 needs the django-tasks backport app.
TASKS_FRAMEWORK = ["django_tasks"] if django.VERSION < (6, 0) else []

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    *TASKS_FRAMEWORK,
    "queuekit.contrib.django",
    "orders",
]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]


def database(url: str) -> dict[str, object]:
    """A DATABASES entry from a URL."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(parts.path[1:])}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": parts.username or "",
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


DATABASES = {"default": database(os.environ.get("BOOKSHOP_DATABASE", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))}

TASKS = {
    "default": {
        "BACKEND": "queuekit.contrib.django.QueuekitBackend",
        "QUEUES": ["default", "emails"],
        "OPTIONS": {
            "url": os.environ.get("QUEUEKIT_BROKER_URL", f"sqlite:///{BASE_DIR / 'queuekit.db'}"),
            "enqueue": os.environ.get("BOOKSHOP_ENQUEUE", "on_commit"),
            "retries": 2,
            "backoff": 0.5,
        },
    }
}
