"""The one exception family of consent-gateway.

Expected outcomes (no consent, a dropped event) are values, not exceptions. These are for
input the gateway refuses, configuration it cannot run with, and outages::

    GatewayError
    ├── ConfigError            invalid configuration; carries every problem by key
    ├── RequestError           the visitor's request is refused -> 4xx (one place maps it)
    │   ├── BadRequest             400 malformed body or parameter
    │   ├── Unauthorized           401 admin endpoint without a valid token
    │   ├── CrossSiteRequest       403 state change from another site
    │   ├── NotFound               404
    │   ├── PayloadTooLarge        413
    │   ├── UnsupportedMediaType   415
    │   ├── InvalidField           422 a field has a value we do not accept
    │   └── TooManyRequests        429 over a rate limit, or on the blocklist
    ├── StoreError             the database failed -> 503
    │   ├── ChainBroken            the consent log's hash chain does not verify
    │   └── WriteQueueFull         accepted rows wait faster than they can be written
    └── ScanError              `consent-gateway scan` could not run: no browser, no page
"""

from __future__ import annotations

from dataclasses import dataclass


class GatewayError(Exception):
    """Base of every error consent-gateway raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class ConfigError(GatewayError):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  {p}" for p in problems))


class RequestError(GatewayError):
    status_code = 400
    error = "bad request"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        self.detail = detail
        self.field = field
        super().__init__(detail)

    def to_json(self) -> dict[str, str]:
        body = {"error": self.error, "detail": self.detail}
        if self.field is not None:
            body["field"] = self.field
        return body


class BadRequest(RequestError):
    status_code = 400
    error = "bad request"


class Unauthorized(RequestError):
    status_code = 401
    error = "unauthorized"

    def __init__(
        self, detail: str, *, field: str | None = None, challenge: str | None = None
    ) -> None:
        super().__init__(detail, field=field)
        self.challenge = challenge  # WWW-Authenticate: lets a browser ask for a password


class CrossSiteRequest(RequestError):
    status_code = 403
    error = "cross-site request refused"


class NotFound(RequestError):
    status_code = 404
    error = "not found"


class PayloadTooLarge(RequestError):
    status_code = 413
    error = "payload too large"


class UnsupportedMediaType(RequestError):
    status_code = 415
    error = "unsupported media type"


class InvalidField(RequestError):
    status_code = 422
    error = "invalid field"


class TooManyRequests(RequestError):
    status_code = 429
    error = "too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class StoreError(GatewayError):
    """The store could not do what was asked (locked, read-only, full, gone) -> 503 with
    `Retry-After`; `logged`: whether each one is worth a line in the log."""

    error = "storage unavailable"
    detail = "try again shortly"
    retry_after = 5
    logged = True


class ChainBroken(StoreError):
    def __init__(self, seq: int, reason: str) -> None:
        self.seq = seq
        self.reason = reason
        super().__init__(f"consent log chain broken at seq {seq}: {reason}")


class WriteQueueFull(StoreError):
    """The batch writer's buffer is full: the client should retry (never a silent drop).
    The writer logs when its buffer fills, so a refusal is not logged one by one."""

    error = "busy"
    detail = "too many events wait to be written; try again shortly"
    retry_after = 2
    logged = False


class ScanError(GatewayError):
    """The consent scan could not run: Playwright or Chromium missing, or the start page
    did not load. The message says what to install or what failed."""
