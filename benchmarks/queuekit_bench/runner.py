"""Runs the selected workloads on every target and assembles the results document."""

from __future__ import annotations

import datetime as dt
import time
import traceback
from pathlib import Path
from typing import Any

from queuekit.urls import redact
from queuekit_bench import SCHEMA, SCHEMA_VERSION
from queuekit_bench.cleanup import Cleanup
from queuekit_bench.context import BackendRun, ScenarioSkipped
from queuekit_bench.environment import describe_machine, server_version
from queuekit_bench.goals import evaluate
from queuekit_bench.progress import Progress
from queuekit_bench.scenarios import REGISTRY
from queuekit_bench.settings import Settings
from queuekit_bench.targets import Target


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Run:
    """One ``queuekit bench`` invocation: its document grows as backends finish."""

    def __init__(self, settings: Settings, targets: list[Target], *, workdir: Path, run_id: str,
                 progress: Progress, cleanup: Cleanup) -> None:
        self.settings = settings
        self.targets = targets
        self.workdir = workdir
        self.run_id = run_id
        self.progress = progress
        self.cleanup = cleanup
        self.started = time.monotonic()
        self.document: dict[str, Any] = {
            "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "run_id": run_id,
            "started": _now(), "finished": None, "duration_s": None, "interrupted": False,
            "settings": settings.as_dict(), "environment": describe_machine(), "backends": [],
        }

    def execute(self) -> dict[str, Any]:
        """Run every target in turn; an interrupted run keeps what finished and says so."""
        try:
            for target in self.targets:
                self.document["backends"].append(self._backend(target))
        except KeyboardInterrupt:
            self.document["interrupted"] = True
            self.progress.warn("interrupted: stopping workers and removing the queues created")
        finally:
            self.cleanup.run()
            self.document["finished"] = _now()
            self.document["duration_s"] = round(time.monotonic() - self.started, 1)
        return self.document

    def _backend(self, target: Target) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": target.name, "url": target.display, "status": "skipped", "reason": target.skipped,
            "server": None, "capabilities": None, "raw_client": None, "raw_unavailable": None, "scenarios": {},
        }
        if target.skipped:
            self.progress.step(target.name, f"skipped: {target.skipped}")
            return entry
        folder = self.workdir / target.name
        try:
            ctx = BackendRun(target, self.settings, workdir=folder, run_id=self.run_id,
                             cleanup=self.cleanup, progress=self.progress)
        except Exception as exc:
            entry.update(status="failed", reason=f"cannot open the broker: {_reason(exc)}")
            self.progress.warn(f"{target.name}: {entry['reason']}")
            return entry
        entry.update(status="ok", reason=None, server=server_version(target.url),
                     capabilities=ctx.capabilities.as_dict())
        self.progress.step(target.name, f"{target.display} ({entry['server'] or 'server version unknown'})")
        try:
            for name in self.settings.scenarios:
                entry["scenarios"][name] = self._scenario(ctx, name, folder)
        finally:
            ctx.close()
            self.cleanup.run()
        entry["raw_client"] = _raw_client(entry["scenarios"])
        entry["raw_unavailable"] = ctx.raw_reason
        entry["goals"] = evaluate(entry)
        return entry

    def _scenario(self, ctx: BackendRun, name: str, folder: Path) -> dict[str, Any]:
        began = time.monotonic()
        try:
            data = REGISTRY[name](ctx)
        except KeyboardInterrupt:
            raise
        except ScenarioSkipped as exc:
            self.progress.step(ctx.target.name, f"{name} skipped: {exc}")
            return {"status": "skipped", "reason": str(exc), "seconds": round(time.monotonic() - began, 2)}
        except Exception as exc:
            reason = _reason(exc)
            self.progress.warn(f"{ctx.target.name}: {name} failed: {reason}")
            (folder / "logs").mkdir(parents=True, exist_ok=True)
            with (folder / "logs" / "errors.log").open("a") as log:
                log.write(redact("".join(traceback.format_exception(exc))) + "\n")
            return {"status": "failed", "reason": reason, "seconds": round(time.monotonic() - began, 2)}
        return {"status": "ok", "reason": None, "seconds": round(time.monotonic() - began, 2), **data}


def _reason(exc: BaseException) -> str:
    return redact(f"{type(exc).__name__}: {exc}")[:500]


def _raw_client(scenarios: dict[str, Any]) -> str | None:
    for result in scenarios.values():
        for fig in (result.get("figures") or {}).values():
            raw = fig.get("raw") if isinstance(fig, dict) else None
            if raw and raw.get("client"):
                return str(raw["client"])
    return None
