"""Reading configuration: the TOML file, the environment and secret files (I/O adapter)."""

from __future__ import annotations

import os
import secrets
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from gateway.core.config import GatewayConfig, config_notes, parse_config
from gateway.core.errors import ConfigError, ConfigProblem


def load_config(
    path: str | Path, environ: Mapping[str, str] | None = None, *, create_secret: bool = True
) -> GatewayConfig:
    """Load and validate; raise `ConfigError` naming every problem by key."""
    environ = os.environ if environ is None else environ
    raw = _read_toml(Path(path))
    problems = []
    server = raw.get("server")
    if isinstance(server, dict) and "secret_keys" in server:
        problems.append(ConfigProblem(
            "server.secret_keys",
            "secrets may not be written in the config file; set GATEWAY_SERVER_SECRET_KEYS "
            "or server.secret_keys_file",
        ))
        del server["secret_keys"]
    problems.extend(_storage_secrets_in_file(raw))
    try:
        config = parse_config(raw, environ)
    except ConfigError as exc:
        raise ConfigError(problems + exc.problems) from None
    if problems:
        raise ConfigError(problems)
    if not config.server.secret_keys:
        keys = _read_secret_file(Path(config.server.secret_keys_file), create=create_secret)
        server = config.server.model_copy(update={"secret_keys": keys})
        config = config.model_copy(update={"server": server})
    return config


def _storage_secrets_in_file(raw: dict[str, Any]) -> list[ConfigProblem]:
    """A database password written in the file: refused (and dropped, so the other problems
    are still listed), like the signing keys."""
    storage = raw.get("storage")
    if not isinstance(storage, dict):
        return []
    where = ("set GATEWAY_STORAGE_PASSWORD or PGPASSWORD, use a pgpass file "
             "(storage.passfile), or give the whole URL in GATEWAY_STORAGE_URL")
    problems = []
    if "password" in storage:
        problems.append(ConfigProblem(
            "storage.password", f"a password may not be written in the config file; {where}"))
        del storage["password"]
    url = storage.get("url")
    if isinstance(url, str) and _has_password(url):
        problems.append(ConfigProblem(
            "storage.url", f"the URL holds a password, which may not be written in the config "
            f"file; {where}"))
        storage["url"] = _without_password(url)
    return problems


def _has_password(url: str) -> bool:
    try:
        return bool(urlsplit(url).password)
    except ValueError:  # a malformed URL: the schema names its problem
        return False


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc}" if user else netloc))


def notes_on(path: str | Path) -> list[str]:
    """Advice on a valid file written in an older form (for `check-config`)."""
    return config_notes(_read_toml(Path(path)))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError([ConfigProblem("(file)", f"{path} does not exist")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigProblem("(file)", f"{path} is not valid TOML: {exc}")]) from None


def _read_secret_file(path: Path, *, create: bool) -> tuple[str, ...]:
    if not path.exists() and create:
        _create_secret_file(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError([ConfigProblem(
            "server.secret_keys_file",
            f"cannot read {path} ({exc.strerror}); set GATEWAY_SERVER_SECRET_KEYS instead",
        )]) from None
    keys = tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))
    if not keys or any(len(key) < 32 for key in keys):
        raise ConfigError([ConfigProblem(
            "server.secret_keys_file", f"{path} must hold keys of at least 32 characters"
        )])
    return keys


def _create_secret_file(path: Path) -> None:
    """First start: make a key readable by us only. Written aside and hard-linked into
    place, so racing workers never read a half-written file and all end up with one key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temp)
