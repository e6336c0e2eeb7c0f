"""Known cookies and cookies written by scripts, through real HTTP (httpx's ASGI transport)
with real SQLite files: the shipped cookie data lets a site's log-in work before consent,
holds trackers' cookies back until their category is granted, yields to the site's own
`[[cookies]]` rules, and cookies a page script wrote get the same policy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.adapters.configfile import load_config
from gateway.core.config import GatewayConfig
from gateway.core.enforcement.cookies import SeenCookie
from gateway.services.wiring import Services, build_services
from gateway.web.middleware import ConsentMiddleware
from tests.conftest import EXAMPLE_CONFIG, FrozenClock, gateway_env

LOGIN_COOKIES = ("PHPSESSID", "csrftoken", "sessionid", "JSESSIONID", "laravel_session",
                 "XSRF-TOKEN", "wordpress_logged_in_5f4dcc3b")
TRACKER_COOKIES = ("_hjSessionUser_123", "_ga_ABC")
ANALYTICS = {"action": "custom", "categories": {"analytics": True}}

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


async def set_cookies(request: Request) -> Response:
    response = JSONResponse({})
    for name in request.query_params.getlist("name"):
        response.set_cookie(name, "v")
    return response


async def echo(request: Request) -> Response:
    return JSONResponse({"cookie": request.headers.get("cookie") or ""})


def site() -> Starlette:
    return Starlette(routes=[Route("/set", set_cookies), Route("/echo", echo)])


@pytest.fixture
def client(gateway: Services) -> Client:
    @asynccontextmanager
    async def open_client(
        services: Services = gateway, host: str = "localhost"
    ) -> AsyncIterator[httpx.AsyncClient]:
        app = ConsentMiddleware(site(), services=services)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url=f"http://{host}") as http:
            yield http
    return open_client


@asynccontextmanager
async def started(config: GatewayConfig, clock: FrozenClock) -> AsyncIterator[Services]:
    services = build_services(config, clock=clock)
    await services.start()
    try:
        yield services
    finally:
        await services.stop()


def set_names(response: httpx.Response) -> list[str]:
    return [v.split("=", 1)[0] for v in response.headers.get_list("set-cookie")]


def expired(response: httpx.Response) -> list[str]:
    return [v for v in response.headers.get_list("set-cookie") if "Max-Age=0" in v]


def cookie_header(*names: str) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{name}=v" for name in names)}


def query(*names: str) -> str:
    return "/set?" + "&".join(f"name={name}" for name in names)


async def inventory(services: Services) -> dict[str, SeenCookie]:
    await services.flush_counters()
    return {row.name: row for row in await services.store.cookie_inventory("demo")}


# ------------------------------------------------------------------- before any decision


@pytest.mark.parametrize("rules", ["example config", "no [[cookies]] rules"])
async def test_framework_session_and_csrf_cookies_pass_before_consent(
    config: GatewayConfig, clock: FrozenClock, client: Client, rules: str
) -> None:
    if rules != "example config":
        config = config.model_copy(update={"cookies": ()})
    async with started(config, clock) as services, client(services) as http:
        response = await http.get(query(*LOGIN_COOKIES))
        assert set_names(response) == list(LOGIN_COOKIES)
        echoed = await http.get("/echo", headers=cookie_header(*LOGIN_COOKIES))
        assert echoed.json()["cookie"] == cookie_header(*LOGIN_COOKIES)["Cookie"]
        assert expired(echoed) == []


@pytest.mark.parametrize("decision", [None, {"action": "reject_all"},
                                      {"action": "custom", "categories": {"marketing": True}}])
async def test_hotjar_and_ga4_cookies_are_held_until_analytics_is_granted(
    client: Client, decision: dict[str, object] | None
) -> None:
    async with client() as http:
        if decision is not None:
            await http.post("/_consent/consent", json=decision)
        response = await http.get(query("PHPSESSID", *TRACKER_COOKIES))
        assert [n for n in set_names(response) if n in TRACKER_COOKIES] == []
        echoed = await http.get("/echo", headers=cookie_header("sessionid", *TRACKER_COOKIES))
        assert echoed.json()["cookie"] == "sessionid=v"


async def test_hotjar_and_ga4_cookies_pass_once_analytics_is_granted(client: Client) -> None:
    async with client() as http:
        await http.post("/_consent/consent", json=ANALYTICS)
        response = await http.get(query(*TRACKER_COOKIES))
        assert set_names(response) == list(TRACKER_COOKIES)
        echoed = await http.get("/echo")  # the cookies just set, with the consent cookie
        assert "_hjSessionUser_123=v; _ga_ABC=v" in echoed.json()["cookie"]


async def test_a_cookies_rule_overrides_the_database_and_the_catalogue(
    tmp_path: Path, clock: FrozenClock, client: Client
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8") + """
[[cookies]]
pattern = "PHPSESSID"
category = "marketing"

[[cookies]]
pattern = "_hjSessionUser_*"
category = "necessary"
""", encoding="utf-8")
    config = load_config(path, gateway_env(tmp_path))
    async with started(config, clock) as services, client(services) as http:
        response = await http.get(query("PHPSESSID", *TRACKER_COOKIES))
        assert set_names(response) == ["_hjSessionUser_123"]
        rows = await inventory(services)
    assert (rows["PHPSESSID"].category, rows["PHPSESSID"].source) == ("marketing", "rule")
    assert rows["_hjSessionUser_123"].source == "rule"


async def test_the_inventory_records_where_each_category_came_from(
    gateway: Services, client: Client
) -> None:
    async with client() as http:
        await http.get(query("PHPSESSID", "csrftoken", "_hjSessionUser_123", "ab_variant"))
    rows = await inventory(gateway)
    found = {name: (row.category, row.source, row.set_by) for name, row in rows.items()}
    assert found == {
        "PHPSESSID": ("necessary", "database", "server"),
        "csrftoken": ("necessary", "rule", "server"),  # the example config names it
        "_hjSessionUser_123": ("analytics", "catalogue", "server"),
        "ab_variant": ("unknown", "unknown", "server"),
    }


# ---------------------------------------------------------------- cookies a script wrote


async def test_a_cookie_a_script_wrote_is_recorded_stripped_and_expired(
    gateway: Services, client: Client
) -> None:
    async with client(host="www.shop.example") as http:
        response = await http.get("/echo", headers=cookie_header("_hjid", "PHPSESSID"))
    assert response.json()["cookie"] == "PHPSESSID=v"
    # Deleted where a script may have put it: host-only, and on each domain it could name.
    assert expired(response) == [
        "_hjid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        "_hjid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        "; Domain=shop.example",
        "_hjid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        "; Domain=www.shop.example",
    ]
    row = (await inventory(gateway))["_hjid"]
    assert (row.set_by, row.category, row.source, row.count) == (
        "script", "analytics", "catalogue", 1)


async def test_an_unknown_cookie_a_script_wrote_is_stripped_but_not_expired(
    gateway: Services, client: Client
) -> None:
    async with client() as http:
        response = await http.get("/echo", headers=cookie_header("ab_variant", "sessionid"))
    assert response.json()["cookie"] == "sessionid=v"
    assert expired(response) == []
    row = (await inventory(gateway))["ab_variant"]
    assert (row.set_by, row.category, row.source) == ("script", "unknown", "unknown")


async def test_a_script_cookie_of_a_granted_category_reaches_the_app(
    gateway: Services, client: Client
) -> None:
    async with client() as http:
        await http.post("/_consent/consent", json=ANALYTICS)
        http.cookies.set("_hjid", "v")  # next to the consent cookie
        response = await http.get("/echo")
    assert response.json()["cookie"].endswith("; _hjid=v")
    assert expired(response) == []
    assert (await inventory(gateway))["_hjid"].set_by == "script"


async def test_a_cookie_the_upstream_set_is_not_taken_for_a_scripts(
    gateway: Services, client: Client
) -> None:
    async with client() as http:
        await http.get(query("PHPSESSID"))
        await http.get("/echo", headers=cookie_header("PHPSESSID"))
        await http.get("/echo", headers=cookie_header("PHPSESSID"))
    row = (await inventory(gateway))["PHPSESSID"]
    assert (row.set_by, row.count) == ("server", 1)
    assert "consent" not in await inventory(gateway)


def test_an_unknown_cookie_held_back_is_logged_once_with_the_fix(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    services = build_services(load_config(EXAMPLE_CONFIG, gateway_env(tmp_path)),
                              clock=FrozenClock(datetime(2026, 12, 2, tzinfo=UTC)))
    values = ["myapp_auth=1; Path=/; HttpOnly", "PHPSESSID=2; Path=/"]
    with caplog.at_level("WARNING", logger="consent_gateway"):
        for _ in range(3):
            passed, blocked = services.firewall.filter_response_cookies(
                values, site="demo", consent=None, own_cookie="consent")
    assert passed == ["PHPSESSID=2; Path=/"] and blocked == ["myapp_auth=1; Path=/; HttpOnly"]
    lines = [r.getMessage() for r in caplog.records if "held back" in r.getMessage()]
    assert len(lines) == 1
    assert "'myapp_auth'" in lines[0] and "[[cookies]]" in lines[0]
