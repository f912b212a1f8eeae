"""The dashboard's parts alone: rates from depth samples, the token and the listening checks, the command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from queuekit import App
from queuekit.broker import QueueStats
from queuekit.cli import main
from queuekit.contrib.dashboard.rates import Rates, Sampler
from queuekit.contrib.dashboard.security import ENV_TOKEN, Guard, exposure_warning, is_loopback, load_token
from queuekit.contrib.dashboard.server import listen
from queuekit.errors import ConfigurationError
from tests.support import wait_until

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rates_are_the_backlog_rises_and_falls_per_second() -> None:
    clock = Clock()
    rates = Rates(min_gap=1.0, clock=clock)
    for ready, in_flight, dead in ((10, 0, 0), (14, 2, 0), (9, 2, 1), (9, 2, 1)):
        assert rates.add({"q": QueueStats(ready=ready, in_flight=in_flight, dead=dead)})
        clock.now += 2.0
    found = rates.for_queue("q")
    assert found["history"] == [10, 16, 11, 11]
    assert (found["in_rate"], found["out_rate"]) == (1.0, 0.83)  # +6 and -5 over 6 s
    assert rates.for_queue("other") == {"in_rate": 0.0, "out_rate": 0.0, "history": [0, 0, 0, 0]}


def test_rates_keep_one_sample_per_gap_and_need_two_for_a_rate() -> None:
    clock = Clock()
    rates = Rates(min_gap=1.0, clock=clock)
    assert rates.add({"q": QueueStats(ready=1)})
    clock.now += 0.5
    assert not rates.add({"q": QueueStats(ready=7)})
    assert rates.for_queue("q") == {"in_rate": None, "out_rate": None, "history": [1]}


def test_the_sampler_samples_until_stopped_and_keeps_the_last_error() -> None:
    calls: list[int] = []

    def read() -> dict[str, QueueStats]:
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionError("down for a moment")
        return {"q": QueueStats(ready=len(calls))}

    rates = Rates(min_gap=0.0)
    sampler = Sampler(read, rates, interval=0.01)
    sampler.start()
    wait_until(lambda: len(rates.samples()) >= 3, what="three samples")
    sampler.stop()
    assert len(rates.samples()) == len(calls) - 1  # the failed read left no sample
    assert sampler.error is None  # and later reads cleared its error


def test_the_token_comes_from_the_file_then_the_environment(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("a" * 20 + "\n")
    assert load_token(str(secret), {}) == "a" * 20
    assert load_token(None, {ENV_TOKEN: "b" * 16}) == "b" * 16
    assert load_token(None, {}) is None
    secret.write_text("short")
    with pytest.raises(ConfigurationError, match=r"has 5 characters; use at least 16, e\.g\. python -c"):
        load_token(str(secret), {})
    with pytest.raises(ConfigurationError, match=r"cannot read --token-file .*missing.txt: No such file"):
        load_token(str(tmp_path / "missing.txt"), {})


def test_a_public_interface_gets_a_warning() -> None:
    assert all(is_loopback(host) for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(host) for host in ("0.0.0.0", "::", "192.0.2.1", "example.org"))
    assert exposure_warning("127.0.0.1", None) is None
    assert "without a token" in (exposure_warning("0.0.0.0", None) or "")
    assert "plain HTTP" in (exposure_warning("0.0.0.0", "t" * 16) or "")


def test_the_guard_compares_both_tokens() -> None:
    guard = Guard("s" * 16)
    good = {"authorization": "Bearer " + "s" * 16, "x-csrf-token": guard.csrf}
    assert guard.refusal(good, origin_ok=True) is None
    assert guard.refusal(good, origin_ok=False) == (403, "refused: the request comes from another site "
                                                         "(Origin does not match)")
    assert guard.refusal({**good, "authorization": "Basic xyz"}, origin_ok=True)[0] == 401  # type: ignore[index]
    assert Guard(None).refusal(good, origin_ok=True)[0] == 403  # type: ignore[index]


def test_a_busy_port_is_one_line_naming_the_fix() -> None:
    taken = listen("127.0.0.1", 0)
    try:
        with pytest.raises(ConfigurationError, match=r"cannot listen on 127\.0\.0\.1:\d+: .*choose another --port"):
            listen("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


_WITHOUT_EXTRA = """
import sys
sys.modules["starlette"] = None  # as if the dashboard extra were not installed
from queuekit.cli import main
sys.exit(main(["dashboard", "--url", "memory://"]))
"""


def test_without_the_extra_the_command_names_the_pip_command() -> None:
    run = subprocess.run([sys.executable, "-c", _WITHOUT_EXTRA], capture_output=True, text=True, timeout=120,
                         cwd=ROOT)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip() == ('queuekit: error: queuekit dashboard needs starlette; install it with: '
                                  'pip install "queuekit[dashboard]"')
    assert json.dumps(run.stdout) == '""'


def test_the_command_refuses_a_short_token_before_serving(capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_TOKEN, "short")
    assert main(["dashboard", "--url", "memory://"]) == 2
    assert f"the token in {ENV_TOKEN} has 5 characters" in capsys.readouterr().err


def test_importing_queuekit_and_registering_the_command_import_nothing_third_party() -> None:
    probe = ("import sys; import queuekit, queuekit.contrib.dashboard, queuekit.contrib.dashboard.cli; "
             "print(sorted(m for m in ('starlette', 'uvicorn', 'jinja2') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.stdout.strip() == "[]", run.stderr
    assert isinstance(App("memory://"), App)


def test_the_docs_embedding_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "docs" / "dashboard.md").read_text()
    [code] = [block.split("```", 1)[0] for block in text.split("```python\n")[1:]]
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/dashboard.md", "exec"), namespace)
    routes = {getattr(route, "path", "") for route in getattr(namespace["dashboard"], "routes", [])}
    assert {"/", "/api/queues", "/api/queues/{queue}/dead/requeue", "/api/workers"} <= routes
    assert not (tmp_path / "jobs.db").exists()  # nothing is opened before it serves
