"""Settings: validated at start-up, and documented in the README one for one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.errors import ConfigError
from service.settings import Settings, listen_url, load_settings, misses_listener

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_settings() -> dict[str, str]:
    rows = re.findall(
        r"^\| `(PAPERBOY_[A-Z_]+)` \| (.+?) \| (.+?) \|$", README.read_text(), re.MULTILINE
    )
    return {name: meaning for name, _default, meaning in rows}


def test_readme_table_matches_the_settings_class() -> None:
    documented = readme_settings()
    declared = Settings.env_names()
    assert sorted(documented) == sorted(declared)
    for name, meaning in declared.items():
        assert meaning and documented[name] == meaning, name


def test_defaults_are_the_embedded_ones() -> None:
    settings = load_settings()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.smtp_url is None and settings.env == "development"


def test_placeholder_secret_is_refused_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOY_ENV", "production")
    with pytest.raises(ConfigError, match="PAPERBOY_SECRET_KEY"):
        load_settings()
    monkeypatch.setenv("PAPERBOY_SECRET_KEY", "a-real-long-random-secret")
    assert load_settings().env == "production"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PAPERBOY_DEFAULT_TIMEZONE", "Mars/Olympus"),
        ("PAPERBOY_SMTP_URL", "http://mail.example.org"),
        ("PAPERBOY_BASE_URL", "ftp://example.org"),
        ("PAPERBOY_INGEST_CRON", "every day"),
        ("PAPERBOY_DEFAULT_HOUR", "25"),
        ("PAPERBOY_SOURCES", "files,nope"),
    ],
)
def test_invalid_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_from_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "PAPERBOY_FROM=Digest <d@example.org>\nPAPERBOY_DEFAULT_HOUR=6\n"
    )
    settings = load_settings()
    assert settings.from_address == "Digest <d@example.org>" and settings.default_hour == 6


def test_list_unsubscribe_mailto_must_be_a_plain_address() -> None:
    assert (
        load_settings(list_unsubscribe_mailto="mailto:unsub@example.org").list_unsubscribe_mailto
        == "unsub@example.org"
    )
    assert load_settings(list_unsubscribe_mailto="").list_unsubscribe_mailto is None
    with pytest.raises(
        ConfigError, match="PAPERBOY_LIST_UNSUBSCRIBE_MAILTO|list_unsubscribe_mailto"
    ):
        load_settings(list_unsubscribe_mailto="x@y.org>, <https://evil.example")


def test_secrets_come_from_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # As Docker mounts secrets: one file each, usually with a trailing newline.
    (tmp_path / "key").write_text("a-long-random-key-from-a-file\n")
    (tmp_path / "smtp").write_text("smtps://user:p%40ss@relay.example.org:465\n")
    (tmp_path / "db").write_text(f"sqlite:///{tmp_path / 'from-file.db'}")
    monkeypatch.setenv("PAPERBOY_ENV", "production")
    monkeypatch.setenv(
        "PAPERBOY_DATABASE_URL", "sqlite:///ignored.db"
    )  # the file wins, as over an image's default
    monkeypatch.setenv("PAPERBOY_SECRET_KEY_FILE", str(tmp_path / "key"))
    monkeypatch.setenv("PAPERBOY_SMTP_URL_FILE", str(tmp_path / "smtp"))
    monkeypatch.setenv("PAPERBOY_DATABASE_URL_FILE", str(tmp_path / "db"))
    settings = load_settings()
    assert settings.secret_key == "a-long-random-key-from-a-file"
    assert settings.smtp_url == "smtps://user:p%40ss@relay.example.org:465"
    assert settings.database_url == f"sqlite:///{tmp_path / 'from-file.db'}"


def test_a_secret_file_is_validated_like_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PAPERBOY_SMTP_URL_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="PAPERBOY_SMTP_URL_FILE: cannot read"):
        load_settings()
    (tmp_path / "smtp").write_text("http://not-smtp.example.org\n")
    monkeypatch.setenv("PAPERBOY_SMTP_URL_FILE", str(tmp_path / "smtp"))
    with pytest.raises(ConfigError, match="PAPERBOY_SMTP_URL"):
        load_settings()


def test_production_without_a_key_says_how_to_set_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOY_ENV", "production")
    monkeypatch.setenv(
        "PAPERBOY_SECRET_KEY", ""
    )  # what docker-compose.yml passes when .env has none
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert (
        "PAPERBOY_SECRET_KEY" in message
        and "token_urlsafe" in message
        and "PAPERBOY_SECRET_KEY_FILE" in message
    )


def test_serve_links_to_its_own_address_unless_a_base_url_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PAPERBOY_BASE_URL", raising=False)
    assert listen_url("0.0.0.0", 18000) == "http://127.0.0.1:18000"
    assert listen_url("::1", 8000) == "http://[::1]:8000"
    unset = Settings()
    assert not unset.base_url_given
    assert unset.served_at("127.0.0.1", 18000).base_url == "http://127.0.0.1:18000"
    given = Settings(base_url="https://papers.example.org/").served_at("0.0.0.0", 18000)
    assert given.base_url == "https://papers.example.org"


@pytest.mark.parametrize(
    ("base_url", "host", "port", "misses"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1", 18000, True),
        ("http://localhost:8000", "0.0.0.0", 8000, False),
        ("http://127.0.0.1:8000", "192.168.1.5", 8000, True),
        ("http://192.168.1.5:8000", "192.168.1.5", 8000, False),
        ("http://localhost", "127.0.0.1", 8000, True),
        ("https://papers.example.org", "0.0.0.0", 8000, False),  # a proxy in front: not judged
    ],
)
def test_a_base_url_that_misses_the_server(
    base_url: str, host: str, port: int, misses: bool
) -> None:
    assert misses_listener(base_url, host, port) is misses
