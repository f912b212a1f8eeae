"""Every install command the program prints, and every one the docs show, works.

queuekit is one distribution with extras (pyproject.toml); a hint naming another
distribution (``queuekit-redis``), a folder of this repository (``pip install -e
backends/redis``) or an undeclared extra would fail for the user who pastes it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from queuekit_bench.targets import install_hint as bench_install_hint

from queuekit.registry import install_hint

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = set(PROJECT["optional-dependencies"])

# Where a hint can be: the code of every package, the tests' skip reasons, the scripts
# and every page of documentation (not CHANGELOG.md: history names former distributions).
_SOURCES = ["queuekit", "backends", "benchmarks", "examples", "tests", "docs"]
_FILES = ["README.md", "CONTRIBUTING.md", "scripts/test", ".ci/run"]
_SKIP_PARTS = {".venv", "__pycache__", "build", "dist"}

# One requirement inside a pip command: `queuekit[redis]`, `".[dev,all]"`, `-e .`, ...
_EXTRAS_OF = re.compile(r"""(?:queuekit|(?<![\w/])\.)\[([^\]]*)\]""")
_PIP = re.compile(r"pip install\b([^\n]*)")
# The former distributions, and install commands that point into the source tree.
_FORMER = r"queuekit-(?:sql|redis|rabbitmq|kombu|bench)\b"
_OLD_DISTRIBUTION = re.compile(
    "|".join([rf"\b(?:install|upgrade)\s+[\"'`]?{_FORMER}(?!-)", rf"{_FORMER}\[", rf"distributions?\s+`?{_FORMER}",
              rf"pip install[^\n]*{_FORMER}(?!-)"])
)
_FOLDER_INSTALL = re.compile(r"pip install[^\n]*\s(?:-e\s+)?[\"']?(?:backends/|benchmarks\b)")


def _texts() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    paths = [ROOT / name for name in _FILES]
    for top in _SOURCES:
        paths += [p for p in (ROOT / top).rglob("*") if p.suffix in {".py", ".md", ".toml", ".txt", ".html"}]
    for path in paths:
        relative = path.relative_to(ROOT)
        skipped = _SKIP_PARTS & set(relative.parts) or any(part.endswith(".egg-info") for part in relative.parts)
        if path.is_file() and not skipped and path != Path(__file__).resolve():
            found.append((str(relative), path.read_text(encoding="utf-8")))
    return found


def _lines(pattern: re.Pattern[str]) -> list[str]:
    return [
        f"{name}:{text.count(chr(10), 0, match.start()) + 1}: {match.group(0).strip()}"
        for name, text in _texts()
        for match in pattern.finditer(text)
    ]


def test_every_pip_install_names_declared_extras_only() -> None:
    commands = _lines(_PIP)
    assert any('pip install "queuekit[redis]"' in line for line in commands), "the scan found no hint at all"
    wrong = []
    for line in commands:
        for group in _EXTRAS_OF.findall(line):
            if "{" in group:
                continue  # computed from a table: test_a_missing_driver_names_the_extra_that_installs_it
            undeclared = {extra.strip() for extra in group.split(",")} - EXTRAS
            if undeclared:
                wrong.append(f"{line}  (undeclared: {', '.join(sorted(undeclared))})")
    assert not wrong, "install commands naming extras pyproject.toml does not declare:\n" + "\n".join(wrong)


def test_no_hint_names_a_former_distribution_or_a_source_folder() -> None:
    stale = _lines(_OLD_DISTRIBUTION) + _lines(_FOLDER_INSTALL)
    assert not stale, f"hints that cannot work (the only distribution is {PROJECT['name']!r}):\n" + "\n".join(stale)


def test_install_hint_picks_the_narrowest_extra_bringing_the_missing_module() -> None:
    requires = ['Redis>=5; extra == "everything"', 'hiredis; extra == "everything"', 'PyMySQL; extra == "everything"',
                'redis>=5; extra == "redis"', 'hiredis; extra == "redis"', 'PyMySQL>=1.1; extra == "mysql"',
                "SQLAlchemy>=2", 'pika; python_version < "4" and extra == "amqp"']
    dist = SimpleNamespace(requires=requires, metadata={"Name": "acme-queue"})
    point = cast(Any, SimpleNamespace(dist=dist))
    assert install_hint(point, "redis.asyncio") == '; install it with: pip install "acme-queue[redis]"'
    assert install_hint(point, "pymysql") == '; install it with: pip install "acme-queue[mysql]"'
    assert install_hint(point, "pika") == '; install it with: pip install "acme-queue[amqp]"'
    assert install_hint(point, "sqlalchemy") == ""  # a base dependency: no extra brings it
    assert install_hint(point, None) == ""
    assert install_hint(cast(Any, SimpleNamespace(dist=None)), "redis") == ""


def test_the_bench_skip_reason_names_a_declared_extra_for_every_scheme() -> None:
    schemes = [scheme for scheme in PROJECT["entry-points"]["queuekit.backends"] if scheme not in {"memory", "sqlite"}]
    for scheme in schemes:
        hint = bench_install_hint(scheme)
        extras = _EXTRAS_OF.findall(hint)
        assert extras and set(extras[0].split(",")) <= EXTRAS, f"{scheme}: {hint}"


# Each server backend of this distribution with the module its driver imports. The
# ports are closed: the error must come from the missing driver, before any connection.
_DRIVERS = {
    "amqp://guest:guest@127.0.0.1:1/": ("pika", "rabbitmq"),
    "redis://127.0.0.1:1/0": ("redis", "redis"),
    "kombu+memory://": ("kombu", "kombu"),
    "postgresql://postgres@127.0.0.1:1/test": ("psycopg", "postgresql"),
    "mysql://root@127.0.0.1:1/test": ("pymysql", "mysql"),
    "mariadb://root@127.0.0.1:1/test": ("pymysql", "mysql"),
}
_PROBE = """
import json, sys
url, module = sys.argv[1:]
sys.modules[module] = None  # as if the driver were not installed
from queuekit import App
try:
    App(url).broker
except Exception as exc:
    print(json.dumps(f"{type(exc).__name__}: {exc}"))
else:
    print(json.dumps("opened without the driver"))
"""


@pytest.mark.parametrize("url", list(_DRIVERS))
def test_a_missing_driver_names_the_extra_that_installs_it(url: str) -> None:
    module, extra = _DRIVERS[url]
    assert extra in EXTRAS
    run = subprocess.run([sys.executable, "-c", _PROBE, url, module], capture_output=True, text=True, timeout=120,
                         cwd=ROOT)
    assert run.returncode == 0, run.stderr
    message = json.loads(run.stdout.strip().splitlines()[-1])
    assert message.startswith("ConfigurationError:") and module in message, message
    assert f'pip install "queuekit[{extra}]"' in message, message
