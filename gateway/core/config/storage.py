"""`[storage]`: where the store is — the embedded SQLite file, or a PostgreSQL database that
several gateway instances share (pure). A password is never part of the file: the adapter
that reads it (`adapters/configfile.py`) refuses one there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from gateway.core.config.sites import _Section


class StorageConfig(_Section):
    backend: Literal["sqlite", "postgresql"] = Field(
        "sqlite", description="Storage engine; `url`, when set, says which (kept for older "
        "files).",
    )
    url: str = Field(
        "", repr=False,  # it may hold a password (given by the environment)
        description="Where the store is: `sqlite:///data/gateway.sqlite3` (the embedded "
        "default; `sqlite:////abs/path` for an absolute path) or "
        "`postgresql://user@host:5432/dbname` (PostgreSQL 13 or newer; several gateway "
        "instances can share it). Empty: the SQLite file of `path`. A password is refused "
        "here in the file: give it in `GATEWAY_STORAGE_PASSWORD` or `PGPASSWORD`, a pgpass "
        "file (`passfile`), or give the whole URL in `GATEWAY_STORAGE_URL`.",
    )
    path: str = Field(
        "data/gateway.sqlite3",
        description="SQLite database file (WAL mode; created with its directory); a "
        "`sqlite:///` `url` sets it.",
    )
    password: str = Field(
        "", repr=False,
        description="PostgreSQL password. Only from the environment "
        "(`GATEWAY_STORAGE_PASSWORD`); refused in the TOML file.",
    )
    passfile: str = Field(
        "",
        description="A pgpass file (`host:port:db:user:password` lines) to read the "
        "PostgreSQL password from. Empty: `PGPASSFILE`, else `~/.pgpass`.",
    )
    pool_size: int = Field(
        10, ge=1, le=200,
        description="Most connections one gateway process keeps open to PostgreSQL.",
    )

    @field_validator("url")
    @classmethod
    def _is_a_store_url(cls, value: str) -> str:
        if value and storage_engine(value) is None:
            raise ValueError("must look like 'sqlite:///data/gateway.sqlite3' or "
                             "'postgresql://user@host:5432/dbname'")
        return value

    @model_validator(mode="before")
    @classmethod
    def _engine_from_url(cls, data: Any) -> Any:
        """A `sqlite:///` URL names the file of `path`; any URL names the engine."""
        url = data.get("url") if isinstance(data, Mapping) else None
        engine = storage_engine(url) if isinstance(url, str) else None
        if engine == "sqlite":
            return {**data, "backend": engine, "path": str(url)[len("sqlite:///"):]}
        return {**data, "backend": engine} if engine else data

    @model_validator(mode="after")
    def _postgresql_has_url(self) -> StorageConfig:
        if self.backend == "postgresql" and not self.url:
            raise ValueError("url: the postgresql backend needs one "
                             "('postgresql://user@host:5432/dbname')")
        return self


def storage_engine(url: str) -> Literal["sqlite", "postgresql"] | None:
    """The engine a `storage.url` names, or None if it names none."""
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return "sqlite"
    if url.split("://", 1)[0].lower() in ("postgresql", "postgres") and "://" in url:
        return "postgresql"
    return None
