"""ConsentService and ErasedConsents against a real SQLite store: the cookie, decisions
committed before they are confirmed, erasures that end a consent in every worker."""

from __future__ import annotations

from datetime import timedelta
from http.cookies import SimpleCookie

from gateway.core.config import GatewayConfig
from gateway.core.network import Peer
from gateway.core.request import RequestContext
from gateway.services.consents import ErasedConsents
from gateway.services.wiring import Services, build_services
from tests.conftest import FrozenClock


def visitor(services: Services, *, dnt: bool = False) -> RequestContext:
    return RequestContext(
        site=services.config.sites[0], consent=None, peer=Peer("203.0.113.77", "http"),
        host="localhost", gpc=False, dnt=dnt, user_agent="Mozilla/5.0 (X11; Linux x86_64)",
        accept_language="nl", cookies={}, origin_header=None,
    )


async def test_a_decision_is_in_the_log_when_record_decision_returns(gateway: Services) -> None:
    consent, record = await gateway.consents.record_decision(
        visitor(gateway), action="accept_all", granted=frozenset({"analytics", "marketing"}),
        source="banner", page="/", language="nl")
    history = await gateway.store.consent_history(consent.consent_id)
    assert [r.seq for r in history] == [record.seq]
    assert record.ip == "203.0.113.0"  # truncated before it is written


async def test_dnt_takes_analytics_out_when_configured(
    config: GatewayConfig, clock: FrozenClock
) -> None:
    privacy = config.privacy.model_copy(update={"dnt_denies_analytics": True})
    services = build_services(config.model_copy(update={"privacy": privacy}), clock=clock)
    await services.start()
    try:
        consent, _ = await services.consents.record_decision(
            visitor(services, dnt=True), action="accept_all",
            granted=frozenset({"analytics", "marketing"}), source="banner", page="/",
            language="nl")
    finally:
        await services.stop()
    assert not consent.allows("analytics") and consent.allows("marketing")


async def test_the_cookie_carries_the_consent_back(gateway: Services) -> None:
    consent, _ = await gateway.consents.record_decision(
        visitor(gateway), action="reject_all", granted=frozenset(), source="banner", page="/",
        language="nl")
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(gateway.consents.set_cookie(consent, https=True))
    morsel = cookie["__Host-consent"]
    assert morsel["httponly"] and morsel["secure"] and morsel["samesite"] == "Lax"
    decoded = gateway.consents.decode(morsel.value, gateway.config.sites[0])
    assert decoded is not None and decoded.consent_id == consent.consent_id


async def test_an_erased_consent_no_longer_decodes_here_or_in_another_worker(
    gateway: Services, config: GatewayConfig, clock: FrozenClock
) -> None:
    consent, _ = await gateway.consents.record_decision(
        visitor(gateway), action="accept_all", granted=frozenset({"analytics"}),
        source="banner", page="/", language="nl")
    signed = gateway.consents.codec.encode(consent)
    other = build_services(config, clock=clock)  # a second worker on the same file
    await other.start()
    try:
        assert other.consents.decode(signed, config.sites[0]) is not None
        await gateway.consents.record_admin_erasure(consent.consent_id, config.sites[0])
        assert gateway.consents.decode(signed, config.sites[0]) is None
        await other.consents.sync_erasures()
        assert other.consents.decode(signed, config.sites[0]) is None
    finally:
        await other.stop()


def test_erasures_are_forgotten_once_no_cookie_can_be_left(clock: FrozenClock) -> None:
    erased = ErasedConsents(timedelta(days=365))
    erased.take_in([(3, "old", clock() - timedelta(days=400)), (9, "new", clock())],
                   now=clock())
    assert "new" in erased and "old" not in erased
    assert erased.seen_seq == 9
