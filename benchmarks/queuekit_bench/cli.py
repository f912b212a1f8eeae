"""``queuekit bench`` (and ``python -m queuekit_bench``): options, the run, the report files.

Exit codes: 0 done; 1 ``--compare`` found a regression beyond the measured noise;
2 bad options; 130 interrupted (what finished is still reported).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from queuekit_bench import SCHEMA
from queuekit_bench.cleanup import Cleanup
from queuekit_bench.compare import compare, render_comparison
from queuekit_bench.progress import Progress
from queuekit_bench.report import write_report
from queuekit_bench.report.terminal import summary_table
from queuekit_bench.runner import Run
from queuekit_bench.settings import MIN_SOAK_SECONDS, PROFILES, Settings, parse_counts, parse_scenarios
from queuekit_bench.targets import discover

DEFAULT_OUT = Path("report")

EPILOG = """examples:
  queuekit bench --quick                           embedded backends + any local service that answers; writes report/
  queuekit bench --backends sqlite,redis://127.0.0.1:6379/0 --scenarios throughput,latency --out report-redis/
  queuekit bench --quick --compare old/results.json  then flag regressions beyond the run-to-run noise
  queuekit bench --backends sqlite,redis --scenarios failure --kills 100   the ledger run through 100 SIGKILLs
  queuekit bench --backends sqlite,redis --scenarios soak --duration 600   worker memory and jobs/s over 10 minutes
  queuekit bench --compare old/results.json --against report/results.json   compare two files, run nothing
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The bench options, shared by ``queuekit bench`` and ``python -m queuekit_bench``."""
    parser.add_argument("--backends", help="comma-separated shorthands (memory, sqlite, redis, rabbitmq, "
                        "postgresql, mysql) or URLs; default: embedded ones plus every local service that answers")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small sizes, 3 runs per figure: about 10 s a backend")
    size.add_argument("--full", action="store_true", help="large sizes, 1M-job backlog, more runs")
    parser.add_argument("--scenarios", help="comma-separated: enqueue, drain, latency, ordering, failure, "
                        "backlog, payload, workflow, peers, soak, or the groups throughput, guarantees, all "
                        "(default: all but soak; --full: all)")
    parser.add_argument("--jobs", type=int, help="jobs per enqueue and drain run")
    parser.add_argument("--workers", help="worker process counts for the drain, e.g. 1,2,4")
    parser.add_argument("--concurrency", type=int, help="threads per worker process (default 2)")
    parser.add_argument("--repeats", type=int, help="runs per figure; the median is reported")
    parser.add_argument("--rate", type=float, help="latency producer rate, jobs/s (default 200)")
    parser.add_argument("--kills", type=int, metavar="N",
                        help="failure scenario: SIGKILLs of worker processes during its run (default 6; --quick 2, "
                        "--full 100)")
    parser.add_argument("--duration", type=float, metavar="S",
                        help="soak scenario: seconds of steady load (default 60; --quick 15, --full 300)")
    parser.add_argument("--seed", type=int, help="seed for kill times and priorities (default: random, logged)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                        help="write index.html, report.md, results.json and plots/ here (default: report/)")
    parser.add_argument("--compare", type=Path, metavar="OLD_JSON",
                        help="flag regressions against an older run's results.json (read before the run starts)")
    parser.add_argument("--against", type=Path, metavar="NEW_JSON",
                        help="with --compare: compare two result files without running anything")
    parser.add_argument("--workdir", type=Path, help="keep ledgers and agent logs here (default: a temp dir)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def register(subparsers: Any) -> None:
    """Entry point of the ``queuekit.commands`` group: adds ``queuekit bench``."""
    parser = subparsers.add_parser(
        "bench", help="measure throughput, latency, ordering and delivery guarantees of each broker",
        description="Run the same workloads on every configured broker and report which to choose.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.set_defaults(func=run)


def settings_from(args: argparse.Namespace) -> Settings:
    """The profile chosen, with any explicit option applied on top."""
    base = PROFILES["quick" if args.quick else "full" if args.full else "default"]
    changes: dict[str, Any] = {"seed": args.seed if args.seed is not None else secrets.randbelow(2**31)}
    if args.scenarios:
        changes["scenarios"] = parse_scenarios(args.scenarios)
    if args.workers:
        changes["workers"] = parse_counts(args.workers)
    for option, field in (("jobs", "drain_jobs"), ("concurrency", "concurrency"), ("repeats", "repeats")):
        value = getattr(args, option)
        if value is not None:
            if value < 1:
                raise ValueError(f"--{option} must be at least 1, got {value}")
            changes[field] = value
    if args.jobs:
        changes["enqueue_jobs"] = args.jobs
        changes["batch_jobs"] = args.jobs
        changes["peer_jobs"] = args.jobs
        changes["process_jobs"] = 5 * args.jobs
    if args.rate is not None:
        if args.rate <= 0:
            raise ValueError(f"--rate must be positive, got {args.rate}")
        changes["latency_rate"] = args.rate
    scenarios = changes.get("scenarios", base.scenarios)
    if args.kills is not None:
        if args.kills < 0:
            raise ValueError(f"--kills must be 0 or more, got {args.kills}")
        if "failure" not in scenarios:
            raise ValueError("--kills applies to the failure scenario, which is not selected; "
                             "add failure to --scenarios")
        changes["failure_kills"] = args.kills
    if args.duration is not None:
        if not args.duration >= MIN_SOAK_SECONDS:  # also refuses nan
            raise ValueError(f"--duration must be at least {MIN_SOAK_SECONDS:g} seconds, got {args.duration:g}")
        if "soak" not in scenarios:
            raise ValueError("--duration sets the soak scenario's length, and soak is not selected; "
                             "add soak to --scenarios")
        changes["soak_seconds"] = args.duration
    return dataclasses.replace(base, **changes)


def run(args: argparse.Namespace) -> int:
    """Carry out ``queuekit bench`` with parsed options; return the exit code."""
    try:
        settings = settings_from(args)
        baseline = _load(args.compare) if args.compare else None
        if args.against:
            if baseline is None:
                raise ValueError("--against needs --compare OLD_JSON")
            return _compare_documents(baseline, _load(args.against))
    except ValueError as exc:
        print(f"queuekit bench: error: {exc}", file=sys.stderr)
        return 2
    progress = Progress(quiet=args.quiet)
    logging.getLogger("queuekit").setLevel(logging.WARNING)  # in-process workers would log every start/stop
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="qkbench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    run_id = secrets.token_hex(3)
    try:
        targets = discover(args.backends.split(",") if args.backends else None, workdir, run_id)
    except ValueError as exc:
        print(f"queuekit bench: error: {exc}", file=sys.stderr)
        return 2
    progress.step("bench", f"profile {settings.profile}, seed {settings.seed}, run {run_id}, "
                           f"scenarios {','.join(settings.scenarios)}")
    cleanup = Cleanup()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        document = Run(settings, targets, workdir=workdir, run_id=run_id, progress=progress,
                       cleanup=cleanup).execute()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(summary_table(document))
    code = 130 if document["interrupted"] else 0
    if baseline is not None:
        code = max(code, _compare_documents(baseline, document))
    try:
        write_report(document, args.out)
    except OSError as exc:
        print(f"queuekit bench: error: cannot write the report to {args.out}: {exc.strerror or exc}; "
              "choose another folder with --out DIR", file=sys.stderr)
        return 2
    print(f"\nreport: {args.out / 'index.html'}")  # the last line: where to look
    return code


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _load(path: Path) -> dict[str, Any]:
    """A results document from disk; ValueError (one line: what and why) when it cannot be one."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"cannot read {path}: no such file (give the results.json of an earlier run)") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ValueError(f"cannot read {path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a queuekit bench results.json (no \"schema\": \"{SCHEMA}\")")
    return data


def _compare_documents(old: dict[str, Any], new: dict[str, Any]) -> int:
    findings = compare(old, new)
    print("\n" + render_comparison(findings))
    return 1 if any(f.regression for f in findings) else 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m queuekit_bench`` (the same as ``queuekit bench``)."""
    parser = argparse.ArgumentParser(prog="queuekit bench", description=__doc__, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))
