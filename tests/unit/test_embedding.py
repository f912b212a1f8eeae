"""Producer and worker embedded in an asyncio application (the FastAPI pattern)."""

from __future__ import annotations

import asyncio

from queuekit import App


def test_aenqueue_and_aresult_with_a_worker_in_the_background() -> None:
    app = App("memory://")

    @app.task
    async def greet(name: str) -> str:
        await asyncio.sleep(0)
        return f"hello {name}"

    async def handler() -> list[str]:
        jobs = [await greet.aenqueue(args=(name,)) for name in ("ada", "alan")]
        return [await job.aresult(timeout=10) for job in jobs]

    worker = app.worker(concurrency=2)
    worker.start()
    try:
        assert asyncio.run(handler()) == ["hello ada", "hello alan"]
    finally:
        worker.stop()
        assert worker.join(10)
    assert worker.counts["ack"] == 2
