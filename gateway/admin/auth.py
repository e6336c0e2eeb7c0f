"""Who may use the admin routes: bearer tokens configured only as SHA-256 hashes
(`consent-gateway hash-token`). Every configured hash is compared in constant time, always
all of them, so timing says nothing about which one came close. With no credential
configured the admin routes answer 404: the admin API is off."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request

from gateway.errors import NotFound, Unauthorized
from gateway.service import Gateway


def new_admin_token() -> tuple[str, str]:
    """(token to hand to the admin, `sha256:` line for the config)."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(presented: str, hashes: tuple[str, ...]) -> bool:
    """Compare against every hash, always all of them (no early exit)."""
    candidate = token_hash(presented).encode("ascii")
    matched = False
    for known in hashes:
        matched |= hmac.compare_digest(candidate, known.encode("ascii"))
    return matched


async def authorise(gateway: Gateway, request: Request) -> None:
    """Raise unless the request carries a valid admin credential."""
    hashes = gateway.config.admin.token_hashes
    if not hashes:
        raise NotFound("the admin API is off: set admin.token_hashes")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token_matches(token.strip(), hashes):
        raise Unauthorized("a valid bearer token is needed", field="Authorization")
