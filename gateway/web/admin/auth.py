"""Who may use the admin routes.

Two kinds of credential, both configured only as hashes: bearer tokens (`sha256:<hex>`,
`consent-gateway hash-token`) for scripts, and HTTP Basic users (`name:scrypt:<salt>:<hash>`,
`consent-gateway hash-token --basic NAME`) so a browser can open the dashboard. Checks run
in constant time with no early exit: every token hash is compared, and an unknown user name
costs the same scrypt as a known one. Failed attempts are counted per client (keyed hash,
`admin.failed_per_minute`) and logged without the secret or the address. With no credential
configured the admin routes answer 404: the admin API is off. With `server.admin_listen`
they exist only on that listener.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from typing import Final

from starlette.requests import Request

from gateway.core.config import AdminConfig
from gateway.core.errors import NotFound, Unauthorized
from gateway.services.wiring import Services
from gateway.web.context import context_of, on_admin_listener

log = logging.getLogger("consent_gateway")

# scrypt at n=2**14, r=8, p=1 costs ~16 MB and tens of milliseconds: cheap for an admin
# logging in, expensive for guessing.
_SCRYPT: Final = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_DUMMY_SALT: Final = bytes(16)
MAX_CREDENTIAL_CHARS: Final = 1024
REALM: Final = 'Basic realm="consent-gateway admin", charset="UTF-8"'


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


def basic_user_line(name: str, password: str) -> str:
    """The `admin.basic_users` entry for a user; the password itself is not kept."""
    salt = secrets.token_bytes(16)
    return f"{name}:scrypt:{salt.hex()}:{_scrypt(password, salt).hex()}"


def basic_matches(name: str, password: str, users: tuple[str, ...]) -> bool:
    """One scrypt whatever the name, so timing does not tell which names exist."""
    stored = {line.split(":", 1)[0]: line.split(":")[2:] for line in users}
    salt_hex, hash_hex = stored.get(name, (_DUMMY_SALT.hex(), "00" * 32))
    computed = _scrypt(password, bytes.fromhex(salt_hex))
    return hmac.compare_digest(computed, bytes.fromhex(hash_hex)) and name in stored


def _scrypt(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, **_SCRYPT)


def credential_problem(header: str, admin: AdminConfig) -> str | None:
    """None when the `Authorization` header holds a valid credential, else why not (for
    the log: never the secret itself)."""
    if not header:
        return "no credentials"
    if len(header) > MAX_CREDENTIAL_CHARS:
        return "credentials too long"
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return None if token_matches(value.strip(), admin.token_hashes) else "wrong bearer token"
    if scheme.lower() == "basic" and admin.basic_users:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except ValueError:  # not base64 (binascii.Error), not ASCII, or not UTF-8
            return "malformed basic credentials"
        name, _, password = decoded.partition(":")
        return None if basic_matches(name, password, admin.basic_users) else (
            "wrong user name or password")
    # Not even the scheme's name: a token sent without "Bearer " would be it.
    return "unsupported scheme (only Bearer and Basic)"


async def authorise(services: Services, request: Request) -> None:
    """Raise unless the request carries a valid admin credential. A client that failed too
    often gets 429 before its credential is even looked at."""
    admin = services.config.admin
    if not (admin.token_hashes or admin.basic_users):
        raise NotFound("the admin API is off: set admin.token_hashes or admin.basic_users")
    if not on_admin_listener(request.scope, services.config.server.admin_port):
        raise NotFound("the admin API is served on server.admin_listen only")
    ctx = context_of(request.scope)
    await services.abuse.check_rate(ctx.peer.address, "admin", count=False)
    problem = credential_problem(request.headers.get("authorization", ""), admin)
    if problem is None:
        return
    log.warning("admin: authentication failed (%s) for %s %s", problem, request.method,
                request.scope["path"])
    await services.abuse.check_rate(ctx.peer.address, "admin")
    raise Unauthorized("valid admin credentials are needed", field="Authorization",
                       challenge=REALM if admin.basic_users else None)
