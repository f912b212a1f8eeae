"""System checks and start-up validation of TASKS entries."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest
from django.core import checks
from django.test import override_settings
from djsupport import backend_entry, tasks_on

from queuekit.contrib.django.checks import probe_brokers, same_database
from queuekit.contrib.django.compat import task_backends
from queuekit.errors import ConfigurationError


def _ids(found: list[checks.CheckMessage]) -> list[str]:
    return [message.id or "" for message in found]


def _register_scheme(monkeypatch: pytest.MonkeyPatch, scheme: str, name: str) -> None:
    from queuekit import registry

    point = EntryPoint(name=scheme, value=f"qktest.brokers:{name}", group=registry.GROUP)
    monkeypatch.setitem(registry._entry_points(), scheme, point)


def test_unknown_scheme_is_an_error_naming_the_setting() -> None:
    with tasks_on("nosuchbroker://host/0") as backend:
        found = list(backend.check())
        assert _ids(found) == ["queuekit.E001"]
        assert "TASKS['default']['OPTIONS']['url']" in found[0].msg
        assert "nosuchbroker" in found[0].msg
        from qktest import tasks

        tasks.add.using(priority=1)  # no import-time crash: the check above reports it
        with pytest.raises(ConfigurationError, match=r"TASKS\['default'\] is misconfigured.*nosuchbroker"):
            tasks.add.enqueue(1, 2)


def test_unknown_option_is_an_error_listing_the_known_ones(unique: str) -> None:
    entry = backend_entry(f"memory://{unique}")
    entry["OPTIONS"]["URL"] = "redis://oops"
    with override_settings(TASKS={"default": entry}):
        (found,) = task_backends["default"].check()
    assert found.id == "queuekit.E001"
    assert "TASKS['default']['OPTIONS']['URL']" in found.msg and "known options: url" in found.msg


@pytest.mark.parametrize(
    ("options", "named"),
    [({"retries": -1}, "retries"), ({"lease": 0}, "lease"), ({"enqueue": "later"}, "enqueue"),
     ({"modules": "one.module"}, "modules"), ({"broker_options": []}, "broker_options")],
)
def test_bad_option_values_name_the_option(unique: str, options: dict[str, Any], named: str) -> None:
    with tasks_on(f"memory://{unique}", **options) as backend:
        (found,) = backend.check()
    assert found.id == "queuekit.E001"
    assert f"['OPTIONS'][{named!r}]" in found.msg


def test_in_process_broker_warns_that_a_worker_process_cannot_see_it(unique: str) -> None:
    with tasks_on(f"memory://{unique}") as backend:
        assert _ids(list(backend.check())) == ["queuekit.W001"]


def test_broker_without_results_warns_that_get_result_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    _register_scheme(monkeypatch, "qkplain", "PlainBroker")
    with tasks_on("qkplain://") as backend:
        assert sorted(_ids(list(backend.check()))) == ["queuekit.W001", "queuekit.W002"]


def test_in_transaction_on_a_broker_that_cannot_join_is_an_error(unique: str) -> None:
    with tasks_on(f"memory://{unique}", enqueue="in_transaction") as backend:
        assert "queuekit.E004" in _ids(list(backend.check()))


def test_invalid_queue_name_in_queues(unique: str) -> None:
    entry = backend_entry(f"memory://{unique}")
    entry["QUEUES"] = ["default", "emails", "not a queue!"]
    with override_settings(TASKS={"default": entry}):
        found = list(task_backends["default"].check())
    assert "queuekit.E002" in _ids(found)


def test_task_that_a_worker_cannot_find_is_an_error(unique: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from queuekit.contrib.django import registry

    monkeypatch.setitem(registry._known, "default", dict(registry._known.get("default", {})))  # undone after
    with tasks_on(f"memory://{unique}") as backend:
        import qktest.broken_tasks  # noqa: F401

        found = [m for m in backend.check() if m.id == "queuekit.E007"]
    assert len(found) == 1 and "qktest.broken_tasks._vanishing" in found[0].msg


def test_deploy_check_reports_an_unreachable_broker_without_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    _register_scheme(monkeypatch, "qkdown", "DownBroker")
    with tasks_on("qkdown://user:hunter2@db.example:1/"):
        (found,) = probe_brokers()
    assert found.id == "queuekit.E008"
    assert "TASKS['default']['OPTIONS']['url']" in found.msg and "unreachable" in found.msg
    assert "hunter2" not in found.msg


def test_deploy_check_passes_for_a_reachable_broker(unique: str) -> None:
    with tasks_on(f"memory://{unique}"):
        assert list(probe_brokers()) == []


@pytest.mark.parametrize(
    ("url", "database", "same"),
    [
        ("sqlite:////tmp/x/db.sqlite3", {"ENGINE": "django.db.backends.sqlite3", "NAME": "/tmp/x/db.sqlite3"}, True),
        ("sqlite:////tmp/x/jobs.db", {"ENGINE": "django.db.backends.sqlite3", "NAME": "/tmp/x/db.sqlite3"}, False),
        ("postgresql://postgres@127.0.0.1:5432/shop",
         {"ENGINE": "django.db.backends.postgresql", "NAME": "shop", "HOST": "localhost", "PORT": ""}, True),
        ("postgresql+psycopg://u:p@db:5433/shop",
         {"ENGINE": "django.db.backends.postgresql", "NAME": "shop", "HOST": "db", "PORT": "5432"}, False),
        ("redis://127.0.0.1:6379/0", {"ENGINE": "django.db.backends.postgresql", "NAME": "0"}, False),
    ],
)
def test_same_database(url: str, database: dict[str, Any], same: bool) -> None:
    assert same_database(url, database) is same


def test_broker_that_cannot_be_opened_is_reported_not_mistaken_for_missing_features(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _register_scheme(monkeypatch, "qkunopenable", "UnopenableBroker")
    from qktest import tasks

    with tasks_on("qkunopenable://") as backend:
        found = list(backend.check())
        assert _ids(found) == ["queuekit.E003"]
        assert "tables are missing" in found[0].msg
        assert backend.supports_priority is False  # unknown is not reported as supported
        variant = tasks.add.using(priority=7)  # not a false "priority not supported"
        with pytest.raises(ConfigurationError, match="tables are missing"):
            variant.enqueue(1, 2)
