"""The analytics ingestion pipeline (gateway/core/analytics/pipeline.py): a genuine beacon
with analytics consent becomes an event that holds neither the address nor the user
agent; anything else is dropped, with a reason, as a value."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.adapters.useragent import describe_agent
from gateway.core.analytics.events import DROP_REASONS, AnalyticsEvent, Drop, Location
from gateway.core.analytics.pagetoken import PageTokens
from gateway.core.analytics.pipeline import (
    MAX_BODY_BYTES,
    MAX_PROPS,
    MAX_SEARCH_CHARS,
    MAX_URL_CHARS,
    STEPS,
    Arrival,
    Pipeline,
    search_term,
    visitor_id,
)
from gateway.core.consent.cookie import Consent, granted_categories
from gateway.core.types import Category
from tests.conftest import FIREFOX_UA, SECRET, FrozenClock

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PAGE_TOKEN_LIFETIME = timedelta(minutes=30)
OWN_ORIGIN = "http://shop.test"
SNIPPET_ORIGIN = "https://blog.test"
ADDRESS = "81.2.69.142"
VISITOR_KEY = b"visitor-key-0123456789abcdef0123"
OTHER_VISITOR_KEY = b"visitor-key-fedcba9876543210fedc"
GOOGLEBOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
HEADLESS_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.6099.109 Safari/537.36"
)
PAGE_URL = (
    "http://shop.test/shoes/red?utm_source=newsletter&utm_medium=email"
    "&utm_campaign=spring&utm_term=red+shoes&utm_content=hero&colour=red"
)
SNIPPET_CONSENT_TOKEN = "signed-snippet-consent-token"
OMIT = object()


def make_consent(
    consent_id: str, *granted: Category, site: str = "demo"
) -> Consent:
    return Consent(
        consent_id=consent_id,
        site=site,
        granted=granted_categories(granted),
        revision=1,
        decided_at=NOW - timedelta(days=1),
    )


# Fixed ids (not hex, so a hex visitor id can hold one only by copying it).
CONSENT = make_consent("Visitor-One_0123456789", "analytics")
OTHER_CONSENT = make_consent("Visitor-Two_9876543210", "analytics")
SNIPPET_CONSENT = make_consent("Snippet-Vis_0123456789", "analytics")
PAGE_TOKEN = PageTokens([SECRET], PAGE_TOKEN_LIFETIME).issue("demo", now=NOW)


@dataclass
class Fakes:
    """The pipeline's I/O: a known snippet consent token, real page tokens on a frozen clock,
    and a geo lookup that remembers what it was asked."""

    clock: FrozenClock = field(default_factory=lambda: FrozenClock(NOW))
    tokens: PageTokens = field(
        default_factory=lambda: PageTokens([SECRET], PAGE_TOKEN_LIFETIME)
    )
    located: list[str] = field(default_factory=list)
    decoded: list[tuple[str, str]] = field(default_factory=list)

    def decode_consent(self, token: str, site: str) -> Consent | None:
        self.decoded.append((token, site))
        return SNIPPET_CONSENT if token == SNIPPET_CONSENT_TOKEN else None

    def page_token_valid(self, token: str | None, site: str) -> bool:
        return self.tokens.verify(token, site=site, now=self.clock())

    def locate(self, address: str) -> Location:
        self.located.append(address)
        return Location(country="GB", region="England", city="London")

    def pipeline(
        self, *, visitor_key: bytes = VISITOR_KEY, dnt_denies_analytics: bool = False
    ) -> Pipeline:
        return Pipeline(
            decode_consent=self.decode_consent,
            page_token_valid=self.page_token_valid,
            locate=self.locate,
            describe_agent=describe_agent,
            visitor_key=visitor_key,
            dnt_denies_analytics=dnt_denies_analytics,
        )


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


def arrival(**changes: Any) -> Arrival:
    """A beacon from a page served through the gateway, by a visitor who consented."""
    base = Arrival(
        site="demo",
        now=NOW,
        address=ADDRESS,
        user_agent=FIREFOX_UA,
        consent=CONSENT,
        origin=OWN_ORIGIN,
        own_origin=OWN_ORIGIN,
        snippet_origins=(SNIPPET_ORIGIN,),
        dnt=False,
    )
    return replace(base, **changes)


def beacon(**changes: Any) -> bytes:
    """A pageview as consent.js sends it; `OMIT` leaves a field out."""
    data: dict[str, Any] = {
        "type": "pageview",
        "url": PAGE_URL,
        "referrer": "https://www.example.org/blog/post",
        "token": PAGE_TOKEN,
        "w": 1280,
    }
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v is not OMIT}).encode()


def snippet_beacon(**changes: Any) -> bytes:
    return beacon(**{"url": "https://blog.test/post/1", "token": OMIT,
                     "consent": SNIPPET_CONSENT_TOKEN, **changes})


def run(fakes: Fakes, body: bytes, **arrival_changes: Any) -> AnalyticsEvent | Drop:
    return fakes.pipeline().run(body, arrival(**arrival_changes))


def accepted(fakes: Fakes, body: bytes, **arrival_changes: Any) -> AnalyticsEvent:
    outcome = run(fakes, body, **arrival_changes)
    assert isinstance(outcome, AnalyticsEvent), outcome
    return outcome


def tampered(token: str) -> str:
    """The token with one character of its signed payload changed."""
    position = len(token.partition(".")[0]) // 2
    replacement = "A" if token[position] != "A" else "B"
    return token[:position] + replacement + token[position + 1 :]


# ------------------------------------------------------------------ a genuine pageview


def test_a_genuine_pageview_becomes_an_event_of_the_site_at_the_arrival_time(
    fakes: Fakes,
) -> None:
    event = accepted(fakes, beacon())
    assert (event.site, event.ts, event.type) == ("demo", NOW, "pageview")


def test_the_event_path_has_no_query_string(fakes: Fakes) -> None:
    assert accepted(fakes, beacon()).path == "/shoes/red"


def test_the_event_path_has_no_fragment(fakes: Fakes) -> None:
    event = accepted(fakes, beacon(url="http://shop.test/faq#returns"))
    assert event.path == "/faq"


def test_the_event_records_the_hostname_of_the_page(fakes: Fakes) -> None:
    assert accepted(fakes, beacon()).hostname == "shop.test"


def test_the_referrer_is_kept_as_a_host_without_www(fakes: Fakes) -> None:
    assert accepted(fakes, beacon()).referrer_host == "example.org"


def test_a_referrer_on_the_site_itself_is_no_referrer(fakes: Fakes) -> None:
    event = accepted(fakes, beacon(referrer="http://shop.test/shoes?page=2"))
    assert event.referrer_host == ""


def test_a_referrer_on_the_www_name_of_the_site_is_no_referrer(fakes: Fakes) -> None:
    event = accepted(fakes, beacon(referrer="https://www.shop.test/"))
    assert event.referrer_host == ""


def test_utm_fields_come_from_the_page_url_query(fakes: Fakes) -> None:
    event = accepted(fakes, beacon())
    assert (
        event.utm_source, event.utm_medium, event.utm_campaign, event.utm_term, event.utm_content
    ) == ("newsletter", "email", "spring", "red shoes", "hero")


def test_a_page_without_utm_parameters_has_empty_utm_fields(fakes: Fakes) -> None:
    event = accepted(fakes, beacon(url="http://shop.test/about?colour=red"))
    assert {
        event.utm_source, event.utm_medium, event.utm_campaign, event.utm_term, event.utm_content
    } == {""}


def test_props_of_the_beacon_are_kept(fakes: Fakes) -> None:
    event = accepted(fakes, beacon(props={"plan": "pro", "colour": "red"}))
    assert event.props == {"plan": "pro", "colour": "red"}


def test_the_screen_width_is_kept(fakes: Fakes) -> None:
    assert accepted(fakes, beacon(w=1280)).screen_width == 1280


def test_the_screen_width_may_also_be_sent_by_its_long_name(fakes: Fakes) -> None:
    assert accepted(fakes, beacon(w=OMIT, screen_width=390)).screen_width == 390


def test_an_event_keeps_its_name(fakes: Fakes) -> None:
    event = accepted(fakes, beacon(type="event", name="  signup "))
    assert (event.type, event.name) == ("event", "signup")


def test_the_event_carries_the_location_and_the_browser_families(fakes: Fakes) -> None:
    event = accepted(fakes, beacon())
    assert (event.country, event.region, event.city) == ("GB", "England", "London")
    assert (event.browser, event.os, event.device) == ("Firefox", "Ubuntu", "desktop")


def test_a_beacon_from_a_page_of_this_site_without_an_origin_header_is_accepted(
    fakes: Fakes,
) -> None:
    assert isinstance(run(fakes, beacon(), origin=None), AnalyticsEvent)


# ------------------------------------------------------------------ invalid


def _padded_to(size: int) -> bytes:
    body = beacon()
    return body + b" " * (size - len(body))  # JSON allows trailing whitespace


def _url_of_length(length: int) -> str:
    prefix = "http://shop.test/"
    return prefix + "a" * (length - len(prefix))


INVALID_BODIES = {
    "not JSON": b'{"type": "pageview", "url": ',
    "not UTF-8": b'{"type": "\xff"}',
    "a JSON array": b'["pageview", "http://shop.test/"]',
    "a JSON string": b'"pageview"',
    "an unknown type": beacon(type="click"),
    "no type": beacon(type=OMIT),
    "no url": beacon(url=OMIT),
    "an empty url": beacon(url=""),
    "an ftp url": beacon(url="ftp://shop.test/file"),
    "a url without a host": beacon(url="http:///shoes"),
    "a url over the cap": beacon(url=_url_of_length(MAX_URL_CHARS + 1)),
    "a url that is not a string": beacon(url=["http://shop.test/"]),
    "an event without a name": beacon(type="event"),
    "an event with a blank name": beacon(type="event", name="   "),
    "too many props": beacon(props={f"key{i}": "value" for i in range(MAX_PROPS + 1)}),
    "a prop that is a number": beacon(props={"plan": 3}),
    "a prop that is null": beacon(props={"plan": None}),
    "props that are a list": beacon(props=["plan", "pro"]),
    "a body over the cap": _padded_to(MAX_BODY_BYTES + 1),
    "a negative screen width": beacon(w=-1),
    "a fractional screen width": beacon(w=1280.5),
    "a float screen width": beacon(w=1280.0),
    "a screen width that is a string": beacon(w="1280"),
    "a screen width that is true": beacon(w=True),
    "a page token that is not a string": beacon(token=12345),
    "a referrer that is not a string": beacon(referrer={"host": "example.org"}),
}


@pytest.mark.parametrize("body", INVALID_BODIES.values(), ids=INVALID_BODIES.keys())
def test_a_malformed_beacon_is_dropped_as_invalid(fakes: Fakes, body: bytes) -> None:
    outcome = run(fakes, body)
    assert isinstance(outcome, Drop) and outcome.reason == "invalid"


def test_a_body_of_exactly_the_cap_is_accepted(fakes: Fakes) -> None:
    body = _padded_to(MAX_BODY_BYTES)
    assert len(body) == MAX_BODY_BYTES
    assert isinstance(run(fakes, body), AnalyticsEvent)


def test_a_url_of_exactly_the_cap_is_accepted(fakes: Fakes) -> None:
    url = _url_of_length(MAX_URL_CHARS)
    assert len(url) == MAX_URL_CHARS
    assert isinstance(run(fakes, beacon(url=url)), AnalyticsEvent)


def test_exactly_the_maximum_number_of_props_is_accepted(fakes: Fakes) -> None:
    props = {f"key{i}": "value" for i in range(MAX_PROPS)}
    assert accepted(fakes, beacon(props=props)).props == props


def test_a_screen_width_of_zero_is_accepted(fakes: Fakes) -> None:
    assert accepted(fakes, beacon(w=0)).screen_width == 0


# ------------------------------------------------------------------ forged


def _dropped_as(outcome: AnalyticsEvent | Drop, reason: str) -> bool:
    return isinstance(outcome, Drop) and outcome.reason == reason


def test_a_beacon_without_a_page_token_is_forged(fakes: Fakes) -> None:
    assert _dropped_as(run(fakes, beacon(token=OMIT)), "forged")


def test_a_beacon_with_an_expired_page_token_is_forged(fakes: Fakes) -> None:
    fakes.clock.advance(minutes=31)
    assert _dropped_as(run(fakes, beacon()), "forged")


def test_a_page_token_of_another_site_is_forged(fakes: Fakes) -> None:
    token = fakes.tokens.issue("other", now=NOW)
    assert _dropped_as(run(fakes, beacon(token=token)), "forged")


def test_a_tampered_page_token_is_forged(fakes: Fakes) -> None:
    assert _dropped_as(run(fakes, beacon(token=tampered(PAGE_TOKEN))), "forged")


def test_a_url_on_another_origin_is_forged(fakes: Fakes) -> None:
    assert _dropped_as(run(fakes, beacon(url="http://elsewhere.test/shoes")), "forged")


def test_a_url_on_another_port_of_the_site_is_forged(fakes: Fakes) -> None:
    assert _dropped_as(run(fakes, beacon(url="http://shop.test:8080/shoes")), "forged")


def test_an_origin_header_that_is_not_of_this_site_is_forged(fakes: Fakes) -> None:
    # The url matches the Origin, so only the Origin being foreign can make this forged.
    outcome = run(fakes, beacon(url="http://elsewhere.test/shoes"), origin="http://elsewhere.test")
    assert _dropped_as(outcome, "forged")


# ------------------------------------------------------------------ snippet mode


def test_a_snippet_beacon_from_a_configured_origin_is_accepted_without_a_page_token(
    fakes: Fakes,
) -> None:
    outcome = run(fakes, snippet_beacon(), origin=SNIPPET_ORIGIN, consent=None)
    assert isinstance(outcome, AnalyticsEvent)
    assert (outcome.hostname, outcome.path) == ("blog.test", "/post/1")


def test_a_snippet_beacon_is_judged_by_the_consent_token_in_its_body(fakes: Fakes) -> None:
    run(fakes, snippet_beacon(), origin=SNIPPET_ORIGIN, consent=None)
    assert fakes.decoded == [(SNIPPET_CONSENT_TOKEN, "demo")]


def test_a_snippet_beacon_counts_its_visitor_by_the_consent_in_its_body(fakes: Fakes) -> None:
    event = accepted(fakes, snippet_beacon(), origin=SNIPPET_ORIGIN, consent=None)
    same_consent_by_cookie = accepted(fakes, beacon(), consent=SNIPPET_CONSENT)
    other_consent_by_cookie = accepted(fakes, beacon(), consent=CONSENT)
    assert event.visitor == same_consent_by_cookie.visitor != other_consent_by_cookie.visitor


def test_a_snippet_beacon_with_an_unknown_consent_token_has_no_consent(fakes: Fakes) -> None:
    outcome = run(fakes, snippet_beacon(consent="not-a-signed-token"),
                  origin=SNIPPET_ORIGIN, consent=None)
    assert _dropped_as(outcome, "no_consent")


def test_a_snippet_beacon_for_a_url_on_another_origin_is_forged(fakes: Fakes) -> None:
    outcome = run(fakes, snippet_beacon(url="http://elsewhere.test/post/1"),
                  origin=SNIPPET_ORIGIN, consent=None)
    assert _dropped_as(outcome, "forged")


def test_a_snippet_beacon_for_a_page_of_the_gateway_itself_is_forged(fakes: Fakes) -> None:
    outcome = run(fakes, snippet_beacon(url="http://shop.test/shoes"),
                  origin=SNIPPET_ORIGIN, consent=None)
    assert _dropped_as(outcome, "forged")


def test_a_consent_token_in_the_body_counts_only_in_snippet_mode(fakes: Fakes) -> None:
    outcome = run(fakes, beacon(consent=SNIPPET_CONSENT_TOKEN), consent=None)
    assert _dropped_as(outcome, "no_consent")


# ------------------------------------------------------------------ consent


def test_a_beacon_without_consent_is_dropped_for_no_consent(fakes: Fakes) -> None:
    assert _dropped_as(run(fakes, beacon(), consent=None), "no_consent")


def test_a_consent_without_analytics_is_dropped_for_no_consent(fakes: Fakes) -> None:
    without_analytics = make_consent(CONSENT.consent_id, "preferences", "marketing")
    assert _dropped_as(run(fakes, beacon(), consent=without_analytics), "no_consent")


def test_a_consent_of_another_site_is_dropped_for_no_consent(fakes: Fakes) -> None:
    elsewhere = make_consent(CONSENT.consent_id, "analytics", site="other")
    assert _dropped_as(run(fakes, beacon(), consent=elsewhere), "no_consent")


def test_no_geo_lookup_is_made_for_a_visitor_without_consent(fakes: Fakes) -> None:
    run(fakes, beacon(), consent=None)
    assert fakes.located == []


# ------------------------------------------------------------------ do not track


def test_dnt_drops_the_beacon_when_configured_to_deny_analytics(fakes: Fakes) -> None:
    outcome = fakes.pipeline(dnt_denies_analytics=True).run(beacon(), arrival(dnt=True))
    assert _dropped_as(outcome, "dnt")


def test_dnt_is_ignored_unless_configured(fakes: Fakes) -> None:
    outcome = fakes.pipeline(dnt_denies_analytics=False).run(beacon(), arrival(dnt=True))
    assert isinstance(outcome, AnalyticsEvent)


def test_the_dnt_setting_alone_drops_nothing(fakes: Fakes) -> None:
    outcome = fakes.pipeline(dnt_denies_analytics=True).run(beacon(), arrival(dnt=False))
    assert isinstance(outcome, AnalyticsEvent)


# ------------------------------------------------------------------ bots and step order


@pytest.mark.parametrize(
    "user_agent", [GOOGLEBOT_UA, HEADLESS_UA, ""], ids=["Googlebot", "HeadlessChrome", "empty"]
)
def test_a_bot_with_consent_is_dropped_as_a_bot(fakes: Fakes, user_agent: str) -> None:
    assert _dropped_as(run(fakes, beacon(), user_agent=user_agent), "bot")


def test_a_bot_without_consent_is_dropped_as_a_bot_so_it_is_counted(fakes: Fakes) -> None:
    outcome = run(fakes, beacon(), user_agent=GOOGLEBOT_UA, consent=None)
    assert _dropped_as(outcome, "bot")


def test_the_steps_check_input_bots_and_consent_before_they_locate_the_visitor() -> None:
    names = [name for name, _ in STEPS]
    assert names[0] == "validate"
    assert names[-1] == "attribution"
    assert names.index("provenance") < names.index("bot") < names.index("consent")
    assert names.index("consent") < min(names.index(n) for n in ("dnt", "geo", "pseudonymise"))


def test_the_steps_have_unique_names() -> None:
    names = [name for name, _ in STEPS]
    assert len(set(names)) == len(names)


# ------------------------------------------------------------------ address and user agent


def test_an_address_in_the_body_is_not_the_address_looked_up(fakes: Fakes) -> None:
    run(fakes, beacon(ip="6.6.6.6"))
    assert fakes.located == [ADDRESS]


def test_a_user_agent_in_the_body_does_not_describe_the_visitor(fakes: Fakes) -> None:
    event = accepted(fakes, beacon(user_agent=GOOGLEBOT_UA, ua=HEADLESS_UA))
    assert (event.browser, event.os) == ("Firefox", "Ubuntu")


def test_a_user_agent_in_the_body_cannot_hide_a_bot(fakes: Fakes) -> None:
    outcome = run(fakes, beacon(user_agent=FIREFOX_UA, ua=FIREFOX_UA), user_agent=GOOGLEBOT_UA)
    assert _dropped_as(outcome, "bot")


def test_the_geo_lookup_is_given_the_full_address(fakes: Fakes) -> None:
    run(fakes, beacon())
    assert fakes.located == [ADDRESS]


def test_no_field_of_the_event_holds_the_address_or_its_network(fakes: Fakes) -> None:
    event = accepted(fakes, beacon(ip=ADDRESS))
    for item in fields(event):
        text = repr(getattr(event, item.name))
        assert ADDRESS not in text and "81.2.69" not in text, item.name


def test_no_field_of_the_event_holds_the_user_agent_string(fakes: Fakes) -> None:
    event = accepted(fakes, beacon())
    for item in fields(event):
        text = repr(getattr(event, item.name))
        assert "Gecko" not in text and "121.0" not in text, item.name


# ------------------------------------------------------------------ the visitor id


def test_two_beacons_with_one_consent_have_the_same_visitor(fakes: Fakes) -> None:
    first = accepted(fakes, beacon())
    second = accepted(fakes, beacon(url="http://shop.test/cart"), address="81.2.69.160")
    assert first.visitor == second.visitor


def test_beacons_with_different_consents_have_different_visitors(fakes: Fakes) -> None:
    first = accepted(fakes, beacon(), consent=CONSENT)
    second = accepted(fakes, beacon(), consent=OTHER_CONSENT)
    assert first.visitor != second.visitor


def test_another_visitor_key_gives_another_visitor(fakes: Fakes) -> None:
    first = fakes.pipeline(visitor_key=VISITOR_KEY).run(beacon(), arrival())
    second = fakes.pipeline(visitor_key=OTHER_VISITOR_KEY).run(beacon(), arrival())
    assert isinstance(first, AnalyticsEvent) and isinstance(second, AnalyticsEvent)
    assert first.visitor != second.visitor


def test_no_field_of_the_event_holds_the_consent_id(fakes: Fakes) -> None:
    event = accepted(fakes, beacon())
    for item in fields(event):
        assert CONSENT.consent_id not in repr(getattr(event, item.name)), item.name


def test_the_visitor_id_is_the_same_for_the_same_consent_id() -> None:
    again = make_consent(CONSENT.consent_id, "analytics", "marketing")
    assert visitor_id(VISITOR_KEY, CONSENT) == visitor_id(VISITOR_KEY, again)


def test_the_visitor_id_does_not_contain_the_consent_id() -> None:
    assert CONSENT.consent_id not in visitor_id(VISITOR_KEY, CONSENT)


# ------------------------------------------------------------------ any input at all

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
BEACON_FIELDS = (
    "type", "url", "referrer", "name", "props", "w", "screen_width", "token", "consent",
    "ip", "user_agent",
)
NEAR_BEACONS = st.dictionaries(
    st.sampled_from(BEACON_FIELDS),
    JSON_VALUES
    | st.text().map(lambda tail: OWN_ORIGIN + tail)
    | st.sampled_from(["pageview", "event", PAGE_TOKEN, SNIPPET_CONSENT_TOKEN]),
    max_size=6,
)


def outcome_is_an_event_or_a_known_drop(body: bytes, **arrival_changes: Any) -> bool:
    outcome = Fakes().pipeline().run(body, arrival(**arrival_changes))
    if isinstance(outcome, Drop):
        return outcome.reason in DROP_REASONS
    return isinstance(outcome, AnalyticsEvent)


@settings(deadline=None)
@given(body=st.binary(max_size=MAX_BODY_BYTES + 64))
def test_any_bytes_as_a_body_end_in_an_event_or_a_known_drop(body: bytes) -> None:
    assert outcome_is_an_event_or_a_known_drop(body)


@settings(deadline=None)
@given(value=JSON_VALUES)
def test_any_json_value_as_a_body_ends_in_an_event_or_a_known_drop(value: object) -> None:
    assert outcome_is_an_event_or_a_known_drop(json.dumps(value).encode())


@settings(deadline=None)
@given(changes=NEAR_BEACONS, snippet=st.booleans())
def test_a_beacon_with_any_fields_changed_ends_in_an_event_or_a_known_drop(
    changes: dict[str, object], snippet: bool
) -> None:
    data = json.loads(snippet_beacon() if snippet else beacon())
    body = json.dumps({**data, **changes}).encode()
    if snippet:
        assert outcome_is_an_event_or_a_known_drop(body, origin=SNIPPET_ORIGIN, consent=None)
    else:
        assert outcome_is_an_event_or_a_known_drop(body)


# ------------------------------------------------------------------ site search, pagehide


def test_a_search_term_is_kept_lower_cased_collapsed_and_nothing_else_of_the_query() -> None:
    assert search_term("page=2&q=%20Red%0A%20Shoes%20&utm_source=x", ("q",)) == "red shoes"
    assert search_term("q=", ("q",)) == ""
    assert search_term("x=shoes", ("q",)) == ""


def test_the_first_configured_parameter_present_wins_and_a_term_is_capped() -> None:
    assert search_term("s=second&q=first", ("q", "s")) == "first"
    assert search_term("s=only", ("q", "s")) == "only"
    assert search_term("q=" + "A" * 300, ("q",)) == "a" * MAX_SEARCH_CHARS


def test_a_pageview_on_a_site_with_search_params_stores_its_term(fakes: Fakes) -> None:
    body = beacon(url="http://shop.test/search?q=Red+SHOES&sort=price")
    event = accepted_with_search(fakes, body)
    assert (event.path, event.search) == ("/search", "red shoes")


def test_a_site_without_search_params_keeps_no_term(fakes: Fakes) -> None:
    assert accepted(fakes, beacon(url="http://shop.test/search?q=shoes")).search == ""


def test_a_pagehide_is_accepted_without_a_name_and_carries_no_term(fakes: Fakes) -> None:
    body = beacon(type="pagehide", url="http://shop.test/search?q=shoes")
    event = accepted_with_search(fakes, body)
    assert (event.type, event.name, event.search) == ("pagehide", "", "")


def accepted_with_search(fakes: Fakes, body: bytes) -> AnalyticsEvent:
    pipeline = replace(fakes.pipeline(), search_params={"demo": ("q", "s")})
    outcome = pipeline.run(body, arrival())
    assert isinstance(outcome, AnalyticsEvent), outcome
    return outcome
