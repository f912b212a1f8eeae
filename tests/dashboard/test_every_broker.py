"""The dashboard's API reads the same on every broker: counts, dead letters, requeue, and what is not available.

SQLite and Redis are also driven in a browser (test_browser.py); here the other backends
answer the same requests through Starlette's test client.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from queuekit.contrib.dashboard.web import create_app
from tests.dashboard.jobs import SCRIPT, build, fill

TOKEN = "every-broker-token-" + "e" * 16

pytestmark = pytest.mark.service


@pytest.fixture(params=["postgresql", "mariadb", "rabbitmq", "kombu"])
def target(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """A broker URL of the test's own and a queue name on it."""
    queue = f"dash-{uuid.uuid4().hex[:8]}"
    if request.param in ("postgresql", "mariadb"):
        from tests.sql.servers import drop_prefix, unique_prefix, url_or_skip, with_prefix

        prefix = unique_prefix()
        yield with_prefix(url_or_skip(request.param), prefix), queue
        drop_prefix(request.param, prefix)
    elif request.param == "rabbitmq":
        from tests.rabbitmq.servers import delete_queues, shared_url_or_skip

        yield shared_url_or_skip(), queue
        delete_queues([queue])
    else:
        yield f"kombu+memory://dash-{queue}", queue


def test_counts_dead_letters_and_requeue_read_the_same(target: tuple[str, str]) -> None:
    url, queue = target
    app = build(url)
    try:
        filled = fill(app, queue, ready=2, dead=2)
        http = TestClient(create_app(app, token=TOKEN))
        rows = {row["name"]: row for row in http.get("/api/queues").json()["queues"]}
        delayed = 0 if filled.delayed is None else 1
        assert (rows[queue]["ready"], rows[queue]["delayed"], rows[queue]["dead"]) == (2, delayed, 2)
        letters = http.get(f"/api/queues/{queue}/dead").json()["dead"]
        assert sorted(letter["id"] for letter in letters) == sorted(filled.dead)
        assert any(SCRIPT in letter["args"] for letter in letters)
        assert "&lt;script&gt;" in http.get(f"/queues/{queue}/dead").text
        detail = http.get(f"/api/queues/{queue}").json()
        browse = app.broker.capabilities.browse
        assert (detail["ready"] is None) == (not browse)
        if not browse:
            assert "not available on this broker" in http.get(f"/queues/{queue}").text
        job = http.get(f"/api/jobs/{filled.done}").json()
        assert job["status"] == "succeeded" or "result store" in job["note"], job
        headers = {"Authorization": f"Bearer {TOKEN}", "X-CSRF-Token": http.get("/api/session").json()["csrf"]}
        requeued = http.post(f"/api/queues/{queue}/dead/requeue", headers=headers, json={"ids": [filled.dead[0]]})
        assert requeued.json() == {"requeued": 1}
        assert [letter["id"] for letter in http.get(f"/api/queues/{queue}/dead").json()["dead"]] == [filled.dead[1]]
        assert http.post(f"/api/queues/{queue}/dead/purge", headers=headers).json() == {"purged": 1}
        stats = app.broker.stats([queue])[queue]
        assert (stats.ready, stats.dead) == (3, 0)
    finally:
        app.close()
