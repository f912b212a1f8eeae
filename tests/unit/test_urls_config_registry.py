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
