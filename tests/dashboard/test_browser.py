"""The dashboard in a real browser on SQLite and Redis: counts, a dead letter requeued, a script
payload shown as text and never run, an action refused without the token.

The SQLite run writes a screenshot of each page to docs/images/dashboard-*.png.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from queuekit import App
from queuekit.contrib.dashboard.server import Running
from queuekit.contrib.dashboard.web import create_app
from queuekit.execution import current_job
from tests.dashboard.jobs import SCRIPT, Filled, build, fill

TOKEN = "browser-test-token-" + "z" * 16
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


@pytest.fixture
def filled(broker_url: str) -> Iterator[Filled]:
    app = build(broker_url)
    try:
        yield fill(app, f"emails-{uuid.uuid4().hex[:6]}")
    finally:
        app.close()


@pytest.fixture
def served(broker_url: str, filled: Filled) -> Iterator[str]:
    """The dashboard of a separate App on the same broker (as another process would see it), with a token."""
    with Running(create_app(App(broker_url), token=TOKEN)) as running:
        yield running.url


def shoot(page: Any, broker_url: str, name: str) -> None:
    """Keep a screenshot for the docs (from the SQLite run only: one picture per page)."""
    if broker_url.startswith("sqlite"):
        IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(IMAGES / f"dashboard-{name}.png"), full_page=True)


def dead_count(broker_url: str, queue: str) -> int:
    app = App(broker_url)
    try:
        return app.broker.stats([queue])[queue].dead
    finally:
        app.close()


def test_the_overview_shows_the_counts(page: Any, served: str, filled: Filled, broker_url: str) -> None:
    page.goto(served + "/")
    row = page.locator(f'tr[data-queue="{filled.queue}"]')
    for field, count in (("ready", "3"), ("delayed", "1"), ("in_flight", "0"), ("dead", "2")):
        expect(row.locator(f'[data-field="{field}"]')).to_have_text(count)
    expect(page.locator("#durability")).not_to_be_empty()
    with page.expect_response(lambda response: response.url.endswith("/api/queues")):
        pass  # one poll has come back: the row was redrawn by the script, from the JSON API
    expect(row.locator('[data-field="history"] svg')).to_have_count(1)
    expect(row.locator('[data-field="ready"]')).to_have_text("3")
    shoot(page, broker_url, "overview")
    producer = build(broker_url)
    try:
        for i in range(2):
            producer.get_task("tests.dash.ok").enqueue([f"more {i}"], queue=filled.queue)
    finally:
        producer.close()
    expect(row.locator('[data-field="ready"]')).to_have_text("5")  # live: the page polls, nobody reloads it
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1


def test_a_dead_letter_is_requeued_and_leaves_the_list(page: Any, served: str, filled: Filled, broker_url: str) -> None:
    page.goto(served + "/")
    page.locator(f'tr[data-queue="{filled.queue}"] [data-field="dead"] a').click()
    rows = page.locator("#dead tbody tr")
    expect(rows).to_have_count(2)
    page.fill("#token", TOKEN)
    page.click("#unlock-button")
    page.locator(f'#dead tr[data-id="{filled.dead[1]}"] button.action').click()
    expect(page.locator(f'#dead tr[data-id="{filled.dead[1]}"]')).to_have_count(0)
    expect(page.locator("#flash")).to_have_text("requeued: 1")
    expect(rows).to_have_count(1)
    assert dead_count(broker_url, filled.queue) == 1


def test_a_script_payload_is_text_and_never_runs(page: Any, served: str, filled: Filled, broker_url: str) -> None:
    page.goto(f"{served}/queues/{filled.queue}/dead")
    row = page.locator(f'#dead tr[data-id="{filled.dead[0]}"]')
    expect(row.locator("code")).to_contain_text(SCRIPT)
    with page.expect_response(lambda response: response.url.endswith(f"/api/queues/{filled.queue}/dead")):
        pass  # the script's own redraw from the JSON API must not run it either
    expect(row.locator("code")).to_contain_text(SCRIPT)
    assert page.title() != "pwned" and page.evaluate("document.querySelectorAll('main script').length") == 0
    row.locator("summary").click()
    shoot(page, broker_url, "dead")
    page.goto(f"{served}/jobs/{filled.dead[0]}")
    expect(page.locator('[data-field="status"]')).to_have_text("failed")
    with page.expect_response(lambda response: response.url.endswith(f"/api/jobs/{filled.dead[0]}")):
        pass
    expect(page.locator('[data-field="error"]')).to_contain_text(SCRIPT)
    expect(page.locator("#traceback")).to_contain_text("ValueError: cannot handle")
    assert page.title() != "pwned"
    shoot(page, broker_url, "job")


def test_an_action_without_the_token_is_refused(page: Any, served: str, filled: Filled, broker_url: str) -> None:
    page.goto(f"{served}/queues/{filled.queue}/dead")
    page.locator(f'#dead tr[data-id="{filled.dead[1]}"] button.action').click()
    expect(page.locator("#flash")).to_contain_text("refused: this action needs the dashboard token")
    expect(page.locator("#dead tbody tr")).to_have_count(2)
    assert dead_count(broker_url, filled.queue) == 2


def test_the_queue_page_lists_waiting_and_delayed_jobs(page: Any, served: str, filled: Filled, broker_url: str) -> None:
    page.goto(f"{served}/queues/{filled.queue}")
    expect(page.locator("#ready tbody tr")).to_have_count(3)
    expect(page.locator("#delayed tbody tr")).to_have_count(1)
    expect(page.locator("#ready tbody tr").first).to_contain_text(filled.ready[0])
    with page.expect_response(lambda response: response.url.endswith(f"/api/queues/{filled.queue}")):
        pass  # redrawn from the JSON API: the same rows
    expect(page.locator("#ready tbody tr")).to_have_count(3)
    expect(page.locator("#ready tbody tr").first.locator("a")).to_have_attribute("href", f"/jobs/{filled.ready[0]}")
    expect(page.locator('[data-field="ready"]')).to_have_text("3")
    shoot(page, broker_url, "queue")


def test_a_live_worker_and_its_schedule_show_up(page: Any, broker_url: str) -> None:
    app = build(broker_url)
    ticks = f"ticks-{uuid.uuid4().hex[:6]}"
    app.schedule(app.get_task("tests.dash.ok"), every=1, args=("tick",), name="every-second", queue=ticks)
    with Running(create_app(app, token=TOKEN)) as running:
        worker = app.worker(queues=[ticks], concurrency=2)
        worker.start()
        try:
            page.goto(running.url + "/workers")
            row = page.locator("#workers tbody tr")
            expect(row).to_have_count(1)
            expect(row).to_contain_text(ticks)
            expect(row).to_contain_text("leads schedules", timeout=15_000)  # redrawn by polling, no reload
            page.goto(running.url + "/")
            expect(page.locator("#workers-summary")).to_contain_text("1 alive")
            page.goto(running.url + "/workers")
            shoot(page, broker_url, "workers")
            page.goto(running.url + "/schedules")
            schedule = page.locator("#schedules tbody tr")
            expect(schedule).to_contain_text("every-second")
            expect(schedule.locator("a")).to_have_count(1, timeout=15_000)  # its last job, once a tick ran
            shoot(page, broker_url, "schedules")
        finally:
            worker.stop()


def test_purge_and_cancel_ask_first_then_act(page: Any, served: str, filled: Filled, broker_url: str) -> None:
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    page.goto(f"{served}/queues/{filled.queue}/dead")
    page.fill("#token", TOKEN)
    page.click("#unlock-button")
    page.click("#purge")
    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#dead tbody tr")).to_have_count(0)
    assert asked == ["Delete every dead letter of this queue?"] and dead_count(broker_url, filled.queue) == 0
    assert filled.delayed is not None
    page.goto(f"{served}/jobs/{filled.delayed}")
    expect(page.locator('[data-field="status"]')).to_have_text("queued")
    page.click("#cancel")
    expect(page.locator('[data-field="status"]')).to_have_text("cancelled")
    expect(page.locator("#cancel")).to_be_hidden()
    assert asked[-1] == "Cancel this job?"


def test_a_running_job_shows_its_progress_live_and_stops_when_cancelled(page: Any, broker_url: str) -> None:
    app = build(broker_url)
    release = threading.Event()
    queue = f"long-{uuid.uuid4().hex[:6]}"

    @app.task(name="tests.dash.import_rows", queue=queue)
    def import_rows(rows: int) -> int:
        job = current_job()
        assert job is not None
        job.progress(0.4, f"row {int(rows * 0.4)} of {rows}")
        while not job.cancelled and not release.wait(0.05):
            pass
        return rows

    with Running(create_app(app, token=TOKEN)) as running:
        worker = app.worker(queues=[queue], concurrency=1)
        worker.start()
        try:
            job = import_rows.delay(5000)
            page.goto(f"{running.url}/jobs/{job.id}")
            expect(page.locator('[data-field="status"]')).to_have_text("running")  # live, whatever it read first
            expect(page.locator('[data-field="progress_note"]')).to_have_text("row 2000 of 5000")
            expect(page.locator("#progress")).to_have_attribute("value", "0.4")
            shoot(page, broker_url, "job-progress")
            page.fill("#token", TOKEN)
            page.click("#unlock-button")
            page.on("dialog", lambda dialog: dialog.accept())
            page.click("#cancel")
            expect(page.locator('[data-field="status"]')).to_have_text("cancelled")
        finally:
            release.set()
            worker.stop()
