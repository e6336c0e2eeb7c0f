"""The consent API through real HTTP (httpx's ASGI transport), against a real SQLite file."""

from __future__ import annotations

import json
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest

from gateway import ConsentMiddleware
from gateway.core.consent.record import FIELDS
from gateway.core.enforcement.encoding import accepts_gzip
from gateway.services.wiring import Services, build_services
from gateway.web.demo import demo_app
from tests.conftest import FIREFOX_UA, FrozenClock


def consent_cookie(response: httpx.Response) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for value in response.headers.get_list("set-cookie"):
        jar.load(value)
    return jar


async def accept_all(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/_consent/consent", json={"action": "accept_all", "page": "/"})


async def test_accepting_sets_a_signed_httponly_consent_cookie(client: httpx.AsyncClient) -> None:
    response = await accept_all(client)
    assert response.status_code == 200
    morsel = consent_cookie(response)["consent"]
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "lax"
    assert morsel["path"] == "/"
    assert int(morsel["max-age"]) == 365 * 24 * 3600
    assert "." in morsel.value  # payload.signature
    body = response.json()
    assert set(body) >= {"consent_id", "categories", "revision", "expires_at"}
    assert body["categories"] == {
        "necessary": True, "preferences": True, "analytics": True, "marketing": True,
    }


async def test_state_reflects_the_decision_from_the_cookie(client: httpx.AsyncClient) -> None:
    before = (await client.get("/_consent/state")).json()
    assert before["consent"] is None
    decided = await client.post("/_consent/consent", json={
        "action": "custom", "categories": {"analytics": True}, "page": "/shop"})
    after = await client.get("/_consent/state")
    assert after.headers["cache-control"] == "no-store"
    consent = after.json()["consent"]
    assert consent["consent_id"] == decided.json()["consent_id"]
    assert consent["categories"] == {
        "necessary": True, "preferences": False, "analytics": True, "marketing": False,
    }


@pytest.mark.parametrize("position", [0, 10, 30, -5, -1])
async def test_a_cookie_with_one_character_changed_is_no_consent(
    client: httpx.AsyncClient, position: int
) -> None:
    value = consent_cookie(await accept_all(client))["consent"].value
    flipped = "A" if value[position] != "A" else "B"
    forged = value[:position] + flipped + value[position + 1:] if position != -1 \
        else value[:-1] + flipped
    client.cookies.clear()
    state = await client.get("/_consent/state", headers={"Cookie": f"consent={forged}"})
    assert state.json()["consent"] is None


async def test_a_consent_expires_after_its_lifetime(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await accept_all(client)
    clock.advance(days=364)
    assert (await client.get("/_consent/state")).json()["consent"] is not None
    clock.advance(days=1, seconds=1)
    assert (await client.get("/_consent/state")).json()["consent"] is None


async def test_each_decision_is_logged_with_every_field(
    client: httpx.AsyncClient, gateway: Services
) -> None:
    await client.post(
        "/_consent/consent",
        json={"action": "custom", "categories": {"marketing": True}, "page": "/shop?q=secret",
              "source": "banner"},
        headers={"Accept-Language": "en-GB,en;q=0.9", "Sec-GPC": "1"},
    )
    await client.post("/_consent/withdraw", json={"page": "/privacy"})
    records = [r async for r in gateway.store.iter_consents()]
    assert [r.action for r in records] == ["custom", "withdraw"]
    first = records[0].to_json()
    assert set(first) == set(FIELDS)
    assert first["seq"] == 1 and records[1].seq == 2
    assert first["granted"] == ["necessary", "marketing"]
    assert first["denied"] == ["preferences", "analytics"]
    assert first["source"] == "banner" and first["language"] == "en"
    assert first["ip"] == "203.0.113.0"  # truncated, never 203.0.113.77
    assert first["user_agent"] == "Firefox / Ubuntu"
    assert first["page"] == "/shop"  # no query string
    assert first["gpc"] is True
    assert first["banner_hash"] == gateway.banners.view(gateway.config.sites[0], "en").banner_hash
    assert first["recorded_at"] == "2026-11-21T12:00:00.000000Z"
    assert records[1].prev_hash == records[0].hash
    assert records[1].consent_id == records[0].consent_id
    assert records[1].granted == ("necessary",)


async def test_the_raw_ip_never_reaches_the_database(
    client: httpx.AsyncClient, gateway: Services
) -> None:
    await accept_all(client)
    path = Path(gateway.config.storage.path)
    files = sorted(path.parent.glob(path.name + "*"))  # the database, its WAL and SHM
    database = b"".join(f.read_bytes() for f in files)
    assert b"203.0.113.77" not in database
    assert b"203.0.113.0" in database


async def test_withdrawing_keeps_the_id_and_grants_only_necessary(
    client: httpx.AsyncClient,
) -> None:
    given = (await accept_all(client)).json()
    withdrawn = await client.post("/_consent/withdraw")
    assert withdrawn.status_code == 200
    assert withdrawn.json()["consent_id"] == given["consent_id"]
    assert withdrawn.json()["categories"] == {
        "necessary": True, "preferences": False, "analytics": False, "marketing": False,
    }


async def test_withdrawing_expires_cookies_of_withdrawn_categories(
    client: httpx.AsyncClient,
) -> None:
    await accept_all(client)
    client.cookies.set("_ga", "GA1.1.1")
    client.cookies.set("cart", "3")
    response = await client.post("/_consent/withdraw")
    expired = [v for v in response.headers.get_list("set-cookie") if "Max-Age=0" in v]
    assert [v.split("=")[0] for v in expired] == ["_ga"]


async def test_a_form_post_records_and_redirects_back(
    client: httpx.AsyncClient, gateway: Services
) -> None:
    response = await client.post(
        "/_consent/consent",
        data={"action": "custom", "analytics": "on", "return_to": "/shop"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/shop"
    assert "consent" in consent_cookie(response)
    records = [r async for r in gateway.store.iter_consents()]
    assert records[-1].granted == ("necessary", "analytics")
    assert records[-1].source == "preferences"


async def test_a_form_cannot_redirect_to_another_site(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/_consent/consent", data={"action": "reject_all", "return_to": "//evil.example/x"})
    assert response.status_code == 303
    assert response.headers["location"] == "/"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"action": "custom", "categories": {"tracking": True}}, 422, "categories.tracking"),
        ({"action": "accept_some"}, 422, "action"),
        ({"action": "custom", "categories": {"necessary": False}}, 422, "categories.necessary"),
        ({"action": "custom", "categories": {"analytics": "yes"}}, 422, "categories.analytics"),
        ({"action": "custom"}, 422, "categories"),
        ({"action": "accept_all", "page": 42}, 422, "page"),
        ({"action": "accept_all", "colour": "red"}, 422, "colour"),
        ([1, 2, 3], 400, "body"),
    ],
)
async def test_bad_decisions_get_a_4xx_naming_the_field(
    client: httpx.AsyncClient, gateway: Services, body: object, status: int, field: str
) -> None:
    response = await client.post("/_consent/consent", json=body)
    assert response.status_code == status
    assert response.json()["field"] == field
    assert [r async for r in gateway.store.iter_consents()] == []


async def test_malformed_json_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/_consent/consent", content=b'{"action": ', headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["field"] == "body"


async def test_deeply_nested_json_is_a_400_not_a_crash(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/_consent/consent", content=b"[" * 4000, headers={"Content-Type": "application/json"})
    assert response.status_code == 400


async def test_a_body_over_the_cap_is_refused(client: httpx.AsyncClient) -> None:
    huge = {"action": "accept_all", "page": "/" + "a" * 20_000}
    response = await client.post("/_consent/consent", json=huge)
    assert response.status_code == 413
    assert response.json()["field"] == "body"


async def test_other_media_types_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/_consent/consent", content=b"action=accept_all", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415


async def test_invalid_utf8_in_a_form_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/_consent/consent", content=b"action=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
async def test_cross_site_state_changes_are_refused(
    client: httpx.AsyncClient, gateway: Services, headers: dict[str, str]
) -> None:
    for path in ("/_consent/consent", "/_consent/withdraw"):
        response = await client.post(path, json={"action": "accept_all"}, headers=headers)
        assert response.status_code == 403, path
        assert "cross-site" in response.json()["error"]
    assert [r async for r in gateway.store.iter_consents()] == []


async def test_same_origin_requests_are_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/_consent/consent", json={"action": "reject_all"},
        headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 200


async def test_over_https_the_cookie_gets_the_host_prefix_and_secure(
    gateway: Services,
) -> None:
    from gateway.web.demo import demo_app
    from gateway.web.middleware import ConsentMiddleware

    app = ConsentMiddleware(demo_app(), services=gateway)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://localhost") as https:
        response = await https.post("/_consent/consent", json={"action": "reject_all"})
        morsel = consent_cookie(response)["__Host-consent"]
        assert morsel["secure"] is True
        state = await https.get("/_consent/state")
        assert state.json()["consent"] is not None


async def test_an_old_policy_revision_asks_again(
    client: httpx.AsyncClient, gateway: Services
) -> None:
    await accept_all(client)
    await gateway.stop()
    # The site owner bumps the revision and restarts the gateway on the same store.
    site = gateway.config.sites[0]
    bumped = site.model_copy(update={"revision": site.revision + 1})
    restarted = build_services(gateway.config.model_copy(update={"sites": (bumped,)}),
                               clock=gateway.clock)
    app = ConsentMiddleware(demo_app(), services=restarted)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://localhost", cookies=client.cookies) as again:
        assert (await again.get("/_consent/state")).json()["consent"] is None
    await restarted.stop()


async def test_health_reports_the_database(client: httpx.AsyncClient, gateway: Services) -> None:
    ok = await client.get("/_consent/health")
    assert ok.status_code == 200 and ok.json()["database"] == "ok"
    await gateway.store.close()
    down = await client.get("/_consent/health")
    assert down.status_code == 503 and down.json()["database"] == "error"


async def test_a_failing_store_answers_503_not_500(
    client: httpx.AsyncClient, gateway: Services
) -> None:
    await gateway.store.close()
    response = await accept_all(client)
    assert response.status_code == 503
    assert "consent" not in response.headers.get("set-cookie", "")
    assert "Traceback" not in response.text


async def test_gpc_json_is_published(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/gpc.json")
    assert response.json() == {"gpc": True, "lastUpdate": "2026-11-21"}


async def test_unknown_gateway_paths_and_methods_answer_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/_consent/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]
    wrong = await client.get("/_consent/consent")
    assert wrong.status_code == 405 and wrong.json()["error"]


async def test_assets_have_a_content_etag_and_revalidate(client: httpx.AsyncClient) -> None:
    first = await client.get("/_consent/consent.js")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/javascript")
    again = await client.get("/_consent/consent.js",
                             headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


async def test_state_speaks_the_visitors_language(client: httpx.AsyncClient) -> None:
    expected = {"nl": "Alles weigeren", "en": "Reject all", "de": "Alle ablehnen",
                "fr": "Tout refuser"}
    for language, reject in expected.items():
        state = await client.get("/_consent/state",
                                 headers={"Accept-Language": f"{language};q=0.9"})
        assert state.json()["texts"]["reject_all"] == reject
    fallback = await client.get("/_consent/state", headers={"Accept-Language": "ja"})
    assert fallback.json()["language"] == "nl"


def test_user_agent_is_stored_as_families_only() -> None:
    from gateway.adapters.useragent import browser_and_os

    assert browser_and_os(FIREFOX_UA) == "Firefox / Ubuntu"
    assert json.dumps(browser_and_os("")) == '"Other / Other"'


@pytest.mark.parametrize("name", ["consent.js", "consent.css"])
async def test_assets_are_sent_gzipped_to_browsers_that_accept_it(
    client: httpx.AsyncClient, name: str
) -> None:
    plain = await client.get(f"/_consent/{name}", headers={"Accept-Encoding": "identity"})
    packed = await client.get(f"/_consent/{name}", headers={"Accept-Encoding": "gzip, br"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == plain.content  # httpx undid the gzip
    assert int(packed.headers["content-length"]) < len(plain.content) / 2
    assert plain.headers["vary"] == packed.headers["vary"] == "Accept-Encoding"
    assert packed.headers["etag"] != plain.headers["etag"]
    again = await client.get(f"/_consent/{name}", headers={
        "Accept-Encoding": "gzip", "If-None-Match": packed.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(("header", "gzip"), [
    (None, False), ("", False), ("gzip", True), ("GZIP;q=0.5", True), ("br, gzip;q=0", False),
    ("*", True), ("*;q=0", False), ("deflate, br", False), ("x-gzip", True),
    ("gzip;q=bad", False), ("*;q=0, gzip", True), ("gzip;q=0, *", False),
])
def test_which_accept_encoding_headers_allow_gzip(header: str | None, gzip: bool) -> None:
    assert accepts_gzip(header) is gzip
