"""The admin dashboard, `GET /_consent/admin/` (issue 7, item 3), over HTTP: access, bad
input, escaping, headers, languages, and the numbers on the page (in a real Chromium:
tests/system/test_dashboard_browser.py).

The seeded data set is written down here, so every expected number is a literal or a sum
anyone can redo by hand."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx
import pytest

from gateway.adapters.configfile import load_config
from gateway.adapters.store.sqlite import SQLiteStore
from gateway.core.analytics.events import AnalyticsEvent, Device
from gateway.core.consent.record import ConsentDraft
from gateway.core.dashboard.decisions import decision_days
from gateway.core.dashboard.svg import nice_ticks
from gateway.core.enforcement.cookies import SeenCookie
from gateway.core.retention import ConsentCutoffs
from gateway.core.types import Action, Category
from gateway.services.wiring import Services, build_services
from gateway.web.admin import token_hash
from gateway.web.demo import demo_app
from gateway.web.middleware import ConsentMiddleware
from tests.conftest import EXAMPLE_CONFIG, FrozenClock, gateway_env

TOKEN: Final = "dashboard-test-token-0123456789abcdef"
AUTH: Final = {"Authorization": f"Bearer {TOKEN}"}
ADMIN: Final = "/_consent/admin/"
FIRST_DAY: Final = date(2026, 11, 1)
# Visitors per day, 1-14 November 2026; visitor j of a day views 1 + j % 3 pages.
VISITORS: Final = (7, 12, 9, 15, 11, 8, 6, 14, 18, 13, 16, 10, 12, 17)
DAYS: Final = tuple(FIRST_DAY + timedelta(days=i) for i in range(len(VISITORS)))
RANGE: Final = f"?from={DAYS[0]}&to={DAYS[-1]}"
# Decisions per day: (accept all, reject all, custom with analytics, custom without).
DECISIONS: Final = {
    DAYS[0]: (5, 3, 1, 1),  # rate (5 + 1) / 10 = 60%
    DAYS[1]: (8, 2, 2, 0),
    DAYS[2]: (4, 4, 0, 1),
    DAYS[3]: (9, 3, 1, 2),
    DAYS[4]: (6, 2, 1, 0),
    DAYS[5]: (3, 3, 0, 1),
    DAYS[6]: (2, 1, 1, 0),
    DAYS[7]: (7, 4, 2, 1),
    DAYS[8]: (11, 3, 1, 1),
    DAYS[9]: (6, 3, 1, 0),
    DAYS[10]: (9, 2, 2, 1),
    DAYS[11]: (5, 2, 0, 1),
    DAYS[12]: (6, 4, 1, 0),
    DAYS[13]: (10, 3, 2, 1),
}
WITHDRAWALS: Final = {DAYS[4]: 1, DAYS[9]: 2}
PATHS: Final = ("/", "/pricing", "/blog/cookie-free-analytics", "/docs", "/contact")
REFERRERS: Final = ("", "www.google.com", "news.ycombinator.com", "duckduckgo.com")
COUNTRIES: Final = ("NL", "NL", "BE", "DE", "NL", "GB")
AGENTS: Final[tuple[tuple[str, str, Device], ...]] = (
    ("Chrome", "Windows", "desktop"), ("Safari", "iOS", "mobile"),
    ("Firefox", "Linux", "desktop"), ("Chrome", "Android", "mobile"),
    ("Edge", "Windows", "desktop"), ("Safari", "Mac OS X", "desktop"),
)  # fmt: skip


def pageviews_of(visitors: int) -> int:
    return sum(1 + j % 3 for j in range(visitors))


def seeded_events(site: str = "demo") -> list[AnalyticsEvent]:
    events = []
    for day, visitors in zip(DAYS, VISITORS, strict=True):
        for j in range(visitors):
            events.extend(visit_of(site, day, j))
    return events


def visit_of(site: str, day: date, j: int) -> list[AnalyticsEvent]:
    """Visitor j of a day: 1 + j % 3 pageviews two minutes apart, a signup now and then."""
    start = datetime(day.year, day.month, day.day, 8, tzinfo=UTC) + timedelta(minutes=7 * j)
    browser, os, device = AGENTS[j % len(AGENTS)]
    common: dict[str, Any] = {
        "site": site, "visitor": f"{day}-{j}", "hostname": "demo.example",
        "country": COUNTRIES[j % len(COUNTRIES)], "browser": browser, "os": os,
        "device": device,
    }
    events = [
        AnalyticsEvent(
            ts=start + timedelta(minutes=2 * k), type="pageview", path=PATHS[(j + k) % 5],
            referrer_host=REFERRERS[j % 4] if k == 0 else "demo.example",
            **utm_of(j) if k == 0 else {}, **common,
        )
        for k in range(1 + j % 3)
    ]
    if j % 4 == 0:
        events.append(AnalyticsEvent(ts=start + timedelta(minutes=1), type="event",
                                     path="/pricing", name="signup", **common))
    return events


def utm_of(j: int) -> dict[str, Any]:
    if j % 5 == 0:
        return {"utm_source": "newsletter", "utm_medium": "email",
                "utm_campaign": "autumn-sale"}
    if j % 7 == 3:
        return {"utm_source": "mastodon", "utm_medium": "social",
                "utm_campaign": "launch-week"}
    return {}


def draft(day: date, n: int, action: Action, granted: tuple[Category, ...],
          site: str = "demo") -> ConsentDraft:
    return ConsentDraft(
        recorded_at=datetime(day.year, day.month, day.day, 9, tzinfo=UTC) + timedelta(minutes=n),
        consent_id=f"{day:%Y%m%d}{n:04d}".ljust(22, "A"), site=site, action=action,
        source="banner", granted=granted, denied=(), revision=1, banner_hash="0" * 64,
        language="en", ip="203.0.113.0", user_agent="test", page="/", gpc=False,
    )


Kind = tuple[Action, tuple[Category, ...]]
ACCEPT: Final[Kind] = ("accept_all", ("necessary", "preferences", "analytics", "marketing"))
REJECT: Final[Kind] = ("reject_all", ("necessary",))
CUSTOM_YES: Final[Kind] = ("custom", ("necessary", "analytics"))
CUSTOM_NO: Final[Kind] = ("custom", ("necessary", "preferences"))
WITHDRAW: Final[Kind] = ("withdraw", ("necessary",))


def seeded_drafts() -> list[ConsentDraft]:
    drafts: list[ConsentDraft] = []
    for day, (accept, reject, custom_yes, custom_no) in DECISIONS.items():
        kinds = ([ACCEPT] * accept + [REJECT] * reject + [CUSTOM_YES] * custom_yes
                 + [CUSTOM_NO] * custom_no + [WITHDRAW] * WITHDRAWALS.get(day, 0))
        drafts.extend(draft(day, n, action, granted) for n, (action, granted) in enumerate(kinds))
    return drafts


def seeded_cookies() -> list[SeenCookie]:
    first, last = datetime(2026, 10, 2, tzinfo=UTC), datetime(2026, 11, 14, tzinfo=UTC)
    rows = (
        ("sessionid", "necessary", 5210, True), ("csrftoken", "necessary", 1804, False),
        ("lang", "preferences", 940, False), ("_ga", "analytics", 3120, False),
        ("_ga_K2X9Q7", "analytics", 3120, False), ("_fbp", "marketing", 2022, False),
        ("ab_bucket", "unknown", 611, False), ("__hs_opt_out", "unknown", 35, False),
    )
    return [SeenCookie("demo", name, category, first, last, count, "/", ".demo.example", http)
            for name, category, count, http in rows]


async def seed(store: SQLiteStore) -> None:
    await store.add_events(seeded_events())
    for item in seeded_drafts():
        await store.append_consent(item)
    await store.record_cookies(seeded_cookies())
    await store.add_bot_counts({("demo", day): 3 + i % 4 for i, day in enumerate(DAYS)})


# --------------------------------------------------------------------------- HTTP


def make_gateway(tmp_path: Path, **env: str) -> Services:
    env = {"GATEWAY_ADMIN_TOKEN_HASHES": token_hash(TOKEN), **env}
    config = load_config(EXAMPLE_CONFIG, gateway_env(tmp_path, **env))
    return build_services(config, clock=FrozenClock(datetime(2026, 11, 21, 12, tzinfo=UTC)))


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[tuple[Services, httpx.AsyncClient]]:
    gateway = make_gateway(tmp_path, GATEWAY_ANALYTICS_MIN_GROUP_VISITORS="1")
    await gateway.start()
    app = ConsentMiddleware(demo_app(), services=gateway)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        yield gateway, client
    await gateway.stop()


async def test_the_dashboard_needs_a_valid_token(
    admin: tuple[Services, httpx.AsyncClient],
) -> None:
    _, client = admin
    missing = await client.get(ADMIN)
    wrong = await client.get(ADMIN, headers={"Authorization": f"Bearer {TOKEN[::-1]}"})
    right = await client.get(ADMIN, headers=AUTH)
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert missing.json()["field"] == "Authorization"
    assert right.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(("query", "field"), [
    ("from=yesterday", "from"),
    ("to=2026-13-01", "to"),
    ("from=2026-11-10&to=2026-11-01", "from"),
    ("from=2024-01-01&to=2026-11-01", "from"),
    ("site=nope", "site"),
    ("lang=de", "lang"),
])
async def test_bad_input_is_a_400_naming_the_field(
    admin: tuple[Services, httpx.AsyncClient], query: str, field: str
) -> None:
    _, client = admin
    response = await client.get(f"{ADMIN}?{query}", headers=AUTH)
    assert response.status_code == 400
    assert response.json()["field"] == field


HOSTILE: Final = {
    "path": "/<script>alert('path')</script>",
    "referrer_host": '"><img src=x onerror=alert(1)>',
    "utm_campaign": "</td><script>alert('utm')</script>",
    "name": "<svg onload=alert('event')>",
}


async def test_hostile_paths_referrers_and_names_show_as_text(
    admin: tuple[Services, httpx.AsyncClient],
) -> None:
    gateway, client = admin
    ts = datetime(2026, 11, 20, 10, tzinfo=UTC)
    await gateway.store.add_events([
        AnalyticsEvent(site="demo", ts=ts, visitor="x", type="pageview", path=HOSTILE["path"],
                       referrer_host=HOSTILE["referrer_host"],
                       utm_campaign=HOSTILE["utm_campaign"]),
        AnalyticsEvent(site="demo", ts=ts + timedelta(minutes=1), visitor="x", type="event",
                       path="/",
                       name=HOSTILE["name"]),
    ])
    cookie = SeenCookie("demo", "<b onmouseover=alert(1)>c</b>", "unknown", ts, ts, 1, "/",
                        "", False)
    await gateway.store.record_cookies([cookie])
    response = await client.get(ADMIN, headers=AUTH)
    body = response.text
    assert response.status_code == 200
    for tag in ("<script", "<img", "<svg onload", "<b "):
        assert tag not in body
    for value in (*HOSTILE.values(), cookie.name):
        assert value not in body
        assert escape_html(value) in body, value


def escape_html(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#x27;"))


async def test_the_page_is_sent_with_a_strict_csp_and_no_script(
    admin: tuple[Services, httpx.AsyncClient],
) -> None:
    _, client = admin
    response = await client.get(ADMIN, headers=AUTH)
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe" not in csp and "script-src" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    styles = re.findall(r"<style>(.*?)</style>", response.text, flags=re.S)
    assert len(styles) == 1, "one inline stylesheet, allowed by its hash"
    digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp
    assert "<script" not in response.text and " style=" not in response.text


@pytest.mark.parametrize(("headers", "query", "expected"), [
    ({"Accept-Language": "en-GB,en;q=0.9"}, "", "en"),
    ({"Accept-Language": "nl-NL"}, "", "nl"),
    ({"Accept-Language": "nl"}, "?lang=en", "en"),
    ({"Accept-Language": "en"}, "?lang=nl", "nl"),
    ({"Accept-Language": "fr, de;q=0.5"}, "", "nl"),  # the demo site's default language
])
async def test_dutch_and_english(admin: tuple[Services, httpx.AsyncClient],
                                 headers: dict[str, str], query: str, expected: str) -> None:
    _, client = admin
    body = (await client.get(ADMIN + query, headers={**AUTH, **headers})).text
    words = {"en": ("Visitors and pageviews per day", "Consent rate"),
             "nl": ("Bezoekers en paginaweergaven per dag", "Toestemmingspercentage")}
    assert f'<html lang="{expected}">' in body
    for word in words[expected]:
        assert word in body


async def test_totals_decisions_and_consent_rate_are_on_the_page(
    admin: tuple[Services, httpx.AsyncClient],
) -> None:
    gateway, client = admin
    assert isinstance(gateway.store, SQLiteStore)
    await seed(gateway.store)
    body = (await client.get(f"{ADMIN}{RANGE}&lang=en", headers=AUTH)).text
    decisions = sum(sum(d) for d in DECISIONS.values()) + sum(WITHDRAWALS.values())
    answers = sum(sum(d) for d in DECISIONS.values())
    allowed = sum(accept + custom_yes for accept, _, custom_yes, _ in DECISIONS.values())
    assert kpi(body, "visitors") == str(sum(VISITORS))
    assert kpi(body, "pageviews") == f"{sum(pageviews_of(n) for n in VISITORS):,}"
    assert kpi(body, "decisions") == str(decisions)
    assert kpi(body, "consent_rate") == f"{100 * allowed / answers:.1f}%"
    assert "1 November 2026 — Accept all: 5" in body
    assert "1 November 2026 — Consent rate: 60%" in body
    assert 'class="unknown"' in body and "ab_bucket" in body


async def test_the_inventory_shows_where_each_category_came_from_and_what_is_known(
    admin: tuple[Services, httpx.AsyncClient],
) -> None:
    gateway, client = admin
    ts = datetime(2026, 11, 20, 10, tzinfo=UTC)
    await gateway.store.record_cookies([
        SeenCookie("demo", "PHPSESSID", "necessary", ts, ts, 4, "/", "", True,
                   source="database"),
        SeenCookie("demo", "_hjSessionUser_9", "analytics", ts, ts, 2, "/", "", False,
                   source="catalogue", set_by="script"),
        SeenCookie("demo", "ab_bucket", "unknown", ts, ts, 1, "/", "", False,
                   source="unknown"),
    ])
    body = (await client.get(f"{ADMIN}?lang=en", headers=AUTH)).text
    rows = {}
    for row in re.findall(r"<tr[^>]*>.*?</tr>", body, flags=re.S):
        if found := re.search(r"<td><code>([^<]*)</code>", row):
            rows[found.group(1)] = row
    assert "cookie database" in rows["PHPSESSID"] and "PHP.net" in rows["PHPSESSID"]
    assert "maintain user session variables" in rows["PHPSESSID"]
    assert "Sessions" in rows["PHPSESSID"]  # the database's retention
    hotjar = rows["_hjSessionUser_9"]
    assert "tracker catalogue" in hotjar and "written by a page script" in hotjar
    assert "Hotjar" in hotjar and "365 days" in hotjar
    assert 'class="unknown"' in rows["ab_bucket"] and "nothing: unknown" in rows["ab_bucket"]


def kpi(body: str, key: str) -> str:
    found = re.search(rf'class="kpi-{key}">.*?class="kpi-value">([^<]*)<', body)
    assert found, key
    return found.group(1)


async def test_consent_decisions_skip_tombstones_other_sites_and_days(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "store.sqlite3")
    await store.open()
    await store.append_consent(draft(DAYS[0], 0, "accept_all", ("necessary", "analytics")))
    await store.append_consent(draft(DAYS[0], 1, "custom", ("necessary",)))
    await store.append_consent(draft(DAYS[0], 2, "accept_all", ("analytics",), site="other"))
    await store.append_consent(draft(DAYS[3], 0, "reject_all", ("necessary",)))
    since = datetime(2026, 11, 1, tzinfo=UTC)
    counts = await store.consent_decisions("demo", since, since + timedelta(days=2))
    assert counts == {(DAYS[0], "accept_all", True): 1, (DAYS[0], "custom", False): 1}
    far = datetime(2100, 1, 1, tzinfo=UTC)
    await store.tombstone_consents(ConsentCutoffs(ended_before=far, given_before=far), 100)
    assert await store.consent_decisions("demo", since, far) == {}
    await store.close()


def test_the_consent_rate_counts_answers_not_withdrawals() -> None:
    counts = {(DAYS[0], "accept_all", True): 3, (DAYS[0], "reject_all", False): 1,
              (DAYS[0], "withdraw", False): 4, (DAYS[1], "withdraw", False): 1}
    first, second = decision_days(counts, DAYS[0], DAYS[1])
    assert (first.total, first.answers, first.allowed, first.rate) == (8, 4, 3, 75.0)
    assert (second.total, second.rate) == (1, None)


def test_chart_axes_step_in_round_numbers() -> None:
    assert nice_ticks(17) == (20, (0, 5, 10, 15, 20))
    assert nice_ticks(3) == (3, (0, 1, 2, 3))
    assert nice_ticks(0) == (1, (0, 1))


@pytest.mark.parametrize(("lang", "words"), [
    ("en", ("Site searches", "Search term", "Time on page")),
    ("nl", ("Zoekopdrachten op de site", "Zoekterm", "Tijd op pagina")),
])
async def test_search_terms_have_a_card_and_pages_their_time_on_page(
    admin: tuple[Services, httpx.AsyncClient], lang: str, words: tuple[str, ...],
) -> None:
    gateway, client = admin
    start = datetime(DAYS[0].year, DAYS[0].month, DAYS[0].day, 10, tzinfo=UTC)
    common: dict[str, Any] = {"site": "demo", "visitor": "x", "hostname": "demo.example"}
    await gateway.store.add_events([
        AnalyticsEvent(ts=start, type="pageview", path="/search", search="winter boots",
                       **common),
        AnalyticsEvent(ts=start + timedelta(seconds=65), type="pagehide", path="/search",
                       **common),
        AnalyticsEvent(ts=start + timedelta(seconds=70), type="pageview", path="/boots",
                       **common),
    ])
    body = (await client.get(f"{ADMIN}{RANGE}&lang={lang}", headers=AUTH)).text
    for word in words:
        assert word in body
    searches = body.split('id="h-searches"')[1].split("</section>")[0]
    assert "winter boots" in searches
    pages = body.split('id="h-pages"')[1].split("</section>")[0]
    assert re.search(r'/search</span>.*?<td class="num">1m 05s</td>', pages)
    assert re.search(r'/boots</span>.*?<td class="num">–</td>', pages)  # still open
