"""A missing service is a skip locally and a failure in CI, decided by type, not by text."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REQUIRE_SERVICES, ServiceUnavailable, service_unavailable

ROOT = Path(__file__).resolve().parents[2]


def test_service_unavailable_skips_when_services_are_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_SERVICES, raising=False)
    with pytest.raises(ServiceUnavailable, match="service unavailable: redis at port one") as caught:
        service_unavailable("redis at port one")
    assert isinstance(caught.value, pytest.skip.Exception)


def test_service_unavailable_fails_when_services_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_SERVICES, "1")
    with pytest.raises(pytest.fail.Exception, match=r"required .* but unavailable: redis at port one"):
        service_unavailable("redis at port one")


_CONFTEST = "from tests.conftest import pytest_runtest_makereport, pytest_terminal_summary  # noqa: F401\n"
_TESTS = '''
import pytest
from tests.support import service_unavailable

@pytest.fixture
def server():
    service_unavailable("fixture-server on 127.0.0.1:1")

def test_in_body():
    service_unavailable("body-server on 127.0.0.1:1")

def test_in_fixture(server):
    pass

def test_plain_skip_mentioning_the_words():
    pytest.skip("service unavailable: but skipped by hand, not a service skip")

def test_passes():
    assert True
'''


def _inner_run(tmp_path: Path, required: bool) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(_CONFTEST)
    (tmp_path / "test_inner.py").write_text(_TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {key: value for key, value in os.environ.items() if key != REQUIRE_SERVICES}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    if required:
        env[REQUIRE_SERVICES] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "-c", str(tmp_path / "pytest.ini"),
         "--rootdir", str(tmp_path), str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )


def test_a_local_run_skips_and_lists_exactly_the_service_tests(tmp_path: Path) -> None:
    run = _inner_run(tmp_path, required=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed, 3 skipped" in run.stdout, run.stdout
    summary = run.stdout.split("2 service test(s) skipped (a service was missing):", 1)
    assert len(summary) == 2, run.stdout
    assert "test_inner.py::test_in_body" in summary[1] and "test_inner.py::test_in_fixture" in summary[1]
    assert "test_plain_skip_mentioning_the_words" not in summary[1]  # the text alone does not count


def test_a_required_run_fails_each_service_test_and_nothing_else(tmp_path: Path) -> None:
    run = _inner_run(tmp_path, required=True)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 failed, 1 passed, 1 skipped, 1 error" in run.stdout, run.stdout
    assert "FAILED test_inner.py::test_in_body" in run.stdout
    assert "ERROR test_inner.py::test_in_fixture" in run.stdout  # a fixture's failure is a setup error
    assert "but unavailable: body-server on 127.0.0.1:1" in run.stdout
    assert "SKIPPED" in run.stdout and "skipped by hand" in run.stdout
