"""The names a user imports from `gateway` are a contract: internals may move, these stay."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import gateway
from tests.conftest import EXAMPLE_CONFIG, gateway_env

PUBLIC_API = [
    "ConfigError",
    "Consent",
    "ConsentMiddleware",
    "GatewayConfig",
    "GatewayError",
    "__version__",
    "app_from_environment",
    "consent_of",
    "create_app",
    "load_config",
]


def test_the_exported_names_are_exactly_the_public_api() -> None:
    assert sorted(gateway.__all__) == PUBLIC_API
    for name in PUBLIC_API:
        assert getattr(gateway, name) is not None, name


def test_the_public_api_imports_in_a_fresh_interpreter() -> None:
    names = ", ".join(name for name in PUBLIC_API if name != "__version__")
    done = subprocess.run([sys.executable, "-c", f"from gateway import {names}, __version__"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


async def test_the_readme_way_of_using_the_middleware_works(tmp_path: Path) -> None:
    async def home(request: Request) -> JSONResponse:
        consent = gateway.consent_of(request.scope)
        return JSONResponse({"analytics": bool(consent and consent.allows("analytics"))})

    config = gateway.load_config(EXAMPLE_CONFIG, gateway_env(tmp_path))
    app = Starlette(routes=[Route("/", home)])
    app.add_middleware(gateway.ConsentMiddleware, config=config)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        assert (await client.get("/")).json() == {"analytics": False}
        await client.post("/_consent/consent", json={"action": "accept_all"})
        assert (await client.get("/")).json() == {"analytics": True}
    layer = app.middleware_stack
    while not isinstance(layer, gateway.ConsentMiddleware):
        layer = layer.app  # type: ignore[union-attr]
    await layer.services.stop()


async def test_create_app_serves_the_demo_site_with_the_banner(tmp_path: Path) -> None:
    config = gateway.load_config(EXAMPLE_CONFIG, gateway_env(tmp_path))
    app = gateway.create_app(config)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://localhost") as client:
        page = await client.get("/")
    assert page.status_code == 200
    assert "/_consent/consent.js" in page.text
    await app.services.stop()  # type: ignore[attr-defined]
