"""`[storage]` as a site owner writes it (`core/config/storage.py`, read by
`adapters/configfile.py`): the SQLite default, a URL naming the engine, and a database
password refused in the file but taken from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.adapters.configfile import load_config
from gateway.adapters.store.postgres import PostgresStore
from gateway.adapters.store.sqlite import SQLiteStore
from gateway.core.errors import ConfigError
from gateway.services.wiring import configured_store
from tests.conftest import EXAMPLE_CONFIG, SECRET

ENV = {"GATEWAY_SERVER_SECRET_KEYS": SECRET}


def config_with(tmp_path: Path, *lines: str) -> Path:
    text = EXAMPLE_CONFIG.read_text().replace("[storage]\n", "[storage]\n" + "\n".join(lines)
                                              + "\n", 1)
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return path


def test_the_default_is_the_sqlite_file_of_path(tmp_path: Path) -> None:
    config = load_config(config_with(tmp_path), ENV)
    assert (config.storage.backend, config.storage.path) == ("sqlite", "data/gateway.sqlite3")
    assert isinstance(configured_store(config), SQLiteStore)


def test_a_sqlite_url_names_the_file(tmp_path: Path) -> None:
    config = load_config(config_with(tmp_path, 'url = "sqlite:////var/lib/gw/g.sqlite3"'), ENV)
    store = configured_store(config)
    assert isinstance(store, SQLiteStore) and store.path == Path("/var/lib/gw/g.sqlite3")


def test_a_postgresql_url_from_the_environment_chooses_postgresql(tmp_path: Path) -> None:
    env = {**ENV, "GATEWAY_STORAGE_URL": "postgresql://gw:s3cret@db.example:5432/gw",
           "GATEWAY_STORAGE_POOL_SIZE": "5"}
    config = load_config(config_with(tmp_path), env)
    store = configured_store(config)
    assert isinstance(store, PostgresStore) and config.storage.pool_size == 5
    assert store.name == "postgresql://gw@db.example:5432/gw"
    assert "s3cret" not in repr(config.storage)


@pytest.mark.parametrize(("line", "key"), [
    ('url = "postgresql://gw:s3cret@db.example/gw"', "storage.url"),
    ('password = "s3cret"', "storage.password"),
])
def test_a_password_in_the_file_is_refused_naming_where_it_may_come_from(
    tmp_path: Path, line: str, key: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(config_with(tmp_path, 'url = "postgresql://gw@db.example/gw"'
                                if key == "storage.password" else "", line), ENV)
    [problem] = raised.value.problems
    assert problem.key == key
    assert "GATEWAY_STORAGE_PASSWORD" in problem.message and "s3cret" not in str(raised.value)


def test_the_password_comes_from_the_environment(tmp_path: Path) -> None:
    env = {**ENV, "GATEWAY_STORAGE_PASSWORD": "s3cret"}
    config = load_config(config_with(tmp_path, 'url = "postgresql://gw@db.example/gw"'), env)
    assert (config.storage.backend, config.storage.password) == ("postgresql", "s3cret")


@pytest.mark.parametrize("url", ["mysql://db/gw", "sqlite://relative.db", "db.example"])
def test_a_url_of_no_known_engine_is_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(config_with(tmp_path, f'url = "{url}"'), ENV)
    assert [p.key for p in raised.value.problems] == ["storage.url"]


def test_the_postgresql_backend_without_a_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="storage"):
        load_config(config_with(tmp_path), {**ENV, "GATEWAY_STORAGE_BACKEND": "postgresql"})
