"""URL redaction, config resolution order and backend lookup."""

from __future__ import annotations

from pathlib import Path

import pytest

from queuekit import App, ConfigurationError, UnknownSchemeError, registry
from queuekit.config import DEFAULT_URL, resolve_url
from queuekit.registry import installed_schemes
from queuekit.urls import redact, scheme_of

SENTINEL = "S3cr3t-QK-91f2"


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{SENTINEL}@127.0.0.1:6379/0",
        f"amqp://guest:{SENTINEL}@localhost:5672/",
        f"postgresql://postgres@localhost/test?password={SENTINEL}&sslmode=require",
        f"host=localhost user=postgres password={SENTINEL} dbname=test",
        f"redis://127.0.0.1/0?sentinel_password={SENTINEL}",
    ],
)
def test_redact_masks_every_password_form(url: str) -> None:
    masked = redact(url)
    assert SENTINEL not in masked
    assert "***" in masked


def test_redact_leaves_urls_without_secrets_alone() -> None:
    assert redact("sqlite:///queuekit.db") == "sqlite:///queuekit.db"
    assert redact("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_scheme_of_rejects_non_urls() -> None:
    assert scheme_of("Kombu+SQS://x") == "kombu+sqs"
    with pytest.raises(ValueError, match="not a URL"):
        scheme_of("just-a-path")


def test_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QUEUEKIT_BROKER_URL", raising=False)
    assert resolve_url() == DEFAULT_URL
    (tmp_path / "pyproject.toml").write_text('[tool.queuekit]\nurl = "memory://from-pyproject"\n')
    nested = tmp_path / "pkg" / "sub"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    assert resolve_url() == "memory://from-pyproject"
    (tmp_path / "pkg" / "queuekit.toml").write_text('url = "memory://from-queuekit-toml"\n')
    assert resolve_url() == "memory://from-queuekit-toml"
    monkeypatch.setenv("QUEUEKIT_BROKER_URL", "memory://from-env")
    assert resolve_url() == "memory://from-env"
    assert resolve_url("memory://explicit") == "memory://explicit"


def test_bad_config_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QUEUEKIT_BROKER_URL", raising=False)
    (tmp_path / "queuekit.toml").write_text("url = [unclosed\n")
    with pytest.raises(ConfigurationError, match=r"queuekit\.toml is not valid TOML"):
        resolve_url()


def test_unknown_scheme_fails_at_construction_listing_installed() -> None:
    with pytest.raises(UnknownSchemeError) as caught:
        App(f"nosuchscheme://user:{SENTINEL}@host/")
    text = str(caught.value)
    assert "'nosuchscheme://'" in text
    assert "memory" in text and all(scheme in text for scheme in installed_schemes())
    assert SENTINEL not in text


def test_app_repr_redacts() -> None:
    app = App("memory://")
    app.url = f"redis://:{SENTINEL}@localhost/0"
    assert SENTINEL not in repr(app)


# One URL per scheme a backend of this repository registers; every port is closed, so a
# check that waited for a connection would fail with a connection error instead.
_SAMPLE_URLS = {
    "memory": "memory://",
    "sqlite": "sqlite:///{tmp}/never.db",
    "postgresql": "postgresql://postgres@127.0.0.1:1/test",
    "postgres": "postgres://postgres@127.0.0.1:1/test",
    "mysql": "mysql://root@127.0.0.1:1/test",
    "mariadb": "mariadb://root@127.0.0.1:1/test",
    "redis": "redis://127.0.0.1:1/0",
    "rediss": "rediss://127.0.0.1:1/0",
    "redis+unix": "redis+unix:///{tmp}/no.sock",
    "amqp": "amqp://guest:guest@127.0.0.1:1/",
    "amqps": "amqps://guest:guest@127.0.0.1:1/",
    "kombu": "kombu+memory://",
}


@pytest.mark.parametrize("scheme", installed_schemes())
def test_every_backend_refuses_an_unknown_url_option_before_connecting(scheme: str, tmp_path: Path) -> None:
    from queuekit.errors import UnknownOption

    assert scheme in _SAMPLE_URLS, f"add a sample URL for the newly installed scheme {scheme}://"
    url = _SAMPLE_URLS[scheme].format(tmp=tmp_path)
    typo = url + ("&" if "?" in url else "?") + "no_such_optoin=1"
    with pytest.raises(UnknownOption, match=r"^unknown option 'no_such_optoin' for .*; known options: ") as caught:
        broker = registry.open_broker(typo)
        broker.close()
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # nothing created on the way


@pytest.mark.parametrize(
    ("url", "typo", "meant"),
    [
        ("memory://", "clok", None),
        ("sqlite:///{tmp}/x.db", "synchronus", "synchronous"),
        ("amqp://guest:guest@127.0.0.1:1/", "max_priorty", "max_priority"),
        ("redis://127.0.0.1:1/0", "prefx", "prefix"),
    ],
)
def test_unknown_option_names_the_close_match_first(url: str, typo: str, meant: str | None, tmp_path: Path) -> None:
    from queuekit.errors import UnknownOption

    url = url.format(tmp=tmp_path)
    try:
        registry.backend_class(url)
    except UnknownSchemeError:
        pytest.skip(f"no backend installed for {url}")
    with pytest.raises(UnknownOption) as caught:
        registry.open_broker(f"{url}?{typo}=1")
    message = str(caught.value)
    if meant:
        assert f"(did you mean {meant!r}?); known options: {meant}, " in message
    else:
        assert "did you mean" not in message


@pytest.mark.parametrize("scheme", installed_schemes())
def test_every_backend_takes_create_false_for_commands_that_only_read(scheme: str, tmp_path: Path) -> None:
    from queuekit.errors import UnknownOption

    url = _SAMPLE_URLS[scheme].format(tmp=tmp_path)
    with pytest.raises(UnknownOption, match=r"^unknown option 'no_such_optoin'"):  # create passed, the typo did not
        registry.open_broker(url, create=False, no_such_optoin=1)
    assert list(tmp_path.iterdir()) == []


def test_a_relative_sqlite_path_in_a_config_file_is_relative_to_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A producer in the project root and a worker in a subdirectory open the same database."""
    monkeypatch.delenv("QUEUEKIT_BROKER_URL", raising=False)
    monkeypatch.delenv("QUEUEKIT_RESULTS_URL", raising=False)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.queuekit]\nurl = "sqlite:///jobs.db?synchronous=full"\nresults = "sqlite:///var/results.db"\n'
    )
    nested = tmp_path / "src" / "pkg"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    root = tmp_path.resolve()
    assert App().url == f"sqlite:///{root / 'jobs.db'}?synchronous=full"
    assert App().results_url == f"sqlite:///{root / 'var' / 'results.db'}"
    monkeypatch.chdir(tmp_path)
    assert App().url == f"sqlite:///{root / 'jobs.db'}?synchronous=full"
    assert App("sqlite:///jobs.db").url == "sqlite:///jobs.db"  # an explicit URL is the caller's, left alone


@pytest.mark.parametrize("url", ["sqlite:////abs/jobs.db", "sqlite://", "sqlite:///:memory:", "memory://name",
                                 "redis+unix:///run/redis.sock"])
def test_absolute_and_non_file_urls_in_a_config_file_are_kept(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUEUEKIT_BROKER_URL", raising=False)
    (tmp_path / "queuekit.toml").write_text(f'url = "{url}"\n')
    monkeypatch.chdir(tmp_path)
    assert resolve_url() == url


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[tool.queuekit]\nbroker_url = "redis://127.0.0.1/0"\n',
         r"^unknown option 'broker_url' for \[tool\.queuekit\] in .*pyproject\.toml; "
         r"known options: results, secret, url$"),
        ('[tool.queuekit]\nrsults = "memory://"\n', r"'rsults' .* \(did you mean 'results'\?\)"),
        ('[tool.queuekit]\nurl = 5\n', r"^url in \[tool\.queuekit\] in .*pyproject\.toml must be a string, got int$"),
    ],
)
def test_a_mistyped_config_key_is_an_error_not_the_default(
    text: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config file whose url key is misspelt must not fall back to sqlite:///queuekit.db in silence."""
    monkeypatch.delenv("QUEUEKIT_BROKER_URL", raising=False)
    (tmp_path / "pyproject.toml").write_text(text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match=message):
        App()
    assert not (tmp_path / "queuekit.db").exists()
