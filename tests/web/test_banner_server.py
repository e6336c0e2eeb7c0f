"""Server side of the banner: preferences page, GPC, DNT, snippet mode, language choice."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.adapters.configfile import load_config
from gateway.services.wiring import Services, build_services
from gateway.web.demo import demo_app
from gateway.web.middleware import ConsentMiddleware
from tests.conftest import EXAMPLE_CONFIG, FrozenClock, gateway_env

SHOP = "http://shop.example"


async def make_client(
    tmp_path: Path, clock: FrozenClock, **env: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    config = load_config(EXAMPLE_CONFIG, gateway_env(tmp_path, **env))
    gateway = build_services(config, clock=clock)
    await gateway.start()
    app = ConsentMiddleware(demo_app(), services=gateway)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.23", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        yield client, gateway
    await gateway.stop()


@pytest.fixture
async def env_client(
    tmp_path: Path, clock: FrozenClock, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    async for pair in make_client(tmp_path, clock, **getattr(request, "param", {})):
        yield pair


async def records(gateway: Services) -> list[dict[str, object]]:
    return [r.to_json() async for r in gateway.store.iter_consents()]


def inlined_state(page: str) -> dict[str, object]:
    match = re.search(r'id="consent-gateway"[^>]*data-state="([^"]*)"', page)
    assert match
    return dict(json.loads(html.unescape(match.group(1))))


# ------------------------------------------------------------------ preferences page


async def test_the_preferences_page_is_a_complete_form(client: httpx.AsyncClient) -> None:
    response = await client.get("/_consent/preferences?return_to=/shop",
                                headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    assert '<form method="post" action="/_consent/preferences">' in page
    for label in ("Accept all", "Reject all", "Save choices", "Back to the website"):
        assert label in page
    assert re.search(r'id="cg-cat-necessary" name="necessary"[^>]* checked disabled', page)
    for category in ("preferences", "analytics", "marketing"):
        assert re.search(rf'id="cg-cat-{category}" name="{category}"[^>]*>', page)
        assert not re.search(rf'id="cg-cat-{category}"[^>]*checked', page)
    assert 'name="return_to" value="/shop"' in page
    assert "<script" not in page


async def test_the_preferences_page_shows_the_current_choice(client: httpx.AsyncClient) -> None:
    await client.post("/_consent/consent",
                      json={"action": "custom", "categories": {"marketing": True}})
    page = (await client.get("/_consent/preferences")).text
    assert re.search(r'id="cg-cat-marketing"[^>]*checked', page)
    assert not re.search(r'id="cg-cat-analytics"[^>]*checked', page)
    assert 'action="/_consent/withdraw"' in page  # something to withdraw


async def test_posting_the_preferences_form_records_and_returns(
    client: httpx.AsyncClient, gateway: Services
) -> None:
    response = await client.post(
        "/_consent/preferences",
        data={"action": "custom", "analytics": "on", "return_to": "/shop"},
        headers={"Origin": "http://localhost"},
    )
    assert response.status_code == 303 and response.headers["location"] == "/shop"
    logged = await records(gateway)
    assert logged[-1]["source"] == "preferences"
    assert logged[-1]["granted"] == ["necessary", "analytics"]


async def test_the_preferences_page_returns_only_to_this_site(client: httpx.AsyncClient) -> None:
    page = (await client.get("/_consent/preferences?return_to=https://evil.example/")).text
    assert 'name="return_to" value="/"' in page
    page = (await client.get("/_consent/preferences",
                             headers={"Referer": "http://localhost/shop?x=1"})).text
    assert 'name="return_to" value="/shop?x=1"' in page


async def test_texts_in_the_preferences_page_are_escaped(
    tmp_path: Path, clock: FrozenClock
) -> None:
    hostile = '<script>alert("x")</script>'
    env = {"GATEWAY_BANNER_TEXTS_NL_BODY": hostile}
    async for client, _ in make_client(tmp_path, clock, **env):
        page = (await client.get("/_consent/preferences")).text
        assert hostile not in page
        assert html.escape(hostile) in page
        state = inlined_state((await client.get("/")).text)
        assert state["texts"]["body"] == hostile  # type: ignore[index]


# ------------------------------------------------------------------------------ GPC


async def test_a_gpc_signal_is_logged_once_and_denies_marketing(
    client: httpx.AsyncClient, gateway: Services
) -> None:
    page = await client.get("/", headers={"Sec-GPC": "1"})
    state = inlined_state(page.text)
    consent = state["consent"]
    assert isinstance(consent, dict)
    assert consent["explicit"] is False and consent["categories"]["marketing"] is False
    assert "consent=" in page.headers["set-cookie"]
    await client.get("/shop", headers={"Sec-GPC": "1"})
    logged = await records(gateway)
    assert len(logged) == 1
    assert logged[0]["action"] == "gpc" and logged[0]["source"] == "gpc"
    assert logged[0]["gpc"] is True
    assert logged[0]["denied"] == ["preferences", "analytics", "marketing"]


async def test_an_explicit_choice_after_gpc_wins(
    client: httpx.AsyncClient, gateway: Services
) -> None:
    await client.get("/", headers={"Sec-GPC": "1"})
    accepted = await client.post("/_consent/consent", json={"action": "accept_all"},
                                 headers={"Sec-GPC": "1"})
    assert accepted.json()["categories"]["marketing"] is True
    assert accepted.json()["explicit"] is True
    again = await client.post("/_consent/consent", json={"action": "gpc"})
    assert again.json()["categories"]["marketing"] is True  # GPC does not undo a choice
    assert [r["action"] for r in await records(gateway)] == ["gpc", "accept_all"]


async def test_the_script_can_report_navigator_gpc(
    client: httpx.AsyncClient, gateway: Services
) -> None:
    response = await client.post("/_consent/consent", json={"action": "gpc", "page": "/"})
    assert response.json()["explicit"] is False
    assert (await records(gateway))[0]["source"] == "gpc"


@pytest.mark.parametrize("env_client", [{"GATEWAY_PRIVACY_HONOUR_GPC": "false"}],
                         indirect=True)
async def test_gpc_can_be_switched_off(env_client: tuple[httpx.AsyncClient, Services]) -> None:
    client, gateway = env_client
    await client.get("/", headers={"Sec-GPC": "1"})
    assert await records(gateway) == []
    assert (await client.get("/.well-known/gpc.json")).status_code == 404


@pytest.mark.parametrize("env_client", [{"GATEWAY_PRIVACY_DNT_DENIES_ANALYTICS": "true"}],
                         indirect=True)
async def test_dnt_denies_analytics_when_configured(
    env_client: tuple[httpx.AsyncClient, Services],
) -> None:
    client, gateway = env_client
    response = await client.post("/_consent/consent", json={"action": "accept_all"},
                                 headers={"DNT": "1"})
    assert response.json()["categories"]["analytics"] is False
    assert response.json()["categories"]["marketing"] is True
    assert "analytics" in (await records(gateway))[0]["denied"]  # type: ignore[operator]


# ------------------------------------------------------------------------- language


async def test_the_pages_html_lang_beats_accept_language(client: httpx.AsyncClient) -> None:
    page = await client.get("/", headers={"Accept-Language": "en"})  # demo answers lang="en"
    assert inlined_state(page.text)["language"] == "en"
    page = await client.get("/", headers={"Accept-Language": "de"})  # banner has de, page nl
    assert inlined_state(page.text)["language"] == "nl"  # the demo page is Dutch then


@pytest.mark.parametrize("env_client", [{"GATEWAY_SITES_DEMO_LANGUAGE": "fr"}], indirect=True)
async def test_a_configured_language_beats_everything(
    env_client: tuple[httpx.AsyncClient, Services],
) -> None:
    client, _ = env_client
    page = await client.get("/", headers={"Accept-Language": "en"})
    state = inlined_state(page.text)
    assert state["language"] == "fr"
    assert state["texts"]["accept_all"] == "Tout accepter"  # type: ignore[index]


@pytest.mark.parametrize("env_client", [{"GATEWAY_BANNER_FLOATING_BUTTON": "false",
                                         "GATEWAY_CONSENT_MODE_WAIT_FOR_UPDATE_MS": "800"}],
                         indirect=True)
async def test_banner_settings_reach_the_script(
    env_client: tuple[httpx.AsyncClient, Services],
) -> None:
    client, _ = env_client
    state = (await client.get("/_consent/state")).json()
    assert state["floating_button"] is False
    assert state["consent_mode"] == {"wait_for_update": 800, "regions": []}
    assert state["preferences_url"] == "/_consent/preferences"


# ---------------------------------------------------------------------- snippet mode

SNIPPET_ENV = {"GATEWAY_SITES_DEMO_ORIGINS": SHOP}


@pytest.mark.parametrize("env_client", [SNIPPET_ENV], indirect=True)
async def test_a_configured_origin_may_read_state_and_decide_with_a_token(
    env_client: tuple[httpx.AsyncClient, Services],
) -> None:
    client, gateway = env_client
    cors = {"Origin": SHOP}
    preflight = await client.options("/_consent/consent", headers={
        **cors, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == SHOP
    assert "X-Consent-Token" in preflight.headers["access-control-allow-headers"]
    state = await client.get("/_consent/state?site=demo", headers=cors)
    assert state.headers["access-control-allow-origin"] == SHOP
    decided = await client.post("/_consent/consent", headers=cors,
                                json={"action": "reject_all", "site": "demo"})
    assert decided.status_code == 200
    assert decided.headers["access-control-allow-origin"] == SHOP
    assert "set-cookie" not in decided.headers  # it would be a third-party cookie
    token = decided.json()["token"]
    client.cookies.clear()
    known = await client.get("/_consent/state?site=demo",
                             headers={**cors, "X-Consent-Token": token})
    assert known.json()["consent"]["consent_id"] == decided.json()["consent_id"]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    unknown = await client.get("/_consent/state?site=demo",
                               headers={**cors, "X-Consent-Token": forged})
    assert unknown.json()["consent"] is None
    assert len(await records(gateway)) == 1


@pytest.mark.parametrize("env_client", [SNIPPET_ENV], indirect=True)
async def test_other_origins_get_no_cors_and_cannot_decide(
    env_client: tuple[httpx.AsyncClient, Services],
) -> None:
    client, gateway = env_client
    evil = {"Origin": "http://evil.example"}
    assert (await client.options("/_consent/consent", headers=evil)).status_code == 403
    state = await client.get("/_consent/state?site=demo", headers=evil)
    assert "access-control-allow-origin" not in state.headers
    refused = await client.post("/_consent/consent", headers=evil,
                                json={"action": "accept_all", "site": "demo"})
    assert refused.status_code == 403
    assert await records(gateway) == []


@pytest.mark.parametrize("gpc", [False, True])
async def test_the_cached_page_state_equals_the_full_state(
    client: httpx.AsyncClient, gateway: Services, gpc: bool
) -> None:
    view = gateway.banners.view(gateway.config.sites[0], "nl")
    for _ in range(2):  # second round comes from the cache
        assert json.loads(html.unescape(view.state_attribute(None, gpc=gpc))) == view.state(
            None, gpc=gpc, include_id=False)
    await client.post("/_consent/consent", json={"action": "accept_all"})
    consent = gateway.consents.decode(client.cookies["consent"], gateway.config.sites[0])
    assert consent is not None
    assert json.loads(html.unescape(view.state_attribute(consent, gpc=gpc))) == view.state(
        consent, gpc=gpc, include_id=False)
