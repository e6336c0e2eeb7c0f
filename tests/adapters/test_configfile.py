"""Reading configuration (gateway/adapters/configfile.py): a missing or broken file is a
problem, not a crash; secrets never come from the file; a key file is created readable by
us only, reused on the next start, and read newest key first."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from gateway.adapters.configfile import load_config
from gateway.core.errors import ConfigError
from tests.conftest import EXAMPLE_CONFIG, SECRET
from tests.core.test_config import OTHER_SECRET, env, example, problems_of, write_config


def test_a_missing_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    assert set(problems_of(tmp_path / "nope.toml", env(tmp_path))) == {"(file)"}


def test_a_file_that_is_not_toml_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text("[server\nport = 8000\n", encoding="utf-8")
    assert set(problems_of(path, env(tmp_path))) == {"(file)"}


# --------------------------------------------------------------------------- secrets


def test_a_secret_written_in_the_file_is_refused(tmp_path: Path) -> None:
    document = example()
    document["server"]["secret_keys"] = [OTHER_SECRET]
    problems = problems_of(write_config(tmp_path, document), env(tmp_path))
    assert "server.secret_keys" in problems


def test_a_refused_secret_is_not_repeated_in_the_error(tmp_path: Path) -> None:
    document = example()
    document["server"]["secret_keys"] = [OTHER_SECRET]
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, document), env(tmp_path))
    assert OTHER_SECRET not in str(caught.value)


def test_a_secret_in_the_file_is_reported_together_with_other_problems(tmp_path: Path) -> None:
    document = example()
    document["server"]["secret_keys"] = [OTHER_SECRET]
    document["server"]["port"] = -1
    problems = problems_of(write_config(tmp_path, document), env(tmp_path))
    assert {"server.secret_keys", "server.port"} <= set(problems)


def test_a_secret_key_shorter_than_32_characters_is_refused(tmp_path: Path) -> None:
    environ = env(tmp_path, GATEWAY_SERVER_SECRET_KEYS="x" * 31)
    assert set(problems_of(EXAMPLE_CONFIG, environ)) == {"server.secret_keys"}


def test_a_secret_key_of_32_characters_is_accepted(tmp_path: Path) -> None:
    environ = env(tmp_path, GATEWAY_SERVER_SECRET_KEYS="x" * 32)
    assert load_config(EXAMPLE_CONFIG, environ).server.secret_keys == ("x" * 32,)


def file_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    secret_file = tmp_path / "secrets" / "keys"
    return {"GATEWAY_SERVER_SECRET_KEYS_FILE": str(secret_file),
            "GATEWAY_STORAGE_PATH": str(tmp_path / "gateway.sqlite3")}, secret_file


def test_without_an_environment_secret_a_key_file_is_created_readable_by_us_only(
    tmp_path: Path,
) -> None:
    environ, secret_file = file_env(tmp_path)
    config = load_config(EXAMPLE_CONFIG, environ)
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    (key,) = config.server.secret_keys
    assert len(key) >= 32
    assert secret_file.read_text(encoding="utf-8").split() == [key]


def test_the_created_key_file_is_reused_on_the_next_start(tmp_path: Path) -> None:
    environ, secret_file = file_env(tmp_path)
    first = load_config(EXAMPLE_CONFIG, environ).server.secret_keys
    content = secret_file.read_bytes()
    second = load_config(EXAMPLE_CONFIG, environ).server.secret_keys
    assert second == first
    assert secret_file.read_bytes() == content


def test_a_key_file_with_several_keys_gives_them_newest_first(tmp_path: Path) -> None:
    environ, secret_file = file_env(tmp_path)
    secret_file.parent.mkdir()
    secret_file.write_text(f"# rotated 2026-11-01\n{SECRET}\n\n{OTHER_SECRET}\n", encoding="utf-8")
    assert load_config(EXAMPLE_CONFIG, environ).server.secret_keys == (SECRET, OTHER_SECRET)


def test_a_key_file_with_a_short_key_is_refused(tmp_path: Path) -> None:
    environ, secret_file = file_env(tmp_path)
    secret_file.parent.mkdir()
    secret_file.write_text("too-short\n", encoding="utf-8")
    assert set(problems_of(EXAMPLE_CONFIG, environ)) == {"server.secret_keys_file"}


def test_no_key_file_is_created_when_creation_is_off(tmp_path: Path) -> None:
    environ, secret_file = file_env(tmp_path)
    problems = problems_of(EXAMPLE_CONFIG, environ, create_secret=False)
    assert set(problems) == {"server.secret_keys_file"}
    assert not secret_file.exists()


def test_an_environment_secret_means_no_key_file_is_created(tmp_path: Path) -> None:
    environ, secret_file = file_env(tmp_path)
    config = load_config(EXAMPLE_CONFIG, {**environ, "GATEWAY_SERVER_SECRET_KEYS": SECRET})
    assert config.server.secret_keys == (SECRET,)
    assert not secret_file.exists()
