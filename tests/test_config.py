"""One list of settings: environment first, then instance/config.toml, then defaults."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from date_community import config
from date_community.errors import ValidationError

DOCS = Path(__file__).resolve().parent.parent / "docs" / "deployment.md"


def test_defaults_without_environment_or_file(tmp_path):
    values = config.load(env={}, path=tmp_path / "missing.toml")
    assert values["TRUSTED_PROXIES"] == 0
    assert values["SESSION_IDLE_HOURS"] == 12.0
    assert values["SESSION_MAX_DAYS"] == 30.0
    assert values["MAX_BODY_BYTES"] == 1024 * 1024
    assert values["MAX_UPLOAD_BYTES"] == 40 * 1024 * 1024
    assert values["BASE_URL"] == ""


def test_file_is_read_and_environment_wins(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('DATE_COMMUNITY_BASE_URL = "https://file.example.jp"\n'
                    'DATE_COMMUNITY_TRUSTED_PROXIES = 1\nMAIL_USE_TLS = true\n', encoding="utf-8")
    values = config.load(env={"DATE_COMMUNITY_BASE_URL": "https://env.example.jp"}, path=path)
    assert values["BASE_URL"] == "https://env.example.jp"
    assert values["TRUSTED_PROXIES"] == 1
    assert values["MAIL_USE_TLS"] is True


def test_config_file_location_from_environment(tmp_path):
    path = tmp_path / "elsewhere.toml"
    path.write_text('OFFICE_PHONE = "0120-000-000"\n', encoding="utf-8")
    assert config.load(env={"DATE_COMMUNITY_CONFIG": str(path)})["OFFICE_PHONE"] == "0120-000-000"


@pytest.mark.parametrize("env", [
    {"DATE_COMMUNITY_TRUSTED_PROXIES": "two"},
    {"DATE_COMMUNITY_TRUSTED_PROXIES": "-1"},
    {"DATE_COMMUNITY_SESSION_IDLE_HOURS": "nan"},
    {"MAIL_PORT": "0"},
    {"MAIL_USE_TLS": "perhaps"},
    {"DATE_COMMUNITY_MAX_BODY_BYTES": "99999999999999999999999999999"},
])
def test_bad_value_names_the_setting(tmp_path, env):
    with pytest.raises(ValidationError) as info:
        config.load(env=env, path=tmp_path / "none.toml")
    assert info.value.code == "invalid_setting"
    assert info.value.params["field"] == next(iter(env))


def test_unknown_or_broken_file_names_the_problem(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('DATE_COMMUNITY_BASEURL = "typo"\n', encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        config.load(env={}, path=path)
    assert info.value.params["field"] == "DATE_COMMUNITY_BASEURL"
    path.write_text("not toml [", encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        config.load(env={}, path=path)
    assert info.value.params["source"] == str(path)


def test_secrets_are_masked_when_described():
    shown = dict(config.describe({"SECRET_KEY": "hunter2" * 10, "MAIL_PASSWORD": ""}))
    assert shown["SECRET_KEY"] == "(set)"
    assert shown["MAIL_PASSWORD"] == "(unset)"
    assert "hunter2" not in repr(shown)


def test_every_setting_is_documented():
    text = DOCS.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", text, flags=re.M))
    assert documented == {s.env for s in config.SETTINGS} | {config.CONFIG_FILE_ENV}


def test_app_stops_with_one_line_on_a_bad_setting(monkeypatch, tmp_path):
    from webapp import create_app

    monkeypatch.setenv("DATE_COMMUNITY_TRUSTED_PROXIES", "lots")
    with pytest.raises(SystemExit) as info:
        create_app({"TESTING": True, "DATABASE": str(tmp_path / "x.db")})
    message = str(info.value)
    assert "DATE_COMMUNITY_TRUSTED_PROXIES" in message and "\n" not in message
