"""Visitors' rights over HTTP: a visitor downloads exactly their own consent records and
analytics events (`GET /_consent/me`), erases them (`DELETE /_consent/me` or the preferences
page's form), and the admin does both on their behalf (`/_consent/admin/subjects/{consent_id}`);
every erasure is logged as `erase`. In a real Chromium: tests/system/test_subjects_browser.py."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from html import escape
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.core.consent.banner import OWN_DATA_TEXTS
from gateway.core.consent.cookie import new_consent_id
from gateway.core.consent.record import ChainVerifier, ConsentRecord
from gateway.core.types import Language
from gateway.services.wiring import Services
from gateway.web.admin import new_admin_token
from tests.conftest import FrozenClock
from tests.web.test_collect import ORIGIN, beacon, make_gateway, page_token, send, visitor

ME = "/_consent/me"
SUBJECTS = "/_consent/admin/subjects"
LANGUAGES: tuple[Language, ...] = ("nl", "en", "de", "fr")


# ----------------------------------------------------------------------- helpers


async def accept(client: httpx.AsyncClient) -> tuple[str, str]:
    """Accept all as this visitor: (consent id, a page token for beacons)."""
    decided = await client.post("/_consent/consent", json={"action": "accept_all", "page": "/"})
    assert decided.status_code == 200
    return decided.json()["consent_id"], await page_token(client)


async def visit(client: httpx.AsyncClient, token: str, *paths: str) -> None:
    for path in paths:
        response = await send(client, beacon(token, url=f"{ORIGIN}{path}"))
        assert response.status_code == 202
        assert "x-consent-dropped" not in response.headers, response.text


async def my_data(client: httpx.AsyncClient, **headers: str) -> dict[str, Any]:
    response = await client.get(ME, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    document: dict[str, Any] = response.json()
    return document


def event_paths(document: dict[str, Any]) -> list[str]:
    return sorted(event["path"] for event in document["analytics_events"])


def actions(document: dict[str, Any]) -> list[str]:
    return [record["action"] for record in document["consent_history"]]


def expires_consent_cookie(response: httpx.Response) -> bool:
    return any(value.startswith("consent=;") and "Max-Age=0" in value
               for value in response.headers.get_list("set-cookie"))


async def logged(gateway: Services) -> list[ConsentRecord]:
    return [r async for r in gateway.store.iter_consents() if isinstance(r, ConsentRecord)]


async def chain_verifies(gateway: Services) -> bool:
    verifier = ChainVerifier()
    breaks = [verifier.check(entry) async for entry in gateway.store.iter_consents()]
    return breaks == [None] * len(breaks) and \
        verifier.check_head((await gateway.store.chain_head())[0]) is None


@pytest.fixture
def admin_token() -> tuple[str, str]:
    return new_admin_token()


@pytest.fixture
async def admin_gateway(
    tmp_path: Path, clock: FrozenClock, admin_token: tuple[str, str]
) -> AsyncIterator[Services]:
    gw = make_gateway(tmp_path, clock, GATEWAY_ADMIN_TOKEN_HASHES=admin_token[1])
    await gw.start()
    yield gw
    await gw.stop()


def bearer(admin_token: tuple[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token[0]}"}


# ----------------------------------------------------------------------- the visitor's download


async def test_the_download_holds_exactly_the_visitors_own_events_and_records(
    gateway: Services,
) -> None:
    async with visitor(gateway) as alice, visitor(gateway, "198.51.100.7") as bob:
        alice_id, alice_token = await accept(alice)
        bob_id, bob_token = await accept(bob)
        await visit(alice, alice_token, "/alice/1", "/alice/2")
        await visit(bob, bob_token, "/bob/1")
        response = await alice.get(ME)
        bobs = await my_data(bob)
    mine = response.json()
    assert mine["consent_id"] == alice_id and mine["current_consent"]["consent_id"] == alice_id
    assert event_paths(mine) == ["/alice/1", "/alice/2"]
    assert {record["consent_id"] for record in mine["consent_history"]} == {alice_id}
    assert actions(mine) == ["accept_all"]
    assert bob_id not in response.text
    assert event_paths(bobs) == ["/bob/1"] and alice_id not in json.dumps(bobs)


async def test_the_download_is_a_json_attachment_that_is_never_cached(
    gateway: Services,
) -> None:
    async with visitor(gateway) as client:
        await accept(client)
        response = await client.get(ME)
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"] == (
        'attachment; filename="my-data-demo-2026-11-21.json"')
    assert response.headers["cache-control"] == "no-store"


async def test_without_a_consent_cookie_the_download_is_empty(gateway: Services) -> None:
    async with visitor(gateway) as client:
        document = await my_data(client)
    assert document["consent_id"] == "" and document["current_consent"] is None
    assert (document["consent_history"], document["analytics_events"]) == ([], [])


async def test_a_cookie_of_an_older_revision_still_downloads_its_history(
    tmp_path: Path, clock: FrozenClock
) -> None:
    first = make_gateway(tmp_path, clock)
    await first.start()
    async with visitor(first) as client:
        consent_id, token = await accept(client)
        await visit(client, token, "/before-the-new-policy")
        cookie = client.cookies["consent"]
    await first.stop()
    raised = make_gateway(tmp_path, clock, GATEWAY_SITES_DEMO_REVISION="2")
    await raised.start()
    async with visitor(raised) as client:
        client.cookies.set("consent", cookie)
        state = (await client.get("/_consent/state")).json()
        document = await my_data(client)
    await raised.stop()
    assert state["consent"] is None  # no longer consent under revision 2 ...
    assert document["consent_id"] == consent_id  # ... but still theirs
    assert document["current_consent"] is None
    assert actions(document) == ["accept_all"]
    assert event_paths(document) == ["/before-the-new-policy"]


# ----------------------------------------------------------------------- the visitor's erasure


async def test_erasing_deletes_the_visitors_events_and_expires_the_consent_cookie(
    gateway: Services,
) -> None:
    async with visitor(gateway) as alice:
        alice_id, token = await accept(alice)
        await visit(alice, token, "/alice/1", "/alice/2")
        cookie = alice.cookies["consent"]
        erased = await alice.delete(ME)
        afterwards = await my_data(alice)
    assert erased.status_code == 200
    assert erased.json() == {"consent_id": alice_id, "erased_events": 2, "withdrawn": True}
    assert expires_consent_cookie(erased)
    assert afterwards["consent_id"] == "" and afterwards["analytics_events"] == []
    async with visitor(gateway) as same_browser_before:  # the old cookie, kept by force
        same_browser_before.cookies.set("consent", cookie)
        kept = await my_data(same_browser_before)
    assert kept["consent_id"] == alice_id and kept["analytics_events"] == []
    assert actions(kept) == ["accept_all", "erase"]


async def test_erasing_leaves_other_visitors_events_alone(gateway: Services) -> None:
    async with visitor(gateway) as alice, visitor(gateway, "198.51.100.7") as bob:
        _, alice_token = await accept(alice)
        _, bob_token = await accept(bob)
        await visit(alice, alice_token, "/alice/1")
        await visit(bob, bob_token, "/bob/1", "/bob/2")
        await alice.delete(ME)
        bobs = await my_data(bob)
    assert event_paths(bobs) == ["/bob/1", "/bob/2"]
    assert actions(bobs) == ["accept_all"]


async def test_an_erasure_is_logged_as_erase_and_the_chain_still_verifies(
    gateway: Services,
) -> None:
    async with visitor(gateway) as alice, visitor(gateway, "198.51.100.7") as bob:
        alice_id, token = await accept(alice)
        await accept(bob)
        await visit(alice, token, "/alice/1")
        await alice.delete(ME)
    last = (await logged(gateway))[-1]
    assert (last.consent_id, last.action, last.source) == (alice_id, "erase", "api")
    assert (last.granted, last.denied) == (("necessary",), ("preferences", "analytics",
                                                            "marketing"))
    assert await chain_verifies(gateway)


async def test_events_still_waiting_to_be_written_are_erased_too(
    tmp_path: Path, clock: FrozenClock
) -> None:
    gw = make_gateway(tmp_path, clock, GATEWAY_ANALYTICS_FLUSH_INTERVAL_MS="60000")
    await gw.start()
    async with visitor(gw) as alice, visitor(gw, "198.51.100.7") as bob:
        _, alice_token = await accept(alice)
        _, bob_token = await accept(bob)
        await visit(alice, alice_token, "/alice/1", "/alice/2")
        await visit(bob, bob_token, "/bob/1")
        assert [e async for e in gw.store.iter_events()] == []  # all still in memory
        erased = await alice.delete(ME)
    await gw.stop()  # writes whatever is still waiting
    assert erased.json()["erased_events"] == 2
    db = sqlite3.connect(tmp_path / "gateway.sqlite3")
    paths = [row[0] for row in db.execute("SELECT path FROM analytics_events")]
    db.close()
    assert paths == ["/bob/1"]


async def test_the_erase_form_redirects_to_the_preferences_page_with_the_erased_notice(
    gateway: Services,
) -> None:
    async with visitor(gateway) as client:
        consent_id, token = await accept(client)
        await visit(client, token, "/shop")
        posted = await client.post(f"{ME}/erase", data={"return_to": "/shop"})
        page = await client.get(posted.headers["location"], headers={"Accept-Language": "en"})
    assert posted.status_code == 303
    assert posted.headers["location"] == "/_consent/preferences?erased=1&return_to=%2Fshop"
    assert expires_consent_cookie(posted)
    assert escape(OWN_DATA_TEXTS["en"]["erased"]) in page.text
    assert 'href="/shop"' in page.text  # back to where they were
    assert consent_id not in page.text  # the cookie is gone: nobody to name any more
    last = (await logged(gateway))[-1]
    assert (last.consent_id, last.action, last.source) == (consent_id, "erase", "preferences")


async def test_a_cross_site_erasure_is_refused_and_erases_nothing(gateway: Services) -> None:
    async with visitor(gateway) as client:
        _, token = await accept(client)
        await visit(client, token, "/shop")
        refused = await client.delete(ME, headers={"Origin": "https://evil.example"})
        form = await client.post(f"{ME}/erase", data={"return_to": "/"},
                                 headers={"Sec-Fetch-Site": "cross-site"})
        document = await my_data(client)
    assert (refused.status_code, form.status_code) == (403, 403)
    assert not expires_consent_cookie(refused)
    assert event_paths(document) == ["/shop"]
    assert actions(document) == ["accept_all"]


async def test_erasing_without_a_consent_cookie_logs_nothing(gateway: Services) -> None:
    async with visitor(gateway) as client:
        response = await client.delete(ME)
    assert response.json() == {"consent_id": None, "erased_events": 0, "withdrawn": False}
    assert await logged(gateway) == []


# ----------------------------------------------------------------------- the admin, on request


async def test_the_admin_subject_api_needs_a_bearer_token(
    admin_gateway: Services, admin_token: tuple[str, str]
) -> None:
    async with visitor(admin_gateway) as client:
        consent_id, _ = await accept(client)
        looked = await client.get(f"{SUBJECTS}/{consent_id}")
        erased = await client.delete(f"{SUBJECTS}/{consent_id}",
                                     headers={"Authorization": "Bearer " + admin_token[0][::-1]})
    assert (looked.status_code, erased.status_code) == (401, 401)
    assert [record.action for record in await logged(admin_gateway)] == ["accept_all"]


@pytest.mark.parametrize("bad_id", ["short", "x" * 23, "has.a.dot.in.it.0123456"])
async def test_a_malformed_consent_id_is_a_bad_request(
    admin_gateway: Services, admin_token: tuple[str, str], bad_id: str
) -> None:
    async with visitor(admin_gateway) as client:
        response = await client.get(f"{SUBJECTS}/{bad_id}", headers=bearer(admin_token))
    assert response.status_code == 400
    assert response.json()["field"] == "consent_id"


async def test_an_unknown_consent_id_is_not_found(
    admin_gateway: Services, admin_token: tuple[str, str]
) -> None:
    unknown = new_consent_id()
    async with visitor(admin_gateway) as client:
        looked = await client.get(f"{SUBJECTS}/{unknown}", headers=bearer(admin_token))
        erased = await client.delete(f"{SUBJECTS}/{unknown}", headers=bearer(admin_token))
    assert (looked.status_code, erased.status_code) == (404, 404)
    assert await logged(admin_gateway) == []


async def test_the_admin_gets_a_visitors_history_and_events(
    admin_gateway: Services, admin_token: tuple[str, str]
) -> None:
    async with visitor(admin_gateway) as alice, visitor(admin_gateway, "198.51.100.7") as bob:
        alice_id, alice_token = await accept(alice)
        bob_id, bob_token = await accept(bob)
        await visit(alice, alice_token, "/alice/1")
        await visit(bob, bob_token, "/bob/1")
        response = await alice.get(f"{SUBJECTS}/{alice_id}", headers=bearer(admin_token))
    assert response.status_code == 200
    document = response.json()
    assert document["consent_id"] == alice_id and document["current_consent"] is None
    assert actions(document) == ["accept_all"]
    assert event_paths(document) == ["/alice/1"]
    assert bob_id not in response.text


async def test_the_admin_erasure_deletes_events_and_logs_an_api_erase(
    admin_gateway: Services, admin_token: tuple[str, str]
) -> None:
    async with visitor(admin_gateway) as alice, visitor(admin_gateway, "198.51.100.7") as bob:
        alice_id, alice_token = await accept(alice)
        _, bob_token = await accept(bob)
        await visit(alice, alice_token, "/alice/1", "/alice/2")
        await visit(bob, bob_token, "/bob/1")
        erased = await alice.delete(f"{SUBJECTS}/{alice_id}", headers=bearer(admin_token))
        after = (await alice.get(f"{SUBJECTS}/{alice_id}", headers=bearer(admin_token))).json()
        bobs = await my_data(bob)
    assert erased.json() == {"consent_id": alice_id, "erased_events": 2, "withdrawn": True}
    assert after["analytics_events"] == []
    assert after["consent_history"][-1]["action"] == "erase"
    assert after["consent_history"][-1]["source"] == "api"
    assert after["consent_history"][-1]["granted"] == ["necessary"]
    assert event_paths(bobs) == ["/bob/1"]
    assert await chain_verifies(admin_gateway)


async def test_after_an_admin_erasure_the_visitors_cookie_is_no_consent(
    admin_gateway: Services, admin_token: tuple[str, str]
) -> None:
    async with visitor(admin_gateway) as alice:
        alice_id, token = await accept(alice)
        await alice.delete(f"{SUBJECTS}/{alice_id}", headers=bearer(admin_token))
        dropped = await send(alice, beacon(token, url=f"{ORIGIN}/after"))
        document = await my_data(alice)
    assert dropped.headers.get("x-consent-dropped") == "no_consent"
    assert document["analytics_events"] == []


async def test_an_erasure_in_one_worker_revokes_the_consent_in_another(
    admin_gateway: Services, admin_token: tuple[str, str], tmp_path: Path, clock: FrozenClock
) -> None:
    other = make_gateway(tmp_path, clock, GATEWAY_ADMIN_TOKEN_HASHES=admin_token[1])
    await other.start()
    try:
        async with visitor(admin_gateway) as alice:
            alice_id, token = await accept(alice)
            await alice.delete(f"{SUBJECTS}/{alice_id}", headers=bearer(admin_token))
            cookies = dict(alice.cookies)
        await other.consents.sync_erasures()  # what its 5-second refresh does
        async with visitor(other) as same_browser:
            same_browser.cookies.update(cookies)
            dropped = await send(same_browser, beacon(token, url=f"{ORIGIN}/elsewhere"))
            state = (await same_browser.get("/_consent/state")).json()
    finally:
        await other.stop()
    assert dropped.headers.get("x-consent-dropped") == "no_consent"
    assert state["consent"] is None


# ----------------------------------------------------------------------- the preferences page


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_preferences_page_offers_download_and_erasure_in_each_language(
    gateway: Services, language: Language
) -> None:
    async with visitor(gateway) as client:
        consent_id, _ = await accept(client)
        page = await client.get("/_consent/preferences", headers={"Accept-Language": language})
    texts = OWN_DATA_TEXTS[language]
    assert f'<html lang="{language}">' in page.text
    for key in ("your_data", "download_data", "erase_data", "consent_id_label"):
        assert escape(texts[key]) in page.text, key
    assert f"<code>{consent_id}</code>" in page.text
    assert f'href="{ME}" download' in page.text
    assert f'action="{ME}/erase"' in page.text


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_erased_notice_appears_in_each_language(
    gateway: Services, language: Language
) -> None:
    async with visitor(gateway) as client:
        page = await client.get("/_consent/preferences?erased=1",
                                headers={"Accept-Language": language})
    assert escape(OWN_DATA_TEXTS[language]["erased"]) in page.text


async def test_without_a_consent_cookie_the_preferences_page_offers_no_download(
    gateway: Services,
) -> None:
    async with visitor(gateway) as client:
        page = await client.get("/_consent/preferences", headers={"Accept-Language": "en"})
    assert OWN_DATA_TEXTS["en"]["download_data"] not in page.text
    assert f'action="{ME}/erase"' not in page.text
