"""Reading request bodies for the gateway's endpoints and the admin (web layer): capped
before and while reading, JSON refused with a 400 naming the body."""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import ClientDisconnect, Request

from gateway.core.errors import BadRequest, PayloadTooLarge
from gateway.core.jsontext import loads_unicode_json

MAX_BODY_BYTES: Final = 8 * 1024


async def read_capped_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """Refuse oversized bodies before reading (declared) or while reading (chunked)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise BadRequest("Content-Length is not a number", field="Content-Length")
        if int(declared) > limit:
            raise PayloadTooLarge(f"the body may be at most {limit} bytes", field="body")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the body may be at most {limit} bytes", field="body")
            chunks.append(chunk)
    except ClientDisconnect:
        # The client went away mid-body: an incomplete request, not a fault of ours.
        raise BadRequest("the body ended before it was complete", field="body") from None
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    try:
        return loads_unicode_json(body)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"the body is not valid JSON ({type(exc).__name__})",
                         field="body") from None
