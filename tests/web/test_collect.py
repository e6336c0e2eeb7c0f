"""The analytics beacon through real HTTP: consent-gated storage, drop reasons, GeoIP on the
full address with only truncated forms on disk, the access log, the batched writer's
back-pressure, and the admin stats endpoint."""

from __future__ import annotations

import ipaddress
import json
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from gateway.adapters.configfile import load_config
from gateway.core.analytics.events import AnalyticsEvent
from gateway.services.wiring import Services, build_services
from gateway.web.admin import new_admin_token
from gateway.web.demo import demo_app
from gateway.web.middleware import ConsentMiddleware
from tests.conftest import EXAMPLE_CONFIG, GEOIP_DIR, FrozenClock, LiveServer, gateway_env

GEOIP = GEOIP_DIR / "GeoLite2-City-Test.mmdb"
CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
GOOGLEBOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
LONDON = "81.2.69.142"
ORIGIN = "http://localhost"
TOKEN_ATTR = re.compile(r'data-page-token="([^"]+)"')


def make_gateway(tmp_path: Path, clock: FrozenClock, **env: str) -> Services:
    config = load_config(EXAMPLE_CONFIG, gateway_env(tmp_path, **env))
    return build_services(config, clock=clock)


@pytest.fixture
def geo_env() -> dict[str, str]:
    return {"GATEWAY_ANALYTICS_GEOIP_DATABASE": str(GEOIP), "GATEWAY_PRIVACY_GEO_DETAIL": "city"}


@pytest.fixture
async def geo_gateway(
    tmp_path: Path, clock: FrozenClock, geo_env: dict[str, str]
) -> AsyncIterator[Services]:
    gw = make_gateway(tmp_path, clock, **geo_env)
    await gw.start()
    yield gw
    await gw.stop()


def visitor(gateway: Services, address: str = LONDON, ua: str = CHROME_UA) -> httpx.AsyncClient:
    app = ConsentMiddleware(demo_app(), services=gateway)
    transport = httpx.ASGITransport(app=app, client=(address, 51000))
    return httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers={"User-Agent": ua})


async def page_token(client: httpx.AsyncClient, path: str = "/") -> str:
    page = await client.get(path)
    found = TOKEN_ATTR.search(page.text)
    assert found, "the served page carries no page token"
    return found.group(1)


def beacon(token: str | None, **fields: object) -> dict[str, object]:
    body: dict[str, object] = {
        "type": "pageview", "url": f"{ORIGIN}/shop?utm_source=newsletter&session=secret",
        "referrer": "https://www.example.org/post", "w": 1280, **fields,
    }
    if token is not None:
        body["token"] = token
    return body


async def send(client: httpx.AsyncClient, body: object) -> httpx.Response:
    return await client.post("/_consent/collect", content=json.dumps(body),
                             headers={"Content-Type": "text/plain;charset=UTF-8"})


async def stored(gateway: Services) -> list[AnalyticsEvent]:
    await gateway.analytics.events.flush()
    return [event async for event in gateway.store.iter_events()]


async def consenting(client: httpx.AsyncClient, analytics: bool = True) -> str:
    choice = {"action": "custom", "categories": {"analytics": analytics}}
    assert (await client.post("/_consent/consent", json=choice)).status_code == 200
    return await page_token(client)


# ----------------------------------------------------------------------- storing


async def test_a_consenting_visitors_pageview_is_stored_without_query_or_address(
    geo_gateway: Services,
) -> None:
    async with visitor(geo_gateway) as client:
        token = await consenting(client)
        response = await send(client, beacon(token))
    assert response.status_code == 202
    assert "x-consent-dropped" not in response.headers
    [event] = await stored(geo_gateway)
    assert (event.type, event.path, event.hostname) == ("pageview", "/shop", "localhost")
    assert (event.referrer_host, event.utm_source) == ("example.org", "newsletter")
    assert (event.browser, event.os, event.device) == ("Chrome", "Windows", "desktop")
    assert "secret" not in repr(event) and LONDON not in repr(event)


async def test_the_location_is_looked_up_on_the_full_address(geo_gateway: Services) -> None:
    # 81.2.69.0, the truncated form, is not in the database: only the full address finds London.
    async with visitor(geo_gateway) as client:
        await send(client, beacon(await consenting(client)))
    [event] = await stored(geo_gateway)
    assert (event.country, event.region, event.city) == ("GB", "ENG", "London")


async def test_the_city_is_kept_only_when_configured(
    tmp_path: Path, clock: FrozenClock
) -> None:
    gw = make_gateway(tmp_path, clock, GATEWAY_ANALYTICS_GEOIP_DATABASE=str(GEOIP))
    await gw.start()
    async with visitor(gw) as client:
        await send(client, beacon(await consenting(client)))
    [event] = await stored(gw)
    await gw.stop()
    assert (event.country, event.region, event.city) == ("GB", "ENG", "")


async def test_only_truncated_addresses_reach_the_database(geo_gateway: Services,
                                                           tmp_path: Path) -> None:
    async with visitor(geo_gateway) as client:
        await send(client, beacon(await consenting(client)))
    await geo_gateway.stop()
    db = sqlite3.connect(tmp_path / "gateway.sqlite3")
    assert db.execute("SELECT ip FROM consent_log").fetchall() == [("81.2.69.0",)]
    assert {row[0] for row in db.execute("SELECT ip FROM access_log")} == {"81.2.69.0"}
    db.close()
    assert_no_trace_of([LONDON], database_files(tmp_path))


async def test_a_custom_event_keeps_its_name_and_props(geo_gateway: Services) -> None:
    async with visitor(geo_gateway) as client:
        token = await consenting(client)
        response = await send(client, beacon(token, type="event", name="signup",
                                             props={"plan": "pro"}))
    assert "x-consent-dropped" not in response.headers
    [event] = await stored(geo_gateway)
    assert (event.type, event.name, event.props) == ("event", "signup", {"plan": "pro"})


async def test_the_same_visitor_keeps_one_pseudonym_that_is_not_the_consent_id(
    geo_gateway: Services,
) -> None:
    async with visitor(geo_gateway) as client:
        token = await consenting(client)
        for _ in range(2):
            await send(client, beacon(token))
        consent_id = (await client.get("/_consent/state")).json()["consent"]["consent_id"]
    first, second = await stored(geo_gateway)
    assert first.visitor == second.visitor
    assert consent_id not in first.visitor


async def test_the_body_cannot_supply_the_address_or_user_agent(geo_gateway: Services) -> None:
    async with visitor(geo_gateway) as client:
        token = await consenting(client)
        forged = beacon(token, ip="89.160.20.112", user_agent="Firefox", ua="Firefox")
        await send(client, forged)
    [event] = await stored(geo_gateway)
    assert (event.country, event.browser) == ("GB", "Chrome")  # from the request, not the body


# ----------------------------------------------------------------------- dropping


async def dropped(client: httpx.AsyncClient, body: object) -> str:
    response = await send(client, body)
    assert response.status_code == 202
    assert response.json()["accepted"] is False
    return response.headers["x-consent-dropped"]


async def test_without_consent_nothing_is_stored(geo_gateway: Services) -> None:
    async with visitor(geo_gateway) as client:
        assert await dropped(client, beacon(await page_token(client))) == "no_consent"
    assert await stored(geo_gateway) == []


async def test_a_refusal_of_analytics_stores_nothing(geo_gateway: Services) -> None:
    async with visitor(geo_gateway) as client:
        token = await consenting(client, analytics=False)
        assert await dropped(client, beacon(token)) == "no_consent"
    assert await stored(geo_gateway) == []


async def test_a_forged_consent_cookie_counts_as_no_consent(geo_gateway: Services) -> None:
    async with visitor(geo_gateway) as client:
        token = await consenting(client)
        value = client.cookies["consent"]
        client.cookies.set("consent", value[:-3] + ("AAA" if value[-3:] != "AAA" else "BBB"))
        assert await dropped(client, beacon(token)) == "no_consent"
    assert await stored(geo_gateway) == []


async def test_a_bot_is_counted_but_not_stored(geo_gateway: Services) -> None:
    async with visitor(geo_gateway) as client:
        token = await consenting(client)
        client.headers["User-Agent"] = GOOGLEBOT_UA
        assert await dropped(client, beacon(token)) == "bot"
    assert await stored(geo_gateway) == []
    assert sum(geo_gateway.analytics.bots.values()) == 1


@pytest.mark.parametrize("token", [None, "not-a-token", "WyJkZW1vIiwxXQ.forged"])
async def test_a_beacon_without_a_valid_page_token_is_forged(
    geo_gateway: Services, token: str | None
) -> None:
    async with visitor(geo_gateway) as client:
        await consenting(client)
        assert await dropped(client, beacon(token)) == "forged"
    assert await stored(geo_gateway) == []


async def test_an_expired_page_token_is_forged(geo_gateway: Services,
                                               clock: FrozenClock) -> None:
    async with visitor(geo_gateway) as client:
        token = await consenting(client)
        clock.advance(minutes=geo_gateway.config.analytics.page_token_minutes + 1)
        assert await dropped(client, beacon(token)) == "forged"


async def test_a_beacon_from_another_origin_is_forged(geo_gateway: Services) -> None:
    async with visitor(geo_gateway) as client:
        token = await consenting(client)
        response = await client.post(
            "/_consent/collect", content=json.dumps(beacon(token)),
            headers={"Origin": "https://evil.example", "Content-Type": "text/plain"})
    assert response.headers["x-consent-dropped"] == "forged"
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("body", [
    b"{not json", b"[]", b'{"type": "click", "url": "http://localhost/"}',
    b'{"type": "pageview", "url": "ftp://localhost/"}',
    b'{"type": "event", "url": "http://localhost/"}',
    json.dumps({"type": "pageview", "url": "http://localhost/" + "a" * 2001}).encode(),
    json.dumps({"type": "pageview", "url": "http://localhost/",
                "props": {str(i): "v" for i in range(31)}}).encode(),
    b"\xff\xfe\x00garbage",
], ids=["not-json", "array", "bad-type", "ftp-url", "unnamed-event", "long-url", "31-props",
        "binary"])
async def test_invalid_beacons_are_dropped_with_the_reason(
    geo_gateway: Services, body: bytes
) -> None:
    async with visitor(geo_gateway) as client:
        await consenting(client)
        response = await client.post("/_consent/collect", content=body)
    assert response.status_code == 202
    assert response.headers["x-consent-dropped"] == "invalid"
    assert response.json()["detail"]  # names the problem
    assert await stored(geo_gateway) == []


async def test_a_body_over_eight_kilobytes_is_dropped_unread(geo_gateway: Services) -> None:
    async with visitor(geo_gateway) as client:
        response = await client.post("/_consent/collect", content=b"x" * 9000)
    assert response.headers["x-consent-dropped"] == "invalid"
    assert "8192" in response.json()["detail"]


async def test_dnt_drops_events_only_when_configured(tmp_path: Path, clock: FrozenClock) -> None:
    gw = make_gateway(tmp_path, clock, GATEWAY_PRIVACY_DNT_DENIES_ANALYTICS="false")
    await gw.start()
    async with visitor(gw) as client:
        token = await consenting(client)
        client.headers["DNT"] = "1"
        response = await send(client, beacon(token))
    await gw.stop()
    assert "x-consent-dropped" not in response.headers


async def test_a_full_write_queue_answers_503_instead_of_dropping(
    tmp_path: Path, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    # Batches larger than the queue and a long interval: nothing is written meanwhile.
    gw = make_gateway(tmp_path, clock, GATEWAY_ANALYTICS_QUEUE_SIZE="100",
                      GATEWAY_ANALYTICS_BATCH_SIZE="1000",
                      GATEWAY_ANALYTICS_FLUSH_INTERVAL_MS="60000")
    await gw.start()
    async with visitor(gw) as client:
        token = await consenting(client)
        statuses = [(await send(client, beacon(token))).status_code for _ in range(100)]
        refused = [await send(client, beacon(token)) for _ in range(3)]
    assert statuses == [202] * 100
    assert [r.status_code for r in refused] == [503] * 3
    assert refused[0].headers["retry-after"] and refused[0].json()["error"] == "busy"
    # One line when the buffer fills, not one per refused beacon.
    assert not [r for r in caplog.records if "store unavailable" in r.getMessage()]
    full = [r.getMessage() for r in caplog.records if "buffer full" in r.getMessage()]
    assert [line for line in full if line.startswith("analytics:")] == [
        "analytics: buffer full (100 rows waiting); refusing rows until a batch is written"]
    await gw.stop()  # the 100 accepted ones are written at shutdown
    db = sqlite3.connect(tmp_path / "gateway.sqlite3")
    assert db.execute("SELECT count(*) FROM analytics_events").fetchone() == (100,)
    db.close()


# ----------------------------------------------------------------------- access log


async def test_the_access_log_keeps_path_status_truncated_ip_and_browser(
    geo_gateway: Services,
) -> None:
    async with visitor(geo_gateway) as client:
        await client.get("/shop?coupon=SECRET")
        await client.get("/no-such-page")
    await geo_gateway.analytics.access_log.flush()
    db = sqlite3.connect(geo_gateway.config.storage.path)
    rows = db.execute("SELECT method, path, status, ip, browser FROM access_log ORDER BY id")
    assert rows.fetchall() == [
        ("GET", "/shop", 200, "81.2.69.0", "Chrome"),
        ("GET", "/no-such-page", 404, "81.2.69.0", "Chrome"),
    ]
    db.close()


# ----------------------------------------------------------------------- admin stats


@pytest.fixture
def admin_token() -> tuple[str, str]:
    return new_admin_token()


async def test_stats_need_a_valid_token(tmp_path: Path, clock: FrozenClock,
                                        admin_token: tuple[str, str]) -> None:
    token, hashed = admin_token
    gw = make_gateway(tmp_path, clock, GATEWAY_ADMIN_TOKEN_HASHES=hashed)
    await gw.start()
    async with visitor(gw) as client:
        missing = await client.get("/_consent/admin/stats")
        wrong = await client.get("/_consent/admin/stats",
                                 headers={"Authorization": "Bearer " + token[::-1]})
        right = await client.get("/_consent/admin/stats",
                                 headers={"Authorization": "Bearer " + token})
    await gw.stop()
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert missing.json()["field"] == "Authorization"


async def test_without_configured_tokens_the_admin_api_is_off(geo_gateway: Services) -> None:
    async with visitor(geo_gateway) as client:
        response = await client.get("/_consent/admin/stats",
                                    headers={"Authorization": "Bearer anything"})
    assert response.status_code == 404


async def test_stats_over_http_count_visits_and_fold_small_groups(
    tmp_path: Path, clock: FrozenClock, admin_token: tuple[str, str]
) -> None:
    token, hashed = admin_token
    gw = make_gateway(tmp_path, clock, GATEWAY_ADMIN_TOKEN_HASHES=hashed)
    await gw.start()
    day = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    events = []
    for n in range(6):  # six visitors from NL, each: two pageviews 5 minutes apart
        for minutes, path in ((0, "/"), (5, "/shop")):
            events.append(AnalyticsEvent(site="demo", ts=day + timedelta(minutes=minutes + n),
                                         visitor=f"v{n}", type="pageview", path=path,
                                         country="NL"))
    # one visitor from BE, a single pageview: a bounce, and a group too small to show
    events.append(AnalyticsEvent(site="demo", ts=day, visitor="v9", type="pageview", path="/",
                                 country="BE"))
    await gw.store.add_events(events)
    async with visitor(gw) as client:
        response = await client.get("/_consent/admin/stats?from=2026-11-20&to=2026-11-21",
                                    headers={"Authorization": f"Bearer {token}"})
        bad = await client.get("/_consent/admin/stats?from=yesterday",
                               headers={"Authorization": f"Bearer {token}"})
    await gw.stop()
    stats = response.json()
    # 7 visits, 13 pageviews, 1 bounce of 7 = 14.3 %, durations 6 x 300 s + 0 -> 1800/7 = 257.1
    assert stats["totals"] == {"visitors": 7, "visits": 7, "pageviews": 13, "events": 0,
                               "bounce_rate": 14.3, "visit_duration": 257.1}
    assert [row["value"] for row in stats["breakdowns"]["countries"]] == ["NL", "other"]
    assert [d["date"] for d in stats["days"]] == ["2026-11-20", "2026-11-21"]
    assert bad.status_code == 400 and bad.json()["field"] == "from"


# ------------------------------------------------------- no raw address on disk, for real


def database_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith("gateway.sqlite3")]


def address_forms(address: str) -> list[bytes]:
    ip = ipaddress.ip_address(address)
    forms = {str(ip).encode(), ip.packed, ip.exploded.encode()}
    return sorted(forms)


def assert_no_trace_of(addresses: list[str], files: list[Path]) -> None:
    blobs = {path.name: path.read_bytes() for path in files}
    assert blobs, "nothing to scan"
    for address in addresses:
        for form in address_forms(address):
            holders = [name for name, blob in blobs.items() if form in blob]
            assert holders == [], f"{address} ({form!r}) found in {holders}"


def thousand_addresses() -> list[str]:
    """Public addresses whose truncated forms differ from the full ones; IPv4 bytes all
    above 127 so their packed form cannot be mistaken for ASCII text."""
    v4 = [f"185.{130 + i // 100}.{128 + i % 100}.{129 + (i * 7) % 120}" for i in range(500)]
    v6 = [f"2a02:cfc0:{i:x}:1:{i + 1:x}::beef" for i in range(500)]
    return v4 + v6


@pytest.fixture
def proxied_server(tmp_path: Path, geo_env: dict[str, str]) -> Iterator[LiveServer]:
    # The load balancer in front is 127.0.0.1, so X-Forwarded-For names the visitor.
    server = LiveServer(tmp_path, env={**geo_env,
                                       "GATEWAY_SERVER_TRUSTED_PROXIES": "127.0.0.1"})
    yield server.start()
    server.stop()


def test_a_thousand_addresses_leave_no_trace_on_disk(
    proxied_server: LiveServer, tmp_path: Path
) -> None:
    addresses = thousand_addresses()
    headers = {"User-Agent": CHROME_UA}
    with httpx.Client(base_url=proxied_server.url, headers=headers, timeout=10) as client:
        client.post("/_consent/consent", json={"action": "accept_all"},
                    headers={"X-Forwarded-For": addresses[0]})
        token = TOKEN_ATTR.search(client.get("/").text).group(1)  # type: ignore[union-attr]
        for address in addresses:
            body = beacon(token, url=f"{proxied_server.url}/p")
            response = client.post("/_consent/collect", content=json.dumps(body),
                                   headers={"X-Forwarded-For": address})
            assert "x-consent-dropped" not in response.headers, response.text
    proxied_server.stop()  # SIGTERM: the writers flush
    db = sqlite3.connect(tmp_path / "gateway.sqlite3")
    assert db.execute("SELECT count(*) FROM analytics_events").fetchone() == (1000,)
    truncated = {row[0] for row in db.execute("SELECT DISTINCT ip FROM access_log")}
    db.close()
    assert "185.130.128.0" in truncated and "2a02:cfc0::" in truncated
    assert_no_trace_of(addresses, [*database_files(tmp_path), proxied_server.log])


def test_ten_thousand_events_over_real_http_are_all_stored(tmp_path: Path) -> None:
    import asyncio

    # One client sending 10,000 beacons at once is exactly what the rate limit refuses.
    live_server = LiveServer(tmp_path, env={"GATEWAY_ABUSE_ENABLED": "false"}).start()

    async def run() -> int:
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(base_url=live_server.url, limits=limits, timeout=30,
                                     headers={"User-Agent": CHROME_UA}) as client:
            await client.post("/_consent/consent", json={"action": "accept_all"})
            token = TOKEN_ATTR.search((await client.get("/")).text).group(1)  # type: ignore[union-attr]
            body = json.dumps(beacon(token, url=f"{live_server.url}/p"))
            gate = asyncio.Semaphore(16)

            async def one() -> bool:
                async with gate:
                    response = await client.post("/_consent/collect", content=body)
                return response.status_code == 202 and "x-consent-dropped" not in response.headers

            results = await asyncio.gather(*(one() for _ in range(10_000)))
            return sum(results)

    try:
        accepted = asyncio.run(run())
    finally:
        live_server.stop()
    db = sqlite3.connect(tmp_path / "gateway.sqlite3")
    count = db.execute("SELECT count(*) FROM analytics_events").fetchone()[0]
    db.close()
    assert accepted == 10_000
    assert count == accepted
