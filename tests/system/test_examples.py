"""The documented examples work as written: the middleware inside Starlette and FastAPI."""

from __future__ import annotations

import importlib
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, gateway_env


@pytest.fixture
def example_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in gateway_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(REPO)  # the examples name config/gateway.toml relative to the repo


@pytest.mark.parametrize(("module", "reads"), [("examples.starlette_app", "Analytics"),
                                                ("examples.fastapi_app", "Marketing")])
async def test_the_example_app_gets_the_banner_and_reads_consent(
    example_env: None, module: str, reads: str
) -> None:
    app = importlib.reload(importlib.import_module(module)).app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://localhost") as client:
        page = await client.get("/")
        assert 'id="consent-gateway"' in page.text
        assert f"{reads} allowed: no" in page.text
        decided = await client.post("/_consent/consent", json={"action": "accept_all"})
        assert decided.status_code == 200
        assert f"{reads} allowed: yes" in (await client.get("/")).text


async def test_fastapi_routes_see_the_consent(example_env: None) -> None:
    app = importlib.reload(importlib.import_module("examples.fastapi_app")).app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://localhost") as client:
        assert (await client.get("/api/consent")).json() == {"granted": None}
        await client.post("/_consent/consent", json={"action": "custom",
                                                     "categories": {"analytics": True}})
        assert (await client.get("/api/consent")).json() == {
            "granted": ["analytics", "necessary"]}


async def test_the_middleware_enforces_like_the_proxy(example_env: None) -> None:
    app = importlib.reload(importlib.import_module("examples.starlette_app")).app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://localhost") as client:
        before = await client.get("/")
        assert ('<script type="text/plain" data-consent-category="analytics" async '
                'src="https://www.googletagmanager.com/gtag/js?id=G-EXAMPLE">') in before.text
        assert "_ga" not in before.headers.get("set-cookie", "")
        await client.post("/_consent/consent", json={"action": "custom",
                                                     "categories": {"analytics": True}})
        after = await client.get("/")
        assert '<script async src="https://www.googletagmanager.com/gtag/js' in after.text
        assert after.headers["set-cookie"].startswith("_ga=")
