"""Per-client rate limits and the blocklist (gateway/core/ratelimit.py): fixed one-minute
windows per client and bucket, offences within an hour block a client, and clients are
known only by a keyed hash of their address."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.core.ratelimit import RateLimiter, client_hash

NOON = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
KEY = b"k" * 32


def limiter(limit: int = 3, offences: int = 3, block_minutes: int = 60) -> RateLimiter:
    return RateLimiter({"consent": limit, "collect": limit}, offences_to_block=offences,
                       block_for=timedelta(minutes=block_minutes))


def test_a_client_under_the_limit_passes() -> None:
    limits = limiter(limit=3)
    assert [limits.check(("a",), "consent", NOON) for _ in range(3)] == [None] * 3


def test_the_request_over_the_limit_waits_for_the_next_minute() -> None:
    limits = limiter(limit=3)
    moment = NOON + timedelta(seconds=15)
    for _ in range(3):
        limits.check(("a",), "consent", moment)
    refused = limits.check(("a",), "consent", moment)
    assert refused is not None and refused.retry_after == 45 and refused.new_block is None


def test_a_new_minute_starts_a_new_count() -> None:
    limits = limiter(limit=1)
    limits.check(("a",), "consent", NOON)
    assert limits.check(("a",), "consent", NOON) is not None
    assert limits.check(("a",), "consent", NOON + timedelta(minutes=1)) is None


def test_clients_and_buckets_are_counted_apart() -> None:
    limits = limiter(limit=1)
    limits.check(("a",), "consent", NOON)
    assert limits.check(("b",), "consent", NOON) is None
    assert limits.check(("a",), "collect", NOON) is None


def test_going_over_in_three_minutes_of_an_hour_blocks_the_client() -> None:
    limits = limiter(limit=1, offences=3, block_minutes=60)
    outcomes = []
    for minute in (0, 20, 40):
        moment = NOON + timedelta(minutes=minute)
        limits.check(("a",), "consent", moment)
        outcomes.append(limits.check(("a",), "consent", moment))
    assert [o is not None and o.new_block is not None for o in outcomes] == [False, False, True]
    later = limits.check(("a",), "collect", NOON + timedelta(minutes=41))
    assert later is not None and later.retry_after == 59 * 60
    assert limits.check(("a",), "consent", NOON + timedelta(minutes=101)) is None


def test_offences_older_than_an_hour_are_forgotten() -> None:
    limits = limiter(limit=1, offences=2)
    for minute in (0, 61):
        moment = NOON + timedelta(minutes=minute)
        limits.check(("a",), "consent", moment)
        refused = limits.check(("a",), "consent", moment)
        assert refused is not None and refused.new_block is None


def test_a_block_made_under_yesterdays_key_still_holds_today() -> None:
    limits = limiter()
    limits.block("hash-under-yesterdays-key", NOON + timedelta(hours=1))
    refused = limits.check(("hash-under-todays-key", "hash-under-yesterdays-key"), "consent",
                           NOON)
    assert refused is not None and refused.retry_after == 3600


def test_unblocking_lifts_the_block() -> None:
    limits = limiter()
    limits.block("a", NOON + timedelta(hours=1))
    limits.unblock(["a"])
    assert limits.check(("a",), "consent", NOON) is None


def test_clients_beyond_the_tracking_cap_pass_uncounted() -> None:
    limits = RateLimiter({"consent": 1, "collect": 1}, offences_to_block=1,
                         block_for=timedelta(minutes=5), max_clients=2)
    for client in ("a", "b"):
        limits.check((client,), "consent", NOON)
    assert [limits.check(("c",), "consent", NOON) for _ in range(5)] == [None] * 5
    assert limits.check(("a",), "consent", NOON) is not None


def test_an_ipv6_client_is_known_by_its_64_and_an_ipv4_mapped_one_as_ipv4() -> None:
    same = client_hash(KEY, "2a02:cfc0:1:2:aaaa::1"), client_hash(KEY, "2a02:cfc0:1:2:bbbb::9")
    assert same[0] == same[1]
    assert client_hash(KEY, "2a02:cfc0:1:3::1") != same[0]
    assert client_hash(KEY, "::ffff:185.130.128.201") == client_hash(KEY, "185.130.128.201")


def test_the_hash_depends_on_the_key_and_holds_nothing_of_the_address() -> None:
    one, other = client_hash(KEY, "185.130.128.201"), client_hash(b"x" * 32, "185.130.128.201")
    assert one != other and len(one) == 32
    assert "185.130" not in one
