"""The dashboard's workers, schedules, progress and cancel on the memory broker."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import ClassVar

from starlette.testclient import TestClient

from queuekit import App
from queuekit.backends.memory import MemoryBroker
from queuekit.broker import Capabilities
from queuekit.contrib.dashboard.rates import WorkerRates
from queuekit.contrib.dashboard.web import create_app
from queuekit.control import make_progress, save_progress
from tests.dashboard.jobs import build
from tests.support import wait_until

TOKEN = "control-token-" + "c" * 20


def client(app: App) -> TestClient:
    return TestClient(create_app(app, token=TOKEN))


def act_headers(http: TestClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", "X-CSRF-Token": http.get("/api/session").json()["csrf"]}


def test_a_running_worker_is_listed_from_its_heartbeat_and_gone_when_it_stops() -> None:
    app = build("memory://")
    queue = f"w-{uuid.uuid4().hex[:6]}"
    http = client(app)
    worker = app.worker(queues=[queue], concurrency=2)
    worker.start()
    try:
        wait_until(lambda: http.get("/api/workers").json()["workers"], what="the worker's first heartbeat")
        [listed] = http.get("/api/workers").json()["workers"]
        assert (listed["queues"], listed["concurrency"], listed["in_flight"]) == ([queue], 2, 0)
        assert http.get("/api/queues").json()["workers"]["alive"] == 1
        assert str(listed["pid"]) in http.get("/workers").text
    finally:
        worker.stop()
    wait_until(lambda: http.get("/api/workers").json()["workers"] == [], what="the heartbeat deleted on stop")
    app.close()


def test_worker_rates_come_from_the_counts_between_two_heartbeats() -> None:
    rates = WorkerRates()
    beat = {"id": "w1", "seen_at": 100.0, "counts": {"ack": 10, "dead": 2, "retry": 50}}
    assert rates.update([beat]) == {"w1": None}
    assert rates.update([{**beat, "seen_at": 104.0, "counts": {"ack": 26, "dead": 6, "retry": 90}}]) == {"w1": 5.0}
    assert rates.update([{**beat, "seen_at": 104.0, "counts": {"ack": 26, "dead": 6}}]) == {"w1": 5.0}  # same beat
    assert rates.update([]) == {}
    assert rates.update([{**beat, "seen_at": 110.0}]) == {"w1": None}  # forgotten: starts over


def test_schedules_show_their_next_run_or_say_there_are_none() -> None:
    app = build("memory://")
    http = client(app)
    answer = http.get("/api/schedules").json()
    assert answer["schedules"] is None and "no schedules" in answer["note"]
    app.schedule(app.get_task("tests.dash.ok"), every=3600, args=("tick",), name="hourly")
    [row] = http.get("/api/schedules").json()["schedules"]
    assert (row["name"], row["task"], row["last_run"], row["last_job_id"]) == ("hourly", "tests.dash.ok", None, None)
    assert time.time() < row["next_run"] <= time.time() + 3600
    assert "hourly" in http.get("/schedules").text
    app.close()


def test_a_queued_job_is_cancelled_with_the_token_and_shows_cancelled() -> None:
    app = build("memory://")
    http = client(app)
    job = app.get_task("tests.dash.ok").enqueue(["x"], queue="c", delay=3600)
    assert http.get(f"/api/jobs/{job.id}").json()["cancellable"] is True
    assert 'id="cancel"' in http.get(f"/jobs/{job.id}").text
    assert http.post(f"/api/jobs/{job.id}/cancel").status_code == 401
    assert job.status().value == "queued"
    done = http.post(f"/api/jobs/{job.id}/cancel", headers=act_headers(http))
    assert done.json() == {"cancelled": True}
    after = http.get(f"/api/jobs/{job.id}").json()
    assert (after["status"], after["cancellable"]) == ("cancelled", False)
    assert http.post(f"/api/jobs/{job.id}/cancel", headers=act_headers(http)).json() == {"cancelled": False}
    app.close()


def test_progress_is_shown_on_the_job_page() -> None:
    app = build("memory://")
    http = client(app)
    job = app.get_task("tests.dash.ok").enqueue(["x"], queue="p")
    save_progress(app, job.id, make_progress(0.25, "a <b>quarter</b>"))
    progress = http.get(f"/api/jobs/{job.id}").json()["progress"]
    assert (progress["fraction"], progress["note"]) == (0.25, "a <b>quarter</b>")
    page = http.get(f"/jobs/{job.id}").text
    assert 'value="0.25"' in page and "a &lt;b&gt;quarter&lt;/b&gt;" in page
    app.close()


class NoSharedState(MemoryBroker):
    """A broker without key_value and without results, as RabbitMQ with no result store."""

    capabilities: ClassVar[Capabilities] = replace(MemoryBroker.capabilities, key_value=False, results=False)


def test_without_shared_state_heartbeats_and_cancel_are_not_available() -> None:
    app = App(broker=NoSharedState(), url="memory://no-state")
    http = client(app)
    answer = http.get("/api/workers").json()
    assert answer["workers"] is None and "not available on this broker" in answer["note"]
    assert http.get("/api/queues").json()["workers"] is None
    assert "heartbeats not available on this broker" in http.get("/").text
    app.close()
