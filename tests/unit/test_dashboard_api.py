"""The dashboard's pages and JSON API on the memory broker: counts, dead letters, jobs, actions and refusals."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import ClassVar

import pytest
from starlette.testclient import TestClient

from queuekit import App
from queuekit.backends.memory import MemoryBroker
from queuekit.broker import Capabilities
from queuekit.contrib.dashboard.web import create_app
from queuekit.errors import ConnectionLost
from tests.dashboard.jobs import SCRIPT, Filled, build, fill
from tests.support import wait_until

TOKEN = "t0ken-" + "x" * 26


@pytest.fixture
def app() -> Iterator[App]:
    app = build("memory://")
    yield app
    app.close()


@pytest.fixture
def filled(app: App) -> Filled:
    return fill(app, f"q-{uuid.uuid4().hex[:8]}")


def client(app: App, token: str | None = TOKEN) -> TestClient:
    return TestClient(create_app(app, token=token))


def act_headers(http: TestClient, token: str = TOKEN) -> dict[str, str]:
    csrf = http.get("/api/session").json()["csrf"]
    return {"Authorization": f"Bearer {token}", "X-CSRF-Token": csrf}


def test_the_queues_api_counts_every_state(app: App, filled: Filled) -> None:
    rows = {row["name"]: row for row in client(app).get("/api/queues").json()["queues"]}
    row = rows[filled.queue]
    assert (row["ready"], row["delayed"], row["in_flight"], row["dead"]) == (3, 1, 0, 2)
    assert row["history"] == [4]  # one sample so far: ready + delayed + in flight


def test_the_overview_page_shows_the_counts_broker_and_capabilities(app: App, filled: Filled) -> None:
    page = client(app).get("/")
    assert page.status_code == 200
    assert f'<tr data-queue="{filled.queue}">' in page.text
    assert '<td class="n" data-field="ready">3</td>' in page.text
    assert "MemoryBroker" in page.text and '<span class="chip on">browse</span>' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_a_script_argument_is_shown_as_text(app: App, filled: Filled) -> None:
    http = client(app)
    letters = http.get(f"/api/queues/{filled.queue}/dead").json()["dead"]
    first = next(letter for letter in letters if letter["id"] == filled.dead[0])
    assert SCRIPT in first["args"] and first["task"] == "tests.dash.boom"
    assert "ValueError" in first["error"] and "Traceback" in first["traceback"]
    first_only = http.get(f"/api/queues/{filled.queue}/dead?limit=1").json()
    assert (len(first_only["dead"]), first_only["total"]) == (1, 2)
    page = http.get(f"/queues/{filled.queue}/dead").text
    assert "&lt;script&gt;document.title=" in page
    assert "<script>document" not in page
    job_page = http.get(f"/jobs/{filled.dead[0]}").text
    assert "&lt;script&gt;" in job_page and "<script>document" not in job_page


def test_without_a_token_the_dashboard_is_read_only(app: App, filled: Filled) -> None:
    http = client(app, token=None)
    refused = http.post(f"/api/queues/{filled.queue}/dead/requeue", headers=act_headers(http))
    assert refused.status_code == 403 and "read-only" in refused.json()["error"]
    assert http.get("/api/session").json()["actions"] is False
    assert "read-only" in http.get("/").text and "Requeue" not in http.get(f"/queues/{filled.queue}/dead").text
    assert app.broker.stats([filled.queue])[filled.queue].dead == 2


@pytest.mark.parametrize("missing", ["bearer", "wrong bearer", "csrf", "wrong csrf", "origin"])
def test_an_action_without_both_tokens_or_from_another_site_is_refused(app: App, filled: Filled, missing: str) -> None:
    http = client(app)
    headers = act_headers(http)
    if missing == "bearer":
        del headers["Authorization"]
    elif missing == "wrong bearer":
        headers["Authorization"] = "Bearer " + "y" * 32
    elif missing == "csrf":
        del headers["X-CSRF-Token"]
    elif missing == "wrong csrf":
        headers["X-CSRF-Token"] = "nope"
    else:
        headers["Origin"] = "http://evil.example"  # the test client's own host is "testserver"
    refused = http.post(f"/api/queues/{filled.queue}/dead/purge", headers=headers)
    assert refused.status_code == (401 if "bearer" in missing else 403)
    assert refused.json()["error"].startswith("refused")
    assert app.broker.stats([filled.queue])[filled.queue].dead == 2


def test_requeue_one_then_purge_then_requeue_all(app: App, filled: Filled) -> None:
    http = client(app)
    headers = act_headers(http)
    one = http.post(f"/api/queues/{filled.queue}/dead/requeue", headers=headers, json={"ids": [filled.dead[1]]})
    assert one.status_code == 200 and one.json() == {"requeued": 1}
    left = [letter["id"] for letter in http.get(f"/api/queues/{filled.queue}/dead").json()["dead"]]
    assert left == [filled.dead[0]]
    stats = app.broker.stats([filled.queue])[filled.queue]
    assert (stats.ready, stats.dead) == (4, 1)
    assert http.post(f"/api/queues/{filled.queue}/dead/purge", headers=headers).json() == {"purged": 1}
    assert http.get(f"/api/queues/{filled.queue}/dead").json()["dead"] == []
    other = fill(app, filled.queue + "-2", ready=0, dead=2).queue
    assert http.post(f"/api/queues/{other}/dead/requeue", headers=headers).json() == {"requeued": 2}
    assert app.broker.stats([other])[other].dead == 0


def test_a_malformed_requeue_body_requeues_nothing(app: App, filled: Filled) -> None:
    http = client(app)
    headers = act_headers(http)
    for body in (b"not json", b'{"ids": "abc"}', b'{"other": 1}'):
        bad = http.post(f"/api/queues/{filled.queue}/dead/requeue", headers=headers, content=body)
        assert bad.status_code == 400 and "ids" in bad.json()["error"]
    assert app.broker.stats([filled.queue])[filled.queue].dead == 2


def test_bad_input_is_one_line_naming_the_fix(app: App) -> None:
    http = client(app)
    bad_queue = http.get("/api/queues/bad%20name/dead")
    assert bad_queue.status_code == 400 and "invalid queue name" in bad_queue.json()["error"]
    assert http.get("/api/queues/default/dead?limit=0").status_code == 400
    page = http.get("/queues/bad%20name")
    assert page.status_code == 400 and "invalid queue name" in page.text and "Traceback" not in page.text


def test_the_job_api_and_page(app: App, filled: Filled) -> None:
    http = client(app)
    done = http.get(f"/api/jobs/{filled.done}").json()
    assert (done["status"], done["result"], done["attempts"]) == ("succeeded", '"DONE"', 1)
    assert http.get(f"/api/jobs/{filled.ready[0]}").json()["status"] == "queued"
    dead = http.get(f"/api/jobs/{filled.dead[1]}").json()
    assert dead["status"] == "failed" and "cannot handle bad 1" in dead["error"]
    assert http.get("/api/jobs/0123abc").json()["status"] == "unknown"
    assert http.get(f"/jobs?id={filled.done}", follow_redirects=False).headers["location"] == f"/jobs/{filled.done}"
    assert "succeeded" in http.get(f"/jobs/{filled.done}").text


def test_the_queue_page_lists_waiting_and_delayed_jobs(app: App, filled: Filled) -> None:
    detail = client(app).get(f"/api/queues/{filled.queue}").json()
    assert [job["id"] for job in detail["ready"]] == filled.ready
    assert [job["id"] for job in detail["delayed"]] == [filled.delayed]
    assert detail["delayed"][0]["due"] is not None and detail["ready"][0]["args"] == '["job 0"]'


class NoBrowse(MemoryBroker):
    """A broker that cannot list waiting jobs (no ``browse``), as RabbitMQ."""

    capabilities: ClassVar[Capabilities] = replace(MemoryBroker.capabilities, browse=False)


def test_a_missing_capability_reads_not_available() -> None:
    app = App(broker=NoBrowse(), url="memory://nobrowse")
    http = client(app)
    assert http.get("/api/queues/default").json()["ready"] is None
    page = http.get("/queues/default")
    assert page.status_code == 200 and "not available on this broker" in page.text


def test_workers_and_schedules_answer_with_rows_or_a_reason(app: App) -> None:
    http = client(app)
    for path, key in (("/api/workers", "workers"), ("/api/schedules", "schedules")):
        answer = http.get(path).json()
        assert (answer[key] is None) == (answer["note"] is not None), answer
    assert http.get("/workers").status_code == 200 and http.get("/schedules").status_code == 200


class Reset:
    queue = "emails"
    detected_at = 1_700_000_000.0
    last_known_backlog = 42


class ResettingBroker(MemoryBroker):
    """A broker that noticed lost state (as Redis does after a restart without persistence)."""

    @property
    def resets(self) -> list[Reset]:
        return [Reset()]


def test_a_state_reset_is_shown_in_red() -> None:
    app = App(broker=ResettingBroker(), url="memory://resets")
    http = client(app)
    assert http.get("/api/broker").json()["resets"] == [
        {"queue": "emails", "detected_at": 1_700_000_000.0, "last_known_backlog": 42}]
    page = http.get("/").text
    assert '<p class="reset">State reset: queue emails lost its data at 2023-11-14 22:13:20 UTC' in page
    assert "(last known backlog: 42)" in page


def test_a_state_reset_a_worker_recorded_is_shown_until_acknowledged(app: App) -> None:
    from queuekit import resets

    resets.record(app, "emails", 1_700_000_000.0, 7)
    http = client(app)
    assert http.get("/api/broker").json()["resets"] == [
        {"queue": "emails", "detected_at": 1_700_000_000.0, "last_known_backlog": 7}]
    assert resets.acknowledge(app) == 1
    assert http.get("/api/broker").json()["resets"] == []


class Down(MemoryBroker):
    """A broker whose server is unreachable."""

    def stats(self, queues: object = None) -> dict[str, object]:  # type: ignore[override]
        raise ConnectionLost("redis://:***@cache:6379/0: connection refused")


def test_a_broker_failure_is_one_line_not_a_traceback() -> None:
    http = client(App(broker=Down(), url="memory://down"))
    api = http.get("/api/queues")
    assert api.status_code == 503
    assert api.json() == {"error": "ConnectionLost: redis://:***@cache:6379/0: connection refused"}
    page = http.get("/")
    assert page.status_code == 503 and "connection refused" in page.text and "Traceback" not in page.text


def test_an_action_from_the_same_host_over_another_scheme_is_accepted(app: App, filled: Filled) -> None:
    http = client(app)
    headers = {**act_headers(http), "Origin": "https://testserver"}  # behind a TLS proxy
    assert http.post(f"/api/queues/{filled.queue}/dead/purge", headers=headers).json() == {"purged": 2}


def test_rates_follow_the_backlog_while_the_sampler_runs(app: App) -> None:
    asgi = create_app(app, interval=0.05)
    rates = asgi.state.dashboard.rates
    queue = f"r-{uuid.uuid4().hex[:8]}"

    def backlog_now() -> int | None:
        samples = rates.samples()
        if not samples or queue not in samples[-1].stats:
            return None
        stats = samples[-1].stats[queue]
        return int(stats.ready + stats.delayed + stats.in_flight)

    with TestClient(asgi) as http:  # the lifespan starts the sampler
        ok = app.get_task("tests.dash.ok")
        wait_until(lambda: rates.samples(), what="a first sample, before the queue exists")
        for i in range(10):
            ok.enqueue([str(i)], queue=queue)
        wait_until(lambda: backlog_now() == 10, what="a sample with the ten jobs")
        assert app.worker(queues=[queue], burst=True, concurrency=2).run(install_signals=False) == 0
        wait_until(lambda: backlog_now() == 0, what="a sample after the drain")
        [row] = [row for row in http.get("/api/queues").json()["queues"] if row["name"] == queue]
    assert row["in_rate"] > 0 and row["out_rate"] > 0
    assert 10 in row["history"] and row["history"][-1] == 0
