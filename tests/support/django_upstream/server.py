"""The Django upstream as a real server: seeded in a child process, then served by uvicorn
in another, on a free 127.0.0.1 port (started and stopped as `LiveServer` starts the
gateway)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import REPO, LiveServer

APPLICATION = "tests.support.django_upstream.asgi:application"


class DjangoUpstream(LiveServer):
    """Django's admin on its own port, accepting only `public_host` as Host."""

    def __init__(self, folder: Path, public_host: str) -> None:
        super().__init__(folder, env={
            "DJANGO_SETTINGS_MODULE": "tests.support.django_upstream.settings",
            "DJANGO_UPSTREAM_DIR": str(folder),
            "DJANGO_UPSTREAM_ALLOWED_HOSTS": public_host,
            "PYTHONPATH": str(REPO),
        })
        self.public_host = public_host
        self.log = folder / "django.log"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "uvicorn", APPLICATION, "--host", "127.0.0.1",
                "--port", str(self.port), "--lifespan", "off", "--no-proxy-headers",
                "--no-access-log", "--log-level", "warning"]

    def ready(self) -> bool:
        login = httpx.get(self.url + "/admin/login/", headers={"Host": self.public_host},
                          timeout=1)
        return login.status_code == 200

    def start(self) -> DjangoUpstream:
        subprocess.run([sys.executable, "-m", "tests.support.django_upstream.seed"],
                       env=self.env, cwd=REPO, check=True, timeout=60)
        super().start()
        return self


@contextmanager
def django_upstream(folder: Path, public_host: str = "localhost") -> Iterator[DjangoUpstream]:
    folder.mkdir(parents=True, exist_ok=True)
    server = DjangoUpstream(folder, public_host)
    try:
        yield server.start()
    finally:
        server.stop()
