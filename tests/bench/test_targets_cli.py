"""Backend discovery, skip reasons, option parsing and exit codes."""

from __future__ import annotations

import argparse
import json
import socket
import sys
from pathlib import Path

import pytest
from queuekit_bench.cli import add_arguments, main, settings_from
from queuekit_bench.settings import parse_counts, parse_scenarios
from queuekit_bench.targets import DEFAULT_SERVICES, DRIVERS, discover, expand, probe, unique_names

from queuekit.urls import scheme_of
from tests.bench.benchdata import sample_document


def test_shorthands_expand_to_urls(tmp_path: Path) -> None:
    assert expand("memory", tmp_path, "r1") == ("memory", "memory://qkbench-r1")
    assert expand("sqlite", tmp_path, "r1") == ("sqlite", f"sqlite:///{tmp_path / 'bench.db'}")
    assert expand("postgres", tmp_path, "r1")[0] == "postgresql"
    assert expand("amqp://u:p@h:5672/", tmp_path, "r1") == ("rabbitmq", "amqp://u:p@h:5672/")
    assert expand("memory://", tmp_path, "r1")[1] == "memory://qkbench-r1"  # a private one could not be shared


def test_a_bad_backend_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'nonsense' is neither a URL"):
        expand("nonsense", tmp_path, "r1")


def test_repeated_backends_get_distinct_names() -> None:
    assert [n for n, _ in unique_names([("redis", "a"), ("redis", "b"), ("sqlite", "c")])] == \
        ["redis", "redis-2", "sqlite"]


def test_uninstalled_backend_is_skipped_with_the_reason() -> None:
    target = probe("nosuch", "nosuch://127.0.0.1/")
    assert target.skipped is not None and target.skipped.startswith("backend not installed:")


def test_a_silent_server_is_skipped_with_the_address() -> None:
    with socket.socket() as sock:  # a port nobody listens on: bind, note it, close
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    target = probe("redis", f"redis://:secret@127.0.0.1:{port}/0")
    assert target.skipped == f"server not answering at 127.0.0.1:{port}: Connection refused"
    assert "secret" not in target.display


def test_embedded_backends_are_always_listed(tmp_path: Path) -> None:
    names = [t.name for t in discover(None, tmp_path, "r1")]
    assert names[:2] == ["memory", "sqlite"]
    assert {"redis", "rabbitmq", "postgresql", "mysql"} <= set(names)  # run or skipped, never dropped


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_options_override_the_profile() -> None:
    settings = settings_from(_args("--quick", "--jobs", "50", "--workers", "1,3", "--scenarios", "throughput",
                                   "--seed", "9"))
    assert settings.profile == "quick" and settings.seed == 9
    assert settings.drain_jobs == settings.enqueue_jobs == 50 and settings.workers == (1, 3)
    assert settings.scenarios == ("enqueue", "drain")


def test_scenario_and_count_parsing() -> None:
    assert parse_scenarios("latency, guarantees") == ("latency", "ordering", "failure")
    with pytest.raises(ValueError, match="unknown scenario 'speed'"):
        parse_scenarios("speed")
    with pytest.raises(ValueError, match="positive"):
        parse_counts("1,0")


def test_bad_options_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--scenarios", "nope"]) == 2
    assert "unknown scenario 'nope'" in capsys.readouterr().err
    assert main(["--backends", "what", "--quiet"]) == 2


def test_compare_two_files_sets_the_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, same, worse = tmp_path / "old.json", tmp_path / "same.json", tmp_path / "worse.json"
    old.write_text(json.dumps(sample_document()))
    same.write_text(json.dumps(sample_document()))
    worse.write_text(json.dumps(sample_document(lost=3)))
    assert main(["--compare", str(old), "--against", str(same)]) == 0
    assert main(["--compare", str(old), "--against", str(worse)]) == 1
    assert "REGRESSION" in capsys.readouterr().out
    assert main(["--against", str(worse)]) == 2


@pytest.mark.parametrize("service", ["redis", "rabbitmq", "postgresql", "mysql"])
def test_a_missing_driver_is_skipped_with_the_extra_to_install(service: str, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    module, extra = DRIVERS[scheme_of(DEFAULT_SERVICES[service])]
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if it was not installed
    name, url = expand(service, tmp_path, "r1")
    target = probe(name, url)
    assert target.skipped == f'driver {module!r} not installed: pip install "queuekit[{extra}]"'


def test_a_missing_or_unreadable_baseline_is_a_usage_error(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick", "--backends", "memory", "--compare", str(tmp_path / "nope.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nope.json: no such file" in err
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main(["--compare", str(broken), "--against", str(broken)]) == 2
    assert "not JSON" in capsys.readouterr().err
    other = tmp_path / "other.json"
    other.write_text("{}")
    assert main(["--compare", str(other), "--against", str(other)]) == 2
    assert "is not a queuekit bench results.json" in capsys.readouterr().err


def test_the_report_goes_to_report_by_default_and_the_last_line_says_where(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--quick", "--backends", "memory", "--scenarios", "enqueue", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip("\n").splitlines()[-1] == "report: report/index.html"
    assert out.count("report: ") == 1
    for name in ("index.html", "report.md", "results.json"):
        assert (tmp_path / "report" / name).stat().st_size > 0
    code = main(["--quick", "--backends", "memory", "--scenarios", "enqueue", "--quiet", "--out", "elsewhere",
                 "--compare", "report/results.json"])
    assert code in (0, 1)  # whether this machine's load moved a figure is not what is tested here
    out = capsys.readouterr().out
    assert out.rstrip("\n").splitlines()[-1] == "report: elsewhere/index.html"
    assert "compare:" in out and (tmp_path / "elsewhere" / "index.html").exists()
