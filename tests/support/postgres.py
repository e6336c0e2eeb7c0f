"""A throwaway PostgreSQL for the suite: one server per test session, one fresh database per
test.

Unless `GATEWAY_TEST_POSTGRES_URL` names a server to use (a superuser's URL: each test
creates and drops its own database there), `initdb` and `pg_ctl` from Debian's `postgresql`
package (`/usr/lib/postgresql/*/bin`, not on PATH) start one in a temporary folder on a
free port, with `fsync=off` (nothing here needs to survive a power cut). `initdb` refuses to
run as root, so as root the server runs as the `postgres` system user the package creates,
in a folder that user owns. `scripts/test` installs the package when `initdb` is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

URL_VARIABLE = "GATEWAY_TEST_POSTGRES_URL"
_SERVER_USER = "postgres"


def find_pg_bin() -> Path | None:
    """The folder holding `initdb` and `pg_ctl`: PATH first, else the newest Debian version."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent
                   .name.isdigit() else 0)
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """`initdb` + `pg_ctl start` in `folder`; `stop()` shuts it down and removes the folder."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.as_root = os.geteuid() == 0
        self.folder = Path(tempfile.mkdtemp(prefix="gateway-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.user = _SERVER_USER if self.as_root else (os.environ.get("USER") or "postgres")
        self.url = f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", _SERVER_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              cwd=self.folder)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}):\n{done.stdout}"
                               f"{done.stderr}")

    def start(self) -> PostgresServer:
        if self.as_root:
            shutil.chown(self.folder, _SERVER_USER, _SERVER_USER)
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust",
                  "--encoding=UTF8", "--locale=C", "--no-sync")
        self.resume()
        return self

    @property
    def _options(self) -> str:
        return (f"-c port={self.port} -c listen_addresses=127.0.0.1 "
                f"-c unix_socket_directories={self.folder} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")

    def halt(self) -> None:
        """Stop the server as an outage would (its data kept): `resume()` starts it again."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"),
                  "-o", self._options, "-w", "-t", "60", "start")

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A superuser's URL on a server for this session (ours, or `GATEWAY_TEST_POSTGRES_URL`)."""
    given = os.environ.get(URL_VARIABLE)
    if given:
        yield given
        return
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.fail("PostgreSQL's initdb is missing: scripts/test installs it (apt-get install "
                    f"postgresql), or set {URL_VARIABLE} to a server's superuser URL")
    server = PostgresServer(bin_dir).start()
    _ours.append(server)
    try:
        yield server.url
    finally:
        _ours.remove(server)
        server.stop()


# The server this session started (none when `GATEWAY_TEST_POSTGRES_URL` names one).
_ours: list[PostgresServer] = []


@pytest.fixture
def postgres_control(postgres_server: str) -> PostgresServer:
    """The session's own server, for tests that stop and start it (an outage); skipped on a
    server the suite did not start."""
    if not _ours:
        pytest.skip(f"{URL_VARIABLE} names a server this suite may not stop")
    return _ours[0]


_numbers = itertools.count(1)


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """The URL of a new, empty database for this test alone, dropped afterwards."""
    name = f"gateway_test_{os.getpid()}_{next(_numbers)}"
    asyncio.run(_admin(postgres_server, f'CREATE DATABASE "{name}" TEMPLATE template0'))
    yield with_database(postgres_server, name)
    asyncio.run(_admin(postgres_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
