"""Shared fixtures: the example config pointed at a temporary database, an ASGI client, a
frozen clock, and a real uvicorn server on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from gateway.adapters.configfile import load_config
from gateway.core.config import GatewayConfig
from gateway.services.wiring import Services, build_services
from gateway.web.middleware import ConsentMiddleware
from tests.support.postgres import (  # noqa: F401 (fixtures)
    postgres_control,
    postgres_server,
    postgres_url,
)

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO / "config" / "gateway.toml"
# MaxMind's GeoIP test databases, kept with the suite (see tests/data/geoip/README.md).
GEOIP_DIR = REPO / "tests" / "data" / "geoip"
SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
FIREFOX_UA = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


class FrozenClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **kwargs: float) -> None:
        self.moment += timedelta(**kwargs)


def gateway_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "GATEWAY_SERVER_SECRET_KEYS": SECRET,
        "GATEWAY_STORAGE_PATH": str(tmp_path / "gateway.sqlite3"),
        **extra,
    }


@pytest.fixture
def config(tmp_path: Path) -> GatewayConfig:
    return load_config(EXAMPLE_CONFIG, gateway_env(tmp_path))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))


@pytest.fixture
async def gateway(config: GatewayConfig, clock: FrozenClock) -> AsyncIterator[Services]:
    gw = build_services(config, clock=clock)
    await gw.start()
    yield gw
    await gw.stop()


@pytest.fixture
async def client(gateway: Services) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway in front of the demo site, over httpx's ASGI transport."""
    from gateway.web.demo import demo_app

    app = ConsentMiddleware(demo_app(), services=gateway)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.77", 51000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://localhost", headers={"User-Agent": FIREFOX_UA}
    ) as http:
        yield http


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """`consent-gateway serve` in a child process, as a site owner would start it.
    `command` and `ready` say what runs and when it answers: another server in a child
    process (the Django upstream) overrides just those two."""

    def __init__(self, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **gateway_env(tmp_path), **(env or {})}
        self.args = args
        self.log = tmp_path / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gateway", "serve", "--config", str(EXAMPLE_CONFIG),
                "--port", str(self.port), *self.args]

    def ready(self) -> bool:
        return httpx.get(f"{self.url}/_consent/health", timeout=1).status_code == 200

    def start(self) -> LiveServer:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(self.command(), env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT, cwd=self.log.parent)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log.read_text()}")
            try:
                if self.ready():
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path).start()
    yield server
    server.stop()
