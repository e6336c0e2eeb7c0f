"""Ten thousand altered consent cookies, none accepted.

Genuine cookies come from real decisions over HTTP; each mutant is one deterministic
(seeded) alteration of them: bit flips, substitutions, truncation, extension, insertions,
base64-alphabet swaps, the payload of one cookie under the signature of another, a changed
payload under the original signature, a payload signed with another key or salt, padding,
and the spellings of the signature's last character the base64 decoder ignores. Every
distinct mutant must decode to no consent, and a sample sent as a cookie must leave the
visitor undecided."""

from __future__ import annotations

import json
import random
import string
import zlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
from itsdangerous import BadData, URLSafeSerializer
from itsdangerous.encoding import base64_decode, base64_encode

from gateway.adapters.configfile import load_config
from gateway.core.consent.cookie import COOKIE_SALT
from gateway.services.wiring import Services, build_services
from gateway.web.demo import demo_app
from gateway.web.middleware import ConsentMiddleware
from tests.conftest import EXAMPLE_CONFIG, FIREFOX_UA, FrozenClock, gateway_env

MUTANTS = 10_000
HTTP_SAMPLE = 300
SEED = 20261121
B64 = string.ascii_letters + string.digits + "-_"
COOKIE_SAFE = set(B64 + ".=!#$%&'()*+/:<>?@[]^`{|}~")  # sent as they are in a Cookie header

Mutation = Callable[[random.Random, str, str], str]


def _split(cookie: str) -> tuple[str, str]:
    payload, _, signature = cookie.rpartition(".")
    return payload, signature


def _payload_data(cookie: str, other: str) -> dict[str, object]:
    """The decoded payload of `cookie`, or of the genuine `other` once a stacked mutation
    has made it unreadable."""
    for value in (cookie, other):
        payload = _split(value)[0]
        try:
            raw = base64_decode(payload.removeprefix("."))
            data = json.loads(zlib.decompress(raw) if payload.startswith(".") else raw)
        except (ValueError, BadData, zlib.error):
            continue
        if isinstance(data, dict):
            return data
    raise AssertionError("a genuine cookie's payload does not decode")


def _b64(data: bytes) -> str:
    return base64_encode(data).decode("ascii")


def bit_flip(rng: random.Random, cookie: str, _: str) -> str:
    data = bytearray(cookie.encode("latin-1"))
    position = rng.randrange(len(data))
    data[position] ^= 1 << rng.randrange(8)
    return data.decode("latin-1")


def substitute(rng: random.Random, cookie: str, _: str) -> str:
    position = rng.randrange(len(cookie))
    return cookie[:position] + rng.choice(B64 + ".") + cookie[position + 1:]


def truncate(rng: random.Random, cookie: str, _: str) -> str:
    return cookie[:rng.randrange(len(cookie))] if rng.random() < 0.7 \
        else cookie[rng.randrange(1, len(cookie)):]


def extend(rng: random.Random, cookie: str, _: str) -> str:
    tail = "".join(rng.choice(B64 + ".=") for _ in range(rng.randint(1, 8)))
    return cookie + tail if rng.random() < 0.7 else tail + cookie


def insert_or_delete(rng: random.Random, cookie: str, _: str) -> str:
    position = rng.randrange(len(cookie))
    if rng.random() < 0.5:
        return cookie[:position] + cookie[position + 1:]
    return cookie[:position] + rng.choice(B64 + ".=+/ ") + cookie[position:]


def alphabet_swap(rng: random.Random, cookie: str, _: str) -> str:
    """Standard base64 for URL-safe, or a letter's case, at one or all places."""
    table = rng.choice([str.maketrans("-_", "+/"), str.maketrans("+/-_", "-_+/"),
                        str.maketrans(string.ascii_letters, string.ascii_letters.swapcase())])
    if rng.random() < 0.3:
        return cookie.translate(table)
    position = rng.randrange(len(cookie))
    return cookie[:position] + cookie[position].translate(table) + cookie[position + 1:]


def swap_segments(rng: random.Random, cookie: str, other: str) -> str:
    """One genuine cookie's payload under another's signature (or the halves exchanged)."""
    payload, signature = _split(cookie)
    other_payload, other_signature = _split(other)
    choice = rng.randrange(3)
    if choice == 0:
        return f"{payload}.{other_signature}"
    if choice == 1:
        return f"{other_payload}.{signature}"
    return f"{signature}.{payload}"


def change_payload(rng: random.Random, cookie: str, other: str) -> str:
    """A payload claiming more (every category, another id, revision or time) under the
    original signature."""
    signature = _split(cookie)[1]
    data = _payload_data(cookie, other)
    field = rng.choice(["g", "i", "r", "t", "s", "x", "extra"])
    data[field] = {
        "g": ["analytics", "marketing", "preferences"][: rng.randint(0, 3)],
        "i": "".join(rng.choice(B64) for _ in range(22)),
        "r": rng.randint(0, 5), "t": int(str(data.get("t", 0))) + rng.randint(-10**6, 10**6),
        "s": rng.choice(["demo", "other", ""]), "x": rng.choice([0, 1]), "extra": rng.random(),
    }[field]
    text = json.dumps(data, separators=rng.choice([(",", ":"), (", ", ": ")]))
    return f"{_b64(text.encode())}.{signature}"


def forge(rng: random.Random, cookie: str, other: str) -> str:
    """The same kind of payload, signed by someone without our key (or with our key under
    another purpose's salt)."""
    data = _payload_data(cookie, other)
    data["g"] = ["analytics", "marketing", "preferences"]
    data["t"] = int(str(data.get("t", 0))) + rng.randint(0, 10**6)
    key = rng.choice([f"guessed-{rng.random()}", "", "secret"])
    salt = rng.choice([COOKIE_SALT, "itsdangerous", "consent-gateway.page-token.v1"])
    return URLSafeSerializer(key, salt=salt).dumps(data)


def pad_or_respell(rng: random.Random, cookie: str, _: str) -> str:
    """Padding, or another spelling of the signature's last character that decodes to the
    same bytes (its low bits are padding the decoder throws away)."""
    payload, signature = _split(cookie)
    choice = rng.randrange(3)
    if choice == 0 and signature and signature[-1] in B64:
        last = B64.index(signature[-1])
        spelling = B64[(last & ~0b11) | rng.randrange(4)]
        return f"{payload}.{signature[:-1]}{spelling}"
    if choice == 1:
        return f"{payload}.{signature}" + "=" * rng.randint(1, 3)
    return f"{payload}" + "=" * rng.randint(1, 3) + f".{signature}"


def reshape(rng: random.Random, cookie: str, other: str) -> str:
    """Separators and framing: doubled dots, compressed-payload marker, quotes, spaces."""
    payload, signature = _split(cookie)
    return rng.choice([
        f"{payload}..{signature}", f".{cookie}", f"{cookie}.",
        f"{payload}.{signature}.{signature}", f"{payload}", f"{signature}", f'"{cookie}"',
        f" {cookie}", f"{cookie}\t", f"{cookie}.{other}", f"{payload} .{signature}",
        cookie.replace(".", "", 1), cookie * 2,
    ])


MUTATIONS: tuple[Mutation, ...] = (
    bit_flip, substitute, truncate, extend, insert_or_delete, alphabet_swap, swap_segments,
    change_payload, forge, pad_or_respell, reshape,
)


def mutants(genuine: list[str], count: int, seed: int = SEED) -> dict[str, str]:
    """`count` distinct mutants (value -> the mutation that made it), none equal to a
    genuine cookie; mutations stack now and then."""
    rng = random.Random(seed)
    found: dict[str, str] = {}
    while len(found) < count:
        cookie, other = rng.sample(genuine, 2)
        names = []
        for _ in range(1 if rng.random() < 0.8 else rng.randint(2, 3)):
            if len(cookie) < 2:
                break  # truncated to (almost) nothing: nothing left to alter
            mutation = rng.choice(MUTATIONS)
            names.append(mutation.__name__)
            cookie = mutation(rng, cookie, other)
        if cookie not in genuine and cookie not in found:
            found[cookie] = "+".join(names)
    return found


@pytest.fixture
async def unlimited(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway without visitor rate limits: a sample of hundreds asks `/me` too."""
    config = load_config(EXAMPLE_CONFIG, gateway_env(tmp_path, GATEWAY_ABUSE_ENABLED="false"))
    gateway = build_services(config, clock=clock)
    await gateway.start()
    transport = httpx.ASGITransport(app=ConsentMiddleware(demo_app(), services=gateway),
                                    client=("203.0.113.77", 51000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost",
                                 headers={"User-Agent": FIREFOX_UA}) as client:
        yield client
    await gateway.stop()


async def genuine_cookies(client: httpx.AsyncClient) -> list[str]:
    """Cookies of real decisions: accept all, reject all, custom, and a withdrawal."""
    bodies = [
        {"action": "accept_all", "page": "/"}, {"action": "reject_all", "page": "/"},
        {"action": "custom", "categories": {"analytics": True}, "page": "/shop"},
        {"action": "custom", "categories": {"marketing": True, "preferences": True}},
    ]
    cookies = []
    for body in bodies:
        client.cookies.clear()
        response = await client.post("/_consent/consent", json=body)
        assert response.status_code == 200, response.text
        jar: SimpleCookie = SimpleCookie()
        jar.load(response.headers["set-cookie"])
        cookies.append(jar["consent"].value)
    client.cookies.clear()
    return cookies


async def test_ten_thousand_mutated_cookies_are_all_rejected(
    client: httpx.AsyncClient, gateway: Services, clock: FrozenClock
) -> None:
    genuine = await genuine_cookies(client)
    now = clock()

    def decoded(value: str) -> object:
        return gateway.consents.codec.decode(value, site="demo", revision=1, now=now)

    assert all(decoded(cookie) is not None for cookie in genuine)  # the control
    found = mutants(genuine, MUTANTS)
    assert len(found) == MUTANTS
    codec = gateway.consents.codec
    accepted = {value: how for value, how in found.items()
                if decoded(value) is not None or codec.identify(value, site="demo")}
    assert not accepted, f"{len(accepted)} mutants accepted, e.g. {list(accepted.items())[:5]}"
    # Every kind of mutation took part.
    used = {name for how in found.values() for name in how.split("+")}
    assert used == {mutation.__name__ for mutation in MUTATIONS}


async def test_a_sample_of_mutants_over_http_leaves_the_visitor_undecided(
    unlimited: httpx.AsyncClient
) -> None:
    client = unlimited
    genuine = await genuine_cookies(client)
    for cookie in genuine:  # the control: the genuine cookie is a decision
        state = await client.get("/_consent/state", headers={"Cookie": f"consent={cookie}"})
        assert state.json()["consent"] is not None
    sendable = [value for value in mutants(genuine, MUTANTS)
                if value and set(value) <= COOKIE_SAFE]
    sample = random.Random(SEED).sample(sendable, HTTP_SAMPLE)
    for value in sample:
        headers = {"Cookie": f"consent={value}"}
        state = (await client.get("/_consent/state", headers=headers)).json()
        assert state["consent"] is None, value
        mine = (await client.get("/_consent/me", headers=headers)).json()
        assert not mine["consent_history"] and not mine["consent_id"], value


def test_the_mutants_are_the_same_on_every_run() -> None:
    genuine = [
        URLSafeSerializer("k", salt=COOKIE_SALT).dumps(
            {"i": "A" * 22, "s": "demo", "g": g, "r": 1,
             "t": int((datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=n)).timestamp())})
        for n, g in enumerate([[], ["analytics"]])
    ]
    assert mutants(genuine, 200) == mutants(genuine, 200)
