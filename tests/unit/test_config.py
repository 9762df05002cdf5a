"""Configuration: production refuses unsafe settings; development makes its own secrets once."""

from __future__ import annotations

import stat

import pytest

from server.config import DEFAULTS, ConfigError, finalise, from_environment, normalise_database_url

STRONG = "s" * 40
KEY_A, KEY_B = "a" * 32, "b-" * 20


def production(**overrides) -> dict:
    config = {**DEFAULTS, "ENV": "production", "SQLALCHEMY_DATABASE_URI": "postgresql://db/rasoat",
              "SECRET_KEY": STRONG, "JWT_KEYS": {"k1": KEY_A}, "JWT_ACTIVE_KID": None}
    config.update(overrides)
    return config


def test_production_accepts_strong_settings(tmp_path):
    config = production()
    finalise(config, tmp_path / "instance")
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://db/rasoat"
    assert config["JWT_ACTIVE_KID"] == "k1"
    assert not (tmp_path / "instance").exists(), "production must not write secrets to disk"


@pytest.mark.parametrize(("overrides", "message"), [
    ({"SQLALCHEMY_DATABASE_URI": None}, "DATABASE_URL"),
    ({"SQLALCHEMY_DATABASE_URI": ""}, "DATABASE_URL"),
    ({"SECRET_KEY": None}, "SECRET_KEY"),
    ({"SECRET_KEY": "x" * 31}, "SECRET_KEY"),
    ({"SECRET_KEY": "changeme"}, "SECRET_KEY"),
    ({"SECRET_KEY": "dev"}, "SECRET_KEY"),
    ({"JWT_KEYS": {}}, "JWT_KEYS"),
    ({"JWT_KEYS": {"k1": "short"}}, "k1"),
    ({"JWT_KEYS": {"k1": KEY_A, "k2": "x" * 31}}, "k2"),
    ({"JWT_KEYS": {"k1": KEY_A}, "JWT_ACTIVE_KID": "k9"}, "ACTIVE_KID"),
    ({"DEMO": True}, "demo"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_production_refuses(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        finalise(production(**overrides), tmp_path)


def test_short_jwt_key_refused_in_development_too(tmp_path):
    # PyJWT warns on HMAC keys under 32 bytes, and warnings fail the suite: refuse them everywhere.
    with pytest.raises(ConfigError):
        finalise({**DEFAULTS, "JWT_KEYS": {"k1": "short"}}, tmp_path)


def test_unknown_active_kid_refused_in_development_too(tmp_path):
    with pytest.raises(ConfigError, match="ACTIVE_KID"):
        finalise({**DEFAULTS, "JWT_KEYS": {"k1": KEY_A}, "JWT_ACTIVE_KID": "nope"}, tmp_path)


def test_development_generates_secrets_once(tmp_path):
    instance = tmp_path / "instance"
    first = dict(DEFAULTS)
    finalise(first, instance)
    assert first["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'rasoat.sqlite3'}"
    assert len(first["SECRET_KEY"]) >= 32
    assert list(first["JWT_KEYS"]) == ["k1"] and len(first["JWT_KEYS"]["k1"]) >= 32
    assert first["JWT_ACTIVE_KID"] == "k1"
    assert first["SECRET_KEY"] != first["JWT_KEYS"]["k1"]
    for name in ("secret_key", "jwt_key_k1"):
        assert stat.S_IMODE((instance / name).stat().st_mode) == 0o600, name

    second = dict(DEFAULTS)
    finalise(second, instance)
    assert second["SECRET_KEY"] == first["SECRET_KEY"]
    assert second["JWT_KEYS"] == first["JWT_KEYS"]

    elsewhere = dict(DEFAULTS)
    finalise(elsewhere, tmp_path / "other")
    assert elsewhere["SECRET_KEY"] != first["SECRET_KEY"]


def test_development_keeps_given_secrets_and_writes_nothing(tmp_path):
    config = {**DEFAULTS, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "given",
              "JWT_KEYS": {"k1": KEY_A}}
    finalise(config, tmp_path / "instance")
    assert config["SECRET_KEY"] == "given"
    assert config["JWT_KEYS"] == {"k1": KEY_A}
    assert not (tmp_path / "instance").exists()


def test_jwt_keys_pairs_from_environment(tmp_path):
    found = from_environment({"RASOAT_JWT_KEYS": f" k1:{KEY_A} , k2:{KEY_B},", "RASOAT_JWT_ACTIVE_KID": "k2"})
    assert found["JWT_KEYS"] == {"k1": KEY_A, "k2": KEY_B}
    assert found["JWT_ACTIVE_KID"] == "k2"
    config = production(**found)
    finalise(config, tmp_path)
    assert config["JWT_ACTIVE_KID"] == "k2"


def test_jwt_key_secret_may_contain_colons():
    assert from_environment({"RASOAT_JWT_KEYS": "k1:abc:def"})["JWT_KEYS"] == {"k1": "abc:def"}


def test_jwt_keys_without_a_kid_refused():
    with pytest.raises(ConfigError, match="kid:secret"):
        from_environment({"RASOAT_JWT_KEYS": KEY_A})


def test_jwt_keys_as_json_from_environment():
    found = from_environment({"RASOAT_JWT_KEYS": f'{{"old": "{KEY_A}", "new": "{KEY_B}"}}'})
    assert found["JWT_KEYS"] == {"old": KEY_A, "new": KEY_B}


def test_first_key_is_active_by_default(tmp_path):
    config = production(**from_environment({"RASOAT_JWT_KEYS": f"new:{KEY_B},old:{KEY_A}"}))
    finalise(config, tmp_path)
    assert config["JWT_ACTIVE_KID"] == "new"


@pytest.mark.parametrize(("url", "expected"), [
    ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
    ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
    ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
    ("sqlite:///x.sqlite3", "sqlite:///x.sqlite3"),
])
def test_database_url_normalised(url, expected):
    assert normalise_database_url(url) == expected


def test_database_url_from_environment_is_normalised(tmp_path):
    config = production(**from_environment({"DATABASE_URL": "postgres://u@h/d", "SECRET_KEY": STRONG}))
    finalise(config, tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/d"
    assert config["SECRET_KEY"] == STRONG


def test_environment_values_are_typed_after_their_defaults():
    found = from_environment({
        "RASOAT_ACCESS_TOKEN_TTL_SECONDS": "60",
        "RASOAT_TRUSTED_PROXIES": "1",
        "RASOAT_DEMO": "yes",
        "RASOAT_LOG_LEVEL": "debug",
        "RASOAT_SQLALCHEMY_ENGINE_OPTIONS": '{"pool_size": 5}',
        "RASOAT_ENV": "production",
        "UNRELATED": "x",
    })
    assert found == {"ACCESS_TOKEN_TTL_SECONDS": 60, "TRUSTED_PROXIES": 1, "DEMO": True, "LOG_LEVEL": "debug",
                     "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 5}, "ENV": "production"}


@pytest.mark.parametrize(("raw", "expected"), [
    ("1", True), ("true", True), ("TRUE", True), ("on", True), (" yes ", True),
    ("0", False), ("false", False), ("no", False), ("", False), ("off", False),
])
def test_booleans_from_environment(raw, expected):
    assert from_environment({"RASOAT_DEMO": raw})["DEMO"] is expected


def test_bad_integer_from_environment_is_an_error():
    with pytest.raises(ValueError):
        from_environment({"RASOAT_PAGE_SIZE_MAX": "lots"})


def test_create_app_reads_environment_then_mapping(monkeypatch, tmp_path):
    from server import create_app

    monkeypatch.setenv("RASOAT_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.sqlite3'}")
    monkeypatch.setenv("RASOAT_PAGE_SIZE_MAX", "77")
    monkeypatch.setenv("RASOAT_LOG_LEVEL", "WARNING")
    app = create_app({"PAGE_SIZE_DEFAULT": 7})
    assert app.config["PAGE_SIZE_MAX"] == 77
    assert app.config["PAGE_SIZE_DEFAULT"] == 7
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("env.sqlite3")
    assert app.instance_path == str(tmp_path / "instance")
    assert (tmp_path / "instance" / "secret_key").exists()


def test_create_app_refuses_unsafe_production(monkeypatch, tmp_path):
    from server import create_app

    monkeypatch.setenv("RASOAT_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("RASOAT_ENV", "production")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("RASOAT_JWT_KEYS", raising=False)
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        create_app()
